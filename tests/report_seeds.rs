//! The report over seeds, on hand-made run directories whose numbers are known: means
//! with their 95 % CIs, the AdamW − Adam-ℓ2 gap paired by seed, and claim 4's verdict
//! for an intervention group beside its group without factors.
use scalefree::config::RunConfig;
use scalefree::experiment::{Plan, PlannedRun};
use scalefree::report::generate;
use scalefree::rundir::{RunDir, RunStatus, Summary};
use serde_json::json;
use std::path::Path;

/// (optimizer, factors, seed) → (final train loss, final test accuracy).
fn outcome(optimizer: &str, factors: &str, seed: u64) -> (f64, f64) {
    let s = seed as f64;
    match (optimizer, factors) {
        ("adam-l2", "none") => (2.00 + 0.02 * s, 0.30 + 0.01 * s),
        // The spread costs Adam-ℓ2 0.05 ± 0.01 in loss and 2 points in accuracy.
        ("adam-l2", _) => (2.05 + 0.02 * s + 0.01 * (s - 1.0), 0.28 + 0.01 * s),
        // AdamW: 0.01 better than Adam-ℓ2 per seed; the spread changes it by ±0.001.
        ("adamw", "none") => (1.99 + 0.02 * s, 0.31 + 0.01 * s + 0.005 * (s - 1.0)),
        _ => (
            1.99 + 0.02 * s + 0.001 * (s - 1.0),
            0.31 + 0.01 * s + 0.005 * (s - 1.0),
        ),
    }
}

fn write_runs(runs: &Path) {
    let mut planned = Vec::new();
    for optimizer in ["adam-l2", "adamw"] {
        for factors in ["none", "spread:3"] {
            for seed in 0..3u64 {
                let settings = json!({"model": "resnet20", "optimizer": optimizer, "lr": 1e-3,
                    "wd": 5e-4, "grad_factors": factors, "seed": seed, "epochs": 5});
                let config = RunConfig::from_value(&settings).unwrap();
                let name = config.derived_name();
                let dir = runs.join("seeds").join(&name);
                std::fs::create_dir_all(&dir).unwrap();
                let run_dir = RunDir::new(&dir);
                run_dir.write_config(&config).unwrap();
                let (loss, accuracy) = outcome(optimizer, factors, seed);
                run_dir
                    .write_summary(&Summary {
                        status: RunStatus::Completed,
                        final_test_accuracy: Some(accuracy),
                        best_test_accuracy: Some(accuracy),
                        final_test_loss: Some(1.5),
                        final_train_loss: Some(loss),
                        final_train_accuracy: Some(0.4),
                        epochs_done: 5,
                        steps_done: 200,
                        wall_s: 1.0,
                        images_per_s: 1.0,
                        test_error_for_heatmap: Some(1.0 - accuracy),
                        message: None,
                        timing: None,
                        records: None,
                    })
                    .unwrap();
                planned.push(PlannedRun::new(name, dir, config));
            }
        }
    }
    let plan = Plan {
        experiment: "seeds".into(),
        description: String::new(),
        source: "experiments/seeds.json".into(),
        experiment_file: None,
        factorial: None,
        runs: planned,
    };
    std::fs::write(
        runs.join("seeds/plan.json"),
        serde_json::to_string(&plan).unwrap(),
    )
    .unwrap();
}

#[test]
fn the_report_gives_means_with_cis_paired_gaps_and_claim_4s_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    write_runs(&runs);
    let written = generate("seeds", &runs, &dir.path().join("report")).unwrap();
    let report = serde_json::to_value(&written.report).unwrap();
    let groups = report["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "one group without factors, one with");
    let none = groups.iter().find(|g| g["grad_factors"] == "none").unwrap();

    // Adam-ℓ2 without factors: 0.30, 0.31, 0.32 → mean 0.31, s = 0.01, t(0.975, 2) = 4.303.
    let l2 = &none["optimizers"][0]["best"]["test_accuracy"];
    assert_eq!(l2["n"], 3);
    assert!((l2["mean"].as_f64().unwrap() - 0.31).abs() < 1e-12);
    let half = 4.302_652_7 * 0.01 / 3f64.sqrt();
    assert!(
        (l2["half_width"].as_f64().unwrap() - half).abs() < 1e-6,
        "{l2}"
    );

    // AdamW − Adam-ℓ2 per seed: 0.005, 0.01, 0.015 → mean 0.01, s = 0.005.
    let gap = &none["adamw_minus_adam_l2_paired"];
    assert!(
        (gap["mean"].as_f64().unwrap() - 0.01).abs() < 1e-12,
        "{gap}"
    );
    assert!((gap["half_width"].as_f64().unwrap() - 4.302_652_7 * 0.005 / 3f64.sqrt()).abs() < 1e-6);

    // Claim 4: Adam-ℓ2's loss rises by 0.04, 0.05, 0.06 (CI above 0); AdamW's by −0.001,
    // 0, +0.001, under its seed-to-seed sd of 0.02.
    let claim = &report["claim4"][0];
    assert_eq!(claim["factors"], "spread:3");
    assert_eq!(claim["outcome"], "SUPPORTED", "{}", claim["line"]);
    assert!((claim["adam_l2_train_loss"]["mean"].as_f64().unwrap() - 0.05).abs() < 1e-9);
    assert!(claim["adamw_train_loss"]["mean"].as_f64().unwrap().abs() < 1e-9);
    let markdown = std::fs::read_to_string(written.dir.join("summary.md")).unwrap();
    assert!(markdown.contains("## Claim 4") && markdown.contains("SUPPORTED"));
    assert!(markdown.contains("paired, 3 seeds"), "{markdown}");
    // No run logged scales, so there is no spread to draw the gap against.
    assert!(!written.dir.join("gap-vs-spread.png").exists());
}
