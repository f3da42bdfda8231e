//! Runs a report, `sweep status` and a sweep must not count as completed: a run whose
//! `summary.json` or `scales.jsonl` is damaged is reported as damaged, naming the file,
//! while the others still are, and a sweep goes on past it leaving its files as they are;
//! runs made before the experiment was edited are left out of the report as stale, saying
//! what differs.
mod train_support;

use serde_json::json;

use std::path::{Path, PathBuf};
use train_support::{run_scalefree, sweep};

/// A real 2 × 2 sweep of one tiny epoch: (experiment file, runs folder, run dirs).
fn swept(dir: &Path, name: &str) -> (PathBuf, PathBuf, Vec<PathBuf>) {
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

/// `scalefree report EXPERIMENT --runs RUNS --out OUT`: its exit code and output.
fn report(experiment: &Path, runs: &Path, out: &Path) -> (Option<i32>, String) {
    run_scalefree(&[
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

    let (code, out) = run_scalefree(&[
        "sweep",
        "status",
        experiment.to_str().unwrap(),
        "--runs",
        runs.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("1 damaged") && out.contains("3 completed"),
        "{out}"
    );
    assert!(out.contains("summary.json"), "{out}");

    // A sweep goes on past the damaged run, leaves its files as they are, and says so
    // (a non-zero exit: one run is unresolved).
    let damaged_summary = std::fs::read(run_dirs[0].join("summary.json")).unwrap();
    let (code, out) = sweep(&experiment, &runs, &["--threads", "1"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("3 already done, 0 to run, 1 damaged")
            && out.contains("damaged, left as it is"),
        "{out}"
    );
    assert!(out.contains("summary.json"), "{out}");
    assert_eq!(
        std::fs::read(run_dirs[0].join("summary.json")).unwrap(),
        damaged_summary
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
