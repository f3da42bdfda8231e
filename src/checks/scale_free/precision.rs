//! The dtypes of scale-free's runs: the run configuration's precision (the dtype of
//! convolutions and matrix products) and, for the runs' weights, gradients and optimizer
//! state, float32 or float64 ([`Float64`]), which the run configuration cannot express
//! (a training run is float32), and the verdict's thresholds at each.
use crate::config::Precision;
use anyhow::{bail, Result};
use std::str::FromStr;
use tch::Kind;

/// With ε = 0, AdamW/AdamProx deviations above this are more than float rounding.
pub const ROUNDING_TOLERANCE: f64 = 1e-4;
/// The same with bfloat16 convolutions (`--precision bf16`), whose backward rounds `c·g`
/// and `g` to 8 significant bits apart, so that a rescaled run drifts from its reference
/// by rounding alone. Measured (ResNet-20 without BN, batch 32, 2,000 CIFAR-10 images,
/// the defaults otherwise): AdamW/AdamProx deviate at most 4.5e-3 after 20 steps at
/// ε = 0 and 1e-8, Adam-ℓ2 at least 1.0e-2 (loss × 10; 5.1e-2 with coordinate factors).
pub const BF16_ROUNDING_TOLERANCE: f64 = 1e-2;
/// How many times more Adam-ℓ2 must deviate at bf16, at any ε: that rounding floor leaves
/// a factor of 2.25 in the measurement above, against 100 and more in float64.
pub const BF16_RATIO: f64 = 2.0;
/// bf16's rounding drift varies with the model: with BN, AdamW drifted 1.7e-2 (ResNet-8,
/// 2026-12-06), above [`BF16_ROUNDING_TOLERANCE`] by rounding alone. Up to 4× that
/// tolerance a failed comparison is INCONCLUSIVE (rerun in float32 or float64), not a
/// finding against the claim.
pub const BF16_NOISE: f64 = 4.0 * BF16_ROUNDING_TOLERANCE;
/// How many times more Adam-ℓ2 must deviate than AdamW/AdamProx: with ε = 0, and with ε > 0.
pub const RATIO_EXACT: f64 = 100.0;
pub const RATIO_EPS: f64 = 10.0;

/// When the runs' weights, gradients and optimizer state are float64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Float64 {
    /// For ε = 0 (whose invariance is exact only up to rounding, and which float32's
    /// range cannot hold), float32 otherwise.
    Auto,
    Always,
    Never,
}

impl Float64 {
    pub const NAMES: [&'static str; 3] = ["auto", "always", "never"];
}

impl FromStr for Float64 {
    type Err = String;

    fn from_str(s: &str) -> Result<Float64, String> {
        match s {
            "auto" => Ok(Float64::Auto),
            "always" => Ok(Float64::Always),
            "never" => Ok(Float64::Never),
            other => Err(format!("`{other}`: must be auto, always or never")),
        }
    }
}

/// See [`Dtypes::thresholds`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    pub rounding: f64,
    pub ratio_exact: f64,
    pub ratio_eps: f64,
    /// Scale-free deviations up to this, beyond `rounding`, are within the precision's
    /// noise: without Adam-ℓ2's separation the check cannot tell (bf16; equal to
    /// `rounding` where rounding is far below any effect).
    pub noise: f64,
}

/// The dtypes of the runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dtypes {
    pub precision: Precision,
    pub float64: Float64,
}

impl Dtypes {
    /// Refuses what the check cannot judge: f16 (its thresholds are measured at fp32 and
    /// bf16 only) and float64 weights with bf16 (bf16 computes on float32 weights).
    pub fn validate(self) -> Result<()> {
        match (self.precision, self.float64) {
            (Precision::F16, _) => bail!(
                "--precision f16: check scale-free judges fp32 and bf16 only (its rounding \
                 thresholds are measured there); use --precision bf16 or fp32"
            ),
            (Precision::Bf16, Float64::Always) => bail!(
                "--float64 always with --precision bf16: bf16 computes on float32 weights; \
                 give one or the other"
            ),
            _ => Ok(()),
        }
    }

    /// The weights' and optimizer's dtype of the runs at `eps`.
    pub fn kind_for(self, eps: f64) -> Kind {
        match (self.precision, self.float64) {
            (Precision::Fp32, Float64::Always) => Kind::Double,
            (Precision::Fp32, Float64::Auto) if eps == 0.0 => Kind::Double,
            _ => Kind::Float,
        }
    }

    /// The verdict's thresholds: the largest AdamW/AdamProx deviation at ε = 0 that is
    /// still rounding, and how many times more Adam-ℓ2 must deviate at ε = 0 and at ε > 0.
    pub fn thresholds(self) -> Thresholds {
        match self.precision {
            Precision::Bf16 => Thresholds {
                rounding: BF16_ROUNDING_TOLERANCE,
                ratio_exact: BF16_RATIO,
                ratio_eps: BF16_RATIO,
                noise: BF16_NOISE,
            },
            _ => Thresholds {
                rounding: ROUNDING_TOLERANCE,
                ratio_exact: RATIO_EXACT,
                ratio_eps: RATIO_EPS,
                noise: ROUNDING_TOLERANCE,
            },
        }
    }

    /// How a run at `eps` is labelled: f64, f32 or bf16.
    pub fn name_for(self, eps: f64) -> &'static str {
        match (self.precision, self.kind_for(eps)) {
            (Precision::Bf16, _) => "bf16",
            (Precision::F16, _) => "f16",
            (_, Kind::Double) => "f64",
            _ => "f32",
        }
    }

    /// How the report's settings name the dtypes: `auto`, `f32`, `f64` or `bf16` (the
    /// values of the check's former `--precision`, so that reports compare).
    pub fn label(self) -> &'static str {
        match (self.precision, self.float64) {
            (Precision::Bf16, _) => "bf16",
            (Precision::F16, _) => "f16",
            (Precision::Fp32, Float64::Auto) => "auto",
            (Precision::Fp32, Float64::Always) => "f64",
            (Precision::Fp32, Float64::Never) => "f32",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dtypes(precision: Precision, float64: Float64) -> Dtypes {
        Dtypes { precision, float64 }
    }

    #[test]
    fn float64_is_for_eps_zero_by_default_and_as_asked_otherwise() {
        let auto = dtypes(Precision::Fp32, Float64::Auto);
        assert_eq!(
            (auto.kind_for(0.0), auto.kind_for(1e-8)),
            (Kind::Double, Kind::Float)
        );
        assert_eq!((auto.name_for(0.0), auto.name_for(1e-8)), ("f64", "f32"));
        let always = dtypes(Precision::Fp32, Float64::Always);
        assert_eq!(always.kind_for(1e-8), Kind::Double);
        let never = dtypes(Precision::Fp32, Float64::Never);
        assert_eq!(never.kind_for(0.0), Kind::Float);
        let bf16 = dtypes(Precision::Bf16, Float64::Auto);
        assert_eq!(
            (bf16.kind_for(0.0), bf16.name_for(0.0)),
            (Kind::Float, "bf16")
        );
    }

    #[test]
    fn the_reports_label_is_the_former_precision_value() {
        let label = |p, f| dtypes(p, f).label();
        assert_eq!(label(Precision::Fp32, Float64::Auto), "auto");
        assert_eq!(label(Precision::Fp32, Float64::Never), "f32");
        assert_eq!(label(Precision::Fp32, Float64::Always), "f64");
        assert_eq!(label(Precision::Bf16, Float64::Never), "bf16");
    }

    #[test]
    fn bf16_is_judged_with_its_own_thresholds_and_f16_is_refused() {
        let bf16 = dtypes(Precision::Bf16, Float64::Auto);
        assert_eq!(bf16.thresholds().rounding, BF16_ROUNDING_TOLERANCE);
        let fp32 = dtypes(Precision::Fp32, Float64::Auto);
        assert_eq!(fp32.thresholds().ratio_exact, RATIO_EXACT);
        assert!(bf16.validate().is_ok() && fp32.validate().is_ok());
        let err = dtypes(Precision::F16, Float64::Auto)
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("--precision f16"), "{err}");
        let err = dtypes(Precision::Bf16, Float64::Always)
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("--float64 always"), "{err}");
        assert_eq!("never".parse::<Float64>(), Ok(Float64::Never));
        assert!("f64".parse::<Float64>().is_err());
    }
}
