//! Statistics over seeds: means with 95 % confidence intervals (Student's t), paired
//! differences, and claim 4's verdict ([`Claim4`]: the rule and how it is told), shared by
//! `scalefree check multi-scale` and the report so that both judge and say it the same way;
//! the factorial test's effects and rule ([`factorial`]).
pub mod factorial;

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// A mean over `n` seeds with its 95 % confidence interval (none for a single seed).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Estimate {
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation (n − 1); 0 for one seed.
    pub sd: f64,
    /// The interval is `mean ± half_width`; `None` with fewer than 2 values.
    pub half_width: Option<f64>,
}

impl Estimate {
    pub fn of(values: &[f64]) -> Option<Estimate> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        if n == 1 {
            return Some(Estimate {
                n,
                mean,
                sd: 0.0,
                half_width: None,
            });
        }
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let sd = var.sqrt();
        let t = StudentsT::new(0.0, 1.0, (n - 1) as f64)
            .expect("n − 1 ≥ 1 degrees of freedom")
            .inverse_cdf(0.975);
        Some(Estimate {
            n,
            mean,
            sd,
            half_width: Some(t * sd / (n as f64).sqrt()),
        })
    }

    /// The estimate of `(seed, value)` pairs.
    pub fn of_seeds(values: &[(u64, f64)]) -> Option<Estimate> {
        Estimate::of(&values.iter().map(|v| v.1).collect::<Vec<_>>())
    }

    /// The interval's ends; the mean for both when there is no interval.
    pub fn bounds(&self) -> (f64, f64) {
        (
            self.low().unwrap_or(self.mean),
            self.high().unwrap_or(self.mean),
        )
    }

    pub fn low(&self) -> Option<f64> {
        self.half_width.map(|h| self.mean - h)
    }

    pub fn high(&self) -> Option<f64> {
        self.half_width.map(|h| self.mean + h)
    }

    /// The estimate of `factor` times the values (a fraction in points: 100).
    pub fn scaled(&self, factor: f64) -> Estimate {
        Estimate {
            mean: self.mean * factor,
            sd: self.sd * factor.abs(),
            half_width: self.half_width.map(|h| h * factor.abs()),
            ..*self
        }
    }

    /// The estimate with its sign turned: a drop in accuracy as a harm.
    pub fn negated(&self) -> Estimate {
        Estimate {
            mean: -self.mean,
            ..*self
        }
    }

    /// `+0.0123 [+0.0100, +0.0146] (n = 4)`, or `+0.0123 (1 seed)`.
    pub fn signed_text(&self, digits: usize) -> String {
        match (self.low(), self.high()) {
            (Some(lo), Some(hi)) => format!(
                "{:+.digits$} [{lo:+.digits$}, {hi:+.digits$}] (n = {})",
                self.mean, self.n
            ),
            _ => format!("{:+.digits$} (1 seed)", self.mean),
        }
    }

    /// `0.123 ± 0.045 (n = 4)`, or `0.123 (1 seed)`.
    pub fn text(&self, digits: usize) -> String {
        match self.half_width {
            Some(h) => format!("{:.digits$} ± {h:.digits$} (n = {})", self.mean, self.n),
            None => format!("{:.digits$} (1 seed)", self.mean),
        }
    }
}

/// `a[i] − b[i]` for the seeds both have.
pub fn paired(a: &[(u64, f64)], b: &[(u64, f64)]) -> Vec<f64> {
    a.iter()
        .filter_map(|(seed, x)| b.iter().find(|(s, _)| s == seed).map(|(_, y)| x - y))
        .collect()
}

/// What the evidence says of a claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Finding {
    Supported,
    NotSupported,
    Inconclusive,
}

impl Finding {
    pub fn word(self) -> &'static str {
        match self {
            Finding::Supported => "SUPPORTED",
            Finding::NotSupported => "NOT SUPPORTED",
            Finding::Inconclusive => "INCONCLUSIVE",
        }
    }
}

/// [`claim4`]'s rule in words, as the summary run shows it beside the verdicts.
pub const CLAIM4_RULE: &str = "Claim 4's rule, fixed before any measurement, on the paired \
changes (intervention − none, per seed) of each optimizer at its best setting without \
factors, in the final training loss (larger is worse):\n\n\
- **SUPPORTED**: Adam-ℓ2's 95 % CI lies above 0, and AdamW's mean change is smaller than both \
its seed-to-seed standard deviation without the intervention and the low end of Adam-ℓ2's CI;\n\
- **NOT SUPPORTED**: Adam-ℓ2's CI lies at or below 0 (no harm, within the CI), or AdamW's CI \
lies above 0 with a mean change at least Adam-ℓ2's;\n\
- **INCONCLUSIVE**: anything else (a CI too wide to tell, or fewer than 2 seeds).";

/// Claim 4's rule, fixed before any measurement. `harm_l2` and `harm_w` are the paired
/// changes (intervention − none, per seed) of Adam-ℓ2 and AdamW in a measure where
/// larger is worse (training loss, or minus the accuracy); `noise_w` is AdamW's
/// seed-to-seed standard deviation without the intervention.
///
/// - SUPPORTED: Adam-ℓ2's 95 % CI lies above 0, and AdamW's mean change is smaller than
///   both its seed noise and the low end of Adam-ℓ2's CI;
/// - NOT SUPPORTED: Adam-ℓ2's CI lies at or below 0 (no harm, within the CI), or AdamW's
///   CI lies above 0 with a mean change at least Adam-ℓ2's;
/// - INCONCLUSIVE: anything else (a CI too wide to tell, or fewer than 2 seeds).
pub fn claim4(harm_l2: &Estimate, harm_w: &Estimate, noise_w: f64) -> Finding {
    let (Some(l2_low), Some(l2_high), Some(w_low)) = (harm_l2.low(), harm_l2.high(), harm_w.low())
    else {
        return Finding::Inconclusive;
    };
    let w_change = harm_w.mean.abs();
    if l2_low > 0.0 && w_change < noise_w && w_change < l2_low {
        Finding::Supported
    } else if l2_high <= 0.0 || (w_low > 0.0 && harm_w.mean >= harm_l2.mean) {
        Finding::NotSupported
    } else {
        Finding::Inconclusive
    }
}

/// Claim 4 judged for one intervention, and how the verdict is told.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Claim4 {
    pub outcome: Finding,
    /// The paired changes (intervention − none, per seed) of Adam-ℓ2 and AdamW in a
    /// measure where larger is worse.
    pub adam_l2: Option<Estimate>,
    pub adamw: Option<Estimate>,
    /// AdamW's seed-to-seed standard deviation of the measure without the intervention.
    pub noise_w: f64,
}

impl Claim4 {
    /// Judges the changes by [`claim4`]; `adamw_without` is AdamW's estimate of the measure
    /// without factors, whose spread is the noise. A missing change is inconclusive.
    pub fn judge(
        adam_l2: Option<Estimate>,
        adamw: Option<Estimate>,
        adamw_without: Option<Estimate>,
    ) -> Claim4 {
        let noise_w = adamw_without.map_or(0.0, |e| e.sd);
        let outcome = match (&adam_l2, &adamw) {
            (Some(l2), Some(w)) => claim4(l2, w, noise_w),
            _ => Finding::Inconclusive,
        };
        Claim4 {
            outcome,
            adam_l2,
            adamw,
            noise_w,
        }
    }

    /// `spread:3 vs none, paired change in final training loss: Adam-ℓ2 +0.0123 [+0.0100,
    /// +0.0146] (n = 4), AdamW +0.0004 [… ] (n = 4) (AdamW's seed-to-seed sd 0.0355)`.
    pub fn detail(&self, factors: &str, measure: &str) -> String {
        let text = |e: &Option<Estimate>| e.map_or("—".into(), |e| e.signed_text(4));
        format!(
            "{factors} vs none, paired change in {measure}: Adam-ℓ2 {}, AdamW {} \
             (AdamW's seed-to-seed sd {:.4})",
            text(&self.adam_l2),
            text(&self.adamw),
            self.noise_w
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_is_the_textbook_one() {
        // 1, 2, 3, 4, 5: mean 3, s = √2.5, t(0.975, 4) = 2.776 → half width 1.963.
        let e = Estimate::of(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert_eq!(e.mean, 3.0);
        assert!((e.sd - 2.5f64.sqrt()).abs() < 1e-12);
        assert!((e.half_width.unwrap() - 1.9632).abs() < 1e-3, "{e:?}");
        // Two values: t(0.975, 1) = 12.706.
        let e = Estimate::of(&[0.0, 2.0]).unwrap();
        assert!((e.half_width.unwrap() - 12.706 * 2f64.sqrt() / 2f64.sqrt()).abs() < 1e-2);
        assert_eq!(Estimate::of(&[4.0]).unwrap().half_width, None);
        assert!(Estimate::of(&[]).is_none());
    }

    #[test]
    fn pairs_are_matched_by_seed() {
        let a = [(0, 1.0), (1, 2.0), (3, 9.0)];
        let b = [(1, 0.5), (0, 0.25)];
        assert_eq!(paired(&a, &b), vec![0.75, 1.5]);
    }

    #[test]
    fn the_rule_gives_each_outcome() {
        let e = |v: &[f64]| Estimate::of(v).unwrap();
        let harmed = e(&[0.05, 0.06, 0.055, 0.058]);
        let untouched = e(&[0.001, -0.002, 0.0, 0.001]);
        assert_eq!(claim4(&harmed, &untouched, 0.02), Finding::Supported);
        assert_eq!(claim4(&untouched, &untouched, 0.02), Finding::Inconclusive);
        assert_eq!(
            claim4(&e(&[0.0, 0.0, 0.0]), &e(&[0.0, 0.0, 0.0]), 0.02),
            Finding::NotSupported
        );
        assert_eq!(
            claim4(&e(&[-0.05, -0.06, -0.04]), &untouched, 0.02),
            Finding::NotSupported
        );
        assert_eq!(
            claim4(&harmed, &e(&[0.07, 0.08, 0.075]), 0.02),
            Finding::NotSupported
        );
        assert_eq!(
            claim4(&e(&[0.1, -0.1, 0.3]), &untouched, 0.02),
            Finding::Inconclusive
        );
        assert_eq!(claim4(&e(&[0.05]), &e(&[0.0]), 0.02), Finding::Inconclusive);
    }

    #[test]
    fn a_judgement_tells_its_numbers() {
        let e = |v: &[f64]| Estimate::of(v).unwrap();
        let judged = Claim4::judge(
            Some(e(&[0.05, 0.06, 0.055, 0.058])),
            Some(e(&[0.001, -0.002, 0.0, 0.001])),
            Some(e(&[1.0, 1.04])),
        );
        assert_eq!(judged.outcome, Finding::Supported);
        let detail = judged.detail("spread:3", "final training loss");
        assert!(
            detail.starts_with(
                "spread:3 vs none, paired change in final training loss: Adam-ℓ2 +0.0558 ["
            ),
            "{detail}"
        );
        assert!(
            detail.ends_with("(AdamW's seed-to-seed sd 0.0283)"),
            "{detail}"
        );
        let missing = Claim4::judge(None, Some(e(&[0.0])), None);
        assert_eq!(missing.outcome, Finding::Inconclusive);
        assert!(missing.detail("equalize", "x").contains("Adam-ℓ2 —"));
    }
}
