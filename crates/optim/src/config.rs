//! The optimizer's settings: one Adam, three places for the ℓ2 regulariser.
use crate::adam::Adam;
use crate::error::{invalid, Result};
use crate::group::ParamGroup;
use crate::schedule::Schedule;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use tch::nn::VarStore;

/// Where the weight decay `λ` of the objective `f(x) + (λ/2)‖x‖²` enters the update.
///
/// All three share the moments `m ← β1·m + (1−β1)·h`, `v ← β2·v + (1−β2)·h²` and the
/// direction `u = m̂ / (√v̂ + ε)`, `m̂ = m/(1−β1^t)`, `v̂ = v/(1−β2^t)`; they differ in
/// what `h` is and in how `x` moves. `s_t = η_t/η_0` is the schedule's multiplier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DecayMode {
    /// Adam-ℓ2: `h = g + λ·x` (the regulariser's gradient goes through the moments),
    /// `x ← x − η_t·u`.
    #[serde(rename = "adam-l2")]
    L2,
    /// AdamW: `h = g`, `x ← (1 − λ·s_t)·x − η_t·u`.
    #[serde(rename = "adamw")]
    Decoupled,
    /// AdamProx: `h = g`, `x ← (x − η_t·u) / (1 + λ·s_t)`: the Adam step, then the
    /// proximal map of `(λ·s_t/2)‖x‖²`. AdamW is its first-order approximation in `λ·s_t`.
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

/// Settings of [`crate::Adam`]; the defaults are `β1 = 0.9`, `β2 = 0.999`, `ε = 1e-8`,
/// AdamW, `η_0 = 1e-3`, `λ = 0`, no AMSGrad, no schedule.
///
/// `lr` is `η_0`, the initial step size, and the decoupled and proximal decays are scaled
/// by `s_t = η_t / η_0`. `weight_decay` is `λ` of the objective `f(x) + (λ/2)‖x‖²`, so
/// AdamW removes `λ·s_t·x` per step. PyTorch's `AdamW(lr, weight_decay=w)` removes
/// `lr_t·w·x`: the same optimizer is `weight_decay = w·lr` here, and PyTorch's
/// `weight_decay` is `λ/η_0`. For Adam-ℓ2, `λ` is PyTorch's `Adam(weight_decay=λ)`.
///
/// With `amsgrad`, the second moment used is the running maximum of the raw `v` (before
/// bias correction), then bias-corrected: `v̂ = max(v_1, …, v_t)/(1−β2^t)`, as PyTorch.
///
/// `schedule`, when set, makes the optimizer set `η_t` itself before every step from each
/// group's step size; when `None`, `η_t` is whatever [`crate::Adam::set_lr`] set last.
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
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
            schedule: None,
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
    /// The optimizer owns this schedule: before each step it sets `η_t` from it.
    pub fn schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = Some(schedule);
        self
    }

    /// An optimizer over every trainable variable of `vs` (one group, named `all`), in
    /// the style of tch's `OptimizerConfig::build`.
    pub fn build(self, vs: &VarStore) -> Result<Adam> {
        Adam::from_var_store(self, vs)
    }

    /// An optimizer over the given parameter groups.
    pub fn build_groups(self, groups: Vec<ParamGroup>) -> Result<Adam> {
        Adam::new(self, groups)
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
        validate_weight_decay(self.weight_decay)?;
        for (field, beta) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&beta) {
                return Err(invalid(field, beta, "in [0, 1)"));
            }
        }
        if !(self.eps.is_finite() && self.eps >= 0.0) {
            return Err(invalid("eps", self.eps, "a finite number >= 0"));
        }
        match &self.schedule {
            Some(schedule) => schedule.validate(),
            None => Ok(()),
        }
    }
}

pub(crate) fn validate_weight_decay(value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(invalid("weight_decay", value, "a finite number >= 0"))
    }
}

/// A step size set after the optimizer is built: 0 is allowed (a schedule may reach it).
pub(crate) fn validate_lr(value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(invalid("lr", value, "a finite number >= 0"))
    }
}
