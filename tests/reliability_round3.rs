//! Issue 26, the remaining items: no setting silently replaced (non-finite float flags,
//! `--jobs 0`, `--threads 0`), run files that mix the flat and the sectioned forms named,
//! a deleted `metrics.jsonl` noticed on resume, a damaged run reported as damaged, stale
//! runs not reported as completed, two experiment files of one name kept apart, and grid
//! paths kept out of file names.
mod require;
mod tensorboard_support;
mod train_support;

use serde_json::json;

use std::path::{Path, PathBuf};
use train_support::{scalefree, stderr, stdout};

/// `scalefree` with `args`: (exit code, stdout + stderr).
fn run(args: &[&str]) -> (Option<i32>, String) {
    let output = scalefree().args(args).output().unwrap();
    (
        output.status.code(),
        format!("{}{}", stdout(&output), stderr(&output)),
    )
}

const FLOAT_FLAGS: [&str; 8] = [
    "--lr",
    "--wd",
    "--beta1",
    "--beta2",
    "--eps",
    "--loss-mult",
    "--val-fraction",
    "--step-gamma",
];

#[test]
fn a_non_finite_float_flag_is_refused_naming_it_not_replaced_by_the_default() {
    for flag in FLOAT_FLAGS {
        for value in ["NaN", "nan", "inf", "-inf", "1e309"] {
            let (code, out) = run(&["train", flag, value, "--print-config"]);
            assert_ne!(code, Some(0), "{flag} {value} was accepted: {out}");
            assert!(
                out.contains(flag) && out.contains("finite"),
                "{flag} {value}: {out}"
            );
            assert!(!out.contains("panicked"), "{out}");
        }
    }
    // Over a run file that sets the value, too.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("run.json");
    std::fs::write(&file, json!({"lr": 0.002}).to_string()).unwrap();
    let (code, out) = run(&[
        "train",
        "--config",
        file.to_str().unwrap(),
        "--lr",
        "inf",
        "--print-config",
    ]);
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("--lr"), "{out}");
}

#[test]
fn a_run_file_value_out_of_float_range_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("run.json");
    std::fs::write(&file, r#"{"lr": 1e309}"#).unwrap();
    let (code, out) = run(&[
        "train",
        "--config",
        file.to_str().unwrap(),
        "--print-config",
    ]);
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("run.json") && out.contains("`lr`"), "{out}");
}

#[test]
fn sweep_refuses_zero_jobs_and_zero_threads_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let experiment = dir.path().join("e.json");
    let data = dir.path().join("data");
    train_support::tiny_experiment(&experiment, "zero", &data);
    let runs = dir.path().join("runs");
    for flag in ["--jobs", "--threads"] {
        let (code, out) = sweep(&experiment, &runs, &[flag, "0"]);
        assert_ne!(code, Some(0), "{flag} 0 was accepted: {out}");
        assert!(out.contains(flag) && out.contains("at least 1"), "{out}");
        assert!(!runs.join("zero").exists(), "{flag} 0: nothing is started");
    }
}

#[test]
fn a_run_file_mixing_flat_keys_and_sections_says_which_key_is_where() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mixed.json");
    std::fs::write(&file, r#"{"lr": 2e-3, "optimizer": {"lr": 3e-3}}"#).unwrap();
    let (code, out) = run(&[
        "train",
        "--config",
        file.to_str().unwrap(),
        "--print-config",
    ]);
    assert_ne!(code, Some(0), "{out}");
    assert!(
        out.contains("mixed.json")
            && out.contains("mixes the two forms")
            && out.contains("`lr` at the top")
            && out.contains("`optimizer` as sections"),
        "{out}"
    );
    assert!(!out.contains("unknown variant"), "{out}");
}

/// Tiny-model flags of the runs that resume tests train.
const RESUME_FLAGS: [&str; 6] = [
    "--model",
    "resnet8",
    "--batch-size",
    "32",
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

/// A real 2 × 2 sweep of one tiny epoch: (experiment file, runs folder, run dirs).
fn swept(
    dir: &Path,
    name: &str,
) -> (
    std::path::PathBuf,
    std::path::PathBuf,
    Vec<std::path::PathBuf>,
) {
    let data = dir.join("data");
    train_support::write_tiny_cifar10(&data, 64, 10);
    let experiment = dir.join(format!("{name}.json"));
    train_support::tiny_experiment(&experiment, name, &data);
    let runs = dir.join("runs");
    let (code, out) = sweep(&experiment, &runs, &["--threads", "1"]);
    assert_eq!(code, Some(0), "{out}");
    let run_dirs = train_support::plan_run_dirs(&runs, name);
    (experiment, runs, run_dirs)
}

/// `scalefree sweep EXPERIMENT --runs RUNS EXTRA…`: its exit code and output.
fn sweep(experiment: &Path, runs: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let (experiment, runs) = (experiment.to_str().unwrap(), runs.to_str().unwrap());
    run(&[&["sweep", experiment, "--runs", runs][..], extra].concat())
}

fn report(experiment: &Path, runs: &Path, out: &Path) -> (Option<i32>, String) {
    run(&[
        "report",
        experiment.to_str().unwrap(),
        "--runs",
        runs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
}

#[test]
fn a_damaged_run_is_reported_as_damaged_and_the_others_still_are() {
    let dir = tempfile::tempdir().unwrap();
    let (experiment, runs, run_dirs) = swept(dir.path(), "damage");
    std::fs::write(run_dirs[0].join("summary.json"), "{\"status\": \"compl").unwrap();
    let scales = run_dirs[1].join("scales.jsonl");
    let text = std::fs::read_to_string(&scales).unwrap();
    std::fs::write(&scales, format!("{text}{{\"step\": 3, \"lay")).unwrap();

    let (code, out) = report(&experiment, &runs, &dir.path().join("report"));
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("2/4 completed") && out.contains("2 damaged"),
        "{out}"
    );
    assert!(
        out.contains("summary.json") && out.contains("scales.jsonl"),
        "{out}"
    );
    let md = std::fs::read_to_string(dir.path().join("report/damage/summary.md")).unwrap();
    assert!(
        md.contains("damaged") && md.contains("summary.json"),
        "{md}"
    );

    // `sweep status` agrees with the report: both runs are damaged, each named with why.
    let (code, out) = sweep_status(&experiment, &runs);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("2 damaged") && out.contains("2 completed"),
        "{out}"
    );
    assert!(
        out.contains("summary.json") && out.contains("scales.jsonl"),
        "{out}"
    );

    // A sweep goes on past the damaged runs, leaves their files as they are, and says so
    // (a non-zero exit: they are unresolved).
    let damaged_summary = std::fs::read(run_dirs[0].join("summary.json")).unwrap();
    let (code, out) = sweep(&experiment, &runs, &["--threads", "1"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("2 already done, 0 to run, 2 damaged")
            && out.contains("damaged, left as it is"),
        "{out}"
    );
    assert!(
        out.contains("summary.json") && out.contains("scales.jsonl"),
        "{out}"
    );
    assert_eq!(
        std::fs::read(run_dirs[0].join("summary.json")).unwrap(),
        damaged_summary
    );
}

fn sweep_status(experiment: &Path, runs: &Path) -> (Option<i32>, String) {
    let (experiment, runs) = (experiment.to_str().unwrap(), runs.to_str().unwrap());
    run(&["sweep", "status", experiment, "--runs", runs])
}

/// The text `report/summary` of the experiment's summary run for TensorBoard.
fn summary_run_text(runs: &Path, experiment: &str) -> String {
    let dir = runs.join(experiment).join("summary");
    tensorboard_support::last_text(&dir, "report/summary")
        .unwrap_or_else(|| panic!("no report/summary text in {}", dir.display()))
}

#[test]
fn a_run_whose_records_lost_rows_is_damaged_in_the_report_the_summary_run_and_sweep_status() {
    let dir = tempfile::tempdir().unwrap();
    let (experiment, runs, run_dirs) = swept(dir.path(), "records");
    assert!(summary_run_text(&runs, "records").contains("Runs: 4/4 completed"));
    // One run's evaluations deleted, another's batch losses cut to their first row.
    std::fs::remove_file(run_dirs[0].join("metrics.jsonl")).unwrap();
    let losses = run_dirs[1].join("losses.jsonl");
    let first = std::fs::read_to_string(&losses)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    std::fs::write(&losses, format!("{first}\n")).unwrap();

    // `sweep status` names both, and brings the summary run up to date (a Slurm sweep's
    // dashboard fills in this way): it averages the two intact runs and says why.
    let (code, out) = sweep_status(&experiment, &runs);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("2 completed") && out.contains("2 damaged"),
        "{out}"
    );
    assert!(
        out.contains("metrics.jsonl") && out.contains("losses.jsonl"),
        "{out}"
    );
    let text = summary_run_text(&runs, "records");
    assert!(
        text.contains("Runs: 2/4 completed, 2 damaged (left out)"),
        "{text}"
    );
    assert!(
        text.contains("metrics.jsonl") && text.contains("losses.jsonl"),
        "{text}"
    );

    let (code, out) = report(&experiment, &runs, &dir.path().join("report"));
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("2/4 completed") && out.contains("2 damaged"),
        "{out}"
    );
    let (code, out) = sweep(&experiment, &runs, &["--threads", "1"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("2 already done, 0 to run, 2 damaged"), "{out}");
    assert!(
        out.contains("metrics.jsonl") && out.contains("losses.jsonl"),
        "{out}"
    );
}

#[test]
fn report_leaves_out_stale_runs_and_says_which() {
    let dir = tempfile::tempdir().unwrap();
    let (experiment, runs, _) = swept(dir.path(), "edited");
    let mut spec = train_support::read_json(&experiment);
    spec["base"]["batch_size"] = json!(16);
    std::fs::write(&experiment, spec.to_string()).unwrap();
    let (code, out) = sweep(&experiment, &runs, &["--dry-run"]);
    assert!(out.contains("stale"), "{code:?} {out}");

    let (code, out) = report(&experiment, &runs, &dir.path().join("report"));
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("0/4 completed") && out.contains("4 stale"),
        "{out}"
    );
    assert!(out.contains("batch_size"), "says what differs: {out}");
    let summary = train_support::read_json(&dir.path().join("report/edited/summary.json"));
    assert_eq!(summary["counts"]["completed"], 0, "{summary}");
    assert_eq!(summary["counts"]["stale"], 4, "{summary}");
}

#[test]
fn a_second_experiment_file_with_the_same_name_does_not_take_over_the_first_plan() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let runs = dir.path().join("runs");
    let first = dir.path().join("first.json");
    let second = dir.path().join("second.json");
    train_support::tiny_experiment(&first, "shared", &data);
    let mut spec = train_support::read_json(&first);
    spec["grids"] = json!([{ "optimizer": ["adam-prox"] }]);
    std::fs::write(&second, spec.to_string()).unwrap();
    let sweep = |file: &Path| {
        run(&[
            "sweep",
            file.to_str().unwrap(),
            "--runs",
            runs.to_str().unwrap(),
            "--dry-run",
        ])
    };
    let (code, out) = sweep(&first);
    assert_eq!(code, Some(0), "{out}");
    let plan_path = runs.join("shared/plan.json");
    let plan = std::fs::read_to_string(&plan_path).unwrap();
    let (code, out) = sweep(&second);
    assert_ne!(code, Some(0), "the second file's sweep was accepted: {out}");
    assert!(
        out.contains("first.json") && out.contains("second.json") && out.contains("`name`"),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(&plan_path).unwrap(),
        plan,
        "the plan is kept"
    );
    // The same file again is its own plan.
    let (code, out) = sweep(&first);
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn grid_paths_never_make_a_file_name_leave_the_experiment_folder() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let experiment = dir.path().join("paths.json");
    let spec = json!({
        "name": "paths",
        "base": { "epochs": 1, "model": "resnet8" },
        "grids": [ { "data": ["/a/b", "../b", "../../escape"] } ]
    });
    std::fs::write(&experiment, spec.to_string()).unwrap();
    let (code, out) = sweep(&experiment, &runs, &["--dry-run"]);
    assert_eq!(code, Some(0), "{out}");
    let folder = runs.join("paths");
    let plan = train_support::read_json(&folder.join("plan.json"));
    let names: Vec<&str> = plan["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "three distinct runs: {names:?}");
    for name in &names {
        assert!(
            !name.contains('/') && !name.contains("..") && !name.starts_with('.'),
            "{name}"
        );
        assert!(folder
            .join("configs")
            .join(format!("{name}.json"))
            .is_file());
    }
    for entry in walk(dir.path()) {
        assert!(
            entry.starts_with(&folder) || entry.starts_with(dir.path().join("paths.json")),
            "{} is outside the experiment folder",
            entry.display()
        );
    }

    let spec = json!({ "name": "paths", "grids": [ { "out": ["/tmp/x", "y"] } ] });
    std::fs::write(&experiment, spec.to_string()).unwrap();
    let (code, out) = sweep(&experiment, &runs, &["--dry-run"]);
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("`out` cannot vary in a grid"), "{out}");
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
