//! The optimizer's settings: one Adam, three places for the ℓ2 regulariser.
use crate::error::{invalid, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where the weight decay `λ` enters the update (docs/paper.md#update-rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DecayMode {
    /// Adam-ℓ2: `λ·x` is added to the gradient before the moments.
    #[serde(rename = "adam-l2")]
    L2,
    /// AdamW: `x ← (1 − λ·s_t)·x − η_t·u_t`, the decay applied first.
    #[serde(rename = "adamw")]
    Decoupled,
    /// AdamProx: `x ← (x − η_t·u_t) / (1 + λ·s_t)`, the proximal map of `(λ s_t/2)‖x‖²`.
    #[serde(rename = "adam-prox")]
    Proximal,
}

impl DecayMode {
    pub const ALL: [DecayMode; 3] = [DecayMode::L2, DecayMode::Decoupled, DecayMode::Proximal];

    /// The name used on the command line and in files: `adam-l2`, `adamw`, `adam-prox`.
    pub fn name(self) -> &'static str {
        match self {
            DecayMode::L2 => "adam-l2",
            DecayMode::Decoupled => "adamw",
            DecayMode::Proximal => "adam-prox",
        }
    }
}

impl fmt::Display for DecayMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DecayMode {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        DecayMode::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| format!("unknown optimizer `{s}`; valid: adam-l2, adamw, adam-prox"))
    }
}

/// Which implementation performs the step. All compute the same rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kernel {
    /// The single-pass CPU kernel for `f32`/`f64` on CPU, tensor ops elsewhere.
    #[default]
    Auto,
    /// A handful of libtorch ops over the flat buffers (the CUDA path; usable on CPU too).
    TensorOps,
}

/// Settings of [`crate::Adam`], with the paper's defaults.
///
/// `lr` is `η_0`, the initial step size; schedules change `η_t` through
/// [`crate::Adam::set_lr`], and the decay is scaled by `s_t = η_t / η_0`.
/// `weight_decay` is the paper's `λ` (not PyTorch's `weight_decay`, which for AdamW is `λ/η_0`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdamConfig {
    pub decay: DecayMode,
    pub lr: f64,
    pub weight_decay: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub amsgrad: bool,
    #[serde(default)]
    pub kernel: Kernel,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            decay: DecayMode::Decoupled,
            lr: 1e-3,
            weight_decay: 0.0,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            amsgrad: false,
            kernel: Kernel::Auto,
        }
    }
}

impl AdamConfig {
    /// A configuration with the given decay mode, `η_0` and `λ`, other settings default.
    pub fn new(decay: DecayMode, lr: f64, weight_decay: f64) -> Self {
        AdamConfig {
            decay,
            lr,
            weight_decay,
            ..Default::default()
        }
    }
    pub fn adam_l2(lr: f64, weight_decay: f64) -> Self {
        Self::new(DecayMode::L2, lr, weight_decay)
    }
    pub fn adamw(lr: f64, weight_decay: f64) -> Self {
        Self::new(DecayMode::Decoupled, lr, weight_decay)
    }
    pub fn adam_prox(lr: f64, weight_decay: f64) -> Self {
        Self::new(DecayMode::Proximal, lr, weight_decay)
    }
    pub fn betas(mut self, beta1: f64, beta2: f64) -> Self {
        self.beta1 = beta1;
        self.beta2 = beta2;
        self
    }
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }
    pub fn amsgrad(mut self, amsgrad: bool) -> Self {
        self.amsgrad = amsgrad;
        self
    }
    pub fn kernel(mut self, kernel: Kernel) -> Self {
        self.kernel = kernel;
        self
    }

    /// Refuses settings outside their valid ranges, naming the field.
    pub fn validate(&self) -> Result<()> {
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(invalid(
                "lr",
                self.lr,
                "a finite number > 0 (it is η_0, the decay is scaled by η_t/η_0)",
            ));
        }
        validate_weight_decay("weight_decay", self.weight_decay)?;
        for (field, beta) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&beta) {
                return Err(invalid(field, beta, "in [0, 1)"));
            }
        }
        if !(self.eps.is_finite() && self.eps >= 0.0) {
            return Err(invalid("eps", self.eps, "a finite number >= 0"));
        }
        Ok(())
    }
}

pub(crate) fn validate_weight_decay(field: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(invalid(field, value, "a finite number >= 0"))
    }
}
