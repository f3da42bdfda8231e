//! A run killed mid-epoch (SIGKILL) and resumed with `--resume` ends with the same
//! weights, optimizer state and metrics, bit for bit, as a run that never stopped; a run
//! stopped with SIGTERM checkpoints where it is, says `interrupted`, and resumes likewise.
mod train_support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use train_support::{assert_same_run, read_json, scalefree, stderr, train, write_tiny_cifar10};

const FLAGS: [&str; 10] = [
    "--epochs",
    "3",
    "--batch-size",
    "32",
    "--hist-every",
    "5",
    "--lr",
    "2e-3",
    "--seed",
    "7",
];

fn spawn(data: &Path, out: &Path) -> Child {
    scalefree()
        .args([
            "train",
            "--quiet",
            "--threads",
            "2",
            "--device",
            "cpu",
            "--data",
        ])
        .arg(data)
        .arg("--out")
        .arg(out)
        .args(FLAGS)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn checkpoint_epoch(out: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(out.join("checkpoint/trainer.json")).ok()?;
    serde_json::from_str::<serde_json::Value>(&text).ok()?["epoch"].as_u64()
}

/// Waits for the end-of-epoch-1 checkpoint, then lets the run get into epoch 2.
fn wait_into_second_epoch(child: &mut Child, out: &Path, epoch_seconds: f64) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while checkpoint_epoch(out) != Some(1) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before its first checkpoint"
        );
        assert!(Instant::now() < deadline, "no checkpoint after 300 s");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_secs_f64(epoch_seconds * 0.4));
}

fn setup() -> (
    tempfile::TempDir,
    std::path::PathBuf,
    std::path::PathBuf,
    f64,
) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 512, 50);
    let straight = dir.path().join("straight");
    let output = train(&data, &straight, &FLAGS);
    assert!(output.status.success(), "{}", stderr(&output));
    let summary = read_json(&straight.join("summary.json"));
    let epoch_seconds = summary["wall_s"].as_f64().unwrap() / 3.0;
    (dir, data, straight, epoch_seconds)
}

#[test]
fn a_run_killed_mid_epoch_resumes_to_the_same_bits() {
    let (dir, data, straight, epoch_seconds) = setup();
    let killed = dir.path().join("killed");
    let mut child = spawn(&data, &killed);
    wait_into_second_epoch(&mut child, &killed, epoch_seconds);
    child.kill().unwrap(); // SIGKILL: no chance to save anything
    child.wait().unwrap();
    assert!(
        !killed.join("summary.json").exists(),
        "the run was killed before it finished"
    );

    let output = train(&data, &killed, &[&FLAGS[..], &["--resume"]].concat());
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("resuming"), "{}", stderr(&output));
    assert_same_run(&killed, &straight);
}

#[test]
fn sigterm_checkpoints_mid_epoch_and_the_resumed_run_matches() {
    let (dir, data, straight, epoch_seconds) = setup();
    let stopped = dir.path().join("stopped");
    let mut child = spawn(&data, &stopped);
    wait_into_second_epoch(&mut child, &stopped, epoch_seconds);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(130));
    let summary = read_json(&stopped.join("summary.json"));
    assert_eq!(summary["status"], "interrupted");
    let trainer = read_json(&stopped.join("checkpoint/trainer.json"));
    assert!(
        trainer["batch"].as_u64().unwrap() > 0,
        "checkpointed mid-epoch: {trainer}"
    );

    let output = train(&data, &stopped, &[&FLAGS[..], &["--resume"]].concat());
    assert!(output.status.success(), "{}", stderr(&output));
    assert_same_run(&stopped, &straight);
}

#[test]
fn a_finished_run_directory_is_not_overwritten_without_resume() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 32, 10);
    let out = dir.path().join("run");
    assert!(train(&data, &out, &["--epochs", "1", "--batch-size", "32"])
        .status
        .success());
    let before = std::fs::read(out.join("checkpoint/model.safetensors")).unwrap();
    let again = train(&data, &out, &["--epochs", "1", "--batch-size", "32"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("already holds a run; pass --resume"),
        "{}",
        stderr(&again)
    );
    assert_eq!(
        std::fs::read(out.join("checkpoint/model.safetensors")).unwrap(),
        before
    );
    let changed = train(&data, &out, &["--epochs", "1", "--lr", "0.5", "--resume"]);
    assert_eq!(changed.status.code(), Some(1));
    assert!(
        stderr(&changed).contains("cannot resume with `lr`"),
        "{}",
        stderr(&changed)
    );
}
