//! Claim 1's verdict rule, a pure function of the measurements.
use super::Row;
use crate::checks::verdict::{fixed, sci, Verdict};

pub const CLAIM: &str = "claim 1 (AdamW ≈ AdamProx)";
/// "Nearly the same trajectory": at the end, the AdamW–AdamProx gap is within this
/// fraction of ‖x_W‖ …
pub const CLOSE_TOLERANCE: f64 = 1e-2;
/// … or at most this many times the control's gap (long runs, where training amplifies
/// even float rounding beyond 1%). The same rule at `--precision bf16`, where the control
/// runs in bfloat16 too and so measures its rounding: measured on ResNet-20 without BN,
/// batch 64, 2,000 CIFAR-10 images, 60 steps, the AdamW–AdamProx gap was 1.12e-2 and the
/// control's 1.12e-2 (SUPPORTED, allowed 3.4e-2), per-step difference / a·η‖u‖ 0.999–1.002.
pub const CONTROL_FACTOR: f64 = 3.0;
/// The per-step difference must be within this factor of the first-order prediction.
pub const PREDICTION_FACTOR: f64 = 10.0;

/// SUPPORTED when the last row's AdamW–AdamProx gap is within [`CLOSE_TOLERANCE`] of
/// ‖x_W‖ or [`CONTROL_FACTOR`] × the control's gap, the per-step difference stayed within
/// [`PREDICTION_FACTOR`] of `a·η‖u‖` at every step (`ratio_min`, `ratio_max`; none when
/// λ = 0, where the rules coincide), and nothing diverged; NOT SUPPORTED otherwise,
/// and when no row was measured.
pub fn verdict(
    rows: &[Row],
    steps_done: u64,
    diverged: Option<&str>,
    ratio_min: Option<f64>,
    ratio_max: Option<f64>,
    a: f64,
) -> Verdict {
    let Some(last) = rows.last() else {
        return Verdict::new(
            CLAIM,
            false,
            &format!("no step completed ({})", diverged.unwrap_or("no steps")),
        );
    };
    let tolerance = CLOSE_TOLERANCE.max(CONTROL_FACTOR * last.control_distance);
    let close = last.relative_distance <= tolerance;
    let (predicted_ok, prediction_text) = match (ratio_min, ratio_max) {
        (Some(lo), Some(hi)) => (
            lo >= 1.0 / PREDICTION_FACTOR && hi <= PREDICTION_FACTOR,
            format!("per-step difference / a·η‖u‖ between {lo:.3} and {hi:.3} (a = {a:e})"),
        ),
        _ => (
            true,
            "λ = 0: both are plain Adam, identical by construction".to_string(),
        ),
    };
    let mut detail = format!(
        "relative distance {} after {steps_done} steps ({} allowed: the larger of {CLOSE_TOLERANCE:e} and \
         {CONTROL_FACTOR}× the {} that a one-ulp change of the initial weights produces); final training loss {} vs {} \
         (control {}); {prediction_text}",
        sci(Some(last.relative_distance)),
        sci(Some(tolerance)),
        sci(Some(last.control_distance)),
        fixed(last.loss_adamw, 4),
        fixed(last.loss_adam_prox, 4),
        fixed(last.loss_control, 4),
    );
    if let Some(message) = diverged {
        detail.push_str(&format!("; {message}"));
    }
    Verdict::new(CLAIM, close && predicted_ok && diverged.is_none(), &detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A last row with this gap and control gap (relative to ‖x_W‖).
    fn row(relative_distance: f64, control_distance: f64) -> Row {
        Row {
            step: 10,
            relative_distance,
            control_distance,
            loss_control: Some(2.0),
            gap_over_travelled: 0.1,
            loss_adamw: Some(2.0),
            loss_adam_prox: Some(2.0),
            accuracy_adamw: None,
            accuracy_adam_prox: None,
            step_difference: 1e-6,
            step_prediction: 1e-6,
            step_ratio: Some(1.0),
        }
    }

    #[test]
    fn close_trajectories_with_the_predicted_step_difference_are_supported() {
        let v = verdict(&[row(5e-3, 1e-4)], 10, None, Some(0.99), Some(1.01), 5e-5);
        assert!(v.supported, "{}", v.line);
        assert!(v.line.starts_with("claim 1 (AdamW ≈ AdamProx): SUPPORTED — relative distance 5.00e-3 after 10 steps (1.00e-2 allowed"));
        assert!(
            v.line.contains("between 0.990 and 1.010 (a = 5e-5)"),
            "{}",
            v.line
        );
    }

    #[test]
    fn a_gap_beyond_one_percent_is_allowed_up_to_three_times_the_controls() {
        let v = verdict(&[row(5e-2, 2e-2)], 10, None, Some(1.0), Some(1.0), 5e-5);
        assert!(v.supported, "{}", v.line);
        assert!(v.line.contains("(6.00e-2 allowed"), "{}", v.line);
        let v = verdict(&[row(7e-2, 2e-2)], 10, None, Some(1.0), Some(1.0), 5e-5);
        assert!(!v.supported, "{}", v.line);
        assert!(v.line.contains(": NOT SUPPORTED — "), "{}", v.line);
    }

    #[test]
    fn a_step_difference_beyond_ten_times_the_prediction_either_way_is_not_supported() {
        let rows = [row(1e-3, 1e-3)];
        assert!(!verdict(&rows, 10, None, Some(1.0), Some(10.5), 0.5).supported);
        assert!(!verdict(&rows, 10, None, Some(0.09), Some(1.0), 0.5).supported);
        assert!(verdict(&rows, 10, None, Some(0.1), Some(10.0), 0.5).supported);
    }

    #[test]
    fn without_decay_the_rules_coincide_and_only_the_gap_decides() {
        let v = verdict(&[row(0.0, 1e-4)], 10, None, None, None, 0.0);
        assert!(v.supported);
        assert!(v.line.contains("λ = 0: both are plain Adam"), "{}", v.line);
    }

    #[test]
    fn a_divergence_or_no_measured_row_is_not_supported() {
        let message = "AdamW's loss stopped being finite at step 4";
        let v = verdict(
            &[row(1e-3, 1e-3)],
            3,
            Some(message),
            Some(1.0),
            Some(1.0),
            5e-5,
        );
        assert!(!v.supported && v.line.ends_with(message), "{}", v.line);
        let v = verdict(&[], 0, Some(message), None, None, 5e-5);
        assert!(!v.supported);
        assert!(v.line.ends_with(&format!("no step completed ({message})")));
        assert!(verdict(&[], 0, None, None, None, 5e-5)
            .line
            .ends_with("(no steps)"));
    }
}
