//! The gradient-scale intervention: a fixed factor `c_l` per layer, multiplied into the
//! layer's gradient before the optimizer step, so that the spread of gradient scales
//! between layers becomes a setting instead of an accident of the architecture. The setting
//! itself, which factors a run uses, is [`crate::config::FactorSpec`].
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
use crate::config::factors::{factor_range_text, FACTOR_RANGE};
use anyhow::{bail, Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// Resolved factors, one per layer, in the layers' order.
pub type LayerFactors = Vec<(String, f64)>;

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
    let text = crate::user_file::read_text(path)
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
