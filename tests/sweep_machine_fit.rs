//! A sweep says up front what this machine cannot run (float16 runs on the CPU) and how it
//! shares the CPU among the runs, and where a sweep stands can be read from a copy of the
//! runs one cannot write.
mod train_support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use train_support::{scalefree, stderr, stdout, tiny_experiment, write_tiny_cifar10};

fn sweep(args: &[&std::ffi::OsStr]) -> (Option<i32>, String) {
    let output = scalefree().arg("sweep").args(args).output().unwrap();
    (
        output.status.code(),
        format!("{}{}", stdout(&output), stderr(&output)),
    )
}

#[test]
fn a_cpu_sweep_of_float16_runs_is_refused_before_the_plan_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let experiment = dir.path().join("half.json");
    let spec = serde_json::json!({
        "name": "half",
        "base": { "data": dir.path().join("data"), "epochs": 1, "model": "resnet8" },
        "grids": [ { "precision": ["fp32", "f16"], "seed": [0, 1] } ]
    });
    std::fs::write(&experiment, spec.to_string()).unwrap();
    let runs = dir.path().join("runs");
    for extra in [&["--dry-run"][..], &[]] {
        let mut args = vec![experiment.as_os_str(), "--runs".as_ref(), runs.as_os_str()];
        args.extend(["--device", "cpu"].map(std::ffi::OsStr::new));
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        let (code, out) = sweep(&args);
        assert_eq!(code, Some(1), "{out}");
        assert!(
            out.contains("`precision`") && out.contains("f16") && out.contains("2 of 4 runs"),
            "{out}"
        );
        assert!(
            !runs.join("half").exists(),
            "nothing planned or started: {out}"
        );
    }
}

#[test]
fn a_cpu_sweep_says_how_it_shares_the_cores_and_why_and_jobs_overrides_it() {
    let dir = tempfile::tempdir().unwrap();
    let experiment = dir.path().join("share.json");
    let spec = serde_json::json!({
        "name": "share",
        "base": { "data": dir.path().join("data"), "epochs": 1, "model": "resnet8" },
        "grids": [ { "seed": [0, 1, 2, 3, 4, 5, 6, 7] } ]
    });
    std::fs::write(&experiment, spec.to_string()).unwrap();
    let runs = dir.path().join("runs");
    let base = [
        experiment.as_os_str(),
        "--runs".as_ref(),
        runs.as_os_str(),
        "--device".as_ref(),
        "cpu".as_ref(),
        "--dry-run".as_ref(),
    ];
    let (code, out) = sweep(&base);
    assert_eq!(code, Some(0), "{out}");
    let line = |start: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(start))
            .unwrap_or_else(|| panic!("no line starting {start:?}: {out}"))
            .to_string()
    };
    assert!(line("placement:").contains("--jobs and --threads override it"));
    assert!(line("why:").contains("for these 8 runs, predicted"));
    // ResNet-8 is not in the measured table: the rule says what it took instead.
    assert!(
        line("assumed:").starts_with("  assumed: resnet8 no BN fp32 was not measured"),
        "{out}"
    );
    assert!(line("memory:").contains("GB available"), "{out}");
    // The runs at once and their threads fit in the cores.
    let cores = std::thread::available_parallelism().unwrap().get();
    let at_once = line("placement:");
    let words: Vec<&str> = at_once.split_whitespace().collect();
    let (jobs, threads): (usize, usize) = (words[1].parse().unwrap(), words[6].parse().unwrap());
    assert!(
        jobs >= 1 && jobs * threads <= cores.max(1),
        "{at_once} on {cores} cores"
    );
    let mut asked = base.to_vec();
    asked.extend(["--jobs", "1"].map(std::ffi::OsStr::new));
    let (code, out) = sweep(&asked);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("placement: 1 at once × "), "{out}");
    assert!(out.contains("as --jobs asked"), "{out}");
    assert!(!out.contains("why:"), "no rule when --jobs is given: {out}");
}

/// Makes `dir` and everything in it read-only (or writable again).
fn set_read_only(dir: &Path, read_only: bool) {
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.unwrap();
        let mode = match (entry.file_type().is_dir(), read_only) {
            (true, true) => 0o555,
            (false, true) => 0o444,
            (true, false) => 0o755,
            (false, false) => 0o644,
        };
        std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

#[test]
fn sweep_status_reads_a_runs_folder_it_cannot_write() {
    if unsafe { libc::geteuid() } == 0 {
        // root writes through permissions; drop to another user for the status only.
        return status_as_nobody();
    }
    let (dir, experiment, runs) = swept();
    set_read_only(&runs, true);
    let args = [
        "status".as_ref(),
        experiment.as_os_str(),
        "--runs".as_ref(),
        runs.as_os_str(),
    ];
    let (code, out) = sweep(&args);
    set_read_only(&runs, false);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("4 completed"), "{out}");
    drop(dir);
}

/// One tiny sweep of 4 runs: (its folder, the experiment file, the runs).
fn swept() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 64, 10);
    let experiment = dir.path().join("ro.json");
    tiny_experiment(&experiment, "ro", &data);
    let runs = dir.path().join("runs");
    let args = [
        experiment.as_os_str(),
        "--runs".as_ref(),
        runs.as_os_str(),
        "--threads".as_ref(),
        "1".as_ref(),
        "--device".as_ref(),
        "cpu".as_ref(),
    ];
    let (code, out) = sweep(&args);
    assert_eq!(code, Some(0), "{out}");
    (dir, experiment, runs)
}

/// As root (CI, these machines), permissions do not stop writes: the status runs as the
/// user `nobody` on a copy of the runs owned by root and read-only for everyone else.
fn status_as_nobody() {
    // `nobody` must reach the binary and libtorch: not where the checkout sits in a folder
    // only root may enter (then this case cannot be shown here, and is said so).
    let reachable = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_scalefree"))
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !reachable {
        eprintln!(
            "skipped: the user nobody cannot run {} (a folder above it is root's only), so a \
             read-only runs folder cannot be shown to another user here",
            env!("CARGO_BIN_EXE_scalefree")
        );
        return;
    }
    let (dir, experiment, runs) = swept();
    set_read_only(dir.path(), true);
    let output = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_scalefree"))
        .args(["sweep", "status"])
        .arg(&experiment)
        .arg("--runs")
        .arg(&runs)
        .env("HOME", "/nonexistent")
        .output();
    set_read_only(dir.path(), false);
    let Ok(output) = output else {
        panic!("setpriv (util-linux) is needed to run the status as another user");
    };
    let out = format!("{}{}", stdout(&output), stderr(&output));
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(out.contains("4 completed"), "{out}");
}
