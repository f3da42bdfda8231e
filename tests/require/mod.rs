//! What a test does when something outside the repository that it needs is missing (the
//! real CIFAR-10, a browser, a Slurm cluster it can start): outside CI it prints that it
//! was skipped and why, and passes; with `CI=true` it fails, naming what is missing and
//! how to provide it. CI sets `CI=true` (`.ci/run`), so nothing is skipped there.
//!
//! A GPU is the exception: CI machines have none, so a GPU-only test skips in CI too, with
//! the same message, and `SCALEFREE_REQUIRE_CUDA=1` (set on a GPU machine) makes it fail
//! instead (crates/models/tests/forward_backward.rs).
#![allow(dead_code)] // each test binary uses part of this module

use std::io::Write;

/// The variable that turns skips into failures.
pub const CI_VAR: &str = "CI";

/// Whether `CI=true` (or `CI=1`) is set.
pub fn ci() -> bool {
    std::env::var(CI_VAR).is_ok_and(|v| v == "true" || v == "1")
}

/// Skips `test` (prints `SKIPPED <test>: <why>; <how>` and returns) outside CI, and fails it
/// with the same reason when `CI=true`. The message goes straight to the terminal's
/// stderr, past cargo's capture of test output, so a plain `cargo test` shows it.
pub fn skip_or_fail(test: &str, why: &str, how: &str) {
    if ci() {
        panic!("{test}: {why} ({CI_VAR}=true requires it); {how}");
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: {why}; {how} ({CI_VAR}=true makes this a failure)"
    );
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The first of `names` found on `PATH`, as a path.
pub fn on_path(names: &[&str]) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|p| p.is_file())
}

/// Runs the test `name` of this very test binary alone, in an empty folder, with `env`
/// changed (`None` removes a variable): how a test checks what another one does when
/// something is missing or required. `CI` is removed unless `env` sets it.
pub fn rerun_test(name: &str, env: &[(&str, Option<&str>)]) -> RerunOutput {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([name, "--exact", "--nocapture", "--test-threads=1"])
        .current_dir(dir.path())
        .env_remove(CI_VAR);
    for (key, value) in env {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    let out = cmd.output().unwrap();
    RerunOutput {
        success: out.status.success(),
        text: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        dir,
    }
}

pub struct RerunOutput {
    pub success: bool,
    /// stdout and stderr together.
    pub text: String,
    /// The folder it ran in (kept until this is dropped).
    pub dir: tempfile::TempDir,
}

impl RerunOutput {
    /// Asserts that the one test ran (not filtered out) and passed.
    pub fn assert_passed(&self) {
        assert!(
            self.success && self.text.contains("1 passed"),
            "{}",
            self.text
        );
    }

    /// Asserts that the one test ran and failed.
    pub fn assert_failed(&self) {
        assert!(
            !self.success && self.text.contains("1 failed"),
            "{}",
            self.text
        );
    }
}
