// Shared by the driver's build.rs and `models`' (crates/models/build.rs), which
// `include!` this file and call `link_libtorch()` for their binaries (the driver, and
// `models`' test, example and bench binaries). `optim` does not include it: its own
// build.rs (crates/optim/build.rs) links its binaries and publishes the flags to its
// dependents.
//
// Why: torch-sys finds libtorch but leaves two things to the final binary:
// - an rpath to libtorch's lib directory, so the binary runs from anywhere without
//   LD_LIBRARY_PATH;
// - `--no-as-needed` around `-ltorch_cuda`: with the default `--as-needed` the linker
//   drops libtorch_cuda.so (nothing references its symbols directly), and CUDA is then
//   never available even on a GPU machine.
// torch-sys publishes its lib directory as `DEP_TCH_LIBTORCH_LIB` (its `links = "tch"`),
// which reaches crates that depend on torch-sys directly.
include!("libtorch_version.rs");

fn link_libtorch() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let Ok(lib_dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        println!("cargo:warning=torch-sys did not report its libtorch directory; no rpath set");
        return;
    };
    println!("cargo:rustc-env=SCALEFREE_LIBTORCH_LIB={lib_dir}");
    // The version this binary is built for; the binary compares it with the libtorch it
    // finds at run time (src/libtorch.rs).
    if let Some(version) = libtorch_version_at(std::path::Path::new(&lib_dir)) {
        println!("cargo:rustc-env=SCALEFREE_LIBTORCH_BUILT_FOR={version}");
    }
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
    if std::path::Path::new(&lib_dir).join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-L{lib_dir}");
        println!("cargo:rustc-link-arg=-ltorch_cuda");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
    }
}
