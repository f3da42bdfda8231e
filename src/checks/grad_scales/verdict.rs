//! Claim 3's verdict rule, a pure function of the measurements.
use super::{find, Measurement};
use crate::checks::verdict::Verdict;

pub const CLAIM: &str = "claim 3 (gradients without BN span more octaves than with BN)";

/// SUPPORTED when every model's spread `p99 − p01` is wider without BN than with BN;
/// NOT SUPPORTED when one's is not, or when a model has no spread (all-zero gradients,
/// or no measurement).
pub fn verdict(models: &[String], measurements: &[Measurement]) -> Verdict {
    let mut supported = true;
    let mut parts = Vec::new();
    for model in models {
        let spread_of = |bn| {
            find(measurements, model, bn)
                .and_then(|m| m.spread.as_ref())
                .map(|s| s.spread)
        };
        match (spread_of(false), spread_of(true)) {
            (Some(without), Some(with)) => {
                supported &= without > with;
                parts.push(format!("{model} {without:.1} vs {with:.1}"));
            }
            _ => {
                supported = false;
                parts.push(format!("{model}: all-zero gradients"));
            }
        }
    }
    Verdict::new(
        CLAIM,
        supported,
        &format!(
            "spread p99 − p01 of log2|g| in octaves, without vs with BN: {}",
            parts.join(", ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scales::{Log2Histogram, ScaleSpread};

    /// A measurement whose spread is `spread` octaves (none: all-zero gradients).
    fn measured(model: &str, bn: bool, spread: Option<f64>) -> Measurement {
        Measurement {
            model: model.into(),
            bn,
            counted: 100,
            layers: 3,
            spread: spread.map(|spread| ScaleSpread {
                p01: -spread / 2.0,
                p50: 0.0,
                p99: spread / 2.0,
                spread,
                layer_median_min: -1.0,
                layer_median_max: 1.0,
                layer_median_range: 2.0,
                zero_fraction: 0.0,
            }),
            shift: 0,
            clamped_fraction: 0.0,
            low_octave: -27,
            proportions: vec![1.0],
            loss: Some(2.3),
            wall_s: 0.1,
            paper_histogram: Log2Histogram::empty(),
        }
    }

    fn models(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn wider_without_bn_for_every_model_is_supported() {
        let m = [
            measured("resnet20", false, Some(16.8)),
            measured("resnet20", true, Some(9.5)),
            measured("resnet56", false, Some(18.8)),
            measured("resnet56", true, Some(9.7)),
        ];
        let v = verdict(&models(&["resnet20", "resnet56"]), &m);
        assert!(v.supported, "{}", v.line);
        assert!(
            v.line
                .ends_with("without vs with BN: resnet20 16.8 vs 9.5, resnet56 18.8 vs 9.7"),
            "{}",
            v.line
        );
    }

    #[test]
    fn one_model_as_wide_with_bn_is_not_supported() {
        let m = [
            measured("resnet20", false, Some(16.8)),
            measured("resnet20", true, Some(9.5)),
            measured("resnet8", false, Some(9.0)),
            measured("resnet8", true, Some(9.0)),
        ];
        let v = verdict(&models(&["resnet20", "resnet8"]), &m);
        assert!(
            !v.supported && v.line.contains(": NOT SUPPORTED — "),
            "{}",
            v.line
        );
    }

    #[test]
    fn all_zero_gradients_or_a_missing_measurement_are_not_supported() {
        let m = [
            measured("resnet20", false, None),
            measured("resnet20", true, Some(9.5)),
        ];
        let v = verdict(&models(&["resnet20"]), &m);
        assert!(!v.supported && v.line.ends_with("resnet20: all-zero gradients"));
        assert!(!verdict(&models(&["resnet56"]), &m).supported);
    }
}
