//! Checkpoints carry the SHA-256 of each file: a checkpoint whose bytes changed, or that
//! lost a file, is refused on resume naming the file, never loaded and never silently
//! replaced by a start from zero; the intact checkpoint before it is offered instead.
mod train_support;

use std::path::{Path, PathBuf};
use train_support::{assert_same_run, read_json, stderr, train, write_tiny_cifar10};

/// 96 images in batches of 32, 3 epochs: checkpoints at steps 3, 6, 9.
const FLAGS: [&str; 8] = [
    "--model",
    "resnet8",
    "--epochs",
    "3",
    "--batch-size",
    "32",
    "--hist-every",
    "2",
];

/// A straight run, and a run stopped by SIGTERM at step 5: `checkpoint/` is at step 5,
/// `checkpoint.old/` at step 3.
fn stopped_run(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let data = dir.join("data");
    write_tiny_cifar10(&data, 96, 20);
    let straight = dir.join("straight");
    assert!(train(&data, &straight, &FLAGS).status.success());
    let stopped = dir.join("stopped");
    let output = train_support::train_with_fault(&data, &stopped, "step:5:TERM", &FLAGS);
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    assert_eq!(
        read_json(&stopped.join("checkpoint/trainer.json"))["step"],
        5
    );
    assert_eq!(
        read_json(&stopped.join("checkpoint.old/trainer.json"))["step"],
        3
    );
    (data, straight, stopped)
}

fn resume(data: &Path, out: &Path) -> std::process::Output {
    train(data, out, &[&FLAGS[..], &["--resume"]].concat())
}

#[test]
fn a_damaged_checkpoint_is_refused_naming_the_file_and_the_intact_one_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let (data, straight, stopped) = stopped_run(dir.path());
    let model = stopped.join("checkpoint/model.safetensors");
    let mut bytes = std::fs::read(&model).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle..middle + 64].fill(0);
    std::fs::write(&model, &bytes).unwrap();

    let output = resume(&data, &stopped);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let msg = stderr(&output);
    assert!(
        msg.contains("model.safetensors is damaged") && msg.contains("SHA-256"),
        "{msg}"
    );
    assert!(
        msg.contains("checkpoint.old") && msg.contains("step 3") && msg.contains("mv "),
        "the message offers the previous checkpoint and says how: {msg}"
    );
    assert_eq!(
        std::fs::read(&model).unwrap(),
        bytes,
        "nothing is written over the damaged checkpoint"
    );

    // Doing what it says resumes from step 3, to the same result as the straight run.
    let (current, old) = (stopped.join("checkpoint"), stopped.join("checkpoint.old"));
    std::fs::rename(&current, stopped.join("checkpoint.damaged")).unwrap();
    std::fs::rename(&old, &current).unwrap();
    let output = resume(&data, &stopped);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("at step 3"), "{}", stderr(&output));
    assert_same_run(&stopped, &straight);
}

/// A finished run's checkpoint that lost its trainer state, or whose optimizer state
/// changed by one byte, is refused when the run is resumed to go further: never loaded, and
/// never replaced by a start from zero.
#[test]
fn a_checkpoint_that_lost_a_file_or_changed_a_byte_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 96, 20);
    let finished = dir.path().join("finished");
    assert!(train(&data, &finished, &FLAGS).status.success());
    let mut longer = FLAGS.to_vec();
    longer[3] = "4"; // --epochs
    longer.push("--resume");

    let lost = dir.path().join("lost");
    copy_dir(&finished, &lost);
    std::fs::remove_file(lost.join("checkpoint/trainer.json")).unwrap();
    let output = train(&data, &lost, &longer);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let msg = stderr(&output);
    assert!(
        msg.contains("trainer.json is missing") && msg.contains("no earlier checkpoint"),
        "{msg}"
    );
    assert!(!msg.contains("starting from the beginning"), "{msg}");
    assert_eq!(read_json(&lost.join("summary.json"))["status"], "completed");

    let changed = dir.path().join("changed");
    copy_dir(&finished, &changed);
    let optimizer = changed.join("checkpoint/optimizer.safetensors");
    let mut bytes = std::fs::read(&optimizer).unwrap();
    let at = bytes.len() - 10;
    bytes[at] ^= 0x40;
    std::fs::write(&optimizer, &bytes).unwrap();
    let output = train(&data, &changed, &longer);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("optimizer.safetensors is damaged"),
        "{}",
        stderr(&output)
    );
    assert_eq!(read_json(&changed.join("summary.json"))["epochs_done"], 3);
}

fn copy_dir(from: &Path, to: &Path) {
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}
