//! `scalefree train` end to end on a tiny learnable dataset: every file of the run
//! directory, learning above chance, divergence, and refused configurations.
mod train_support;

use train_support::{read_json, stderr, train, write_tiny_cifar10};

#[test]
fn a_tiny_run_writes_every_file_and_learns_above_chance() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 640, 100);
    let out = dir.path().join("run");
    let output = train(
        &data,
        &out,
        &[
            "--model",
            "resnet20",
            "--no-bn",
            "--epochs",
            "2",
            "--batch-size",
            "32",
            "--lr",
            "2e-3",
            "--hist-every",
            "5",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));

    for file in [
        "config.json",
        "environment.json",
        "metrics.jsonl",
        "losses.jsonl",
        "scales.jsonl",
        "summary.json",
        "checkpoint/model.safetensors",
        "checkpoint/optimizer.safetensors",
        "checkpoint/trainer.json",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    let events: Vec<_> = std::fs::read_dir(out.join("tb"))
        .unwrap()
        .filter_map(|e| e.ok())
        .collect();
    assert!(events.iter().any(|e| e
        .file_name()
        .to_string_lossy()
        .starts_with("events.out.tfevents")));
    let leftovers: Vec<_> = walk(&out)
        .into_iter()
        .map(|p| {
            p.strip_prefix(&out.display().to_string())
                .unwrap()
                .to_string()
        })
        .filter(|p| {
            p.contains(".tmp") || p.contains("checkpoint.new") || p.contains("checkpoint.old")
        })
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    let summary = read_json(&out.join("summary.json"));
    assert_eq!(summary["status"], "completed");
    assert_eq!(summary["epochs_done"], 2);
    assert_eq!(summary["steps_done"], 40);
    for key in [
        "final_test_accuracy",
        "best_test_accuracy",
        "final_test_loss",
        "final_train_loss",
        "final_train_accuracy",
        "wall_s",
        "images_per_s",
    ] {
        assert!(summary[key].is_number(), "summary lacks {key}: {summary}");
    }
    // Steady-state timing leaves out the first 3 steps; logging at steps 1, 5, 10, …, 40.
    let timing = &summary["timing"];
    assert_eq!(timing["steady_steps"], 37, "{timing}");
    assert!(timing["steady_images_per_s"].as_f64().unwrap() > 0.0);
    assert_eq!(timing["scale_log_events"], 9, "{timing}");
    let logging = timing["scale_log_seconds"].as_f64().unwrap();
    assert!(logging > 0.0 && logging < summary["wall_s"].as_f64().unwrap());
    let accuracy = summary["final_test_accuracy"].as_f64().unwrap();
    assert!(
        accuracy > 0.3,
        "test accuracy {accuracy} is not above chance (0.1)"
    );

    // A run of 40 steps records every step's batch loss, placed in epochs of 20 steps;
    // its pace (of the process training it) is gone once it has ended.
    let losses: Vec<serde_json::Value> = std::fs::read_to_string(out.join("losses.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(losses.len(), 40);
    for (i, row) in losses.iter().enumerate() {
        assert_eq!(row["step"], i as u64 + 1, "{row}");
        assert_eq!(row["epoch"], (i as f64 + 1.0) / 20.0, "{row}");
        assert!(row["loss"].as_f64().unwrap() > 0.0, "{row}");
    }
    assert!(
        !out.join("pace.json").exists(),
        "pace.json stays behind after the run ended"
    );

    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let rows: Vec<serde_json::Value> = metrics
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["step"], 40);
    for key in [
        "epoch",
        "train_loss",
        "train_accuracy",
        "test_loss",
        "test_accuracy",
        "lr",
        "wall_s",
        "images_per_s",
    ] {
        assert!(rows[0].get(key).is_some(), "metrics row lacks {key}");
    }
    let config = read_json(&out.join("config.json"));
    assert_eq!(config["model"], "resnet20");
    assert_eq!(config["lr"], 2e-3);
    let environment = read_json(&out.join("environment.json"));
    assert!(environment["libtorch_version"]
        .as_str()
        .unwrap()
        .starts_with("2.13.0"));
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        out.push(path.display().to_string());
        if path.is_dir() {
            out.extend(walk(&path));
        }
    }
    out
}

/// `--eval-every 0` (what the benchmarks use): training only, no evaluation at all, and
/// the summary says so with no accuracy rather than a made-up one.
#[test]
fn eval_every_zero_trains_without_ever_evaluating() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 96, 20);
    let out = dir.path().join("run");
    let output = train(
        &data,
        &out,
        &[
            "--epochs",
            "2",
            "--batch-size",
            "32",
            "--eval-every",
            "0",
            "--hist-every",
            "0",
            "--model",
            "resnet8",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let summary = read_json(&out.join("summary.json"));
    assert_eq!(summary["status"], "completed");
    assert_eq!(summary["steps_done"], 6);
    assert!(summary["final_test_accuracy"].is_null(), "{summary}");
    assert_eq!(summary["timing"]["steady_steps"], 3);
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap_or_default();
    assert!(metrics.trim().is_empty(), "evaluated anyway: {metrics}");
}

#[test]
fn a_huge_step_size_stops_the_run_as_diverged_with_exit_code_3() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 160, 20);
    let out = dir.path().join("run");
    let output = train(
        &data,
        &out,
        &[
            "--epochs",
            "20",
            "--batch-size",
            "16",
            "--lr",
            "1e9",
            "--loss-mult",
            "1e30",
            "--hist-every",
            "0",
        ],
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let summary = read_json(&out.join("summary.json"));
    assert_eq!(summary["status"], "diverged");
    assert_eq!(summary["test_error_for_heatmap"], 1.1);
    assert!(summary["message"].as_str().unwrap().contains("loss became"));
    assert!(
        summary["steps_done"].as_u64().unwrap() < 200,
        "stopped at the first non-finite loss"
    );
    assert!(out.join("config.json").is_file(), "the logs are kept");
}

fn refused(extra: &[&str], config: Option<&str>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 10, 10);
    let out = dir.path().join("run");
    let mut args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    if let Some(json) = config {
        let path = dir.path().join("run.json");
        std::fs::write(&path, json).unwrap();
        args.extend(["--config".to_string(), path.display().to_string()]);
    }
    let output = train_support::scalefree()
        .args(["train", "--quiet", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .args(&args)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        !out.exists(),
        "nothing is written for a refused configuration"
    );
    stderr(&output)
}

#[test]
fn bad_configurations_are_refused_before_any_work_naming_the_field() {
    let msg = refused(&[], Some(r#"{"model": "resnet20", "learning_rate": 0.1}"#));
    assert!(
        msg.contains("unknown field `learning_rate`") && msg.contains("run.json"),
        "{msg}"
    );
    let msg = refused(&[], Some(r#"{"lr": "fast"}"#));
    assert!(
        msg.contains("field `lr`") && msg.contains("invalid type"),
        "{msg}"
    );
    // sgd is an optimizer since the crate's seam; a name no rule has is refused.
    let msg = refused(&[], Some(r#"{"optimizer": "sgd-momentum"}"#));
    assert!(
        msg.contains("field `optimizer`") && msg.contains("adam-prox") && msg.contains("sgdw"),
        "{msg}"
    );
    let msg = refused(&["--wd", "-1"], None);
    assert!(msg.contains("invalid `wd` = -1"), "{msg}");
    let msg = refused(&["--beta2", "1"], None);
    assert!(
        msg.contains("invalid `beta2` = 1: must be in [0, 1)"),
        "{msg}"
    );
    let msg = refused(&["--model", "resnet21"], None);
    assert!(
        msg.contains("resnet21") && msg.contains("resnet110"),
        "{msg}"
    );
    let msg = refused(&[], Some(r#"{"device": "tpu"}"#));
    assert!(msg.contains("invalid `device`"), "{msg}");
    let msg = refused(&[], Some(r#"{"layout": "nhwc"}"#));
    assert!(
        msg.contains("field `layout`") && msg.contains("channels-last"),
        "{msg}"
    );
    let msg = refused(&["--val-fraction", "1.5"], None);
    assert!(msg.contains("invalid `val_fraction`"), "{msg}");
}

#[test]
fn flags_override_the_run_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.json");
    std::fs::write(
        &path,
        r#"{"lr": 0.5, "wd": 0.01, "model": "resnet32", "layout": "nchw"}"#,
    )
    .unwrap();
    let output = train_support::scalefree()
        .args(["train", "--print-config", "--lr", "0.001"])
        .args(["--layout", "channels-last", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let config: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(config["lr"], 0.001);
    assert_eq!(config["wd"], 0.01);
    assert_eq!(config["model"], "resnet32");
    assert_eq!(config["layout"], "channels-last");
}
