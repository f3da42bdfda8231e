//! What `scalefree sweep` refuses before it starts anything, and what an experiment file
//! can never make it do: `--jobs 0` and `--threads 0` are refused up front; a second
//! experiment file with the name of another one does not take over the first one's plan;
//! grid values that are paths never make a run's file name leave the experiment folder,
//! and `out` cannot vary in a grid.
mod train_support;

use serde_json::json;

use std::path::Path;
use train_support::sweep;

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
    let sweep = |file: &Path| sweep(file, &runs, &["--dry-run"]);
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
