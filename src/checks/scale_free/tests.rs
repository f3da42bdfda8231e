//! `check scale-free` measured in-process on a tiny problem (ResNet-8, random input).
use super::*;
use crate::checks::testing::tiny_setup;

/// The steps at which the check told of its measurements.
struct Told(Vec<u64>);

impl ScaleFreeProgress for Told {
    fn measured(&mut self, t: u64, runs: &[Run]) {
        assert!(runs
            .iter()
            .all(|r| r.reference || r.deviations.last().unwrap().step == t));
        self.0.push(t);
    }
}

#[test]
fn with_eps_zero_adamw_and_adamprox_deviate_by_rounding_and_adam_l2_far_more() {
    let settings = ScaleFreeSettings {
        setup: tiny_setup(8, DEFAULT_WD, 1e-8),
        steps: 4,
        every: Some(2),
        eps: vec![0.0],
        mults: vec![10.0],
        float64: Float64::Auto,
        coord_decades: 3.0,
    };
    let lanes = ScaleFreeLanes::open(&settings).unwrap();
    // 3 optimizers × (loss × 1, × 10, coordinate factors).
    assert_eq!(lanes.runs(), 9);
    let mut told = Told(Vec::new());
    let report = lanes.run(&mut told).unwrap();
    assert_eq!(told.0, [2, 4]);
    for run in &report.runs {
        assert_eq!((run.precision, run.eps_used), ("f64", 1e-300));
        assert!(run.train_loss.unwrap().is_finite());
    }
    let summary = &report.summary[0];
    assert!(summary.scale_free_max < 1e-6, "{summary:?}");
    assert!(summary.adam_l2_min > 1e-6, "{summary:?}");
    assert!(summary.ratio > RATIO_EXACT, "{summary:?}");
    assert!(report.verdict.supported, "{}", report.verdict.line);
    assert_eq!(report.settings.precision, "auto");
}

#[test]
fn a_zero_decay_and_precisions_it_cannot_judge_are_refused_before_any_work() {
    let settings = |wd, precision, float64| {
        let mut setup = tiny_setup(8, wd, 1e-8);
        setup.run.training.precision = precision;
        ScaleFreeSettings {
            setup,
            steps: 1,
            every: None,
            eps: vec![0.0],
            mults: vec![10.0],
            float64,
            coord_decades: 0.0,
        }
    };
    use crate::config::Precision;
    let refused = |s: ScaleFreeSettings| ScaleFreeLanes::open(&s).err().unwrap().to_string();
    assert!(refused(settings(0.0, Precision::Fp32, Float64::Auto)).contains("--wd must be > 0"));
    assert!(refused(settings(DEFAULT_WD, Precision::F16, Float64::Auto)).contains("f16"));
    let both = refused(settings(DEFAULT_WD, Precision::Bf16, Float64::Always));
    assert!(both.contains("--float64 always"), "{both}");
}
