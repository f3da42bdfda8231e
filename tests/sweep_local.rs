//! `scalefree sweep` with the local backend: a 2 × 2 grid runs to completion, a re-run
//! does only what is missing, and bad experiment files are refused before anything runs.
mod train_support;

use train_support::{
    read_json, scalefree, stderr, stdout, sweep_status, tiny_experiment, write_tiny_cifar10,
};

#[test]
fn a_local_sweep_runs_every_run_and_a_rerun_only_the_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 64, 20);
    let experiment = dir.path().join("tiny.json");
    tiny_experiment(&experiment, "tiny", &data);
    let runs = dir.path().join("runs");
    let sweep = |extra: &[&str]| {
        scalefree()
            .args(["sweep"])
            .arg(&experiment)
            .arg("--runs")
            .arg(&runs)
            .args(extra)
            .output()
            .unwrap()
    };

    let first = sweep(&["--jobs", "2", "--threads", "1"]);
    assert!(
        first.status.success(),
        "{}{}",
        stdout(&first),
        stderr(&first)
    );
    assert!(
        stdout(&first).contains("4 runs, 0 already done, 4 to run"),
        "{}",
        stdout(&first)
    );
    let plan = read_json(&runs.join("tiny/plan.json"));
    let names: Vec<String> = plan["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 4);
    assert!(
        names.contains(&"resnet8-nobn_adamw_lr0.001_wd0.0001_s0".to_string()),
        "{names:?}"
    );
    for name in &names {
        assert_eq!(
            read_json(&runs.join("tiny").join(name).join("summary.json"))["status"],
            "completed",
            "{name}"
        );
    }

    let again = sweep(&[]);
    assert!(
        stdout(&again).contains("4 runs, 4 already done, 0 to run"),
        "{}",
        stdout(&again)
    );

    // An interrupted run is resumed, and only it runs.
    let interrupted = runs.join("tiny").join(&names[1]).join("summary.json");
    let mut summary = read_json(&interrupted);
    summary["status"] = "interrupted".into();
    std::fs::write(&interrupted, summary.to_string()).unwrap();
    let resumed = sweep(&[]);
    assert!(
        resumed.status.success(),
        "{}{}",
        stdout(&resumed),
        stderr(&resumed)
    );
    assert!(
        stdout(&resumed).contains("3 already done, 1 to run"),
        "{}",
        stdout(&resumed)
    );
    assert_eq!(read_json(&interrupted)["status"], "completed");
    let log = std::fs::read_to_string(runs.join("tiny").join(&names[1]).join("train.log")).unwrap();
    assert!(log.contains("resuming"), "{log}");

    let status = sweep_status(&experiment, &runs);
    assert!(
        stdout(&status).contains("tiny: 4 completed"),
        "{}",
        stdout(&status)
    );
}

fn refused(json: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.json");
    std::fs::write(&path, json).unwrap();
    let runs = dir.path().join("runs");
    let output = scalefree()
        .args(["sweep"])
        .arg(&path)
        .arg("--runs")
        .arg(&runs)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(
        !runs.join("bad").exists() || !runs.join("bad/plan.json").exists(),
        "nothing is planned"
    );
    let msg = stderr(&output);
    assert!(
        msg.contains("bad.json"),
        "the message names the file: {msg}"
    );
    msg
}

#[test]
fn bad_experiment_files_are_refused_naming_the_file_and_key() {
    let msg = refused(r#"{"name": "bad", "grids": [{"optimiser": ["adamw"]}]}"#);
    assert!(msg.contains("unknown field `optimiser`"), "{msg}");
    let msg = refused(r#"{"name": "bad", "grids": [{"lr": []}]}"#);
    assert!(
        msg.contains("grids[0].lr") && msg.contains("empty"),
        "{msg}"
    );
    let msg = refused(r#"{"name": "bad", "grids": []}"#);
    assert!(msg.contains("`grids`"), "{msg}");
    let msg = refused(r#"{"name": "bad", "grids": [{"lr": [-1.0]}]}"#);
    assert!(
        msg.contains("grids[0]") && msg.contains("invalid `lr` = -1"),
        "{msg}"
    );
    let msg = refused(r#"{"name": "bad", "base": {"epochs": "many"}, "grids": [{}]}"#);
    assert!(
        msg.contains("`base`") && msg.contains("invalid type"),
        "{msg}"
    );
    let msg = refused(r#"{"name": "bad", "grids": [{"model": ["resnet21"]}]}"#);
    assert!(msg.contains("resnet21"), "{msg}");
}
