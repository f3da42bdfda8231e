//! The two supported libtorch versions: TORCH_VERSION picks the venv, the lock file (and
//! so tch), the binary's folder and the bundle; anything else is refused by name. That the
//! code compiles against 2.11 is `make check-torch-versions` (CI).
use std::process::{Command, Output};

fn workspace() -> &'static str {
    env!("CARGO_MANIFEST_DIR")
}

fn make_n(args: &[&str]) -> Output {
    Command::new("make")
        .arg("-n")
        .args(args)
        .current_dir(workspace())
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .env_remove("MAKELEVEL")
        .env_remove("TORCH_VERSION")
        .output()
        .expect("make")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `cargo tree` through scripts/cargo-torch.sh: the tch version its lock file resolves.
fn tch_for(torch_version: &str) -> String {
    let out = Command::new("bash")
        .args(["scripts/cargo-torch.sh", torch_version])
        .args([
            "tree",
            "-p",
            "adamw-prox",
            "-i",
            "tch",
            "-e",
            "normal",
            "--depth",
            "0",
        ])
        .current_dir(workspace())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn torch_2_13_builds_with_tch_0_26_and_torch_2_11_with_tch_0_24() {
    assert_eq!(tch_for("2.13.0"), "tch v0.26.0");
    assert_eq!(tch_for("2.11.0"), "tch v0.24.0");
}

#[test]
fn torch_version_picks_the_venv_the_build_and_the_bundle_of_that_libtorch() {
    let out = make_n(&["bundle", "TORCH_VERSION=2.11.0"]);
    let plan = text(&out);
    assert!(out.status.success(), "{plan}");
    for wanted in [
        ".venv-torch-2.11.0",
        "scripts/cargo-torch.sh 2.11.0 build --release -p scalefree",
        "scripts/bundle.sh 2.11.0 target/torch-2.11.0/target/release dist",
    ] {
        assert!(plan.contains(wanted), "{wanted:?} not in:\n{plan}");
    }
    let default = text(&make_n(&["bundle"]));
    assert!(
        default.contains("scripts/bundle.sh 2.13.0 target/release dist"),
        "{default}"
    );
}

#[test]
fn an_unsupported_torch_version_is_refused_naming_the_supported_ones() {
    let out = make_n(&["build", "TORCH_VERSION=2.12.0"]);
    assert!(!out.status.success());
    assert!(
        text(&out)
            .contains("TORCH_VERSION=2.12.0 is not supported: 2.13.0 (the default) or 2.11.0"),
        "{}",
        text(&out)
    );
    let out = Command::new("bash")
        .args(["scripts/cargo-torch.sh", "2.12.0", "build"])
        .current_dir(workspace())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("TORCH_VERSION=2.12.0 is not supported; choose one of: 2.13.0 2.11.0"),
        "{}",
        text(&out)
    );
}
