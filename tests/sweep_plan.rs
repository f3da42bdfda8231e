//! A sweep's plan against what its run directories hold: after the experiment is edited,
//! runs made under the old settings are reported as stale (never counted as done) and
//! redone or kept only on request, longer runs continue; and a runs folder that was copied
//! or moved still reports every run.
mod train_support;

use serde_json::json;
use std::path::Path;
use train_support::{
    plan_run_dirs, read_json, scalefree, setting, stderr, stdout, sweep, sweep_status,
    write_tiny_cifar10,
};

/// Two runs (AdamW, Adam-ℓ2) of `epochs` tiny epochs with batch size `batch`.
fn write_experiment(path: &Path, data: &Path, epochs: u32, batch: u32) {
    let spec = json!({
        "name": "edit",
        "base": { "data": data, "epochs": epochs, "batch_size": batch, "hist_every": 0,
                  "model": "resnet8" },
        "grids": [ { "optimizer": ["adamw", "adam-l2"] } ]
    });
    std::fs::write(path, spec.to_string()).unwrap();
}

#[test]
fn runs_made_before_an_edit_are_stale_until_redone_or_kept_and_longer_runs_continue() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 64, 20);
    let experiment = dir.path().join("edit.json");
    let runs = dir.path().join("runs");
    write_experiment(&experiment, &data, 1, 32);
    let (code, out) = sweep(&experiment, &runs, &["--threads", "1"]);
    assert_eq!(code, Some(0), "{out}");
    let dirs = plan_run_dirs(&runs, "edit");
    let summary = |d: &Path| read_json(&d.join("summary.json"));
    let first_accuracy = summary(&dirs[0])["final_test_accuracy"].clone();

    // Another batch size: the runs are not the plan's any more.
    write_experiment(&experiment, &data, 1, 16);
    let (code, out) = sweep(&experiment, &runs, &["--threads", "1"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("2 runs, 0 already done, 0 to run, 2 stale"),
        "{out}"
    );
    assert!(
        out.contains("`batch_size` 32 → 16") && out.contains("--redo-stale"),
        "{out}"
    );
    assert_eq!(summary(&dirs[0])["final_test_accuracy"], first_accuracy);
    let status = sweep_status(&experiment, &runs);
    assert!(
        stdout(&status).contains("2 completed, stale"),
        "{}",
        stdout(&status)
    );

    let (code, out) = sweep(&experiment, &runs, &["--threads", "1", "--keep-stale"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("2 already done") && out.contains("kept as it is"),
        "{out}"
    );

    let (code, out) = sweep(&experiment, &runs, &["--threads", "1", "--redo-stale"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("0 already done, 2 to run"), "{out}");
    for d in &dirs {
        assert_eq!(
            setting(&read_json(&d.join("config.json")), "batch_size"),
            16
        );
        assert_eq!(summary(d)["steps_done"], 4);
        let moved = runs.join("edit/stale").join(d.file_name().unwrap());
        assert_eq!(
            setting(&read_json(&moved.join("config.json")), "batch_size"),
            32,
            "the stale run is kept aside"
        );
    }

    // More epochs of a constant schedule: the runs continue from where they ended.
    write_experiment(&experiment, &data, 2, 16);
    let (code, out) = sweep(&experiment, &runs, &["--threads", "1"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("0 already done, 2 to run") && out.contains("continues:"),
        "{out}"
    );
    for d in &dirs {
        assert_eq!(summary(d)["epochs_done"], 2);
        let log = std::fs::read_to_string(d.join("train.log")).unwrap();
        assert!(log.contains("resuming"), "{log}");
    }
    let (code, out) = sweep(&experiment, &runs, &["--threads", "1"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("2 already done, 0 to run"), "{out}");
}

#[test]
fn a_moved_runs_folder_still_reports_every_run() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 64, 20);
    let experiment = dir.path().join("edit.json");
    write_experiment(&experiment, &data, 1, 32);
    let runs = dir.path().join("runs");
    let (code, out) = sweep(&experiment, &runs, &["--threads", "1"]);
    assert_eq!(code, Some(0), "{out}");

    let moved = dir.path().join("elsewhere");
    std::fs::rename(&runs, &moved).unwrap();
    let report = scalefree()
        .args(["report", "edit", "--runs"])
        .arg(&moved)
        .arg("--out")
        .arg(dir.path().join("report"))
        .output()
        .unwrap();
    assert!(report.status.success(), "{}", stderr(&report));
    let summary = read_json(&dir.path().join("report/edit/summary.json"));
    assert_eq!(summary["counts"]["completed"], 2, "{summary}");
}
