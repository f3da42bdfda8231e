//! Runs a script in the Python that has PyTorch, to compare with `torch.optim` itself.
//!
//! The Python is `$VIRTUAL_ENV/bin/python`, else the repository's `.venv/bin/python`
//! (`CARGO_MANIFEST_DIR/../../.venv`). Where there is none, or `import torch` fails there,
//! a test prints `SKIPPED <test>: …` and passes, unless `SCALEFREE_REQUIRE_TORCH=1` (or
//! `true`) makes that a failure.
#![allow(dead_code)]
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

/// The variable that makes a missing PyTorch a failure.
pub const REQUIRE_VAR: &str = "SCALEFREE_REQUIRE_TORCH";

/// The Python to use, whether or not it exists.
pub fn python() -> PathBuf {
    match std::env::var_os("VIRTUAL_ENV") {
        Some(venv) if !venv.is_empty() => PathBuf::from(venv).join("bin/python"),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"),
    }
}

/// Runs `script` (which imports torch) with `args` and returns its standard output, or
/// why it could not: no Python there, or torch does not import. A script that fails
/// after torch imported is a test failure (a panic with its standard error).
pub fn run(script: &str, args: &[&str]) -> Result<String, String> {
    let python = python();
    if !python.exists() {
        return Err(format!("no Python at {}", python.display()));
    }
    let probe = Command::new(&python)
        .args(["-c", "import torch"])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !probe.status.success() {
        let stderr = String::from_utf8_lossy(&probe.stderr);
        let last = stderr.lines().last().unwrap_or("").to_string();
        return Err(format!(
            "`import torch` fails in {}: {last}",
            python.display()
        ));
    }
    let out = Command::new(&python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    assert!(
        out.status.success(),
        "the PyTorch script failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout).expect("the script prints UTF-8"))
}

/// The output of `run`, or `None` after saying that `test` is skipped ([`skip`]).
pub fn run_or_skip(test: &str, script: &str, args: &[&str]) -> Option<String> {
    run(script, args).map_err(|why| skip(test, &why)).ok()
}

/// Says that `test` is skipped for want of PyTorch, and why: a line `SKIPPED <test>: …`
/// straight to the terminal (not captured by the test harness); with
/// `SCALEFREE_REQUIRE_TORCH=1` (or `true`) it fails the test instead.
pub fn skip(test: &str, why: &str) {
    let how = "set VIRTUAL_ENV to a Python environment with torch";
    if std::env::var(REQUIRE_VAR).is_ok_and(|v| v == "1" || v == "true") {
        panic!("{test}: {why} ({REQUIRE_VAR}=1 requires PyTorch); {how}");
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: {why}; {how} ({REQUIRE_VAR}=1 makes this a failure)"
    );
}

/// `|a − b| / max(|a|, |b|)`, 0 where both are 0.
pub fn rel(a: f64, b: f64) -> f64 {
    let scale = a.abs().max(b.abs());
    if scale == 0.0 {
        0.0
    } else {
        (a - b).abs() / scale
    }
}
