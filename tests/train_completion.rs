//! A run is complete only once its final evaluation and summary are written: a run
//! stopped by SIGTERM during its last step resumes to them (not straight to "completed"),
//! and a resume that would end before the steps already taken is refused.
mod train_support;

use std::path::{Path, PathBuf};
use train_support::{
    assert_same_run, metrics_without_timing, read_json, stderr, train, write_tiny_cifar10,
};

/// 96 images in batches of 32, 2 epochs: 6 steps, evaluations at steps 3 and 6.
const FLAGS: [&str; 10] = [
    "--model",
    "resnet8",
    "--epochs",
    "2",
    "--batch-size",
    "32",
    "--hist-every",
    "2",
    "--seed",
    "3",
];

fn straight_run(dir: &Path) -> (PathBuf, PathBuf) {
    let data = dir.join("data");
    write_tiny_cifar10(&data, 96, 20);
    let straight = dir.join("straight");
    let output = train(&data, &straight, &FLAGS);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(metrics_without_timing(&straight).len(), 2);
    (data, straight)
}

#[test]
fn sigterm_during_the_last_step_resumes_to_the_final_evaluation_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    let (data, straight) = straight_run(dir.path());
    let stopped = dir.path().join("stopped");
    // A real SIGTERM, sent by the process to itself while it takes step 6 of 6 (test hook,
    // src/fault.rs): the handler sees it before the loop looks for a stop request.
    let output = train_support::train_with_fault(&data, &stopped, "step:6:TERM", &FLAGS);
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    assert_eq!(
        read_json(&stopped.join("summary.json"))["status"],
        "interrupted"
    );
    assert_eq!(
        read_json(&stopped.join("checkpoint/trainer.json"))["step"],
        6
    );
    assert_eq!(
        metrics_without_timing(&stopped).len(),
        1,
        "the final evaluation has not happened yet"
    );

    let resumed = train(&data, &stopped, &[&FLAGS[..], &["--resume"]].concat());
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert_same_run(&stopped, &straight);
}

#[test]
fn a_resume_that_would_end_before_the_steps_done_is_refused_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let (data, straight) = straight_run(dir.path());
    let before = std::fs::read(straight.join("summary.json")).unwrap();

    let fewer_steps = train(
        &data,
        &straight,
        &[&FLAGS[..], &["--resume", "--max-steps", "4"]].concat(),
    );
    assert_eq!(
        fewer_steps.status.code(),
        Some(1),
        "{}",
        stderr(&fewer_steps)
    );
    let msg = stderr(&fewer_steps);
    assert!(
        msg.contains("`max_steps` = 4") && msg.contains("already at step 6"),
        "{msg}"
    );

    let mut fewer_epochs = FLAGS.to_vec();
    fewer_epochs[3] = "1";
    fewer_epochs.push("--resume");
    let fewer_epochs = train(&data, &straight, &fewer_epochs);
    assert_eq!(fewer_epochs.status.code(), Some(1));
    assert!(
        stderr(&fewer_epochs).contains("`epochs` = 1"),
        "{}",
        stderr(&fewer_epochs)
    );
    assert_eq!(
        std::fs::read(straight.join("summary.json")).unwrap(),
        before,
        "the finished run's summary is left as it was"
    );

    // Resuming a finished run with its own settings finds nothing left to do.
    let again = train(&data, &straight, &[&FLAGS[..], &["--resume"]].concat());
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(metrics_without_timing(&straight).len(), 2);
}
