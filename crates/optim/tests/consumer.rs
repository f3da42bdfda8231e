//! A project outside this workspace that depends on the crate by path, as a user's would
//! (tests/consumer, with the one line of build script the README gives): it builds, its
//! binary starts without `LD_LIBRARY_PATH` from any directory, has libtorch_cuda linked,
//! and trains exactly as the same code does in this test's process. A second project is
//! made of the README's own quick start (its `[dependencies]`, its program and its line
//! of build script), so that the README cannot drift from what compiles and trains.
#[path = "consumer/src/train.rs"]
mod train;

use std::path::{Path, PathBuf};
use std::process::Command;

/// libtorch's directory, as this crate's build script received it from torch-sys.
const LIBTORCH_LIB: &str = env!("ADAMW_PROX_LIBTORCH_LIB");

#[test]
fn a_dependent_project_starts_without_ld_library_path_keeps_cuda_and_trains_as_here() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/consumer/Cargo.toml");
    let binary = build(&manifest, "adamw-prox-consumer");

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

/// Builds the project of `manifest` (with its Cargo.lock as it is) and returns its binary.
/// Both projects share one target directory of their own (this workspace's is locked
/// while its tests run), so the dependencies are built once.
fn build(manifest: &Path, binary: &str) -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("consumer");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let build = Command::new(cargo)
        .arg("build")
        .arg("--locked")
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target-dir")
        .arg(&target)
        .output()
        .expect("cargo runs");
    assert!(
        build.status.success(),
        "the project {} does not build (if tests/consumer/Cargo.lock is out of date, run \
         `cargo update --manifest-path tests/consumer/Cargo.toml` and commit it):\n{}",
        manifest.display(),
        String::from_utf8_lossy(&build.stderr)
    );
    target.join("debug").join(binary)
}

/// The code blocks of `markdown` in the section that starts with the line `heading`
/// (up to the next heading of the same level or higher), with their info strings.
fn code_blocks<'a>(markdown: &'a str, heading: &str) -> Vec<(&'a str, String)> {
    let level = heading.chars().take_while(|&c| c == '#').count();
    let mut lines = markdown.lines().skip_while(|l| *l != heading);
    assert!(lines.next().is_some(), "the README has no `{heading}`");
    let mut blocks = Vec::new();
    let mut open: Option<(&str, String)> = None;
    for line in lines {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => open = Some((info, String::new())),
            (Some(_), Some(_)) => blocks.push(open.take().expect("open")),
            (Some((_, text)), None) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, None) => {
                let hashes = line.chars().take_while(|&c| c == '#').count();
                if hashes > 0 && hashes <= level && line[hashes..].starts_with(' ') {
                    break;
                }
            }
        }
    }
    blocks
}

#[test]
fn the_readme_quick_start_builds_and_trains_as_a_project_of_its_own() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(crate_dir.join("README.md")).unwrap();
    let quick_start = code_blocks(&readme, "## Quick start");
    let [(toml_info, dependencies), (rust_info, program), ..] = quick_start.as_slice() else {
        panic!("the quick start has a toml block and a program: {quick_start:?}");
    };
    assert_eq!((*toml_info, *rust_info), ("toml", "rust"));
    let linking = code_blocks(&readme, "### Linking: one line in your `build.rs`");
    let build_script = &linking.first().expect("the build script line").1;

    // The README's dependency on this crate, pointed at this directory instead.
    let version = env!("CARGO_PKG_VERSION");
    let requirement = dependencies
        .lines()
        .find_map(|l| l.strip_prefix("adamw-prox = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .expect("the quick start depends on adamw-prox");
    assert!(
        version.starts_with(&format!("{requirement}.")),
        "the README asks for adamw-prox {requirement}, the crate is {version}"
    );
    let dependencies = dependencies.replace(
        &format!("adamw-prox = \"{requirement}\""),
        &format!(
            "adamw-prox = {{ path = {:?} }}",
            crate_dir.display().to_string()
        ),
    );
    let project = Path::new(env!("CARGO_TARGET_TMPDIR")).join("readme-quick-start");
    std::fs::create_dir_all(project.join("src")).unwrap();
    let manifest = format!(
        "[package]\nname = \"readme-quick-start\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
         publish = false\nbuild = \"build.rs\"\n\n[workspace]\n\n{dependencies}\n\
         [profile.dev]\ndebug = false\n"
    );
    // The consumer's lock file: the same dependencies, so the same versions, offline.
    let lock = std::fs::read_to_string(crate_dir.join("tests/consumer/Cargo.lock"))
        .unwrap()
        .replace(
            "name = \"adamw-prox-consumer\"",
            "name = \"readme-quick-start\"",
        );
    for (file, text) in [
        ("Cargo.toml", manifest.as_str()),
        ("Cargo.lock", lock.as_str()),
        ("build.rs", build_script.as_str()),
        ("src/main.rs", program.as_str()),
    ] {
        std::fs::write(project.join(file), text).unwrap();
    }
    let binary = build(&project.join("Cargo.toml"), "readme-quick-start");
    let run = Command::new(&binary)
        .env_remove("LD_LIBRARY_PATH")
        .current_dir(std::env::temp_dir())
        .output()
        .expect("the quick start's binary runs");
    assert!(
        run.status.success(),
        "the README's quick start fails (it asserts that the loss falls tenfold):\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
}
