//! Linking libtorch so that binaries start without `LD_LIBRARY_PATH` and keep CUDA.
//!
//! torch-sys finds libtorch and links it, but two things only the final binary's link can
//! do: an rpath to libtorch's directory, and `--no-as-needed` around `-ltorch_cuda` (with
//! the default `--as-needed` the linker drops libtorch_cuda.so, which nothing references
//! directly, and CUDA is then never available). `cargo:rustc-link-arg` reaches only this
//! package's own tests and examples, so for dependents the same flags are published as
//! `DEP_ADAMW_PROX_LINK_ARG` (this package's `links` metadata), which a dependent's
//! build script passes on in one line:
//!
//! ```text
//! fn main() { if let Ok(arg) = std::env::var("DEP_ADAMW_PROX_LINK_ARG") { println!("cargo:rustc-link-arg={arg}") } }
//! ```
use std::env;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let Ok(lib_dir) = env::var("DEP_TCH_LIBTORCH_LIB") else {
        // torch-sys built for documentation only (no libtorch): nothing to link.
        return;
    };
    println!("cargo:rustc-env=ADAMW_PROX_LIBTORCH_LIB={lib_dir}");
    let Some(arg) = link_arg(&lib_dir) else {
        return;
    };
    println!("cargo:rustc-link-arg={arg}");
    println!("cargo:link_arg={arg}");
}

/// All the flags as one `-Wl,` argument (the linker splits it at the commas), so that a
/// dependent passes them on with a single `cargo:rustc-link-arg`. `-ltorch_cuda` finds
/// the library through the `-L` that torch-sys already gives every dependent.
fn link_arg(lib_dir: &str) -> Option<String> {
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "windows" {
        // No rpath on Windows: DLLs are found through PATH.
        return None;
    }
    if lib_dir.contains(',') {
        println!(
            "cargo:warning=libtorch's directory `{lib_dir}` contains a comma, which the linker \
             would split; no rpath is set (move libtorch, or set LD_LIBRARY_PATH at run time)"
        );
        return None;
    }
    let mut arg = format!("-Wl,-rpath,{lib_dir}");
    if os == "linux" && Path::new(lib_dir).join("libtorch_cuda.so").exists() {
        arg.push_str(",--no-as-needed,-ltorch_cuda,--as-needed");
    }
    Some(arg)
}
