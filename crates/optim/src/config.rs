//! The optimizer's settings: one Adam, three places for the ℓ2 regulariser.
use crate::error::{invalid, Result};
use crate::group::ParamGroup;
use crate::optimizer::Optimizer;
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
    /// The three modes, in the order `L2`, `Decoupled`, `Proximal`.
    pub const ALL: [DecayMode; 3] = [DecayMode::L2, DecayMode::Decoupled, DecayMode::Proximal];

    /// The name used in files and by [`FromStr`]: `adam-l2`, `adamw`, `adam-prox`.
    ///
    /// ```
    /// use adamw_prox::DecayMode;
    /// assert_eq!(DecayMode::Proximal.name(), "adam-prox");
    /// assert_eq!("adamw".parse::<DecayMode>(), Ok(DecayMode::Decoupled));
    /// ```
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
///
/// Not part of the API: the fast kernel is chosen automatically (the single-pass CPU
/// kernel for `f32`/`f64` on the CPU, libtorch ops elsewhere). The override exists for
/// tests and benchmarks that compare the two implementations on the CPU.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kernel {
    /// The single-pass CPU kernel for `f32`/`f64` on CPU, tensor ops elsewhere.
    #[default]
    Auto,
    /// A handful of libtorch ops over the flat buffers (the CUDA path; usable on CPU too).
    TensorOps,
}

/// Settings of [`crate::Adam`], in the paper's terms: `η_0` and `λ`.
///
/// The defaults are `β1 = 0.9`, `β2 = 0.999`, `ε = 1e-8`, AdamW, `η_0 = 1e-3`, `λ = 0`,
/// no AMSGrad, no schedule. Build one with a constructor (the paper's
/// [`AdamConfig::adamw`], [`AdamConfig::adam_l2`], [`AdamConfig::adam_prox`], or
/// PyTorch's [`AdamConfig::torch_adamw`], [`AdamConfig::torch_adam`]), adjust it with the
/// builder methods, then [`AdamConfig::build`] the optimizer from a `VarStore` or
/// [`AdamConfig::build_groups`] from parameter groups.
///
/// # `λ` and PyTorch's `weight_decay`
///
/// `lr` is `η_0`, the initial step size; the decoupled and proximal decays are scaled by
/// `s_t = η_t / η_0`. `weight_decay` is `λ` of the objective `f(x) + (λ/2)‖x‖²`, so
/// AdamW removes `λ·s_t·x` per step. PyTorch's (and tch's) AdamW with `lr` and
/// `weight_decay = w` removes `lr_t·w·x`:
///
/// | from | to | conversion |
/// |---|---|---|
/// | PyTorch AdamW `(lr, w)` | this crate's AdamW `(η_0, λ)` | `η_0 = lr`, `λ = w·lr` |
/// | this crate's AdamW `(η_0, λ)` | PyTorch AdamW `(lr, w)` | `lr = η_0`, `w = λ/η_0` |
/// | PyTorch Adam `(lr, w)` (ℓ2 in the gradient) | Adam-ℓ2 `(η_0, λ)` | `λ = w` (the same number) |
///
/// [`AdamConfig::torch_adamw`] and [`AdamConfig::torch_adam`] take PyTorch's numbers and
/// convert; [`AdamConfig::torch_weight_decay`] converts back. The conversions hold with a
/// schedule too: both decay by `λ·η_t/η_0 = w·η_t`.
///
/// With `amsgrad`, the second moment used is the running maximum of the raw `v` (before
/// bias correction), then bias-corrected: `v̂ = max(v_1, …, v_t)/(1−β2^t)`, as PyTorch.
///
/// `schedule`, when set, makes the optimizer set `η_t` itself before every step:
/// `η_t = lr_g · (schedule's factor at t)` for a group whose step size is `lr_g` (the
/// config's `lr` unless the group has its own). Without one the factor is 1.
///
/// ```
/// use adamw_prox::{AdamConfig, DecayMode, Schedule};
/// let config = AdamConfig::adam_prox(1e-3, 5e-4)
///     .betas(0.9, 0.99)
///     .eps(1e-10)
///     .amsgrad(true)
///     .schedule(Schedule::cosine(1000));
/// assert_eq!(config.decay, DecayMode::Proximal);
/// assert_eq!((config.lr, config.weight_decay), (1e-3, 5e-4));
/// config.validate()?;
/// # Ok::<(), adamw_prox::OptimError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdamConfig {
    /// Where `λ` enters the update (see [`DecayMode`]).
    pub decay: DecayMode,
    /// `η_0`, the initial step size: the step size that the schedule multiplies, and the
    /// one the decoupled and proximal decays are measured against (`s_t = η_t/η_0`).
    pub lr: f64,
    /// `λ` of the objective `f(x) + (λ/2)‖x‖²` (not PyTorch's AdamW `weight_decay`, which
    /// is `λ/η_0`; see above).
    pub weight_decay: f64,
    /// `β1`, the first moment's decay rate, in `[0, 1)`.
    pub beta1: f64,
    /// `β2`, the second moment's decay rate, in `[0, 1)`.
    pub beta2: f64,
    /// `ε`, added to `√v̂` in the denominator; `≥ 0`.
    pub eps: f64,
    /// Use the running maximum of the second moment (AMSGrad).
    pub amsgrad: bool,
    /// The implementation override: read from files that have it (those written by
    /// version 0.1, where it was part of the config), never written.
    #[doc(hidden)]
    #[serde(default, skip_serializing)]
    pub kernel: Kernel,
    /// The step-size schedule that the optimizer applies itself, if any.
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
    /// A configuration with the given decay mode, `η_0` and `λ` (the paper's terms), other
    /// settings default.
    ///
    /// ```
    /// use adamw_prox::{AdamConfig, DecayMode};
    /// let config = AdamConfig::new(DecayMode::Decoupled, 1e-3, 1e-5);
    /// assert_eq!(config, AdamConfig::adamw(1e-3, 1e-5));
    /// ```
    pub fn new(decay: DecayMode, lr: f64, weight_decay: f64) -> Self {
        AdamConfig {
            decay,
            lr,
            weight_decay,
            ..Default::default()
        }
    }

    /// Adam-ℓ2 with `η_0 = lr` and `λ = weight_decay`: the regulariser's gradient `λ·x` is
    /// added to the gradient before the moments. The same optimizer as PyTorch's (and
    /// tch's) `Adam` with the same `weight_decay` ([`AdamConfig::torch_adam`]).
    ///
    /// ```
    /// let config = adamw_prox::AdamConfig::adam_l2(1e-3, 5e-4);
    /// assert_eq!(config.decay, adamw_prox::DecayMode::L2);
    /// ```
    pub fn adam_l2(lr: f64, weight_decay: f64) -> Self {
        Self::new(DecayMode::L2, lr, weight_decay)
    }

    /// AdamW with `η_0 = lr` and the paper's `λ = weight_decay`: `x ← (1 − λ·η_t/η_0)·x −
    /// η_t·u`. For PyTorch's `weight_decay`, use [`AdamConfig::torch_adamw`]: this
    /// `weight_decay` is PyTorch's times `lr`.
    ///
    /// ```
    /// use adamw_prox::AdamConfig;
    /// // λ = 1e-5 is PyTorch's AdamW(lr=1e-3, weight_decay=1e-2).
    /// assert_eq!(AdamConfig::adamw(1e-3, 1e-5).torch_weight_decay(), 1e-2);
    /// ```
    pub fn adamw(lr: f64, weight_decay: f64) -> Self {
        Self::new(DecayMode::Decoupled, lr, weight_decay)
    }

    /// AdamProx with `η_0 = lr` and `λ = weight_decay`: `x ← (x − η_t·u) / (1 +
    /// λ·η_t/η_0)`, the Adam step followed by the proximal map of the regulariser.
    ///
    /// ```
    /// let config = adamw_prox::AdamConfig::adam_prox(1e-3, 1e-5);
    /// assert_eq!(config.decay, adamw_prox::DecayMode::Proximal);
    /// ```
    pub fn adam_prox(lr: f64, weight_decay: f64) -> Self {
        Self::new(DecayMode::Proximal, lr, weight_decay)
    }

    /// AdamW in PyTorch's convention, as tch's `nn::AdamW { wd, .. }.build(&vs, lr)` and
    /// `torch.optim.AdamW(lr=lr, weight_decay=weight_decay)`: `x ← (1 − lr_t·wd)·x −
    /// lr_t·u`. It is [`AdamConfig::adamw`] with `λ = weight_decay·lr`. PyTorch's and
    /// tch's default `weight_decay` is `0.01`.
    ///
    /// ```
    /// use adamw_prox::AdamConfig;
    /// let config = AdamConfig::torch_adamw(1e-3, 0.01);
    /// assert!((config.weight_decay - 1e-5).abs() < 1e-20); // λ = 0.01 · 1e-3
    /// assert!((config.torch_weight_decay() - 0.01).abs() < 1e-15);
    /// ```
    pub fn torch_adamw(lr: f64, weight_decay: f64) -> Self {
        Self::adamw(lr, weight_decay * lr)
    }

    /// Adam with ℓ2 regularisation in PyTorch's convention, as tch's `nn::Adam { wd, .. }`
    /// and `torch.optim.Adam(lr=lr, weight_decay=weight_decay)`: `weight_decay·x` is added
    /// to the gradient. There the two conventions agree: it is [`AdamConfig::adam_l2`]
    /// with the same numbers. PyTorch's and tch's default `weight_decay` is `0`.
    ///
    /// ```
    /// use adamw_prox::AdamConfig;
    /// assert_eq!(AdamConfig::torch_adam(1e-3, 1e-4), AdamConfig::adam_l2(1e-3, 1e-4));
    /// ```
    pub fn torch_adam(lr: f64, weight_decay: f64) -> Self {
        Self::adam_l2(lr, weight_decay)
    }

    /// This configuration's `λ` in PyTorch's convention: `λ/η_0` for AdamW and AdamProx
    /// (what `torch.optim.AdamW` or tch's `nn::AdamW` would take as `weight_decay`), `λ`
    /// itself for Adam-ℓ2 (`torch.optim.Adam`'s, tch's `nn::Adam`'s). AdamProx has no
    /// PyTorch counterpart; the number is the one that decays at the same rate to first
    /// order.
    ///
    /// ```
    /// use adamw_prox::AdamConfig;
    /// assert_eq!(AdamConfig::adamw(2e-3, 1e-5).torch_weight_decay(), 5e-3);
    /// assert_eq!(AdamConfig::adam_l2(2e-3, 1e-5).torch_weight_decay(), 1e-5);
    /// ```
    pub fn torch_weight_decay(&self) -> f64 {
        match self.decay {
            DecayMode::L2 => self.weight_decay,
            DecayMode::Decoupled | DecayMode::Proximal => self.weight_decay / self.lr,
        }
    }

    /// Sets `β1` and `β2` (PyTorch's `betas`).
    ///
    /// ```
    /// let config = adamw_prox::AdamConfig::adamw(1e-3, 0.0).betas(0.9, 0.95);
    /// assert_eq!((config.beta1, config.beta2), (0.9, 0.95));
    /// ```
    pub fn betas(mut self, beta1: f64, beta2: f64) -> Self {
        self.beta1 = beta1;
        self.beta2 = beta2;
        self
    }

    /// Sets `ε`.
    ///
    /// ```
    /// let config = adamw_prox::AdamConfig::adamw(1e-3, 0.0).eps(0.0);
    /// assert_eq!(config.eps, 0.0);
    /// ```
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// Turns AMSGrad on or off.
    ///
    /// ```
    /// assert!(adamw_prox::AdamConfig::adamw(1e-3, 0.0).amsgrad(true).amsgrad);
    /// ```
    pub fn amsgrad(mut self, amsgrad: bool) -> Self {
        self.amsgrad = amsgrad;
        self
    }

    /// Overrides the automatic choice of implementation (for tests and benchmarks; not
    /// saved with the configuration).
    #[doc(hidden)]
    pub fn kernel(mut self, kernel: Kernel) -> Self {
        self.kernel = kernel;
        self
    }

    /// The optimizer owns this schedule: before each step it sets `η_t` from it, as the
    /// schedule's factor times each group's step size.
    ///
    /// ```
    /// use adamw_prox::{AdamConfig, Schedule};
    /// let config = AdamConfig::adamw(1e-3, 0.0).schedule(Schedule::warmup_cosine(100, 10_000));
    /// assert!(config.schedule.is_some());
    /// ```
    pub fn schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = Some(schedule);
        self
    }

    /// The optimizer over every trainable variable of `vs`, in one group named `all`, as
    /// tch's `OptimizerConfig::build`. Frozen variables are included and skipped while
    /// frozen; a trainable variable created in `vs` later is an error at the next step
    /// (see [`crate::Adam::add_param_group`]). Invalid settings are refused, naming the
    /// field.
    ///
    /// ```
    /// use adamw_prox::AdamConfig;
    /// use tch::{nn, Device};
    /// let vs = nn::VarStore::new(Device::Cpu);
    /// let _layer = nn::linear(vs.root() / "fc", 4, 2, Default::default());
    /// let opt = AdamConfig::torch_adamw(1e-3, 0.01).build(&vs)?;
    /// assert_eq!(opt.num_parameters(), 4 * 2 + 2);
    /// assert!(AdamConfig::adamw(-1.0, 0.0).build(&vs).is_err());
    /// # Ok::<(), adamw_prox::OptimError>(())
    /// ```
    pub fn build(self, vs: &VarStore) -> Result<Optimizer> {
        Optimizer::new(self.into(), vec![ParamGroup::from_var_store("all", vs)])
    }

    /// The optimizer over the given parameter groups (at least one, with distinct names).
    /// A group without its own `λ` or step size uses the config's.
    ///
    /// ```
    /// use adamw_prox::{AdamConfig, ParamGroup};
    /// use tch::{nn, Device};
    /// let vs = nn::VarStore::new(Device::Cpu);
    /// let _layer = nn::linear(vs.root() / "fc", 4, 2, Default::default());
    /// let groups = ParamGroup::split_var_store(&vs, |name| name.ends_with(".bias"));
    /// let opt = AdamConfig::adamw(1e-3, 1e-5).build_groups(groups)?;
    /// assert_eq!(opt.group("no_decay")?.weight_decay(), 0.0);
    /// # Ok::<(), adamw_prox::OptimError>(())
    /// ```
    pub fn build_groups(self, groups: Vec<ParamGroup>) -> Result<Optimizer> {
        Optimizer::new(self.into(), groups)
    }

    /// Refuses settings outside their valid ranges, naming the field. Building the
    /// optimizer calls it; call it to check a configuration read from a file early.
    ///
    /// ```
    /// use adamw_prox::{AdamConfig, OptimError};
    /// let err = AdamConfig::adamw(1e-3, 0.0).betas(0.9, 1.0).validate().unwrap_err();
    /// assert!(matches!(err, OptimError::InvalidSetting { field: "beta2", .. }));
    /// ```
    pub fn validate(&self) -> Result<()> {
        crate::OptimConfig::from(self.clone()).validate()
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
