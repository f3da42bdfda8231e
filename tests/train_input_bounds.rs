//! What a run's inputs may be, checked before any work with a message naming the flag or
//! file: a batch no larger than the training split, negative numbers given to the flag's
//! own check, run files with a byte-order mark, and a run that never evaluates still
//! summarised.
mod train_support;

use train_support::{read_json, scalefree, stderr, train, train_refused, write_tiny_cifar10};

/// 64 tiny training images (10 test images) in a folder of their own: (folder, data).
fn tiny_data() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 64, 10);
    (dir, data)
}

#[test]
fn a_batch_larger_than_the_training_split_is_refused_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    for batch in ["101", "1000", "99999999999"] {
        let out = dir.path().join(format!("b{batch}"));
        let msg = train_refused(dir.path(), &out, &["--batch-size", batch], 1);
        assert!(
            msg.contains(&format!("invalid `batch_size` = {batch} (--batch-size)"))
                && msg.contains("only 100 images"),
            "{msg}"
        );
        assert!(!out.exists(), "nothing is written for a refused run");
    }
    // As large as the split is a whole-split batch, and trains.
    let out = dir.path().join("whole");
    let data = dir.path().join("data");
    let output = train(
        &data,
        &out,
        &["--batch-size", "100", "--epochs", "1", "--model", "resnet8"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn a_negative_number_reaches_the_flags_own_check() {
    let output = scalefree()
        .args(["models", "--classes", "-5"])
        .output()
        .unwrap();
    let msg = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{msg}");
    assert!(
        msg.contains("--classes") && msg.contains("from 2 to") && !msg.contains("unexpected"),
        "{msg}"
    );
}

#[test]
fn a_run_file_starting_with_a_byte_order_mark_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("run.json");
    std::fs::write(&file, "\u{feff}{\"lr\": 0.002, \"model\": \"resnet8\"}").unwrap();
    let output = scalefree()
        .args(["train", "--print-config", "--config"])
        .arg(&file)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let config: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        (config["lr"].as_f64(), config["model"].as_str()),
        (Some(0.002), Some("resnet8"))
    );
}

#[test]
fn a_run_that_never_evaluates_still_has_its_final_training_loss() {
    let (dir, data) = tiny_data();
    let out = dir.path().join("run");
    let output = train(
        &data,
        &out,
        &[
            "--eval-every",
            "0",
            "--epochs",
            "2",
            "--batch-size",
            "32",
            "--model",
            "resnet8",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let summary = read_json(&out.join("summary.json"));
    let loss = summary["final_train_loss"].as_f64();
    assert!(loss.is_some_and(|l| l.is_finite() && l > 0.0), "{summary}");
    assert!(
        summary["final_train_accuracy"].as_f64().is_some(),
        "{summary}"
    );
    assert!(
        summary["final_test_accuracy"].is_null(),
        "no evaluation: {summary}"
    );
    // The same number an evaluating run records as its last epoch's training loss.
    let evaluated = dir.path().join("evaluated");
    let output = train(
        &data,
        &evaluated,
        &["--epochs", "2", "--batch-size", "32", "--model", "resnet8"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let with_evaluation = read_json(&evaluated.join("summary.json"));
    assert_eq!(
        summary["final_train_loss"],
        with_evaluation["final_train_loss"]
    );
}

#[test]
fn more_threads_than_the_machine_has_cpus_are_refused_naming_them() {
    let cpus = std::thread::available_parallelism().unwrap().get();
    let (dir, data) = tiny_data();
    for threads in [cpus + 1, 5000, 100_000] {
        let out = dir.path().join(format!("t{threads}"));
        let output = scalefree()
            .args([
                "train", "--quiet", "--model", "resnet8", "--device", "cpu", "--data",
            ])
            .arg(&data)
            .arg("--out")
            .arg(&out)
            .args(["--threads", &threads.to_string()])
            .output()
            .unwrap();
        let msg = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{msg}");
        assert!(
            msg.contains(&format!("invalid `threads` = {threads} (--threads)"))
                && msg.contains(&format!("{cpus} CPU"))
                && !msg.contains("panicked"),
            "{msg}"
        );
        assert!(!out.exists());
    }
}

#[test]
fn a_step_that_cannot_fit_in_memory_is_refused_before_anything_is_built() {
    let (dir, data) = tiny_data();
    let started = std::time::Instant::now();
    let out = dir.path().join("deep");
    let output = scalefree()
        .args([
            "train",
            "--quiet",
            "--model",
            "densenet1000",
            "--max-steps",
            "1",
        ])
        .args([
            "--batch-size",
            "64",
            "--device",
            "cpu",
            "--threads",
            "1",
            "--data",
        ])
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let msg = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{msg}");
    assert!(
        msg.contains("--model densenet1000")
            && msg.contains("for the activations")
            && msg.contains("--batch-size"),
        "{msg}"
    );
    assert!(
        started.elapsed().as_secs() < 30,
        "refused before building: {msg}"
    );
    assert!(!out.exists());
}

#[test]
fn a_loss_multiplier_that_overflows_adams_second_moment_ends_the_run_as_diverged() {
    let (dir, data) = tiny_data();
    let out = dir.path().join("run");
    let output = train(
        &data,
        &out,
        &[
            "--model",
            "resnet8",
            "--batch-size",
            "32",
            "--epochs",
            "1",
            "--loss-mult",
            "1e30",
        ],
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let summary = read_json(&out.join("summary.json"));
    assert_eq!(summary["status"], "diverged", "{summary}");
    assert!(
        summary["message"].as_str().unwrap().contains("--loss-mult"),
        "{summary}"
    );
}

#[test]
fn check_scale_free_refuses_a_multiplier_that_overflows_instead_of_a_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("check.json");
    let output = scalefree()
        .args([
            "check",
            "scale-free",
            "--random-input",
            "--model",
            "resnet8",
        ])
        .args([
            "--steps",
            "3",
            "--mults",
            "1e25",
            "--threads",
            "1",
            "--device",
            "cpu",
        ])
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let msg = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{msg}");
    assert!(
        msg.contains("--mults 1e25") && msg.contains("overflow"),
        "{msg}"
    );
    assert!(!json.exists(), "no verdict is written");
}
