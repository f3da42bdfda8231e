//! A project outside this workspace that depends on the crate by path, as a user's would
//! (tests/consumer, with the one line of build script the README gives): it builds, its
//! binary starts without `LD_LIBRARY_PATH` from any directory, has libtorch_cuda linked,
//! and trains exactly as the same code does in this test's process.
#[path = "consumer/src/train.rs"]
mod train;

use std::path::Path;
use std::process::Command;

/// libtorch's directory, as this crate's build script received it from torch-sys.
const LIBTORCH_LIB: &str = env!("ADAMW_PROX_LIBTORCH_LIB");

#[test]
fn a_dependent_project_starts_without_ld_library_path_keeps_cuda_and_trains_as_here() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/consumer/Cargo.toml");
    // Its own target directory: this workspace's is locked while its tests run.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("consumer");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let build = Command::new(cargo)
        .arg("build")
        .arg("--locked")
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target)
        .output()
        .expect("cargo runs");
    assert!(
        build.status.success(),
        "the consumer project does not build (if its Cargo.lock is out of date, run \
         `cargo update --manifest-path {}` and commit it):\n{}",
        manifest.display(),
        String::from_utf8_lossy(&build.stderr)
    );
    let binary = target.join("debug/adamw-prox-consumer");

    let readelf = Command::new("readelf")
        .arg("-d")
        .arg(&binary)
        .output()
        .expect("readelf (binutils) is installed");
    let dynamic = String::from_utf8_lossy(&readelf.stdout);
    // The same directory may be reached through a symbolic link (a virtualenv's).
    let libtorch = Path::new(LIBTORCH_LIB).canonicalize().unwrap();
    let rpaths: Vec<&str> = dynamic
        .lines()
        .filter(|l| l.contains("(RUNPATH)") || l.contains("(RPATH)"))
        .filter_map(|l| l.split_once('[')?.1.split_once(']').map(|(dirs, _)| dirs))
        .flat_map(|dirs| dirs.split(':'))
        .collect();
    assert!(
        rpaths
            .iter()
            .any(|dir| Path::new(dir).canonicalize().ok().as_deref() == Some(libtorch.as_path())),
        "no rpath to {LIBTORCH_LIB}:\n{dynamic}"
    );
    if Path::new(LIBTORCH_LIB).join("libtorch_cuda.so").exists() {
        assert!(
            dynamic.contains("Shared library: [libtorch_cuda.so]"),
            "libtorch_cuda.so is not needed by the binary, so CUDA would be unavailable:\n{dynamic}"
        );
    }

    let run = Command::new(&binary)
        .env_remove("LD_LIBRARY_PATH")
        .current_dir(std::env::temp_dir())
        .output()
        .expect("the consumer binary runs");
    assert!(
        run.status.success(),
        "the consumer binary fails:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        train::train_and_describe(),
        "the consumer's training differs from the same code run here"
    );
}
