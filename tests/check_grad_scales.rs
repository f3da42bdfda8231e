//! `scalefree check grad-scales` (claim 3) at a tiny size: at initialisation on random
//! input, gradients without BN span more octaves than with BN; JSON, PNG and TensorBoard
//! are written.
mod train_support;

use train_support::{read_json, scalefree, stderr};

#[test]
fn gradients_without_bn_spread_wider_than_with_bn() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("gs.json");
    let tb = dir.path().join("tb");
    let output = scalefree()
        .args([
            "check",
            "grad-scales",
            "--models",
            "resnet20,resnet8",
            "--random-input",
            "--device",
            "cpu",
            "--threads",
            "2",
        ])
        .arg("--json")
        .arg(&json)
        .arg("--tb")
        .arg(&tb)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("claim 3 (gradients without BN span more octaves than with BN): SUPPORTED"),
        "{stdout}"
    );

    let report = read_json(&json);
    assert_eq!(report["verdict"]["supported"], true);
    assert_eq!(report["settings"]["batch_size"], 64);
    assert_eq!(report["settings"]["input"], "random");
    let measurements = report["measurements"].as_array().unwrap();
    assert_eq!(measurements.len(), 4);
    let spread = |model: &str, bn: bool| {
        let m = measurements
            .iter()
            .find(|m| m["model"] == model && m["bn"] == bn)
            .unwrap();
        let proportions: f64 = m["proportions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_f64().unwrap())
            .sum();
        assert!(
            (proportions - 1.0).abs() < 1e-9,
            "{model} proportions sum to {proportions}"
        );
        for key in ["p01", "p50", "p99", "layer_median_range"] {
            assert!(m["spread"][key].is_number(), "{model} lacks {key}");
        }
        m["spread"]["spread"].as_f64().unwrap()
    };
    let (without, with) = (spread("resnet20", false), spread("resnet20", true));
    assert!(
        without > with + 2.0,
        "resnet20: spread without BN {without} vs with BN {with}"
    );
    // Roughly the paper's measurement (about 16 vs 10 octaves).
    assert!(
        (12.0..22.0).contains(&without) && (6.0..14.0).contains(&with),
        "{without} / {with}"
    );

    // The PNG goes next to the JSON by default.
    let png = std::fs::read(dir.path().join("gs.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert!(
        png.len() > 10_000,
        "the figure is suspiciously small: {} bytes",
        png.len()
    );
    assert!(std::fs::read_dir(&tb)
        .unwrap()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().starts_with("events.out")));
}

#[test]
fn an_explicit_png_path_is_used_and_bad_models_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("figs/h.png");
    let output = scalefree()
        .args([
            "check",
            "grad-scales",
            "--models",
            "resnet8",
            "--random-input",
            "--batch-size",
            "8",
            "--device",
            "cpu",
        ])
        .arg("--png")
        .arg(&png)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(png.is_file());
    assert!(!dir.path().join("grad-scales.png").exists());

    let output = scalefree()
        .args(["check", "grad-scales", "--models", "resnet20,vgg16"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("--models") && err.contains("vgg16"), "{err}");
}
