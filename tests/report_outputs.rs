//! `scalefree report` on a synthetic experiment: the files, the table's values, the
//! handling of diverged, missing and unfinished runs, and the errors.
mod report_support;

use optim::DecayMode::{Decoupled as AdamW, L2};
use report_support::{expected_pngs, run_name, write_experiment, EXPERIMENT};
use scalefree::report::{generate, Written};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// Where the runs are, where the report goes, and the experiment.
fn args<'a>(runs: &'a Path, out: &'a Path, experiment: &'a str) -> (&'a Path, &'a Path, &'a str) {
    (runs, out, experiment)
}

fn report_of((runs, out, experiment): (&Path, &Path, &str)) -> anyhow::Result<Written> {
    generate(experiment, runs, out)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// One report, shared by the tests that only read it (drawing takes a moment).
fn report() -> &'static (tempfile::TempDir, Value) {
    static REPORT: std::sync::OnceLock<(tempfile::TempDir, Value)> = std::sync::OnceLock::new();
    REPORT.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        write_experiment(&tmp.path().join("runs"));
        report_of(args(
            &tmp.path().join("runs"),
            &tmp.path().join("report"),
            EXPERIMENT,
        ))
        .unwrap();
        let summary = std::fs::read_to_string(
            tmp.path()
                .join("report")
                .join(EXPERIMENT)
                .join("summary.json"),
        )
        .unwrap();
        let summary = serde_json::from_str(&summary).unwrap();
        (tmp, summary)
    })
}

fn dir() -> std::path::PathBuf {
    report().0.path().join("report").join(EXPERIMENT)
}

fn group(summary: &Value, bn: bool) -> &Value {
    summary["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["bn"] == bn)
        .unwrap()
}

fn best<'a>(group: &'a Value, optimizer: &str) -> &'a Value {
    &group["optimizers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["optimizer"] == optimizer)
        .unwrap()["best"]
}

#[test]
fn every_expected_file_is_written_and_no_temporary_is_left() {
    let dir = dir();
    for name in ["index.html", "summary.md", "summary.json"] {
        assert!(dir.join(name).is_file(), "{name} missing");
    }
    for (name, _) in expected_pngs() {
        assert!(dir.join(name).is_file(), "{name} missing");
    }
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn figures_are_valid_pngs_of_the_expected_size() {
    let (_, summary) = report();
    let listed = summary["figures"].as_array().unwrap();
    assert_eq!(
        listed.len(),
        expected_pngs().len(),
        "figures listed: {listed:?}"
    );
    for (name, (w, h)) in expected_pngs() {
        let path = dir().join(name);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(
            image::guess_format(&bytes).unwrap(),
            image::ImageFormat::Png,
            "{name}"
        );
        let img = image::load_from_memory(&bytes)
            .unwrap_or_else(|e| panic!("{name} does not decode: {e}"));
        assert_eq!((img.width(), img.height()), (w, h), "{name}");
        let entry = listed
            .iter()
            .find(|f| f["file"] == name)
            .unwrap_or_else(|| panic!("{name} not in summary.json"));
        assert_eq!(
            (
                entry["width"].as_u64().unwrap(),
                entry["height"].as_u64().unwrap()
            ),
            (w as u64, h as u64)
        );
        // Not a blank canvas: some pixels carry colour.
        let rgb = img.to_rgb8();
        let coloured = rgb
            .pixels()
            .filter(|p| p.0.iter().max().unwrap() - p.0.iter().min().unwrap() > 40)
            .count();
        assert!(
            coloured > 500,
            "{name} has almost no coloured pixels ({coloured})"
        );
    }
}

#[test]
fn best_settings_and_gap_are_those_of_the_grid() {
    let (_, summary) = report();
    let nobn = group(summary, false);
    let l2 = best(nobn, "adam-l2");
    assert!(
        close(l2["lr"].as_f64().unwrap(), 1e-3) && close(l2["wd"].as_f64().unwrap(), 5e-4),
        "{l2}"
    );
    assert!(close(l2["final_test_accuracy"].as_f64().unwrap(), 0.80));
    let w = best(nobn, "adamw");
    assert!(
        close(w["lr"].as_f64().unwrap(), 1e-3) && close(w["wd"].as_f64().unwrap(), 0.0),
        "{w}"
    );
    assert!(close(w["final_test_accuracy"].as_f64().unwrap(), 0.85));
    assert!(close(nobn["adamw_minus_adam_l2"].as_f64().unwrap(), 0.05));

    let bn = group(summary, true);
    let l2 = best(bn, "adam-l2");
    assert!(
        close(l2["lr"].as_f64().unwrap(), 1e-3) && close(l2["wd"].as_f64().unwrap(), 0.0),
        "{l2}"
    );
    let w = best(bn, "adamw");
    assert!(
        close(w["lr"].as_f64().unwrap(), 1e-4) && close(w["wd"].as_f64().unwrap(), 5e-4),
        "{w}"
    );
    assert!(close(bn["adamw_minus_adam_l2"].as_f64().unwrap(), 0.01));
    assert_eq!(w["runs"][0], run_name(true, AdamW, 1e-4, 5e-4));
}

#[test]
fn gradient_spread_is_read_at_initialisation_from_the_adamw_best_run() {
    let (_, summary) = report();
    for (bn, spread) in [(false, 16.0), (true, 10.0)] {
        let s = &group(summary, bn)["grad_spread_at_init"];
        assert!(close(s["spread"].as_f64().unwrap(), spread), "{s}");
        assert_eq!(s["step"], 1);
        assert_eq!(s["from"], "AdamW best");
        assert_eq!(s["run"], best(group(summary, bn), "adamw")["runs"][0]);
    }
}

#[test]
fn a_diverged_run_counts_as_1_1_and_is_never_best() {
    let (_, summary) = report();
    let diverged = run_name(false, L2, 1e-3, 0.0);
    assert_eq!(summary["diverged"][0]["name"], diverged);
    // Its summary says 95% final accuracy, better than every other run; it is still not best.
    let l2 = best(group(summary, false), "adam-l2");
    assert!(l2["runs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r != &diverged));
    let md = std::fs::read_to_string(dir().join("summary.md")).unwrap();
    assert!(md.contains(&format!("- `{diverged}`")), "{md}");
    assert_eq!(summary["counts"]["diverged"], 1);
}

#[test]
fn missing_and_unfinished_runs_are_counted_and_listed() {
    let (_, summary) = report();
    let c = &summary["counts"];
    assert_eq!(
        (c["planned"].as_u64(), c["completed"].as_u64()),
        (Some(16), Some(12))
    );
    assert_eq!(
        (
            c["missing"].as_u64(),
            c["started"].as_u64(),
            c["interrupted"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    let unfinished: Vec<(String, String)> = summary["unfinished"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expect = [
        (run_name(false, AdamW, 1e-4, 5e-4), "missing"),
        (run_name(true, L2, 1e-4, 5e-4), "started"),
        (run_name(true, AdamW, 1e-3, 0.0), "interrupted"),
    ];
    for (name, state) in &expect {
        assert!(
            unfinished.contains(&(name.clone(), state.to_string())),
            "{name} {state} not in {unfinished:?}"
        );
    }
    assert_eq!(unfinished.len(), 3);
    let md = std::fs::read_to_string(dir().join("summary.md")).unwrap();
    let html = std::fs::read_to_string(dir().join("index.html")).unwrap();
    for (name, _) in &expect {
        assert!(
            md.contains(name.as_str()) && html.contains(name.as_str()),
            "{name} not listed"
        );
    }
}

#[test]
fn the_markdown_table_shows_best_settings_gap_and_spread() {
    let md = std::fs::read_to_string(dir().join("summary.md")).unwrap();
    let nobn = md
        .lines()
        .find(|l| l.starts_with("| resnet20 | no |"))
        .unwrap_or_else(|| panic!("{md}"));
    assert!(nobn.contains("80.00% (η₀ 1e-3, λ 5e-4)"), "{nobn}");
    assert!(nobn.contains("85.00% (η₀ 1e-3, λ 0)"), "{nobn}");
    assert!(nobn.contains("+5.00 pp"), "{nobn}");
    assert!(nobn.contains("16.0 (AdamW best)"), "{nobn}");
    let bn = md
        .lines()
        .find(|l| l.starts_with("| resnet20 | yes |"))
        .unwrap();
    assert!(
        bn.contains("+1.00 pp") && bn.contains("10.0 (AdamW best)"),
        "{bn}"
    );
}

#[test]
fn an_experiment_file_path_names_the_experiment() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    write_experiment(&runs);
    let file = tmp.path().join("other-stem.json");
    std::fs::write(&file, r#"{"name": "synth", "grids": [{}]}"#).unwrap();
    let written = report_of(args(&runs, &tmp.path().join("out"), file.to_str().unwrap())).unwrap();
    assert_eq!(written.dir, tmp.path().join("out").join("synth"));
    assert!(written.dir.join("index.html").is_file());
}

fn scalefree() -> Command {
    Command::new(env!("CARGO_BIN_EXE_scalefree"))
}

#[test]
fn the_command_says_where_the_report_is_and_how_to_open_it() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    write_experiment(&runs);
    let out = scalefree()
        .arg("report")
        .arg(EXPERIMENT)
        .arg("--runs")
        .arg(&runs)
        .arg("--out")
        .arg(tmp.path().join("r"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let index = tmp.path().join("r").join(EXPERIMENT).join("index.html");
    assert!(stdout.contains(&index.display().to_string()), "{stdout}");
    assert!(stdout.contains("open it in a browser"), "{stdout}");
    // The local web server it suggests listens on this machine only.
    let dir = tmp.path().join("r").join(EXPERIMENT);
    let served = format!(
        "python3 -m http.server --bind 127.0.0.1 -d {}",
        dir.display()
    );
    assert!(stdout.contains(&served), "{stdout}");
    assert!(stdout.contains("http://127.0.0.1:8000"), "{stdout}");
}

#[test]
fn a_missing_plan_is_an_error_naming_it_and_suggesting_the_sweep() {
    let tmp = tempfile::tempdir().unwrap();
    let out = scalefree()
        .args(["report", "nothing-here", "--runs"])
        .arg(tmp.path())
        .arg("--out")
        .arg(tmp.path().join("r"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let plan = tmp.path().join("nothing-here").join("plan.json");
    assert!(stderr.contains(&plan.display().to_string()), "{stderr}");
    assert!(stderr.contains("scalefree sweep nothing-here"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn an_unreadable_run_file_leaves_that_run_out_as_damaged_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    let plan = write_experiment(&runs);
    let broken = plan.runs[0].dir().join("summary.json");
    std::fs::write(&broken, "{ not json").unwrap();
    let scales = plan.runs[6].dir().join("scales.jsonl");
    std::fs::write(&scales, "{\"step\": oops}\n").unwrap();
    let written = report_of(args(&runs, &tmp.path().join("out"), EXPERIMENT))
        .expect("damaged runs are reported, not fatal");
    let report = written.report;
    assert_eq!(report.counts.damaged, 2);
    for (run, file) in [(&plan.runs[0], &broken), (&plan.runs[6], &scales)] {
        let listed = report
            .unfinished
            .iter()
            .find(|r| r.name == run.name)
            .expect("a damaged run is listed");
        let note = listed.note.as_deref().unwrap_or_default();
        assert!(note.contains(&file.display().to_string()), "{note}");
    }
}

#[test]
fn a_plan_with_no_run_started_still_gives_a_report_of_grey_heatmaps() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    let plan = write_experiment(&runs);
    for run in &plan.runs {
        let _ = std::fs::remove_dir_all(run.dir());
    }
    let written = report_of(args(&runs, &tmp.path().join("out"), EXPERIMENT)).unwrap();
    let files: Vec<&str> = written
        .report
        .figures
        .iter()
        .map(|f| f.file.as_str())
        .collect();
    assert_eq!(
        files,
        ["heatmap-resnet20-nobn.png", "heatmap-resnet20-bn.png"]
    );
    assert_eq!(written.report.counts.missing, 16);
    assert_eq!(written.report.unfinished.len(), 16);
    assert!(written
        .report
        .groups
        .iter()
        .all(|g| g.adamw_minus_adam_l2.is_none() && g.grad_spread_at_init.is_none()));
    let html = std::fs::read_to_string(written.dir.join("index.html")).unwrap();
    assert!(html.contains("No best run has logged scales"), "{html}");
}
