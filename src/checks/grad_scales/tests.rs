//! `check grad-scales` measured in-process on a tiny problem (ResNet-8, random input).
use super::*;
use crate::checks::testing::tiny_setup;

/// The measurements the check told of, by model and BN.
struct Told(Vec<(String, bool)>);

impl GradScalesProgress for Told {
    fn measured(&mut self, m: &Measurement) {
        self.0.push((m.model.clone(), m.bn));
    }
}

#[test]
fn gradients_are_binned_per_model_with_and_without_bn_and_the_figure_drawn() {
    let dir = tempfile::tempdir().unwrap();
    let settings = GradScalesSettings {
        setup: tiny_setup(16, DEFAULT_WD, 1e-8),
        models: vec!["resnet8".into(), "resnet8".into()],
        steps: 1,
        batches: 2,
    };
    let check = GradScales::open(&settings).unwrap();
    assert_eq!(check.models, ["resnet8"]);
    let mut told = Told(Vec::new());
    let png = dir.path().join("gs.png");
    let report = check.run(png.clone(), &mut told).unwrap();
    assert_eq!(
        told.0,
        [("resnet8".into(), false), ("resnet8".into(), true)]
    );
    for m in &report.measurements {
        let s = m.spread.as_ref().unwrap();
        assert!(s.p01 < s.p50 && s.p50 < s.p99, "{s:?}");
        assert!(s.spread.is_finite() && s.spread > 0.0);
        let total: f64 = m.proportions.iter().sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
        assert!(m.counted > 0 && m.layers > 0 && m.loss.unwrap().is_finite());
        assert!(m.clamped_fraction < 1e-3, "{}", m.clamped_fraction);
    }
    let [without, with] = [false, true].map(|bn| {
        let m = find(&report.measurements, "resnet8", bn).unwrap();
        m.spread.as_ref().unwrap().spread
    });
    assert!(
        without > with,
        "spread without BN {without} vs with BN {with}"
    );
    assert!(report.verdict.supported, "{}", report.verdict.line);
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
    assert_eq!(report.png, png);
}

#[test]
fn no_model_is_refused() {
    let settings = GradScalesSettings {
        setup: tiny_setup(8, DEFAULT_WD, 1e-8),
        models: Vec::new(),
        steps: 0,
        batches: 1,
    };
    let err = GradScales::open(&settings).err().unwrap();
    assert!(err.to_string().contains("--models"), "{err}");
}
