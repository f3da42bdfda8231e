//! What may change when a run goes on: where and how fast it runs (`kernel`, `threads`,
//! `device`) and what it logs (`hist_every`, `eval_every`) are accepted on `--resume`
//! and give the run that never stopped, bit for bit, and never make a sweep's runs stale;
//! a setting of the result (`lr`, `batch_size`) is refused on resume and makes runs
//! stale, named; and a run's length may grow on resume only where the schedule does not
//! span the run, the same rule as a sweep's.
mod train_support;

use serde_json::json;
use std::path::Path;
use std::process::Output;
use train_support::{
    assert_same_run, metrics_without_timing, read_json, scalefree, stderr, stdout,
    write_tiny_cifar10,
};

/// 128 images in batches of 32 (4 steps an epoch), scales logged every 3 steps.
const FLAGS: [&str; 12] = [
    "--model",
    "resnet8",
    "--batch-size",
    "32",
    "--hist-every",
    "3",
    "--lr",
    "2e-3",
    "--seed",
    "3",
    "--quiet",
    "--data",
];

/// `scalefree train` of the tiny run into `out`, for `epochs`, on `threads` CPU threads
/// and `device`, with `extra` flags.
fn train(data: &Path, out: &Path, epochs: &str, threads: &str, device: &str, extra: &[&str]) -> Output {
    scalefree()
        .arg("train")
        .args(FLAGS)
        .arg(data)
        .arg("--out")
        .arg(out)
        .args(["--epochs", epochs, "--threads", threads, "--device", device])
        .args(extra)
        .output()
        .unwrap()
}

fn ok(output: &Output) {
    assert!(output.status.success(), "{}", stderr(output));
}

/// The weights, optimizer state, metrics and summary of `resumed` are those of `straight`
/// (its scale log aside: another `hist_every` logs other steps).
fn assert_same_result(resumed: &Path, straight: &Path) {
    for file in ["checkpoint/model.safetensors", "checkpoint/optimizer.safetensors"] {
        assert!(
            std::fs::read(resumed.join(file)).unwrap() == std::fs::read(straight.join(file)).unwrap(),
            "{file} of {} differs from the uninterrupted run",
            resumed.display()
        );
    }
    assert_eq!(metrics_without_timing(resumed), metrics_without_timing(straight));
    let (a, b) = (
        read_json(&resumed.join("summary.json")),
        read_json(&straight.join("summary.json")),
    );
    for key in ["status", "final_test_accuracy", "final_train_loss", "steps_done"] {
        assert_eq!(a[key], b[key], "summary `{key}` of {}", resumed.display());
    }
}

#[test]
fn runtime_and_logging_settings_may_change_on_resume_and_give_the_same_run() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 128, 20);
    let straight = dir.path().join("straight");
    ok(&train(&data, &straight, "3", "2", "cpu", &[]));

    // The kernel has no flag: a run file sets it, the flags the rest.
    let kernel = dir.path().join("kernel.json");
    std::fs::write(&kernel, json!({"kernel": "tensor-ops"}).to_string()).unwrap();
    let kernel = kernel.display().to_string();
    // (what changes, the resumed process's threads, device and flags)
    let cases: [(&str, &str, &str, &[&str]); 5] = [
        ("kernel", "2", "cpu", &["--config", &kernel]),
        ("threads", "1", "cpu", &[]),
        ("device", "2", "auto", &[]),
        ("eval_every", "2", "cpu", &["--eval-every", "2"]),
        ("hist_every", "2", "cpu", &["--hist-every", "0"]),
    ];
    for (what, threads, device, flags) in cases {
        let out = dir.path().join(what);
        // One epoch, then the rest with the setting changed: the first process evaluates
        // and checkpoints at the end of epoch 1, as the straight run does.
        ok(&train(&data, &out, "1", "2", "cpu", &[]));
        let resumed = train(&data, &out, "3", threads, device, &[flags, &["--resume"]].concat());
        ok(&resumed);
        assert!(stderr(&resumed).contains("resuming"), "{what}: {}", stderr(&resumed));
        if what == "hist_every" {
            assert_same_result(&out, &straight);
        } else {
            assert_same_run(&out, &straight);
        }
    }
}

#[test]
fn a_setting_of_the_result_still_refuses_resume_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 64, 10);
    let out = dir.path().join("run");
    ok(&train(&data, &out, "1", "2", "cpu", &[]));
    for (flags, key) in [
        (["--batch-size", "16"], "`batch_size`"),
        (["--optimizer", "adam-l2"], "`optimizer`"),
    ] {
        let refused = train(&data, &out, "2", "2", "cpu", &[&flags[..], &["--resume"]].concat());
        assert_eq!(refused.status.code(), Some(1));
        let said = stderr(&refused);
        assert!(said.contains(&format!("cannot resume with {key}")), "{said}");
    }
}

#[test]
fn a_longer_run_of_a_schedule_that_spans_the_run_is_refused_and_a_constant_one_extends() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 64, 10);
    let cosine = dir.path().join("cosine");
    let schedule = ["--schedule", "cosine"];
    ok(&train(&data, &cosine, "2", "2", "cpu", &schedule));
    let refused = train(&data, &cosine, "4", "2", "cpu", &[&schedule[..], &["--resume"]].concat());
    assert_eq!(refused.status.code(), Some(1));
    let said = stderr(&refused);
    assert!(
        said.contains("cannot resume with `epochs` = 4") && said.contains("cosine schedule spans"),
        "{said}"
    );
    assert_eq!(read_json(&cosine.join("summary.json"))["epochs_done"], 2);

    let constant = dir.path().join("constant");
    ok(&train(&data, &constant, "2", "2", "cpu", &[]));
    ok(&train(&data, &constant, "4", "2", "cpu", &["--resume"]));
    assert_eq!(read_json(&constant.join("summary.json"))["epochs_done"], 4);
}

/// Two runs (AdamW, Adam-ℓ2) of one tiny epoch, with `base` laid over the shared settings.
fn write_experiment(path: &Path, data: &Path, base: serde_json::Value) {
    let mut shared = json!({ "data": data, "epochs": 1, "batch_size": 32, "hist_every": 0,
                             "model": "resnet8" });
    for (key, value) in base.as_object().unwrap() {
        shared[key] = value.clone();
    }
    let spec = json!({ "name": "edit", "base": shared,
                       "grids": [ { "optimizer": ["adamw", "adam-l2"] } ] });
    std::fs::write(path, spec.to_string()).unwrap();
}

fn sweep(experiment: &Path, runs: &Path) -> (Option<i32>, String) {
    let output = scalefree()
        .arg("sweep")
        .arg(experiment)
        .arg("--runs")
        .arg(runs)
        .args(["--threads", "1", "--device", "cpu"])
        .output()
        .unwrap();
    (
        output.status.code(),
        format!("{}{}", stdout(&output), stderr(&output)),
    )
}

#[test]
fn a_sweep_whose_experiment_changes_only_runtime_and_logging_settings_is_not_stale() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 64, 10);
    let experiment = dir.path().join("edit.json");
    let runs = dir.path().join("runs");
    write_experiment(&experiment, &data, json!({}));
    let (code, out) = sweep(&experiment, &runs);
    assert_eq!(code, Some(0), "{out}");

    let elsewhere = json!({ "kernel": "tensor-ops", "hist_every": 2, "eval_every": 3,
                            "threads": 1, "device": "auto", "layout": "nchw" });
    write_experiment(&experiment, &data, elsewhere.clone());
    let (code, out) = sweep(&experiment, &runs);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("2 runs, 2 already done, 0 to run"), "{out}");
    assert!(!out.contains("stale"), "{out}");

    let mut other_lr = elsewhere;
    other_lr["lr"] = json!(0.002);
    write_experiment(&experiment, &data, other_lr);
    let (code, out) = sweep(&experiment, &runs);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("2 stale") && out.contains("`lr` 0.001 → 0.002"), "{out}");
}
