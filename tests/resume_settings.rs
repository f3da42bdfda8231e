//! What may change when a run goes on: where and how fast it runs (`device`, `kernel`)
//! and what it logs (`hist_every`, `eval_every`) are accepted on `--resume` and give the
//! run that never stopped (bit for bit; with another kernel, to rounding), and never make
//! a sweep's runs stale; other CPU threads are refused, naming the count it trained with;
//! a setting of the result (`wd`, `optimizer`, `batch_size`) is refused on resume and makes runs
//! stale, named; and a run's length may grow on resume only where the schedule does not
//! span the run, the same rule as a sweep's.
mod train_support;

use serde_json::json;
use std::path::Path;
use std::process::Output;
use train_support::{
    assert_same_run, metrics_without_timing, read_json, scalefree, stderr, sweep,
    write_tiny_cifar10,
};

/// 128 images in batches of 32 (4 steps an epoch), scales logged every 3 steps unless
/// the flags say otherwise.
const FLAGS: [&str; 10] = [
    "--model",
    "resnet8",
    "--batch-size",
    "32",
    "--lr",
    "2e-3",
    "--seed",
    "3",
    "--quiet",
    "--data",
];

/// `scalefree train` of the tiny run into `out`, for `epochs`, on `threads` CPU threads
/// and `device`, with `extra` flags.
fn train(
    data: &Path,
    out: &Path,
    epochs: &str,
    threads: &str,
    device: &str,
    extra: &[&str],
) -> Output {
    scalefree()
        .arg("train")
        .args(FLAGS)
        .arg(data)
        .arg("--out")
        .arg(out)
        .args(["--epochs", epochs, "--threads", threads, "--device", device])
        .args(extra)
        .args(if extra.contains(&"--hist-every") {
            &[][..]
        } else {
            &["--hist-every", "3"]
        })
        .output()
        .unwrap()
}

fn ok(output: &Output) {
    assert!(output.status.success(), "{}", stderr(output));
}

/// The weights, optimizer state, metrics and summary of `resumed` are those of `straight`
/// (its scale log aside: another `hist_every` logs other steps).
fn assert_same_result(resumed: &Path, straight: &Path) {
    for file in [
        "checkpoint/model.safetensors",
        "checkpoint/optimizer.safetensors",
    ] {
        assert!(
            std::fs::read(resumed.join(file)).unwrap()
                == std::fs::read(straight.join(file)).unwrap(),
            "{file} of {} differs from the uninterrupted run",
            resumed.display()
        );
    }
    assert_eq!(
        metrics_without_timing(resumed),
        metrics_without_timing(straight)
    );
    let (a, b) = (
        read_json(&resumed.join("summary.json")),
        read_json(&straight.join("summary.json")),
    );
    for key in [
        "status",
        "final_test_accuracy",
        "final_train_loss",
        "steps_done",
    ] {
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

    // (what changes, the resumed process's threads, device and flags): what it logs and
    // the device it names (`auto` is the CPU here) leave every bit as it was.
    let cases: [(&str, &str, &str, &[&str]); 3] = [
        ("device", "2", "auto", &[]),
        ("eval_every", "2", "cpu", &["--eval-every", "2"]),
        ("hist_every", "2", "cpu", &["--hist-every", "0"]),
    ];
    for (what, threads, device, flags) in cases {
        let out = dir.path().join(what);
        // One epoch, then the rest with the setting changed: the first process evaluates
        // and checkpoints at the end of epoch 1, as the straight run does.
        ok(&train(&data, &out, "1", "2", "cpu", &[]));
        let resumed = train(
            &data,
            &out,
            "3",
            threads,
            device,
            &[flags, &["--resume"]].concat(),
        );
        ok(&resumed);
        assert!(
            stderr(&resumed).contains("resuming"),
            "{what}: {}",
            stderr(&resumed)
        );
        if what == "hist_every" {
            assert_same_result(&out, &straight);
        } else {
            assert_same_run(&out, &straight);
        }
    }

    // Other CPU threads split libtorch's sums otherwise: another run in its last bits,
    // so a resume keeps the count it trained with, and says which.
    let out = dir.path().join("threads");
    ok(&train(&data, &out, "1", "2", "cpu", &[]));
    let refused = train(&data, &out, "3", "1", "cpu", &["--resume"]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("--threads 2"),
        "{}",
        stderr(&refused)
    );
    ok(&train(&data, &out, "3", "2", "cpu", &["--resume"]));
    assert_same_run(&out, &straight);

    // The kernels order their operations otherwise (both compute the same rule): the
    // same run to rounding. The kernel has no flag: a run file sets it.
    let kernel = dir.path().join("kernel.json");
    std::fs::write(&kernel, json!({"kernel": "tensor-ops"}).to_string()).unwrap();
    let kernel = ["--config", kernel.to_str().unwrap(), "--resume"];
    let out = dir.path().join("kernel");
    ok(&train(&data, &out, "1", "2", "cpu", &[]));
    ok(&train(&data, &out, "3", "2", "cpu", &kernel));
    assert_same_to_rounding(&out, &straight);
    let config = read_json(&dir.path().join("kernel/config.json"));
    assert_eq!(config["kernel"], "tensor-ops");
}

/// `resumed` ended as `straight` did, to rounding: the weights (Adam moves a coordinate
/// by about η per step, so a rounding apart in a gradient near 0 can move one by up to η:
/// within η = 2e-3 of each other after 8 such steps is far closer than another run), the
/// steps, the final training loss and the evaluations' losses.
fn assert_same_to_rounding(resumed: &Path, straight: &Path) {
    let weights = "checkpoint/model.safetensors";
    assert_close(&resumed.join(weights), &straight.join(weights), 2e-3);
    let (a, b) = (
        read_json(&resumed.join("summary.json")),
        read_json(&straight.join("summary.json")),
    );
    assert_eq!(a["steps_done"], b["steps_done"]);
    let loss = |s: &serde_json::Value| s["final_train_loss"].as_f64().unwrap();
    assert!((loss(&a) - loss(&b)).abs() <= 1e-3 * loss(&b), "{a} vs {b}");
    let (a, b) = (
        metrics_without_timing(resumed),
        metrics_without_timing(straight),
    );
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x["step"], y["step"]);
        let (x, y) = (
            x["test_loss"].as_f64().unwrap(),
            y["test_loss"].as_f64().unwrap(),
        );
        assert!((x - y).abs() <= 1e-3 * y, "test loss {x} vs {y}");
    }
}

/// Every tensor of the safetensors file `a` is `b`'s within `tolerance` (absolute).
fn assert_close(a: &Path, b: &Path, tolerance: f64) {
    let read = |path: &Path| {
        let mut tensors = tch::Tensor::read_safetensors(path).unwrap();
        tensors.sort_by(|x, y| x.0.cmp(&y.0));
        tensors
    };
    let (a, b) = (read(a), read(b));
    assert_eq!(a.len(), b.len());
    for ((name, x), (other, y)) in a.iter().zip(&b) {
        assert_eq!(name, other);
        let diff = (x - y).abs().max().double_value(&[]);
        assert!(diff <= tolerance, "{name}: differs by {diff:e}");
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
        (["--wd", "1e-4"], "`wd`"),
        (["--optimizer", "adam-l2"], "`optimizer`"),
    ] {
        let refused = train(
            &data,
            &out,
            "2",
            "2",
            "cpu",
            &[&flags[..], &["--resume"]].concat(),
        );
        assert_eq!(refused.status.code(), Some(1));
        let said = stderr(&refused);
        assert!(
            said.contains(&format!("cannot resume with {key}")),
            "{said}"
        );
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
    let refused = train(
        &data,
        &cosine,
        "4",
        "2",
        "cpu",
        &[&schedule[..], &["--resume"]].concat(),
    );
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

#[test]
fn a_sweep_whose_experiment_changes_only_runtime_and_logging_settings_is_not_stale() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 64, 10);
    let experiment = dir.path().join("edit.json");
    let runs = dir.path().join("runs");
    write_experiment(&experiment, &data, json!({}));
    let (code, out) = sweep(&experiment, &runs, &["--threads", "1", "--device", "cpu"]);
    assert_eq!(code, Some(0), "{out}");

    let elsewhere = json!({ "kernel": "tensor-ops", "hist_every": 2, "eval_every": 3,
                            "threads": 1, "device": "auto", "layout": "nchw" });
    write_experiment(&experiment, &data, elsewhere.clone());
    let (code, out) = sweep(&experiment, &runs, &["--threads", "1", "--device", "cpu"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("2 runs, 2 already done, 0 to run"), "{out}");
    assert!(!out.contains("stale"), "{out}");

    // A setting of the result that does not name the runs: the same directories, stale.
    let mut other_batches = elsewhere;
    other_batches["batch_size"] = json!(16);
    write_experiment(&experiment, &data, other_batches);
    let (code, out) = sweep(&experiment, &runs, &["--threads", "1", "--device", "cpu"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("2 stale") && out.contains("`batch_size` 32 → 16"),
        "{out}"
    );
}
