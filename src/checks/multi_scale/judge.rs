//! Claim 4's verdict for the check: [`crate::stats::Claim4`]'s rule on the chosen
//! measure, per intervention ([`judge`]), and the check's verdict line from the first
//! intervention's judgement ([`verdict`]); pure functions of the measurements.
use super::{Change, Judgement, Lane, Metric};
use crate::checks::verdict::Verdict;
use crate::config::FactorSpec;
use crate::optimizers::Method;
use crate::stats::{Claim4, Finding};

pub const CLAIM: &str = "claim 4 (multi-scale gradients hurt Adam-ℓ2 through its decay, not AdamW)";

/// Claim 4's rule ([`Claim4`]) on the chosen measure, for one intervention: on the
/// paired changes of Adam-ℓ2 and AdamW under `factors` (a drop in accuracy counting as
/// the harm), with AdamW's seed-to-seed spread without factors as the noise. A lane
/// without a result (diverged, or no test set for accuracy) is INCONCLUSIVE.
pub fn judge(
    factors: &FactorSpec,
    changes: &[Change],
    lanes: &[Lane],
    metric: Metric,
) -> Judgement {
    // Harm is a drop in accuracy.
    let of = |optimizer: Method| {
        changes
            .iter()
            .find(|c| c.optimizer == optimizer && c.factors == *factors)
            .and_then(|c| metric.of(c.train_loss, c.test_accuracy.map(|e| e.negated())))
    };
    let adamw_without = lanes
        .iter()
        .find(|l| l.optimizer == Method::ADAMW && l.factors.is_none())
        .and_then(|l| metric.of(l.train_loss, l.test_accuracy));
    let judged = Claim4::judge(of(Method::ADAM_L2), of(Method::ADAMW), adamw_without);
    let detail = if judged.adam_l2.is_none() || judged.adamw.is_none() {
        "a lane has no result (diverged, or no test set)".into()
    } else {
        judged.detail(
            &factors.to_string(),
            metric.of("final training loss", "test-accuracy drop"),
        )
    };
    Judgement {
        factors: factors.clone(),
        outcome: judged.outcome,
        detail,
    }
}

/// The check's verdict: the first intervention's judgement, with the budget it ran.
pub fn verdict(first: &Judgement, budget: &str) -> Verdict {
    Verdict {
        claim: CLAIM.to_string(),
        supported: first.outcome == Finding::Supported,
        finding: match first.outcome {
            Finding::Supported => "supported",
            Finding::NotSupported => "not supported",
            Finding::Inconclusive => "inconclusive",
        },
        line: format!(
            "{CLAIM}: {} — {}; budget: {budget}",
            first.outcome.word(),
            first.detail
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Estimate;

    fn spread() -> FactorSpec {
        FactorSpec::Spread { decades: 3.0 }
    }

    fn change(optimizer: Method, loss: &[f64], accuracy: &[f64]) -> Change {
        Change {
            optimizer,
            factors: spread(),
            train_loss: Estimate::of(loss),
            test_accuracy: Estimate::of(accuracy),
        }
    }

    /// AdamW without factors, its final loss and accuracy over four seeds.
    fn adamw_without() -> Vec<Lane> {
        vec![Lane {
            optimizer: Method::ADAMW,
            factors: FactorSpec::None,
            lr: 1e-3,
            wd: 5e-5,
            seeds: Vec::new(),
            train_loss: Estimate::of(&[2.00, 2.04, 1.97, 2.05]),
            test_accuracy: Estimate::of(&[0.27, 0.30, 0.25, 0.28]),
        }]
    }

    fn judged(changes: &[Change], metric: Metric) -> Judgement {
        judge(&spread(), changes, &adamw_without(), metric)
    }

    const NO_CHANGE: [f64; 4] = [0.001, -0.002, 0.0, 0.001];

    #[test]
    fn adam_l2_harmed_and_adamw_unmoved_is_supported() {
        let changes = [
            change(Method::ADAM_L2, &[0.05, 0.06, 0.04, 0.05], &NO_CHANGE),
            change(Method::ADAMW, &NO_CHANGE, &NO_CHANGE),
        ];
        let j = judged(&changes, Metric::Loss);
        assert_eq!(j.outcome, Finding::Supported, "{}", j.detail);
        assert!(
            j.detail.starts_with(
                "spread:3 vs none, paired change in final training loss: Adam-ℓ2 +0.0500"
            ),
            "{}",
            j.detail
        );
        let v = verdict(&j, "4 seeds");
        assert!(v.supported);
        assert!(v
            .line
            .starts_with(&format!("{CLAIM}: SUPPORTED — spread:3 vs none")));
        assert!(v.line.ends_with("; budget: 4 seeds"));
    }

    #[test]
    fn adam_l2_unharmed_or_adamw_harmed_as_much_is_not_supported() {
        let changes = [
            change(Method::ADAM_L2, &[-0.01, -0.02, -0.01, -0.015], &NO_CHANGE),
            change(Method::ADAMW, &NO_CHANGE, &NO_CHANGE),
        ];
        assert_eq!(
            judged(&changes, Metric::Loss).outcome,
            Finding::NotSupported
        );
        let harmed = [0.05, 0.06, 0.04, 0.05];
        let changes = [
            change(Method::ADAM_L2, &harmed, &NO_CHANGE),
            change(Method::ADAMW, &[0.06, 0.07, 0.05, 0.06], &NO_CHANGE),
        ];
        let j = judged(&changes, Metric::Loss);
        assert_eq!(j.outcome, Finding::NotSupported);
        let v = verdict(&j, "b");
        assert!(!v.supported && v.line.contains(": NOT SUPPORTED — "));
    }

    #[test]
    fn an_interval_across_zero_one_seed_or_a_missing_result_is_inconclusive() {
        let changes = [
            change(Method::ADAM_L2, &[0.05, -0.04, 0.06, -0.05], &NO_CHANGE),
            change(Method::ADAMW, &NO_CHANGE, &NO_CHANGE),
        ];
        let j = judged(&changes, Metric::Loss);
        assert_eq!(j.outcome, Finding::Inconclusive);
        assert!(!verdict(&j, "b").supported);
        let one_seed = [
            change(Method::ADAM_L2, &[0.05], &[0.0]),
            change(Method::ADAMW, &[0.0], &[0.0]),
        ];
        assert_eq!(
            judged(&one_seed, Metric::Loss).outcome,
            Finding::Inconclusive
        );
        let no_adamw = [change(Method::ADAM_L2, &[0.05, 0.06], &NO_CHANGE)];
        let j = judged(&no_adamw, Metric::Loss);
        assert_eq!(j.outcome, Finding::Inconclusive);
        assert_eq!(j.detail, "a lane has no result (diverged, or no test set)");
    }

    #[test]
    fn on_accuracy_the_harm_is_a_drop() {
        let dropped = [-0.04, -0.03, -0.035, -0.035];
        let changes = [
            change(Method::ADAM_L2, &NO_CHANGE, &dropped),
            change(Method::ADAMW, &NO_CHANGE, &NO_CHANGE),
        ];
        let j = judged(&changes, Metric::Accuracy);
        assert_eq!(j.outcome, Finding::Supported, "{}", j.detail);
        assert!(
            j.detail
                .contains("paired change in test-accuracy drop: Adam-ℓ2 +0.0350"),
            "{}",
            j.detail
        );
        // The same changes on the loss: no harm to Adam-ℓ2 beyond its interval.
        assert_ne!(judged(&changes, Metric::Loss).outcome, Finding::Supported);
    }
}
