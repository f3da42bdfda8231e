//! The gradient-factor setting (`grad_factors`): which fixed per-layer factors a run
//! multiplies into its gradients ([`crate::train::factors`] resolves and applies them).
use serde::{Deserialize, Serialize};
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

/// The factors a layer may have: float32's normal numbers. The gradients are float32, so
/// a smaller factor flushes them towards zero (the layer stops learning) and a larger one
/// cannot even be stored.
pub const FACTOR_RANGE: std::ops::RangeInclusive<f64> =
    (f32::MIN_POSITIVE as f64)..=(f32::MAX as f64);

/// The largest `spread:D`: its factors reach 10^(±D), and 10^(−37.9) is still normal.
pub const MAX_SPREAD_DECADES: f64 = 37.9;

/// [`FACTOR_RANGE`] as the error messages give it.
pub fn factor_range_text() -> String {
    format!("{:.2e} to {:.2e}", FACTOR_RANGE.start(), FACTOR_RANGE.end())
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
}
