//! Inputs `scalefree train` refuses before writing anything, each with a message that names
//! the flag or file and what would be valid: splits left empty, a subset larger than the
//! data, a folder that is not a run, negative numbers, ε = 0, a symbolic-link loop.
mod train_support;

use std::path::Path;
use train_support::{scalefree, stderr, train_refused};

/// [`train_refused`] expecting the run's refusal (exit 1).
fn refused_into(dir: &Path, out: &Path, extra: &[&str]) -> String {
    train_refused(dir, out, extra, 1)
}

/// As [`refused_into`] into a new folder, which must not be created.
fn refused(extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let msg = refused_into(dir.path(), &out, extra);
    assert!(!out.exists(), "nothing is written for a refused run");
    assert!(!msg.contains("panicked"), "{msg}");
    msg
}

#[test]
fn a_validation_fraction_that_leaves_a_split_empty_is_refused_naming_the_flag() {
    // 10 images per class: 1 % of each rounds to none.
    let msg = refused(&["--val-fraction", "0.01"]);
    assert!(
        msg.contains("invalid `val_fraction` = 0.01 (--val-fraction)")
            && msg.contains("holds out no image"),
        "{msg}"
    );
    // 99 % of each rounds to all of it.
    let msg = refused(&["--val-fraction", "0.99"]);
    assert!(
        msg.contains("--val-fraction") && msg.contains("leaves no training image"),
        "{msg}"
    );
}

#[test]
fn a_training_subset_larger_than_the_training_split_is_refused() {
    let msg = refused(&["--train-subset", "1000"]);
    assert!(
        msg.contains("invalid `train_subset` = 1000 (--train-subset)")
            && msg.contains("has only 100 images"),
        "{msg}"
    );
    let msg = refused(&["--train-subset", "80", "--val-fraction", "0.5"]);
    assert!(msg.contains("has only 50 images"), "{msg}");
}

#[test]
fn a_folder_that_is_not_a_run_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mine");
    std::fs::create_dir_all(out.join("checkpoint")).unwrap();
    std::fs::write(out.join("checkpoint/best_model.ckpt"), b"weights of a week").unwrap();
    std::fs::write(out.join("metrics.jsonl"), b"{\"mine\": 1}\n").unwrap();
    for extra in [&[][..], &["--resume"][..]] {
        let msg = refused_into(dir.path(), &out, extra);
        assert!(
            msg.contains("is not a scalefree run")
                && msg.contains("checkpoint/")
                && msg.contains("metrics.jsonl"),
            "{msg}"
        );
    }
    assert_eq!(
        std::fs::read(out.join("checkpoint/best_model.ckpt")).unwrap(),
        b"weights of a week"
    );
    assert_eq!(
        std::fs::read(out.join("metrics.jsonl")).unwrap(),
        b"{\"mine\": 1}\n"
    );
    let mut left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["checkpoint", "metrics.jsonl"]);
}

#[test]
fn negative_numbers_reach_the_range_check() {
    let msg = refused(&["--lr", "-1e-3"]);
    assert!(msg.contains("invalid `lr` = -0.001: must be"), "{msg}");
    let msg = refused(&["--wd", "-1e-4"]);
    assert!(msg.contains("invalid `wd` = -0.0001: must be"), "{msg}");
    let msg = refused(&["--eps", "-1e-8"]);
    assert!(
        msg.contains("invalid `eps` = -0.00000001: must be"),
        "{msg}"
    );
}

#[test]
fn eps_zero_is_refused_for_training_with_the_reason() {
    let msg = refused(&["--eps", "0"]);
    assert!(
        msg.contains("invalid `eps` = 0: must be > 0") && msg.contains("check scale-free"),
        "{msg}"
    );
}

#[test]
fn a_symbolic_link_loop_as_data_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::os::unix::fs::symlink(&b, &a).unwrap();
    std::os::unix::fs::symlink(&a, &b).unwrap();
    let out = dir.path().join("run");
    let output = scalefree()
        .args(["train", "--quiet", "--data"])
        .arg(&a)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let msg = stderr(&output);
    assert!(msg.contains("loop of symbolic links"), "{msg}");
    assert!(!out.exists());
    let dangling = dir.path().join("dangling");
    std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
    let output = scalefree()
        .args(["train", "--quiet", "--data"])
        .arg(&dangling)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        stderr(&output).contains("which does not exist"),
        "{}",
        stderr(&output)
    );
}
