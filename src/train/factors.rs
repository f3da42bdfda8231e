//! The gradient-scale intervention: a fixed factor `c_l` per layer, multiplied into the
//! layer's gradient before the optimizer step, so that the spread of gradient scales
//! between layers becomes a setting instead of an accident of the architecture.
//!
//! What it isolates: with ε = 0 AdamW and AdamProx see `u_t` of `c_l·g`, which is `u_t`
//! of `g`, so no factor can change their trajectory; Adam-ℓ2 feeds `c_l·g + λx` to its
//! moments, which is `c_l·(g + (λ/c_l)·x)`, so the factors act exactly as a per-layer
//! weight decay `λ/c_l`. Mismatched scales can therefore hurt Adam-ℓ2, through its
//! effective decay, and cannot touch AdamW.
//!
//! A layer is a conv or linear layer, its weight and bias together (the layers whose
//! scales the probe logs). Batch-norm parameters keep factor 1: the paper's histograms
//! leave them out, and with BN a factor on its scale would change what the BN-vs-no-BN
//! comparison compares, not only the gradient scales.
use anyhow::{bail, Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Which factors a run uses; in files and on the command line a string.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum FactorSpec {
    /// No intervention (every factor 1).
    #[default]
    None,
    /// `spread:D`: `c_l = 10^(D·u_l)`, `u_l ~ U(−1, 1)` drawn from the factor seed.
    Spread { decades: f64 },
    /// `equalize`: `c_l = 1/rms(g_l)` on the first batch, then fixed; removes most of the
    /// natural spread between the layers of a network without BN.
    Equalize,
    /// A JSON file `{"layer name": factor, …}`; layers it does not name keep 1.
    File(PathBuf),
}

impl FactorSpec {
    pub fn is_none(&self) -> bool {
        *self == FactorSpec::None
    }

    /// For run names: `spread3`, `equalize`, `file-myfactors`.
    pub fn slug(&self) -> String {
        match self {
            FactorSpec::None => "none".into(),
            FactorSpec::Spread { decades } => format!("spread{decades}"),
            FactorSpec::Equalize => "equalize".into(),
            FactorSpec::File(path) => format!(
                "file-{}",
                path.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default()
            ),
        }
    }
}

impl fmt::Display for FactorSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FactorSpec::None => f.write_str("none"),
            FactorSpec::Spread { decades } => write!(f, "spread:{decades}"),
            FactorSpec::Equalize => f.write_str("equalize"),
            FactorSpec::File(path) => write!(f, "{}", path.display()),
        }
    }
}

impl FromStr for FactorSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let expected = format!(
            "none, spread:D (D from 0 to {MAX_SPREAD_DECADES} decades), equalize, or a .json \
             file of factors by layer name"
        );
        match s {
            "none" => Ok(FactorSpec::None),
            "equalize" => Ok(FactorSpec::Equalize),
            _ => {
                if let Some(d) = s.strip_prefix("spread:") {
                    return match d.parse::<f64>() {
                        Ok(decades) if (0.0..=MAX_SPREAD_DECADES).contains(&decades) => {
                            Ok(FactorSpec::Spread { decades })
                        }
                        _ => Err(format!(
                            "`{s}`: the spread must be a number of decades from 0 to \
                             {MAX_SPREAD_DECADES}, so that every factor 10^(±D) stays in \
                             float32's normal range ({}); valid: {expected}",
                            factor_range_text()
                        )),
                    };
                }
                if s.ends_with(".json") {
                    return Ok(FactorSpec::File(PathBuf::from(s)));
                }
                Err(format!("unknown gradient factors `{s}`; valid: {expected}"))
            }
        }
    }
}

impl Serialize for FactorSpec {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for FactorSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Resolved factors, one per layer, in the layers' order.
pub type LayerFactors = Vec<(String, f64)>;

/// The factors a layer may have: float32's normal numbers. The gradients are float32, so
/// a smaller factor flushes them towards zero (the layer stops learning) and a larger one
/// cannot even be stored.
pub const FACTOR_RANGE: std::ops::RangeInclusive<f64> =
    (f32::MIN_POSITIVE as f64)..=(f32::MAX as f64);

/// The largest `spread:D`: its factors reach 10^(±D), and 10^(−37.9) is still normal.
pub const MAX_SPREAD_DECADES: f64 = 37.9;

fn factor_range_text() -> String {
    format!("{:.2e} to {:.2e}", FACTOR_RANGE.start(), FACTOR_RANGE.end())
}

/// `spread:D` for `layers`: reproducible from `seed` alone (not the initialisation's).
pub fn spread(layers: &[String], decades: f64, seed: u64) -> LayerFactors {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xFAC7_0125_0000_0000);
    layers
        .iter()
        .map(|name| {
            let u = 2.0 * rng.random::<f64>() - 1.0;
            (name.clone(), 10f64.powf(decades * u))
        })
        .collect()
}

/// A factors file: every name must be one of `layers`, every factor finite and > 0.
pub fn read_file(path: &std::path::Path, layers: &[String]) -> Result<LayerFactors> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read gradient factors {}", path.display()))?;
    let given: BTreeMap<String, f64> = serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: gradient factors are a JSON object {{\"layer name\": factor}}",
            path.display()
        )
    })?;
    for (name, factor) in &given {
        if !layers.contains(name) {
            bail!(
                "{}: no layer `{name}` in this model; layers: {}",
                path.display(),
                layers.join(", ")
            );
        }
        if !FACTOR_RANGE.contains(factor) {
            bail!(
                "{}: factor of `{name}` = {factor:e}: must be in float32's normal range, {}",
                path.display(),
                factor_range_text()
            );
        }
    }
    Ok(layers
        .iter()
        .map(|name| (name.clone(), given.get(name).copied().unwrap_or(1.0)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_round_trip_and_bad_ones_name_what_is_valid() {
        for text in [
            "none",
            "spread:3",
            "spread:0.5",
            "equalize",
            "my/factors.json",
        ] {
            assert_eq!(text.parse::<FactorSpec>().unwrap().to_string(), text);
        }
        assert!("spread:-1"
            .parse::<FactorSpec>()
            .unwrap_err()
            .contains("from 0 to 37.9"));
        assert!("wide"
            .parse::<FactorSpec>()
            .unwrap_err()
            .contains("equalize"));
    }

    #[test]
    fn spread_factors_repeat_by_seed_and_span_the_decades() {
        let layers: Vec<String> = (0..400).map(|i| format!("l{i}")).collect();
        let a = spread(&layers, 3.0, 7);
        assert_eq!(a, spread(&layers, 3.0, 7));
        assert_ne!(a, spread(&layers, 3.0, 8));
        let logs: Vec<f64> = a.iter().map(|(_, c)| c.log10()).collect();
        assert!(logs.iter().all(|l| (-3.0..=3.0).contains(l)));
        assert!(logs.iter().cloned().fold(f64::MAX, f64::min) < -2.8);
        assert!(logs.iter().cloned().fold(f64::MIN, f64::max) > 2.8);
        assert!(spread(&layers, 0.0, 7).iter().all(|(_, c)| *c == 1.0));
    }
}
