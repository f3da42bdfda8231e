//! A synthetic experiment for the report tests, written from the run structs: ResNet-20
//! with and without BN, Adam-ℓ2 and AdamW over η_0 ∈ {1e-4, 1e-3} × λ ∈ {0, 5e-4}, with
//! a diverged, a missing, a started and an interrupted run.
#![allow(dead_code)]
use optim::DecayMode;
use scalefree::config::RunConfig;
use scalefree::experiment::{Plan, PlannedRun};
use scalefree::rundir::{MetricsRow, RunDir, RunStatus, ScaleRow, SpreadRow, Summary};
use serde_json::json;
use std::path::Path;

pub const EXPERIMENT: &str = "synth";

#[derive(Clone, Copy, Debug)]
pub enum Fake {
    Completed(f64),
    Diverged,
    Interrupted,
    Started,
    Missing,
}

/// (bn, optimizer, lr, wd, what the run directory holds). The final test errors are
/// chosen so that the best settings are known: no BN — Adam-ℓ2 (1e-3, 5e-4) at 0.20,
/// AdamW (1e-3, 0) at 0.15; BN — Adam-ℓ2 (1e-3, 0) at 0.12, AdamW (1e-4, 5e-4) at 0.11.
pub fn grid() -> Vec<(bool, DecayMode, f64, f64, Fake)> {
    use DecayMode::{Decoupled as W, L2};
    use Fake::*;
    vec![
        (false, L2, 1e-4, 0.0, Completed(0.30)),
        (false, L2, 1e-4, 5e-4, Completed(0.25)),
        (false, L2, 1e-3, 0.0, Diverged),
        (false, L2, 1e-3, 5e-4, Completed(0.20)),
        (false, W, 1e-4, 0.0, Completed(0.28)),
        (false, W, 1e-4, 5e-4, Missing),
        (false, W, 1e-3, 0.0, Completed(0.15)),
        (false, W, 1e-3, 5e-4, Completed(0.17)),
        (true, L2, 1e-4, 0.0, Completed(0.14)),
        (true, L2, 1e-4, 5e-4, Started),
        (true, L2, 1e-3, 0.0, Completed(0.12)),
        (true, L2, 1e-3, 5e-4, Completed(0.13)),
        (true, W, 1e-4, 0.0, Completed(0.125)),
        (true, W, 1e-4, 5e-4, Completed(0.11)),
        (true, W, 1e-3, 0.0, Interrupted),
        (true, W, 1e-3, 5e-4, Completed(0.115)),
    ]
}

const EPOCHS: u32 = 5;

fn metrics(final_error: f64, diverged: bool) -> Vec<MetricsRow> {
    (1..=EPOCHS)
        .map(|epoch| {
            let progress = epoch as f64 / EPOCHS as f64;
            MetricsRow {
                epoch,
                step: epoch as u64 * 100,
                train_loss: if diverged && epoch == EPOCHS {
                    1e6
                } else {
                    2.3 * (-2.5 * progress).exp()
                },
                train_accuracy: 0.1 + (0.99 - 0.1) * progress,
                eval_split: "test".into(),
                eval_loss: 2.3 - 1.5 * progress,
                eval_accuracy: 0.1 + (1.0 - final_error - 0.1) * progress.sqrt(),
                lr: 1e-3,
                wall_s: epoch as f64,
                images_per_s: 1000.0,
            }
        })
        .collect()
}

/// A bump of `n` entries over the octaves, centred on `center`, with `sigma` octaves.
fn bump(center: f64, sigma: f64, n: f64) -> Vec<f64> {
    let weights: Vec<f64> = (0..41)
        .map(|i| (-((i as f64 - 27.0 - center) / sigma).powi(2) / 2.0).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    weights.iter().map(|w| (w / total * n).round()).collect()
}

/// Gradients spread over more octaves without BN (the paper's claim 3).
fn scales(bn: bool) -> Vec<ScaleRow> {
    let sigma = if bn { 2.5 } else { 4.0 };
    let spread = if bn { 10.0 } else { 16.0 };
    (0..5u32)
        .map(|k| {
            let step = if k == 0 { 1 } else { k as u64 * 100 };
            let drift = k as f64;
            ScaleRow {
                step,
                epoch: k,
                lowest_octave: -27,
                grad_spread: Some(SpreadRow {
                    p01: -20.0,
                    p50: -12.0,
                    p99: -20.0 + spread + drift,
                    spread: spread + drift,
                    layer_median_range: 3.0,
                }),
                update_spread: None,
                grad_octaves: bump(-12.0 + drift, sigma, 200_000.0),
                grad_zeros: 0.0,
                update_octaves: bump(-13.0 + drift * 0.5, 1.5, 190_000.0),
                update_zeros: 10_000.0,
                update_over_lr_octaves: bump(-3.0 + drift * 0.5, 1.5, 190_000.0),
                update_over_lr_zeros: 10_000.0,
                param_octaves: bump(-6.0 + drift * 0.3, 1.5, 200_000.0),
                param_zeros: 0.0,
            }
        })
        .collect()
}

fn jsonl<T: serde::Serialize>(path: &Path, rows: &[T]) {
    let text: String = rows
        .iter()
        .map(|r| serde_json::to_string(r).unwrap() + "\n")
        .collect();
    std::fs::write(path, text).unwrap();
}

fn summary(status: RunStatus, final_accuracy: Option<f64>, error: Option<f64>) -> Summary {
    Summary {
        status,
        final_test_accuracy: final_accuracy,
        best_test_accuracy: final_accuracy.map(|a| a + 0.01),
        final_test_loss: Some(0.5),
        final_train_loss: Some(0.1),
        final_train_accuracy: Some(0.99),
        epochs_done: EPOCHS,
        steps_done: EPOCHS as u64 * 100,
        wall_s: 10.0,
        images_per_s: 1000.0,
        test_error_for_heatmap: error,
        message: None,
        timing: None,
        records: None,
    }
}

/// Writes `runs/synth/plan.json` and the run directories under `runs`.
pub fn write_experiment(runs: &Path) -> Plan {
    let mut planned = Vec::new();
    for (bn, optimizer, lr, wd, fake) in grid() {
        let name = run_name(bn, optimizer, lr, wd);
        let dir = runs.join(EXPERIMENT).join(&name);
        // Written flat, as run directories were before the configuration had sections.
        let flat = json!({"model": "resnet20", "bn": bn, "optimizer": optimizer, "lr": lr,
                          "wd": wd, "epochs": EPOCHS, "out": dir});
        let config = RunConfig::from_value(&flat).unwrap();
        let run_dir = RunDir::new(&dir);
        if !matches!(fake, Fake::Missing) {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(
                dir.join("config.json"),
                serde_json::to_string_pretty(&flat).unwrap(),
            )
            .unwrap();
        }
        match fake {
            Fake::Completed(error) => {
                run_dir.write_metrics(&metrics(error, false)).unwrap();
                jsonl(&dir.join("scales.jsonl"), &scales(bn));
                run_dir
                    .write_summary(&summary(
                        RunStatus::Completed,
                        Some(1.0 - error),
                        Some(error),
                    ))
                    .unwrap();
            }
            Fake::Diverged => {
                // Its last evaluation looked good; a diverged run still counts as 1.1.
                run_dir.write_metrics(&metrics(0.05, true)).unwrap();
                run_dir
                    .write_summary(&summary(RunStatus::Diverged, Some(0.95), Some(1.1)))
                    .unwrap();
            }
            Fake::Interrupted => {
                run_dir.write_metrics(&metrics(0.05, false)[..2]).unwrap();
                run_dir
                    .write_summary(&summary(RunStatus::Interrupted, Some(0.95), Some(0.05)))
                    .unwrap();
            }
            Fake::Started => {
                run_dir.write_metrics(&metrics(0.05, false)[..1]).unwrap();
            }
            Fake::Missing => {}
        }
        planned.push(PlannedRun::new(name, dir, config));
    }
    let plan = Plan {
        experiment: EXPERIMENT.into(),
        description: "Synthetic grid for the report tests.".into(),
        source: "experiments/synth.json".into(),
        experiment_file: None,
        factorial: None,
        runs: planned,
    };
    let plan_dir = runs.join(EXPERIMENT);
    std::fs::create_dir_all(&plan_dir).unwrap();
    std::fs::write(
        plan_dir.join("plan.json"),
        serde_json::to_string_pretty(&plan).unwrap(),
    )
    .unwrap();
    plan
}

pub fn run_name(bn: bool, optimizer: DecayMode, lr: f64, wd: f64) -> String {
    let settings =
        json!({"model": "resnet20", "bn": bn, "optimizer": optimizer, "lr": lr, "wd": wd});
    RunConfig::from_value(&settings).unwrap().derived_name()
}

/// The report's files for the synthetic experiment, with their pixel sizes.
pub fn expected_pngs() -> Vec<(&'static str, (u32, u32))> {
    let heatmap = scalefree::report::heatmap::figure_size(2, 2, 2);
    let curves = scalefree::report::curves::SIZE;
    let hist = scalefree::report::histograms::figure_size(2, 2);
    vec![
        ("heatmap-resnet20-nobn.png", heatmap),
        ("heatmap-resnet20-bn.png", heatmap),
        ("curves-resnet20-nobn.png", curves),
        ("curves-resnet20-bn.png", curves),
        ("hist-resnet20-grad.png", hist),
        ("hist-resnet20-update.png", hist),
        ("hist-resnet20-update-over-lr.png", hist),
        ("hist-resnet20-param.png", hist),
    ]
}
