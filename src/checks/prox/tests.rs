//! `check prox` measured in-process on a tiny problem (ResNet-8, random input).
use super::*;
use crate::checks::testing::tiny_setup;

/// The steps and rows the check tells of.
#[derive(Default)]
struct Told {
    steps: Vec<u64>,
    rows: Vec<u64>,
}

impl ProxProgress for Told {
    fn step_difference(&mut self, t: u64, measured: f64, predicted: f64) {
        assert!(measured > 0.0 && predicted > 0.0, "step {t}");
        self.steps.push(t);
    }

    fn row(&mut self, row: &Row) {
        self.rows.push(row.step);
    }
}

fn measured(wd: f64, steps: u64) -> (Report, Told) {
    let settings = ProxSettings {
        setup: tiny_setup(8, wd, 1e-8),
        steps,
        every: Some(3),
    };
    let lanes = ProxLanes::open(&settings).unwrap();
    assert_eq!(lanes.numel(), 74_810);
    let mut told = Told::default();
    (lanes.run(&mut told).unwrap(), told)
}

#[test]
fn adamw_and_adamprox_stay_close_and_differ_per_step_by_the_first_order_term() {
    let (report, told) = measured(5e-5, 6);
    assert_eq!(told.steps, [1, 2, 3, 4, 5, 6]);
    assert_eq!(told.rows, [3, 6]);
    assert_eq!(report.steps_done, 6);
    let d = report.final_relative_distance;
    assert!(d > 0.0 && d < 1e-3, "relative distance {d:e}");
    assert!(report.final_control_distance > 0.0);
    for ratio in [report.step_ratio_min, report.step_ratio_max] {
        let ratio = ratio.unwrap();
        assert!(
            (ratio - 1.0).abs() < 1e-2,
            "per-step difference / a·η‖u‖ = {ratio}"
        );
    }
    assert!(report.verdict.supported, "{}", report.verdict.line);
    assert_eq!(report.settings.common.input, "random");
    assert_eq!(report.settings.common.wd, 5e-5);
}

#[test]
fn a_decay_too_large_for_the_first_order_argument_is_not_supported() {
    // With λ = 0.5 per step, a²·x outweighs a·η·u.
    let (report, _) = measured(0.5, 3);
    let ratio = report.step_ratio_max.unwrap();
    assert!(
        ratio > PREDICTION_FACTOR,
        "per-step difference / prediction = {ratio}"
    );
    assert!(!report.verdict.supported, "{}", report.verdict.line);
}

#[test]
fn the_report_records_the_precision_it_ran_at() {
    let (report, _) = measured(5e-5, 1);
    assert_eq!(
        serde_json::to_value(&report.settings).unwrap()["precision"],
        "fp32"
    );
    let mut setup = tiny_setup(8, 5e-5, 1e-8);
    setup.run.training.precision = crate::config::Precision::Bf16;
    let settings = ProxSettings {
        setup,
        steps: 1,
        every: Some(1),
    };
    let report = ProxLanes::open(&settings)
        .unwrap()
        .run(&mut Told::default())
        .unwrap();
    assert_eq!(
        serde_json::to_value(&report.settings).unwrap()["precision"],
        "bf16"
    );
}
