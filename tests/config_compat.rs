//! The run configuration across its forms: run directories written before the newest
//! settings existed are still resumed, swept and reported; run files may be flat or in
//! sections; any setting can be swept; boolean flags can be set either way.
mod train_support;

use serde_json::{json, Value};
use std::path::Path;
use train_support::{
    read_json, scalefree, stderr, stdout, sweep_status, tiny_experiment, write_tiny_cifar10,
};

/// A `config.json` as the driver wrote it before the settings `kernel`, `grad_factors`
/// and `factor_seed` existed.
fn legacy(config: &Value) -> Value {
    let mut old = config.clone();
    for key in ["kernel", "grad_factors", "factor_seed"] {
        assert!(old.as_object_mut().unwrap().remove(key).is_some(), "{key}");
    }
    old
}

fn write_json(path: &Path, value: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(value).unwrap()).unwrap();
}

#[test]
fn run_directories_written_before_the_newest_settings_are_swept_reported_and_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 64, 20);
    let experiment = dir.path().join("old.json");
    tiny_experiment(&experiment, "old", &data);
    let runs = dir.path().join("runs");
    let sweep = |extra: &[&str]| {
        scalefree()
            .arg("sweep")
            .args(extra)
            .arg(&experiment)
            .arg("--runs")
            .arg(&runs)
            .output()
            .unwrap()
    };
    let first = sweep(&["--threads", "1"]);
    assert!(
        first.status.success(),
        "{}{}",
        stdout(&first),
        stderr(&first)
    );

    // Make the plan and every run directory look as an older scalefree left them.
    let plan_path = runs.join("old/plan.json");
    let mut plan = read_json(&plan_path);
    // Older plans held the run directories as given to the sweep (here, absolute paths).
    plan.as_object_mut()
        .unwrap()
        .remove("run_dirs_relative_to_plan");
    for run in plan["runs"].as_array_mut().unwrap() {
        let dir = runs.join("old").join(run["dir"].as_str().unwrap());
        run["dir"] = dir.display().to_string().into();
        let config_path = dir.join("config.json");
        write_json(&config_path, &legacy(&read_json(&config_path)));
        run["config"] = legacy(&run["config"]);
    }
    write_json(&plan_path, &plan);

    let again = sweep(&[]);
    assert!(
        stdout(&again).contains("4 runs, 4 already done, 0 to run"),
        "{}{}",
        stdout(&again),
        stderr(&again)
    );
    let status = sweep_status(&experiment, &runs);
    assert!(
        stdout(&status).contains("4 completed"),
        "{}{}",
        stdout(&status),
        stderr(&status)
    );
    let report = scalefree()
        .arg("report")
        .arg("old")
        .arg("--runs")
        .arg(&runs)
        .arg("--out")
        .arg(dir.path().join("report"))
        .output()
        .unwrap();
    assert!(report.status.success(), "{}", stderr(&report));
    let summary = read_json(&dir.path().join("report/old/summary.json"));
    assert_eq!(summary["counts"]["completed"], 4, "{summary}");

    // A legacy run continues for one more epoch.
    let run_dir = plan["runs"][0]["dir"].as_str().unwrap().to_string();
    let resumed = scalefree()
        .args([
            "train", "--quiet", "--resume", "--epochs", "2", "--out", &run_dir,
        ])
        .output()
        .unwrap();
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    let summary = read_json(&Path::new(&run_dir).join("summary.json"));
    assert_eq!(summary["status"], "completed");
    assert_eq!(summary["epochs_done"], 2);
}

#[test]
fn any_setting_can_be_swept_and_gives_distinct_run_names() {
    let dir = tempfile::tempdir().unwrap();
    let experiment = dir.path().join("eps.json");
    write_json(
        &experiment,
        &json!({"name": "eps", "base": {"epochs": 1, "data": dir.path()},
                "grids": [{"eps": [1e-8, 1e-10], "batch_size": [16, 32], "optimizer": ["adamw"]}]}),
    );
    let runs = dir.path().join("runs");
    let output = scalefree()
        .args(["sweep", "--dry-run"])
        .arg(&experiment)
        .arg("--runs")
        .arg(&runs)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let plan = read_json(&runs.join("eps/plan.json"));
    let runs = plan["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4);
    let mut names: Vec<&str> = runs.iter().map(|r| r["name"].as_str().unwrap()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 4, "{names:?}");
    for run in runs {
        let name = run["name"].as_str().unwrap();
        let eps = run["config"]["eps"].as_f64().unwrap();
        let batch = run["config"]["batch_size"].as_u64().unwrap();
        assert!(name.contains(&format!("_batch_size{batch}")), "{name}");
        assert!(eps == 1e-8 || eps == 1e-10);
        assert!(name.contains("_eps"), "{name}");
    }
}

#[test]
fn boolean_settings_can_be_turned_off_by_flag_over_a_run_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("run.json");
    write_json(&file, &json!({"amsgrad": true, "bn": true}));
    let config = |extra: &[&str]| {
        let output = scalefree()
            .args(["train", "--print-config", "--config"])
            .arg(&file)
            .args(extra)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        serde_json::from_str::<Value>(&stdout(&output)).unwrap()
    };
    let from_file = config(&[]);
    assert_eq!(from_file["amsgrad"], true);
    assert_eq!(from_file["bn"], true);
    let overridden = config(&["--no-amsgrad", "--no-bn"]);
    assert_eq!(overridden["amsgrad"], false);
    assert_eq!(overridden["bn"], false);
    // The same run file in sections.
    write_json(
        &file,
        &json!({"optimizer": {"amsgrad": true}, "model": {"bn": true}}),
    );
    let sectioned = config(&["--lr", "0.002"]);
    assert_eq!(sectioned["amsgrad"], true);
    assert_eq!(sectioned["bn"], true);
    assert_eq!(sectioned["lr"], 0.002);
}
