//! A resume checks the run's record files before it goes on: a deleted `metrics.jsonl`,
//! or a `metrics.jsonl` or `losses.jsonl` that lost rows, is refused naming the file and
//! leaves the run as it was; the files restored, the same resume goes ahead.
mod train_support;

use std::path::PathBuf;
use train_support::{stderr, TINY_RUN};

/// The tiny run, with its histogram setting.
const RESUME_FLAGS: [&str; 6] = [
    TINY_RUN[0],
    TINY_RUN[1],
    TINY_RUN[2],
    TINY_RUN[3],
    "--hist-every",
    "0",
];

/// A tiny run trained for 2 epochs: (its temporary folder, the data, the run directory).
fn two_epochs_trained() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    train_support::write_tiny_cifar10(&data, 64, 10);
    let out = dir.path().join("run");
    let args = [&RESUME_FLAGS[..], &["--epochs", "2"]].concat();
    let first = train_support::train(&data, &out, &args);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    (dir, data, out)
}

#[test]
fn a_resume_without_metrics_jsonl_is_refused_naming_the_file() {
    let (_dir, data, out) = two_epochs_trained();
    let flags = RESUME_FLAGS;
    std::fs::remove_file(out.join("metrics.jsonl")).unwrap();
    let resumed = train_support::train(
        &data,
        &out,
        &[&flags[..], &["--epochs", "4", "--resume"]].concat(),
    );
    let msg = stderr(&resumed);
    assert_ne!(
        resumed.status.code(),
        Some(0),
        "resumed without its rows: {msg}"
    );
    assert!(
        msg.contains("metrics.jsonl") && msg.contains("missing"),
        "{msg}"
    );
    assert!(!msg.contains("panicked"), "{msg}");
    assert!(
        !out.join("summary.json").exists() || {
            let summary = train_support::read_json(&out.join("summary.json"));
            summary["epochs_done"] == 2
        },
        "the run is left as it was"
    );
}

#[test]
fn a_resume_with_a_record_file_that_lost_rows_is_refused_naming_it() {
    let (_dir, data, out) = two_epochs_trained();
    let flags = RESUME_FLAGS;
    let resume = || {
        let resume = [&flags[..], &["--epochs", "3", "--resume"]].concat();
        train_support::train(&data, &out, &resume)
    };
    for file in ["metrics.jsonl", "losses.jsonl"] {
        let path = out.join(file);
        let whole = std::fs::read_to_string(&path).unwrap();
        let first_line = whole.lines().next().unwrap();
        std::fs::write(&path, format!("{first_line}\n")).unwrap();
        let refused = resume();
        let msg = stderr(&refused);
        assert_ne!(refused.status.code(), Some(0), "{file}: {msg}");
        assert!(
            msg.contains(file) && msg.contains("truncated") && !msg.contains("panicked"),
            "{file}: {msg}"
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{first_line}\n")
        );
        std::fs::write(&path, whole).unwrap();
    }
    // The files restored, the same resume goes ahead.
    let resumed = resume();
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    assert_eq!(
        train_support::read_json(&out.join("summary.json"))["epochs_done"],
        3
    );
}
