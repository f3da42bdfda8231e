//! `scalefree check prox` (claim 1) at a tiny size: AdamW and AdamProx stay close, and
//! their per-step difference is the first-order term `a·η‖u‖`; refused flags are named.
mod train_support;

use std::path::Path;
use train_support::{read_json, scalefree, stderr, write_tiny_cifar10};

fn check_prox(data: &Path, json: &Path, extra: &[&str]) -> serde_json::Value {
    let output = scalefree()
        .args([
            "check",
            "prox",
            "--model",
            "resnet8",
            "--steps",
            "12",
            "--every",
            "4",
            "--batch-size",
            "16",
        ])
        .args(["--device", "cpu", "--threads", "2", "--data"])
        .arg(data)
        .arg("--json")
        .arg(json)
        .args(extra)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = read_json(json);
    let word = if report["verdict"]["supported"] == true {
        "SUPPORTED"
    } else {
        "NOT SUPPORTED"
    };
    assert!(
        stdout.contains(&format!("claim 1 (AdamW ≈ AdamProx): {word}")),
        "{stdout}"
    );
    report
}

#[test]
fn adamw_and_adamprox_stay_close_and_differ_per_step_by_the_first_order_term() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 256, 10);
    let tb = dir.path().join("tb");
    let report = check_prox(
        &data,
        &dir.path().join("prox.json"),
        &["--tb", tb.to_str().unwrap()],
    );

    assert_eq!(report["check"], "prox");
    assert_eq!(
        report["verdict"]["supported"], true,
        "{}",
        report["verdict"]
    );
    assert_eq!(report["settings"]["wd"], 5e-5);
    assert_eq!(report["steps_done"], 12);
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| r["step"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [4, 8, 12]
    );
    let distance = report["max_relative_distance"].as_f64().unwrap();
    assert!(
        distance > 0.0 && distance < 1e-2,
        "relative distance {distance}"
    );
    let (w, p) = (
        report["final_loss_adamw"].as_f64().unwrap(),
        report["final_loss_adam_prox"].as_f64().unwrap(),
    );
    assert!((w - p).abs() < 1e-2 * w, "losses {w} vs {p}");
    // The per-step difference is a·η‖u‖ up to O(a²): within an order of magnitude, in fact ~1.
    for key in ["step_ratio_min", "step_ratio_max"] {
        let ratio = report[key].as_f64().unwrap();
        assert!((0.1..10.0).contains(&ratio), "{key} = {ratio}");
        assert!((ratio - 1.0).abs() < 1e-2, "{key} = {ratio}");
    }
    assert!(std::fs::read_dir(&tb)
        .unwrap()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().starts_with("events.out")));

    // Ten times the decay: ten times the per-step difference, as the prediction says.
    let strong = check_prox(&data, &dir.path().join("strong.json"), &["--wd", "5e-4"]);
    let step = |r: &serde_json::Value| r["rows"][0]["step_difference"].as_f64().unwrap();
    let growth = step(&strong) / step(&report);
    assert!(
        (5.0..20.0).contains(&growth),
        "per-step difference grew {growth}× for 10× λ"
    );
}

/// With λ = 0.5 per step the first-order argument breaks down (`a²·x` outweighs `a·η·u`):
/// the check must say so rather than rubber-stamp the claim.
#[test]
fn a_decay_too_large_for_the_first_order_argument_is_not_supported() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 64, 10);
    let report = check_prox(&data, &dir.path().join("prox.json"), &["--wd", "0.5"]);
    assert_eq!(
        report["verdict"]["supported"], false,
        "{}",
        report["verdict"]
    );
    let ratio = report["step_ratio_max"].as_f64().unwrap();
    assert!(ratio > 10.0, "per-step difference / prediction = {ratio}");
}

#[test]
fn bad_flags_are_refused_naming_the_flag() {
    let refused = |args: &[&str], flag: &str| {
        let output = scalefree()
            .args(["check", "prox"])
            .args(args)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{args:?} was accepted");
        let err = stderr(&output);
        assert!(
            err.contains(flag),
            "{args:?}: error does not name {flag}: {err}"
        );
    };
    refused(&["--steps", "0"], "--steps");
    refused(&["--lr", "-1"], "--lr");
    refused(&["--wd", "nan"], "--wd");
    refused(&["--model", "resnet21"], "--model");
    refused(&["--batch-size", "0"], "--batch-size");
    refused(&["--device", "tpu"], "--device");
    // An output that cannot be written is refused before the check runs, not after.
    refused(
        &[
            "--random-input",
            "--device",
            "cpu",
            "--json",
            "/proc/no-such-dir/prox.json",
        ],
        "--json",
    );
    refused(
        &["--data", "/nonexistent/cifar", "--device", "cpu"],
        "--data",
    );
}

#[test]
fn a_json_path_that_is_a_folder_or_cannot_be_made_is_refused_before_the_check_runs() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("results");
    std::fs::create_dir(&folder).unwrap();
    for (json, why) in [
        (folder.to_str().unwrap(), "is a folder"),
        ("/proc/prox.json", "cannot create a file beside it"),
    ] {
        let output = scalefree()
            .args(["check", "prox", "--random-input", "--device", "cpu"])
            .args(["--model", "resnet8", "--steps", "400", "--json", json])
            .output()
            .unwrap();
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{err}");
        assert!(
            err.contains(&format!("--json {json}")) && err.contains(why),
            "{err}"
        );
        let out = String::from_utf8_lossy(&output.stdout);
        assert!(!out.contains("claim 1"), "the check ran first: {out}");
    }
    assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 0);
}
