//! The PyTorch side of `make bench` (bench/pytorch/) against the Rust crates: the same
//! models (parameter counts) and the same update rules (iterates), so that the
//! side-by-side benchmark compares equal work; and bench/compare.py's alternation and
//! report. Needs the .venv that `make setup` creates (torch; torchvision for the data
//! and training trials, which `make bench` installs and `make test` checks for).
mod train_support;

use optim::DecayMode;
use scalefree::checks::device::reference_iterates;
use serde_json::Value;
use std::process::Command;
use tch::Device;
use train_support::{venv_python as python, workspace, write_tiny_cifar10};

fn json_output(cmd: &mut Command) -> Value {
    let output = cmd.output().unwrap();
    assert!(
        output.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn the_pytorch_models_have_the_rust_models_parameter_counts() {
    let names = [
        "resnet20",
        "resnet32",
        "resnet56",
        "resnet110",
        "resnet218",
        "resnet1202",
        "densenet100",
    ];
    let python_counts = json_output(
        python()
            .arg(workspace().join("bench/pytorch/models.py"))
            .args(names),
    );
    let rust = json_output(Command::new(env!("CARGO_BIN_EXE_scalefree")).args([
        "models",
        "--json",
        "--classes",
        "10",
    ]));
    for name in names {
        let row = rust
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing from `scalefree models`"));
        assert_eq!(python_counts[name]["bn"], row["params_bn"], "{name} BN");
        assert_eq!(
            python_counts[name]["no_bn"], row["params_no_bn"],
            "{name} no BN"
        );
    }
}

/// The problem of bench/pytorch/reference_iterates.py, solved on `device` (the same
/// function `scalefree check device --iterates` runs).
fn rust_iterates(
    problem: (i64, u64, f64, f64),
    mode: DecayMode,
    amsgrad: bool,
    device: Device,
) -> Vec<f64> {
    reference_iterates(problem, mode.into(), amsgrad, device).unwrap()
}

fn max_abs_difference(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// On the CPU (the fused kernel), and on CUDA (the tensor-ops kernel) where there is a GPU.
#[test]
fn the_python_paper_optimizer_and_the_rust_optimizer_take_the_same_steps() {
    let problem = (64, 25, 1e-2, 0.1);
    let (n, steps, lr, wd) = problem;
    let python = json_output(
        python()
            .arg(workspace().join("bench/pytorch/reference_iterates.py"))
            .args([
                n.to_string(),
                steps.to_string(),
                lr.to_string(),
                wd.to_string(),
            ]),
    );
    let mut devices = vec![Device::Cpu];
    if tch::Cuda::is_available() {
        devices.push(Device::Cuda(0));
    }
    let as_vec = |v: &Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let mut results = Vec::new();
    for device in devices {
        for (key, mode, amsgrad) in [
            ("adam-l2", DecayMode::L2, false),
            ("adamw", DecayMode::Decoupled, false),
            ("adam-prox", DecayMode::Proximal, false),
            ("adamw-amsgrad", DecayMode::Decoupled, true),
        ] {
            let ours = rust_iterates(problem, mode, amsgrad, device);
            let theirs = as_vec(&python[key]);
            // float64, 25 steps: rounding differences of the two op orders only.
            let diff = max_abs_difference(&ours, &theirs);
            assert!(
                diff < 1e-13,
                "{key} on {device:?}: max |Rust − Python| = {diff:e}"
            );
            if device == Device::Cpu {
                results.push((key, ours));
            }
        }
    }
    // The modes differ from one another by far more than that, so the check has teeth.
    for a in 0..results.len() {
        for b in a + 1..results.len() {
            let diff = max_abs_difference(&results[a].1, &results[b].1);
            assert!(
                diff > 1e-6,
                "{} and {} give the same iterates",
                results[a].0,
                results[b].0
            );
        }
    }
}

fn compare(args: &[&str], out: &std::path::Path) -> (Value, String, String) {
    let output = python()
        .arg(workspace().join("bench/compare.py"))
        .args(args)
        .arg("--out")
        .arg(out)
        .args(["--name", "t"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "compare.py failed:\n{stderr}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("t.json")).unwrap()).unwrap();
    let table = std::fs::read_to_string(out.join("t.md")).unwrap();
    (report, table, stderr)
}

#[test]
fn compare_alternates_the_optimizer_trials_and_reports_medians_and_ratios() {
    let dir = tempfile::tempdir().unwrap();
    let (report, table, stderr) = compare(
        &[
            "--only",
            "optim",
            "--depths",
            "20",
            "--optim-steps",
            "3",
            "--reps",
            "2",
            "--warmup",
            "1",
            "--device",
            "cpu",
        ],
        dir.path(),
    );
    let group = &report["groups"][0];
    let labels: Vec<&str> = group["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels.len(), 9, "{labels:?}");
    // Trials ran round by round, every candidate once per round: A B … A B … A B ….
    let order: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.split(" | ").nth(2))
        .map(|l| l.split(':').next().unwrap())
        .collect();
    let expected: Vec<&str> = labels
        .iter()
        .cycle()
        .take(3 * labels.len())
        .copied()
        .collect();
    assert_eq!(order, expected);
    for c in group["candidates"].as_array().unwrap() {
        let samples = c["samples"].as_array().unwrap();
        assert_eq!(samples.len(), 2, "the warm-up round is not counted");
        let mut s: Vec<f64> = samples.iter().map(|v| v.as_f64().unwrap()).collect();
        s.sort_by(f64::total_cmp);
        assert_eq!(c["median"].as_f64().unwrap(), (s[0] + s[1]) / 2.0);
        assert!(s[0] > 0.0);
    }
    let rows = report["comparisons"].as_array().unwrap();
    // Per mode: vs Python, vs fused, vs foreach, vs the floor.
    assert_eq!(rows.len(), 12);
    let fused = rows
        .iter()
        .find(|r| r["benchmark"] == "optimizer adamw, ResNet-20 shapes: vs torch AdamW fused")
        .unwrap();
    let ratio =
        fused["other_median"].as_f64().unwrap() / fused["scalefree_median"].as_f64().unwrap();
    assert!((fused["ratio"].as_f64().unwrap() - ratio).abs() < 1e-12);
    assert_eq!(fused["target"], 1.0);
    assert_eq!(fused["met"], ratio >= 1.0);
    assert_eq!(report["threads"], 2);
    assert!(
        table.contains("| ResNet-20 shapes (cpu) | adamw |"),
        "{table}"
    );
    assert!(table.contains("2 threads on both sides"));
}

#[test]
fn compare_times_the_optimizer_against_tch_adamw_on_a_var_store() {
    let dir = tempfile::tempdir().unwrap();
    let (report, table, _) = compare(
        &[
            "--only",
            "tch",
            "--tch-shapes",
            "resnet20,transformer",
            "--optim-steps",
            "2",
            "--reps",
            "1",
            "--warmup",
            "0",
            "--device",
            "cpu",
        ],
        dir.path(),
    );
    let rows = report["comparisons"].as_array().unwrap();
    for shapes in ["resnet20", "transformer"] {
        let row = rows
            .iter()
            .find(|r| {
                r["benchmark"]
                    == format!("optimizer adamw, {shapes} shapes: vs tch nn::AdamW (same VarStore)")
            })
            .unwrap_or_else(|| panic!("{shapes}: {rows:?}"));
        let ratio =
            row["other_median"].as_f64().unwrap() / row["scalefree_median"].as_f64().unwrap();
        assert!((row["ratio"].as_f64().unwrap() - ratio).abs() < 1e-12);
        assert!(
            table.contains(&format!("| {shapes} shapes (cpu) |")),
            "{table}"
        );
    }
}

#[test]
fn compare_times_training_and_logging_on_both_sides_with_peak_memory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 640, 20);
    let out = dir.path().join("out");
    let (report, table, _) = compare(
        &[
            "--only",
            "train,logging",
            "--models",
            "resnet8",
            "--logging-models",
            "resnet8",
            "--train-steps",
            "5",
            "--logging-steps",
            "4",
            "--reps",
            "1",
            "--warmup",
            "0",
            "--device",
            "cpu",
            "--data",
            data.to_str().unwrap(),
        ],
        &out,
    );
    let rows = report["comparisons"].as_array().unwrap();
    let training = rows
        .iter()
        .find(|r| r["benchmark"] == "training resnet8 no BN: vs PyTorch loop")
        .unwrap();
    assert!(training["scalefree_median"].as_f64().unwrap() > 0.0);
    assert!(training["other_median"].as_f64().unwrap() > 0.0);
    assert_eq!(training["target"], 1.0);
    let overheads = report["logging_overhead"].as_array().unwrap();
    assert_eq!(overheads.len(), 2, "{overheads:?}");
    for o in overheads {
        let per_event = o["seconds_per_event"].as_f64().unwrap();
        assert!(per_event > 0.0 && per_event < 60.0);
    }
    let memory = report["peak_memory"].as_array().unwrap();
    assert_eq!(memory.len(), 2);
    for m in memory {
        // A libtorch process is at least tens of MB; a sum over processes is not wanted.
        let mb = m["peak_rss_mb"].as_f64().unwrap();
        assert!(mb > 50.0 && mb < 20_000.0, "{m}");
    }
    assert!(
        table.contains("| resnet8 no BN (cpu) |") && table.contains("peak RSS PyTorch"),
        "{table}"
    );
    assert!(table.contains("**Histogram logging**"), "{table}");
}

#[test]
fn compare_times_each_precision_beside_pytorch_autocast() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 640, 20);
    let out = dir.path().join("out");
    let (report, table, _) = compare(
        &[
            "--only",
            "precision",
            "--precision-models",
            "resnet8",
            "--train-steps",
            "5",
            "--reps",
            "1",
            "--warmup",
            "0",
            "--device",
            "cpu",
            "--data",
            data.to_str().unwrap(),
        ],
        &out,
    );
    let rows = report["comparisons"].as_array().unwrap();
    let row = |name: &str| {
        rows.iter()
            .find(|r| r["benchmark"] == name)
            .unwrap_or_else(|| panic!("{name}: {rows:?}"))
    };
    for (name, target) in [
        ("training resnet8 no BN: bf16 vs fp32", None),
        (
            "training resnet8 no BN: bf16 vs PyTorch bf16 autocast",
            Some(1.1),
        ),
        (
            "training resnet8 no BN: PyTorch bf16 autocast vs fp32",
            None,
        ),
        ("training resnet8 no BN: fp32 vs PyTorch fp32", Some(1.0)),
    ] {
        let r = row(name);
        assert!(r["scalefree_median"].as_f64().unwrap() > 0.0, "{r}");
        assert!(r["other_median"].as_f64().unwrap() > 0.0, "{r}");
        assert_eq!(r["target"].as_f64(), target, "{r}");
    }
    let groups = report["groups"].as_array().unwrap();
    let commands: Vec<String> = groups[0]["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["command"].to_string())
        .collect();
    assert!(
        commands.iter().filter(|c| c.contains("\"bf16\"")).count() == 2,
        "both sides at bf16: {commands:?}"
    );
    assert!(table.contains("**Mixed precision**"), "{table}");
    assert!(table.contains("| resnet8 no BN (cpu) | bf16 |"), "{table}");
    assert!(
        table.contains("bfloat16 instructions: "),
        "the CPU's bf16 features are named: {table}"
    );
}

#[test]
fn compare_times_a_sweep_one_at_a_time_and_as_placed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 256, 20);
    let experiment = dir.path().join("tiny-sweep.json");
    let base = serde_json::json!({
        "dataset": "cifar10", "data": data, "model": "resnet8", "bn": false, "epochs": 1,
        "max_steps": 2, "batch_size": 64, "eval_every": 1, "hist_every": 0
    });
    let grid = serde_json::json!({"optimizer": ["adamw"], "seed": [0, 1]});
    std::fs::write(
        &experiment,
        serde_json::json!({"name": "tiny-sweep", "description": "two tiny runs",
                           "base": base, "grids": [grid]})
        .to_string(),
    )
    .unwrap();
    let out = dir.path().join("out");
    let (report, table, _) = compare(
        &[
            "--only",
            "sweep",
            "--sweep-experiment",
            experiment.to_str().unwrap(),
            "--sweep-reps",
            "2",
            "--data",
            data.to_str().unwrap(),
        ],
        &out,
    );
    let row = report["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["benchmark"] == "sweep placement, tiny-sweep: placed vs one at a time")
        .unwrap_or_else(|| panic!("{report}"))
        .clone();
    assert_eq!(row["target"].as_f64(), Some(1.15), "{row}");
    assert_eq!(
        row["samples"],
        serde_json::json!([2, 2]),
        "2 rounds, no warm-up: {row}"
    );
    let commands: Vec<String> = report["groups"][0]["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["command"].to_string())
        .collect();
    assert!(commands[0].contains("\"--jobs\",\"1\""), "{commands:?}");
    assert!(!commands[1].contains("--jobs"), "{commands:?}");
    assert!(table.contains("**Sweep placement**"), "{table}");
}

#[test]
fn compare_refuses_bad_options_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    for (args, flag) in [
        (vec!["--only", "optimizer"], "--only"),
        (vec!["--models", "vgg16"], "--models"),
        (vec!["--data", "/no/such/data"], "--data"),
        (vec!["--depths", "110,x"], "--depths"),
        (vec!["--modes", "adam"], "--modes"),
        (vec!["--sweep-reps", "0"], "--sweep-reps"),
        (
            vec![
                "--only",
                "sweep",
                "--sweep-experiment",
                "no-such-experiment",
            ],
            "--sweep-experiment",
        ),
    ] {
        assert_refuses_naming_the_flag("compare.py", &args, flag, dir.path());
    }
}

/// `bench/<script> <args>` exits 2 naming `flag`, with no traceback and nothing written.
fn assert_refuses_naming_the_flag(script: &str, args: &[&str], flag: &str, out: &std::path::Path) {
    let output = python()
        .arg(workspace().join("bench").join(script))
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(flag), "{args:?}: {stderr}");
    assert!(!stderr.contains("Traceback"), "{stderr}");
    assert!(
        std::fs::read_dir(out).unwrap().next().is_none(),
        "{args:?}: nothing written"
    );
}

#[test]
fn placement_refuses_bad_options_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    for (args, flag) in [
        (vec!["--models", "resnet20"], "--models"),
        (vec!["--models", "vgg16:bf16"], "--models"),
        (vec!["--models", "resnet20:f16"], "--models"),
        (vec!["--rounds", "0"], "--rounds"),
        (vec!["--cores", "1"], "--cores"),
    ] {
        assert_refuses_naming_the_flag("placement.py", &args, flag, dir.path());
    }
}

#[test]
fn a_failing_trial_keeps_the_finished_benchmarks_and_names_the_failure() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 256, 20);
    // The real benchmark programs, and a `scalefree` that fails as a broken build would.
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(bin.join("examples")).unwrap();
    let real = std::path::Path::new(env!("CARGO_BIN_EXE_scalefree"))
        .parent()
        .unwrap()
        .to_path_buf();
    for example in ["bench_optim", "bench_data"] {
        std::os::unix::fs::symlink(
            real.join("examples").join(example),
            bin.join("examples").join(example),
        )
        .unwrap();
    }
    let broken = bin.join("scalefree");
    std::fs::write(
        &broken,
        "#!/bin/sh\necho 'error: broken on purpose' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&broken, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = dir.path().join("out");
    let output = python()
        .arg(workspace().join("bench/compare.py"))
        .args([
            "--only",
            "optim,train",
            "--depths",
            "20",
            "--optim-steps",
            "2",
            "--reps",
            "1",
            "--warmup",
            "0",
            "--models",
            "resnet8",
            "--device",
            "cpu",
            "--name",
            "t",
        ])
        .arg("--bin-dir")
        .arg(&bin)
        .arg("--data")
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("broken on purpose"), "{stderr}");
    assert!(!stderr.contains("Traceback"), "{stderr}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("t.json")).unwrap()).unwrap();
    assert!(report["incomplete"]
        .as_str()
        .unwrap()
        .contains("broken on purpose"));
    let optimizer = &report["groups"][0];
    assert!(optimizer["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["samples"].as_array().unwrap().len() == 1));
    let table = std::fs::read_to_string(out.join("t.md")).unwrap();
    assert!(table.starts_with("**Incomplete run**"), "{table}");
    assert!(
        table.contains("| ResNet-20 shapes (cpu) | adamw |"),
        "{table}"
    );
    assert!(!table.contains("**Training step**"), "{table}");
}
