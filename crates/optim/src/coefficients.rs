//! The step math shared by every kernel: docs/paper.md#update-rules reduced to per-step scalars.
//!
//! Per element, with `h = g + l2·x`:
//! `m ← β1·m + (1−β1)·h`, `v ← β2·v + (1−β2)·h²`, `v̄ = max(v̄, v)` (AMSGrad) or `v`,
//! `x ← (pre·x − step_size·m / (√v̄ / √(1−β2^t) + ε)) / post`,
//! which is `x − η_t·m̂/(√v̂ + ε)` with the mode's decay around it.
use crate::config::{AdamConfig, DecayMode};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepCoefficients {
    pub beta1: f64,
    pub one_minus_beta1: f64,
    pub beta2: f64,
    pub one_minus_beta2: f64,
    /// `λ` for Adam-ℓ2 (added to the gradient), 0 otherwise.
    pub l2: f64,
    /// `1 − λ·s_t` for AdamW, 1 otherwise.
    pub pre_scale: f64,
    /// `1 + λ·s_t` for AdamProx, 1 otherwise.
    pub post_divisor: f64,
    /// `η_t / (1 − β1^t)`.
    pub step_size: f64,
    /// `√(1 − β2^t)`.
    pub sqrt_bias_correction2: f64,
    pub eps: f64,
    pub amsgrad: bool,
}

impl StepCoefficients {
    /// Coefficients of step number `t` (1-based) at step size `lr` (`η_t`) for a group
    /// whose decay is `weight_decay` (`λ`).
    pub fn new(config: &AdamConfig, weight_decay: f64, lr: f64, t: u64) -> Self {
        let schedule_multiplier = lr / config.lr; // s_t = η_t / η_0
        let decay = weight_decay * schedule_multiplier; // a = λ·s_t
        let (l2, pre_scale, post_divisor) = match config.decay {
            DecayMode::L2 => (weight_decay, 1.0, 1.0),
            DecayMode::Decoupled => (0.0, 1.0 - decay, 1.0),
            DecayMode::Proximal => (0.0, 1.0, 1.0 + decay),
        };
        let t = t.min(i32::MAX as u64) as i32;
        StepCoefficients {
            beta1: config.beta1,
            one_minus_beta1: 1.0 - config.beta1,
            beta2: config.beta2,
            one_minus_beta2: 1.0 - config.beta2,
            l2,
            pre_scale,
            post_divisor,
            step_size: lr / (1.0 - config.beta1.powi(t)),
            sqrt_bias_correction2: (1.0 - config.beta2.powi(t)).sqrt(),
            eps: config.eps,
            amsgrad: config.amsgrad,
        }
    }
}
