//! Shared by the driver's end-to-end tests: a tiny learnable CIFAR-10 written in the
//! official binary layout, and a way to run the `scalefree` binary.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Class `k` is a solid colour (a point on the colour wheel) plus per-pixel noise, so a
/// small network learns it in a few steps.
fn image(class: usize, seed: usize) -> Vec<u8> {
    let hue = class as f64 / 10.0 * std::f64::consts::TAU;
    let base = [hue.cos(), (hue + 2.1).cos(), (hue + 4.2).cos()].map(|c| 128.0 + 90.0 * c);
    let mut state = (seed as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut pixels = Vec::with_capacity(3072);
    for channel in base {
        for _ in 0..1024 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = (state % 61) as f64 - 30.0;
            pixels.push((channel + noise).clamp(0.0, 255.0) as u8);
        }
    }
    pixels
}

fn write_records(path: &Path, records: impl Iterator<Item = (usize, usize)>) {
    let mut bytes = Vec::new();
    for (class, seed) in records {
        bytes.push(class as u8);
        bytes.extend(image(class, seed));
    }
    std::fs::write(path, bytes).unwrap();
}

/// Writes `train` training and `test` test images (classes in turn) as an official
/// CIFAR-10 binary directory.
pub fn write_tiny_cifar10(dir: &Path, train: usize, test: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let per_file = train.div_ceil(5);
    for file in 0..5 {
        let range = (file * per_file)..((file + 1) * per_file).min(train);
        write_records(
            &dir.join(format!("data_batch_{}.bin", file + 1)),
            range.map(|i| (i % 10, i)),
        );
    }
    write_records(
        &dir.join("test_batch.bin"),
        (0..test).map(|i| (i % 10, 1_000_000 + i)),
    );
}

/// The `scalefree` binary of this build, or `$SCALEFREE_TEST_BIN` (to see a test fail on
/// an older build).
pub fn scalefree() -> Command {
    let bin = std::env::var_os("SCALEFREE_TEST_BIN")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_scalefree").into());
    let mut cmd = Command::new(bin);
    // Keep test runs off the user's cache and data.
    cmd.env(
        "SCALEFREE_CACHE_DIR",
        std::env::temp_dir().join("scalefree-test-cache"),
    );
    cmd
}

/// The tiny model in batches the tiny data sets hold: the flags most runs of the tests
/// train with (each adds its own `--hist-every`, epochs and the rest).
pub const TINY_RUN: [&str; 4] = ["--model", "resnet8", "--batch-size", "32"];

/// `scalefree train` on the tiny dataset in `data`, writing to `out`, with extra flags.
pub fn train(data: &Path, out: &Path, extra: &[&str]) -> Output {
    train_command(data, out, extra).output().unwrap()
}

/// `train` with the test hook `SCALEFREE_FAULT` set to `fault` (see src/fault.rs): a
/// signal or a kill at a chosen point.
pub fn train_with_fault(data: &Path, out: &Path, fault: &str, extra: &[&str]) -> Output {
    let mut cmd = train_command(data, out, extra);
    cmd.env("SCALEFREE_FAULT", fault).output().unwrap()
}

fn train_command(data: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut cmd = scalefree();
    cmd.args(["train", "--quiet", "--threads", "2", "--device", "cpu"])
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out)
        .args(extra);
    cmd
}

/// `scalefree ARGS…`: its exit code, and its stdout and stderr together.
pub fn run_scalefree(args: &[&str]) -> (Option<i32>, String) {
    let output = scalefree().args(args).output().unwrap();
    (
        output.status.code(),
        format!("{}{}", stdout(&output), stderr(&output)),
    )
}

/// `scalefree sweep EXPERIMENT --runs RUNS EXTRA…`: its exit code and output, as
/// [`run_scalefree`]. The caller passes every other flag (`--threads 1`, `--device cpu`,
/// `--dry-run`).
pub fn sweep(experiment: &Path, runs: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let (experiment, runs) = (experiment.to_str().unwrap(), runs.to_str().unwrap());
    run_scalefree(&[&["sweep", experiment, "--runs", runs][..], extra].concat())
}

/// `scalefree sweep status EXPERIMENT --runs RUNS`.
pub fn sweep_status(experiment: &Path, runs: &Path) -> Output {
    scalefree()
        .args(["sweep", "status"])
        .arg(experiment)
        .arg("--runs")
        .arg(runs)
        .output()
        .unwrap()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

/// The project's virtual environment's Python (torch, tensorboard, torchvision).
pub fn venv_python() -> Command {
    let python = workspace().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `make setup`",
        python.display()
    );
    Command::new(python)
}

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// A 2 × 2 experiment (AdamW and Adam-ℓ2 × two λ) of one tiny epoch on `data`.
pub fn tiny_experiment(path: &Path, name: &str, data: &Path) {
    let experiment = serde_json::json!({
        "name": name,
        "description": "a 2 × 2 test sweep",
        "base": { "data": data, "epochs": 1, "batch_size": 32, "hist_every": 0, "model": "resnet8" },
        "grids": [ { "optimizer": ["adamw", "adam-l2"], "wd": [0.0, 0.0001] } ]
    });
    std::fs::write(path, serde_json::to_string_pretty(&experiment).unwrap()).unwrap();
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).to_string()
}

/// The run directories of a sweep's plan, as the plan names them (relative to the plan's
/// folder since plans carry relative paths; absolute in older plans).
pub fn plan_run_dirs(runs: &Path, experiment: &str) -> Vec<PathBuf> {
    let folder = runs.join(experiment);
    read_json(&folder.join("plan.json"))["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| folder.join(r["dir"].as_str().unwrap()))
        .collect()
}

/// Metrics without the timing fields, which legitimately differ between processes.
pub fn metrics_without_timing(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut row: serde_json::Value = serde_json::from_str(l).unwrap();
            row.as_object_mut()
                .unwrap()
                .retain(|k, _| k != "wall_s" && k != "images_per_s");
            row
        })
        .collect()
}

/// `resumed` ended as `straight` did: final weights and optimizer state bit for bit, the
/// same metrics (timing aside), scale logs and summary.
pub fn assert_same_run(resumed: &Path, straight: &Path) {
    for file in [
        "checkpoint/model.safetensors",
        "checkpoint/optimizer.safetensors",
    ] {
        let (a, b) = (
            std::fs::read(resumed.join(file)).unwrap(),
            std::fs::read(straight.join(file)).unwrap(),
        );
        assert!(
            a == b,
            "{file} of {} differs from the uninterrupted run",
            resumed.display()
        );
    }
    assert_eq!(
        metrics_without_timing(resumed),
        metrics_without_timing(straight),
        "metrics of {}",
        resumed.display()
    );
    for file in ["scales.jsonl", "losses.jsonl"] {
        let text = |dir: &Path| std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(
            text(resumed) == text(straight),
            "{file} of {} differs from the uninterrupted run",
            resumed.display()
        );
    }
    let (a, b) = (
        read_json(&resumed.join("summary.json")),
        read_json(&straight.join("summary.json")),
    );
    for key in [
        "status",
        "final_test_accuracy",
        "best_test_accuracy",
        "final_test_loss",
        "final_train_loss",
        "epochs_done",
        "steps_done",
    ] {
        assert_eq!(a[key], b[key], "summary `{key}` of {}", resumed.display());
    }
}

/// What TensorBoard's web page shows of each run's `tb/` (tests/read_tensorboard.py --ui):
/// `{dir: {"scalars": {tag: [[step, value]]}, "histograms": {tag: [[step, buckets]]}}}`.
pub fn tensorboard_ui(runs: &[&Path]) -> serde_json::Value {
    let mut cmd = venv_python();
    cmd.arg(workspace().join("tests/read_tensorboard.py"))
        .arg("--ui");
    for run in runs {
        cmd.arg(run.join("tb"));
    }
    let read = cmd.output().unwrap();
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let by_dir: serde_json::Value = serde_json::from_slice(&read.stdout).unwrap();
    let mut out = serde_json::Map::new();
    for run in runs {
        let key = run.join("tb").display().to_string();
        out.insert(run.display().to_string(), by_dir[&key].clone());
    }
    serde_json::Value::Object(out)
}

/// The steps of every tag TensorBoard shows, each tag's list as TensorBoard gives it.
pub fn tensorboard_steps(events: &serde_json::Value) -> Vec<(String, Vec<u64>)> {
    let mut out = Vec::new();
    for kind in ["scalars", "histograms"] {
        for (tag, series) in events[kind].as_object().unwrap() {
            let steps = series
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e[0].as_u64().unwrap())
                .collect();
            out.push((format!("{kind}:{tag}"), steps));
        }
    }
    out.sort();
    out
}

/// What TensorBoard shows of a run, timing (`perf/`) left out: equal for a resumed run and
/// the run that never stopped.
pub fn tensorboard_without_timing(events: &serde_json::Value) -> serde_json::Value {
    let mut events = events.clone();
    events["scalars"]
        .as_object_mut()
        .unwrap()
        .retain(|tag, _| !tag.starts_with("perf/"));
    events
}

/// A setting of a written run configuration by its flat name, whether the file is flat
/// (`{"batch_size": 32}`) or in sections (`{"data": {"batch_size": 32}}`).
pub fn setting(config: &serde_json::Value, key: &str) -> serde_json::Value {
    if let Some(value) = config.get(key) {
        return value.clone();
    }
    config
        .as_object()
        .into_iter()
        .flat_map(|sections| sections.values())
        .find_map(|section| section.get(key).cloned())
        .unwrap_or(serde_json::Value::Null)
}

/// `train` on 100 tiny images (10 per class, made in `dir/data` once) into `out` with
/// `extra`; expects exit code `code` (1: the run refuses; 2: a flag's value is refused as
/// it is parsed) and no panic, and returns stderr.
pub fn train_refused(dir: &Path, out: &Path, extra: &[&str], code: i32) -> String {
    let data = dir.join("data");
    if !data.exists() {
        write_tiny_cifar10(&data, 100, 10);
    }
    // Batches the 100 images can hold (the default 128 is refused as larger than the
    // data), unless the test sets its own.
    let batch: &[&str] = match extra.contains(&"--batch-size") {
        true => &[],
        false => &["--batch-size", "32"],
    };
    let output = scalefree()
        .args(["train", "--quiet", "--model", "resnet8", "--epochs", "1"])
        .args(["--threads", "1", "--device", "cpu", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(out)
        .args(batch)
        .args(extra)
        .output()
        .unwrap();
    let msg = stderr(&output);
    assert_eq!(output.status.code(), Some(code), "{msg}");
    assert!(!msg.contains("panicked"), "{msg}");
    msg
}
