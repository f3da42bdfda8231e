//! Claim 2's verdict rule: the deciding numbers at each ε ([`summarise`]), and the rule
//! on them ([`verdict`]), pure functions of the measurements.
use super::precision::Thresholds;
use super::{EpsSummary, Run};
use crate::checks::verdict::{sci, Verdict};
use crate::optimizers::Method;

pub const CLAIM: &str = "claim 2 (AdamW and AdamProx are scale-free, Adam-ℓ2 is not)";

/// A NaN (a diverged run) counts as the largest deviation.
pub fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// The largest last deviation of `mode`'s rescaled runs at `eps` (NaN when one diverged).
pub fn worst_deviation(runs: &[Run], eps: f64, mode: Method) -> f64 {
    runs.iter()
        .filter(|r| r.eps == eps && r.optimizer == mode && !r.reference)
        .filter_map(|r| r.deviations.last().map(|d| d.deviation))
        .fold(0.0, nan_max)
}

/// At `eps`: the largest deviation of AdamW and AdamProx over every rescaling and
/// measuring step (infinite when one diverged), and the smallest final deviation of
/// Adam-ℓ2 (a diverged run counts as infinitely far).
pub fn summarise(runs: &[Run], eps: f64) -> EpsSummary {
    let compared = || runs.iter().filter(move |r| r.eps == eps && !r.reference);
    let scale_free_max = compared()
        .filter(|r| r.optimizer != Method::ADAM_L2)
        .map(|r| r.max_deviation.unwrap_or(f64::NAN))
        .fold(0.0, nan_max);
    let adam_l2_min = compared()
        .filter(|r| r.optimizer == Method::ADAM_L2)
        .map(|r| r.final_deviation.filter(|d| !d.is_nan()))
        .map(|d| d.unwrap_or(f64::INFINITY))
        .fold(f64::INFINITY, f64::min);
    let scale_free_max = if scale_free_max.is_nan() {
        f64::INFINITY
    } else {
        scale_free_max
    };
    EpsSummary {
        eps,
        scale_free_max,
        adam_l2_min,
        ratio: adam_l2_min / scale_free_max,
    }
}

/// Judged where the claim is exact (ε = 0) when that was run, else at the smallest ε:
/// at ε = 0, SUPPORTED when AdamW/AdamProx deviate by rounding only (at most
/// `limits.rounding`) and Adam-ℓ2 `limits.ratio_exact` times more; at ε > 0, when
/// Adam-ℓ2 deviates `limits.ratio_eps` times more; INCONCLUSIVE when AdamW/AdamProx
/// deviate beyond rounding but within the precision's noise (bf16) without that
/// separation; NOT SUPPORTED otherwise, and when nothing was run.
pub fn verdict(summary: &[EpsSummary], steps: u64, limits: Thresholds) -> Verdict {
    let describe = |s: &EpsSummary| {
        format!(
            "at ε = {:e} after {steps} steps AdamW/AdamProx deviate at most {}, Adam-ℓ2 at least {} ({}× more)",
            s.eps,
            sci(Some(s.scale_free_max)),
            sci(Some(s.adam_l2_min)),
            sci(Some(s.ratio))
        )
    };
    let Some(judged) = summary.iter().min_by(|a, b| a.eps.total_cmp(&b.eps)) else {
        return Verdict::new(CLAIM, false, "nothing was run");
    };
    let supported = if judged.eps == 0.0 {
        judged.scale_free_max <= limits.rounding
            && judged.adam_l2_min >= limits.ratio_exact * judged.scale_free_max
    } else {
        judged.adam_l2_min >= limits.ratio_eps * judged.scale_free_max
    };
    let detail: Vec<String> = summary.iter().map(describe).collect();
    // Deviations within the precision's noise and no clear separation: it cannot tell.
    let within_noise = judged.scale_free_max > limits.rounding
        && judged.scale_free_max <= limits.noise
        && judged.adam_l2_min < limits.ratio_eps * judged.scale_free_max;
    if !supported && within_noise {
        let why = format!(
            "{}; the precision's rounding alone reaches {} here, as large as the effect: \
             rerun with --precision fp32 (or --float64 always) to tell",
            detail.join("; "),
            sci(Some(limits.noise))
        );
        return Verdict::inconclusive(CLAIM, &why);
    }
    Verdict::new(CLAIM, supported, &detail.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::scale_free::{Deviation, Dtypes, Float64, Scaling};
    use crate::config::Precision;

    fn summary(eps: f64, scale_free_max: f64, adam_l2_min: f64) -> EpsSummary {
        EpsSummary {
            eps,
            scale_free_max,
            adam_l2_min,
            ratio: adam_l2_min / scale_free_max,
        }
    }

    fn limits(precision: Precision) -> Thresholds {
        let float64 = Float64::Auto;
        Dtypes { precision, float64 }.thresholds()
    }

    #[test]
    fn at_eps_zero_rounding_only_and_a_hundred_times_more_for_adam_l2_is_supported() {
        let fp32 = limits(Precision::Fp32);
        let v = verdict(&[summary(0.0, 1e-9, 1e-2)], 20, fp32);
        assert!(v.supported, "{}", v.line);
        assert!(v.line.contains("at ε = 0e0 after 20 steps AdamW/AdamProx deviate at most 1.00e-9, Adam-ℓ2 at least 1.00e-2"), "{}", v.line);
        // More than rounding: not scale-free, whatever Adam-ℓ2 does.
        assert!(!verdict(&[summary(0.0, 2e-4, 1.0)], 20, fp32).supported);
        // Rounding only, but Adam-ℓ2 not a hundred times further.
        assert!(!verdict(&[summary(0.0, 1e-5, 5e-4)], 20, fp32).supported);
    }

    #[test]
    fn without_eps_zero_the_smallest_eps_is_judged_by_the_ratio_alone() {
        let fp32 = limits(Precision::Fp32);
        let runs = [summary(1e-6, 1e-2, 1e-2), summary(1e-8, 1e-3, 1.1e-2)];
        let v = verdict(&runs, 20, fp32);
        assert!(v.supported, "{}", v.line);
        assert_eq!(v.line.matches("at ε = ").count(), 2);
        assert!(!verdict(&[summary(1e-8, 1e-3, 9e-3)], 20, fp32).supported);
    }

    #[test]
    fn bf16_rounding_is_judged_with_its_own_thresholds() {
        let measured = [summary(0.0, 4.5e-3, 1.0e-2)];
        assert!(verdict(&measured, 20, limits(Precision::Bf16)).supported);
        assert!(!verdict(&measured, 20, limits(Precision::Fp32)).supported);
    }

    #[test]
    fn bf16_deviations_within_its_noise_without_separation_are_inconclusive() {
        // check scale-free --precision bf16 --bn: AdamW 1.7e-2, Adam-ℓ2 1.6e-2.
        let measured = [summary(1e-8, 1.7e-2, 1.6e-2)];
        let v = verdict(&measured, 20, limits(Precision::Bf16));
        assert!(!v.supported && v.finding == "inconclusive", "{}", v.line);
        assert!(v.line.contains("INCONCLUSIVE") && v.line.contains("--precision fp32"));
        // Beyond bf16's noise, a deviation is a finding against the claim.
        let far = [summary(1e-8, 0.2, 0.21)];
        assert_eq!(
            verdict(&far, 20, limits(Precision::Bf16)).finding,
            "not supported"
        );
        // In float32 the same numbers are far beyond rounding: not supported.
        assert_eq!(
            verdict(&measured, 20, limits(Precision::Fp32)).finding,
            "not supported"
        );
        // A clear separation within the noise is still supported.
        let separated = [summary(1e-8, 1.5e-2, 5e-2)];
        assert_eq!(
            verdict(&separated, 20, limits(Precision::Bf16)).finding,
            "supported"
        );
    }

    #[test]
    fn nothing_run_is_not_supported() {
        let v = verdict(&[], 20, limits(Precision::Fp32));
        assert!(!v.supported && v.line.ends_with("nothing was run"));
    }

    fn run(optimizer: Method, factor: f64, deviation: Option<f64>) -> Run {
        let scaling = Scaling::Loss { factor };
        let deviations = deviation.map_or(Vec::new(), |deviation| {
            vec![Deviation { step: 5, deviation }]
        });
        Run {
            optimizer,
            eps: 0.0,
            eps_used: 1e-300,
            precision: "f64",
            scaling,
            label: scaling.label(),
            reference: scaling.is_reference(),
            deviations,
            final_deviation: deviation,
            max_deviation: deviation,
            train_loss: None,
            train_accuracy: None,
            diverged_at: None,
        }
    }

    #[test]
    fn a_diverged_run_counts_as_the_worst_deviation_of_its_side() {
        let mut runs = vec![
            run(Method::ADAM_L2, 1.0, None),
            run(Method::ADAM_L2, 10.0, Some(1e-2)),
            run(Method::ADAM_L2, 100.0, Some(2e-2)),
            run(Method::ADAMW, 1.0, None),
            run(Method::ADAMW, 10.0, Some(1e-9)),
            run(Method::ADAM_PROX, 10.0, Some(3e-9)),
        ];
        let s = summarise(&runs, 0.0);
        assert_eq!((s.scale_free_max, s.adam_l2_min), (3e-9, 1e-2));
        assert_eq!(worst_deviation(&runs, 0.0, Method::ADAM_L2), 2e-2);
        runs[4] = run(Method::ADAMW, 10.0, Some(f64::NAN));
        runs[1] = run(Method::ADAM_L2, 10.0, Some(f64::NAN));
        let s = summarise(&runs, 0.0);
        assert_eq!((s.scale_free_max, s.adam_l2_min), (f64::INFINITY, 2e-2));
        assert!(worst_deviation(&runs, 0.0, Method::ADAMW).is_nan());
        assert!(!verdict(&[s], 5, limits(Precision::Fp32)).supported);
    }
}
