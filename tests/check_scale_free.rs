//! `scalefree check scale-free` (claim 2) at a tiny size: with ε = 0, rescaling the loss
//! or each gradient coordinate leaves AdamW and AdamProx on their trajectory (to rounding)
//! and moves Adam-ℓ2 off it by orders of magnitude more.
mod train_support;

use train_support::{read_json, scalefree, stderr, write_tiny_cifar10};

#[test]
fn adamw_and_adamprox_are_invariant_to_rescaling_and_adam_l2_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 256, 10);
    let json = dir.path().join("out/scale-free.json");
    let output = scalefree()
        .args([
            "check",
            "scale-free",
            "--model",
            "resnet8",
            "--steps",
            "6",
            "--every",
            "3",
            "--batch-size",
            "16",
        ])
        .args(["--device", "cpu", "--threads", "2", "--data"])
        .arg(&data)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("claim 2 (AdamW and AdamProx are scale-free, Adam-ℓ2 is not): SUPPORTED"),
        "{stdout}"
    );

    let report = read_json(&json);
    assert_eq!(
        report["verdict"]["supported"], true,
        "{}",
        report["verdict"]
    );
    let runs = report["runs"].as_array().unwrap();
    // 2 ε × 3 optimizers × (loss ×1, ×10, ×100, per-coordinate factors).
    assert_eq!(runs.len(), 24);
    let compared = |eps: f64, optimizer: &str| -> Vec<f64> {
        runs.iter()
            .filter(|r| r["eps"] == eps && r["optimizer"] == optimizer && r["reference"] == false)
            .map(|r| r["final_deviation"].as_f64().unwrap_or(f64::NAN))
            .collect()
    };
    let mut scale_free_max: f64 = 0.0;
    for optimizer in ["adamw", "adam-prox"] {
        let deviations = compared(0.0, optimizer);
        assert_eq!(deviations.len(), 3);
        for d in &deviations {
            assert!(
                *d < 1e-4,
                "{optimizer} at ε = 0 deviates {d}: {deviations:?}"
            );
            scale_free_max = scale_free_max.max(*d);
        }
    }
    let adam_l2 = compared(0.0, "adam-l2");
    assert_eq!(adam_l2.len(), 3);
    for d in &adam_l2 {
        assert!(*d > 1e-4, "Adam-ℓ2 deviates only {d}");
        assert!(
            *d > 100.0 * scale_free_max,
            "Adam-ℓ2 {d} vs AdamW/AdamProx {scale_free_max}"
        );
    }
    for r in runs.iter().filter(|r| r["eps"] == 0.0) {
        assert_eq!(r["precision"], "f64");
        assert!(r["train_loss"].as_f64().unwrap().is_finite());
    }
    // ε = 1e-8 runs are reported too, in float32, with ε-sized deviations for AdamW.
    let with_eps = compared(1e-8, "adamw");
    assert!(
        with_eps.iter().all(|d| d.is_finite() && *d > 0.0),
        "{with_eps:?}"
    );
    assert!(runs
        .iter()
        .filter(|r| r["eps"] == 1e-8)
        .all(|r| r["precision"] == "f32"));
    let kinds: Vec<&str> = runs
        .iter()
        .map(|r| r["scaling"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "coordinates").count(), 6);
}

#[test]
fn weight_decay_zero_is_refused_naming_the_flag() {
    let output = scalefree()
        .args([
            "check",
            "scale-free",
            "--wd",
            "0",
            "--random-input",
            "--device",
            "cpu",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(stderr(&output).contains("--wd"), "{}", stderr(&output));
    let output = scalefree()
        .args(["check", "scale-free", "--eps", "0,-1"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(stderr(&output).contains("--eps"), "{}", stderr(&output));
}

/// The check's own `--precision auto|f32|f64` became `train`'s `--precision` (fp32,
/// bf16) and `--float64 auto|always|never`: the old values are refused with the new
/// spelling, and what the check cannot judge is refused before any work.
#[test]
fn the_former_precision_values_are_refused_naming_their_new_spelling() {
    let refused = |args: &[&str], expected: &str| {
        let output = scalefree()
            .args(["check", "scale-free", "--random-input", "--device", "cpu"])
            .args(args)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{args:?} was accepted");
        let err = stderr(&output);
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!String::from_utf8_lossy(&output.stdout).contains("check scale-free:"));
    };
    refused(&["--precision", "f64"], "use --float64 always");
    refused(&["--precision", "f32"], "use --float64 never");
    refused(&["--precision", "auto"], "leave --precision out");
    refused(&["--float64", "sometimes"], "--float64");
    refused(&["--precision", "f16"], "--precision f16");
    refused(
        &["--precision", "bf16", "--float64", "always"],
        "--float64 always",
    );
}
