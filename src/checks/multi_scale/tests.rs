//! `check multi-scale` measured in-process on a tiny problem (ResNet-8, random input).
use super::*;
use crate::checks::testing::tiny_setup;

/// What the check told of: the lanes at the start, and each lane's result per seed.
#[derive(Default)]
struct Told {
    lanes: usize,
    results: Vec<(Method, u64)>,
}

impl MultiScaleProgress for Told {
    fn starting(&mut self, input: &Input, lanes: &[Lane], factors: &[FactorSpec]) {
        assert_eq!((input.description.as_str(), factors.len()), ("random", 2));
        self.lanes = lanes.len();
    }

    fn seed_done(&mut self, lane: &Lane, result: &SeedResult) {
        self.results.push((lane.optimizer, result.seed));
    }
}

fn settings(factors: Vec<FactorSpec>) -> MultiScaleSettings {
    MultiScaleSettings {
        setup: tiny_setup(8, 0.0, 1e-12),
        factors,
        seeds: 2,
        epochs: 1,
        l2: (1e-3, 5e-4),
        adamw: (1e-3, 5e-5),
        metric: Metric::Loss,
    }
}

#[test]
fn factors_of_no_spread_leave_every_lane_as_it_was_and_are_not_supported() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("ms.png");
    let mut told = Told::default();
    let spread0 = FactorSpec::Spread { decades: 0.0 };
    let report = run(&settings(vec![spread0]), png.clone(), &mut told).unwrap();
    assert_eq!(told.lanes, 4);
    assert_eq!(told.results.len(), 8);
    assert_eq!(told.results[7], (Method::ADAMW, 1));
    for lane in &report.lanes {
        assert_eq!(lane.seeds.len(), 2);
        assert!(lane.train_loss.unwrap().mean.is_finite());
        // Random input has no test set.
        assert!(lane.test_accuracy.is_none());
    }
    for change in &report.changes {
        let e = change.train_loss.unwrap();
        assert_eq!((e.mean, e.sd), (0.0, 0.0), "{change:?}");
    }
    assert_eq!(report.outcome, Finding::NotSupported);
    assert!(!report.verdict.supported);
    assert!(report
        .budget
        .starts_with("2 seeds × 1 epochs of random (batch 8), resnet8 on cpu"));
    assert!(png.is_file());
}

#[test]
fn no_intervention_besides_none_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = run(
        &settings(vec![FactorSpec::None]),
        dir.path().join("x.png"),
        &mut (),
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("--factors"), "{err}");
}
