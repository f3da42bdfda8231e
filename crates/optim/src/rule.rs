//! The seam between the optimizer and its update rules.
//!
//! An [`UpdateRule`] is a per-tensor computation: from a parameter's values, its gradient
//! and its own state buffers (Adam: `exp_avg`, `exp_avg_sq`; SGD: `momentum_buffer`; …)
//! it computes the new values and state. A [`Placement`] says where the weight decay `λ`
//! enters. Everything else (parameter groups, frozen parameters, float32 master weights
//! for half-precision groups, state files, schedules, clipping, loss scaling, devices) is
//! done once, for every rule, by [`crate::Optimizer`].
//!
//! A rule sees its work as [`Piece`]s: slices of the flat buffers with the scalars of one
//! step ([`StepInfo`]). Rules that are per coordinate get pieces of at most 32,768
//! elements of one or several adjacent parameters, run on rayon's threads; rules that
//! need a statistic of the whole tensor ([`UpdateRule::per_tensor`]) get one whole
//! parameter per piece.
use crate::error::{OptimError, Result};
use num_traits::Float;
use serde::{Deserialize, Serialize};
use std::fmt;
use tch::Tensor;

/// Where the weight decay `λ` of the objective `f(x) + (λ/2)‖x‖²` enters a rule's update.
///
/// `s_t = η_t/η_0` is the schedule's multiplier; `u` is the rule's direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Placement {
    /// `λ·x` is added to the gradient before the rule sees it (PyTorch's `weight_decay` of
    /// `Adam`, `SGD`, `RMSprop`, `Adagrad`).
    L2,
    /// `x ← (1 − λ·s_t)·x − η_t·u` (AdamW, SGDW, Lion as published).
    Decoupled,
    /// `x ← (x − η_t·u) / (1 + λ·s_t)`: the step, then the proximal map of the regulariser.
    Proximal,
    /// Through the moments, scale-free (Adam only): `h = g + λ·ρ·x`, where `ρ` is the
    /// tensor's gradient scale `√mean(v̂)` of the previous step (of `g²` at the first).
    L2ScaleFree,
    /// Decoupled from the moments, not scale-free (Adam only):
    /// `x ← (x − η_t·u) / (1 + η_t·λ/ρ)` with `ρ = √mean(v̂)` over the tensor after the step's
    /// moments: the decay is divided by the gradient's scale, as Adam-ℓ2's effectively is.
    ProximalScaled,
}

impl Placement {
    /// Whether the decay is applied to `x` outside the rule's state (so the moments stay
    /// clean) rather than added to the gradient.
    pub fn is_decoupled(self) -> bool {
        !matches!(self, Placement::L2 | Placement::L2ScaleFree)
    }
}

/// The value of one of a rule's settings (PyTorch's names and kinds).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Setting {
    /// A number: `beta1`, `momentum`, `eps`, …
    Number(f64),
    /// A switch: `amsgrad`, `nesterov`, `centered`.
    Flag(bool),
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // `1e-8` rather than `0.00000001`; it reads back as the same number.
            Setting::Number(x) => write!(f, "{x:?}"),
            Setting::Flag(b) => write!(f, "{b}"),
        }
    }
}

impl From<f64> for Setting {
    fn from(x: f64) -> Self {
        Setting::Number(x)
    }
}

impl From<bool> for Setting {
    fn from(b: bool) -> Self {
        Setting::Flag(b)
    }
}

impl Setting {
    /// The number, or an error naming `key` when it is a switch.
    pub fn number(self, key: &'static str) -> Result<f64> {
        match self {
            Setting::Number(x) => Ok(x),
            Setting::Flag(b) => Err(OptimError::InvalidSetting {
                field: key,
                value: b.to_string(),
                expected: "a number",
            }),
        }
    }

    /// The switch, or an error naming `key` when it is a number.
    pub fn flag(self, key: &'static str) -> Result<bool> {
        match self {
            Setting::Flag(b) => Ok(b),
            Setting::Number(x) => Err(OptimError::InvalidSetting {
                field: key,
                value: x.to_string(),
                expected: "true or false",
            }),
        }
    }
}

/// The scalars of one step of one run of parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepInfo {
    /// Where `λ` enters.
    pub placement: Placement,
    /// `η_t`: the group's step size times the schedule's factor.
    pub lr: f64,
    /// `λ` of the group.
    pub weight_decay: f64,
    /// `s_t = η_t/η_0`, `η_0` being the configuration's step size.
    pub schedule_multiplier: f64,
    /// The parameters' own step count, 1 at their first step (skipped steps do not count).
    pub t: u64,
}

impl StepInfo {
    /// The factors of the three placements that every rule shares, in the element type.
    pub fn decay<T: Float>(&self) -> Decay<T> {
        let a = self.weight_decay * self.schedule_multiplier; // λ·s_t
        let (l2, pre_scale, post_divisor) = match self.placement {
            Placement::L2 => (self.weight_decay, 1.0, 1.0),
            Placement::Decoupled => (0.0, 1.0 - a, 1.0),
            Placement::Proximal => (0.0, 1.0, 1.0 + a),
            // Per-tensor placements are applied by the rule that offers them.
            Placement::L2ScaleFree | Placement::ProximalScaled => (0.0, 1.0, 1.0),
        };
        Decay {
            l2: cast(l2),
            pre_scale: cast(pre_scale),
            post_divisor: cast(post_divisor),
        }
    }
}

/// The decay of [`Placement::L2`], [`Placement::Decoupled`] or [`Placement::Proximal`] as
/// three factors: `h = g + l2·x`, then `x ← (pre_scale·x − step) / post_divisor`. Two of
/// them are neutral (0, 1, 1) for any one placement.
#[derive(Clone, Copy, Debug)]
pub struct Decay<T> {
    /// `λ` for ℓ2, else 0.
    pub l2: T,
    /// `1 − λ·s_t` for the decoupled decay, else 1.
    pub pre_scale: T,
    /// `1 + λ·s_t` for the proximal decay, else 1.
    pub post_divisor: T,
}

impl<T: Float> Decay<T> {
    /// The gradient the rule sees: `g + l2·x`.
    #[inline(always)]
    pub fn gradient(&self, x: T, g: T) -> T {
        g + self.l2 * x
    }

    /// The new value from the rule's step `step` (`η_t·u`).
    #[inline(always)]
    pub fn apply(&self, x: T, step: T) -> T {
        (self.pre_scale * x - step) / self.post_divisor
    }
}

/// One piece of work on the CPU: slices of the flat buffers, all of the same length.
pub struct Piece<'a, T> {
    /// The parameter values, updated in place.
    pub x: &'a mut [T],
    /// The gradients.
    pub g: &'a [T],
    /// The rule's state buffers, in the order of [`UpdateRule::state_names`].
    pub state: Vec<&'a mut [T]>,
}

/// One update rule with its settings (see the module documentation).
///
/// Adding a rule: a file of its own in the crate's `rules` module with a struct of its
/// settings that implements this trait, and one line in [`crate::rules::FAMILIES`], the
/// table of names (see the crate's README, "Adding an update rule").
pub trait UpdateRule: Send + Sync + fmt::Debug {
    /// The family's name in files and errors: `adam`, `sgd`, …
    fn family(&self) -> &'static str;

    /// The placements this rule offers.
    fn placements(&self) -> &'static [Placement];

    /// The settings, PyTorch's names and values, in a fixed order.
    fn settings(&self) -> Vec<(&'static str, Setting)>;

    /// Changes one setting, refusing a key the rule does not have (listing those it has)
    /// or a value out of range (naming the key).
    fn set(&mut self, key: &str, value: Setting) -> Result<()>;

    /// The names of the per-element state buffers, in the order [`Piece::state`] has them.
    fn state_names(&self) -> Vec<&'static str>;

    /// The value a state buffer starts from (Adagrad's `initial_accumulator_value`).
    fn initial_state(&self, _name: &str) -> f64 {
        0.0
    }

    /// Refuses combinations of settings that are each valid alone (SGD's Nesterov
    /// momentum without momentum), naming the settings.
    fn check(&self) -> Result<()> {
        Ok(())
    }

    /// Whether a step needs each parameter whole (for a statistic of the tensor).
    fn per_tensor(&self, _placement: Placement) -> bool {
        false
    }

    /// One step on a piece of float32 buffers.
    fn step_f32(&self, info: &StepInfo, piece: Piece<'_, f32>);

    /// One step on a piece of float64 buffers.
    fn step_f64(&self, info: &StepInfo, piece: Piece<'_, f64>);

    /// One step with libtorch ops on (views of) the flat buffers of one run of
    /// parameters: the CUDA path, and the CPU path for other dtypes. `state` is in the
    /// order of [`UpdateRule::state_names`]; the ops must write through the handles.
    fn step_tensors(&self, info: &StepInfo, x: &Tensor, g: &Tensor, state: &[Tensor]);

    /// A copy behind a new box.
    fn boxed_clone(&self) -> Box<dyn UpdateRule>;
}

impl Clone for Box<dyn UpdateRule> {
    fn clone(&self) -> Self {
        self.boxed_clone()
    }
}

/// `x ← (pre·x − lr·direction) / post` with libtorch ops, writing through `x`: the
/// shared end of a rule's [`UpdateRule::step_tensors`] for the placements of
/// [`StepInfo::decay`].
pub fn apply_decay(info: &StepInfo, x: &Tensor, direction: &Tensor, lr: f64) {
    let decay = info.decay::<f64>();
    let mut x = x.shallow_clone();
    if decay.pre_scale != 1.0 {
        let _ = x.g_mul_scalar_(decay.pre_scale);
    }
    let _ = x.g_sub_(&(direction * lr));
    if decay.post_divisor != 1.0 {
        let _ = x.g_div_scalar_(decay.post_divisor);
    }
}

/// The gradient the rule sees, with libtorch ops: `g + l2·x` (a handle to `g` itself
/// without ℓ2 decay).
pub fn gradient_tensor(info: &StepInfo, x: &Tensor, g: &Tensor) -> Tensor {
    let l2 = info.decay::<f64>().l2;
    if l2 != 0.0 {
        g + x * l2
    } else {
        g.shallow_clone()
    }
}

/// `x` in the element type.
#[inline(always)]
pub fn cast<T: Float>(x: f64) -> T {
    T::from(x).expect("f64 converts to any float type")
}

/// The error for a key that `rule` does not have.
pub(crate) fn unknown_setting(rule: &dyn UpdateRule, key: &str) -> OptimError {
    let valid: Vec<&str> = rule.settings().iter().map(|(k, _)| *k).collect();
    OptimError::UnknownSetting {
        rule: rule.family().to_string(),
        key: key.to_string(),
        valid: valid.join(", "),
    }
}

/// Checks that `x` is finite and in `[low, high)`.
pub(crate) fn in_range(
    key: &'static str,
    x: f64,
    low: f64,
    high: f64,
    expected: &'static str,
) -> Result<f64> {
    if x.is_finite() && x >= low && x < high {
        Ok(x)
    } else {
        Err(OptimError::InvalidSetting {
            field: key,
            value: x.to_string(),
            expected,
        })
    }
}
