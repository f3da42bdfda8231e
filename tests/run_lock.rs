//! One writer per run directory: a second `train` on a run that another process writes is
//! refused naming that process (exit code 75), a killed writer does not leave the lock
//! stuck, a second sweep of an experiment is refused while the first runs, and the runs of
//! a SIGKILLed sweep stop with it (and checkpoint) instead of writing on as orphans.
mod train_support;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use train_support::{read_json, scalefree, stderr, stdout, train, write_tiny_cifar10};

/// The state letter of process `pid` in /proc (`R`, `S`, `T` stopped, `Z` zombie), or
/// `None` once it is gone.
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

fn wait_until(what: &str, seconds: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not after {seconds} s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The PID a lock file names while its holder runs.
fn lock_pid(lock: &Path) -> Option<u32> {
    std::fs::read_to_string(lock)
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

const FLAGS: [&str; 6] = ["--model", "resnet8", "--epochs", "2", "--batch-size", "32"];

#[test]
fn a_second_writer_is_refused_naming_the_first_and_a_killed_writer_frees_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 64, 20);
    let out = dir.path().join("run");
    // The first writer freezes after its second step (test hook, src/fault.rs: SIGSTOP),
    // holding the run directory.
    let mut first: Child = scalefree()
        .env("SCALEFREE_FAULT", "step:2:STOP")
        .args([
            "train",
            "--quiet",
            "--threads",
            "1",
            "--device",
            "cpu",
            "--data",
        ])
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .args(FLAGS)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = first.id();
    wait_until("the first writer stops at step 2", 120, || {
        process_state(pid) == Some('T')
    });

    let second = train(&data, &out, &[&FLAGS[..], &["--resume"]].concat());
    assert_eq!(second.status.code(), Some(75), "{}", stderr(&second));
    let msg = stderr(&second);
    assert!(
        msg.contains(&format!("`scalefree train` (PID {pid}) is writing it"))
            && msg.contains("run.lock"),
        "{msg}"
    );

    first.kill().unwrap(); // SIGKILL: the lock goes with the process
    first.wait().unwrap();
    let third = train(&data, &out, &[&FLAGS[..], &["--resume"]].concat());
    assert!(third.status.success(), "{}", stderr(&third));
    assert_eq!(read_json(&out.join("summary.json"))["status"], "completed");
}

/// The children of process `parent`.
fn children(parent: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) {
            found.push(pid);
        }
    }
    found
}

/// An experiment of one run of 400 tiny steps (far longer than the tests wait for it),
/// and a way to start a sweep of it.
struct LongSweep {
    dir: tempfile::TempDir,
}

impl LongSweep {
    fn new() -> LongSweep {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        write_tiny_cifar10(&data, 64, 20);
        let spec = serde_json::json!({
            "name": "long",
            "base": { "data": data, "epochs": 200, "batch_size": 32, "hist_every": 0,
                      "model": "resnet8" },
            "grids": [ { "seed": [0] } ]
        });
        std::fs::write(dir.path().join("long.json"), spec.to_string()).unwrap();
        LongSweep { dir }
    }

    fn sweep(&self) -> std::process::Command {
        let mut cmd = scalefree();
        cmd.arg("sweep")
            .arg(self.dir.path().join("long.json"))
            .arg("--runs")
            .arg(self.dir.path().join("runs"))
            .args(["--threads", "1"]);
        cmd
    }

    fn run_dir(&self) -> std::path::PathBuf {
        self.dir
            .path()
            .join("runs/long/resnet8-nobn_adamw_lr0.001_wd0.00005_s0")
    }

    /// Starts a sweep and waits until its run is training (has written its config).
    fn start(&self) -> (Child, u32) {
        let sweep = self
            .sweep()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut child = 0;
        wait_until("the sweep starts its run", 120, || {
            child = children(sweep.id()).first().copied().unwrap_or(0);
            child != 0 && self.run_dir().join("config.json").exists()
        });
        (sweep, child)
    }
}

#[test]
fn a_killed_sweep_takes_its_runs_with_it_and_they_checkpoint() {
    let long = LongSweep::new();
    let (mut sweep, child) = long.start();
    sweep.kill().unwrap(); // SIGKILL: no chance to pass anything on
    sweep.wait().unwrap();
    wait_until("the run stops with its sweep", 60, || {
        matches!(process_state(child), None | Some('Z'))
    });
    let summary = read_json(&long.run_dir().join("summary.json"));
    assert_eq!(
        summary["status"], "interrupted",
        "the run stopped on the signal its sweep's death sent, and checkpointed: {summary}"
    );
    assert!(long.run_dir().join("checkpoint/trainer.json").is_file());
}

#[test]
fn a_second_sweep_of_an_experiment_is_refused_naming_the_first() {
    let long = LongSweep::new();
    let (mut first, child) = long.start();
    assert_eq!(
        lock_pid(&long.dir.path().join("runs/long/sweep.lock")),
        Some(first.id())
    );
    assert_eq!(lock_pid(&long.run_dir().join("run.lock")), Some(child));

    let second = long.sweep().output().unwrap();
    assert_eq!(second.status.code(), Some(75), "{}", stdout(&second));
    let msg = stderr(&second);
    assert!(
        msg.contains(&format!(
            "`scalefree sweep` (PID {}) is writing it",
            first.id()
        )),
        "{msg}"
    );
    assert!(!stdout(&second).contains("FAILED"), "{}", stdout(&second));
    // A train of the same run meets the run's lock.
    let train = scalefree()
        .args(["train", "--quiet", "--resume", "--out"])
        .arg(long.run_dir())
        .output()
        .unwrap();
    assert_eq!(train.status.code(), Some(75), "{}", stderr(&train));
    assert!(
        stderr(&train).contains(&format!("`scalefree train` (PID {child})")),
        "{}",
        stderr(&train)
    );
    first.kill().unwrap();
    first.wait().unwrap();
    wait_until("the run stops with its sweep", 60, || {
        matches!(process_state(child), None | Some('Z'))
    });
}
