//! Step-size schedules: they give `η_t`; the optimizer derives `s_t = η_t / η_0`.
use crate::error::{invalid, Result};
use serde::{Deserialize, Serialize};

/// A schedule of the step size as a function of the number of steps already taken.
///
/// Give it to the optimizer with [`crate::AdamConfig::schedule`] or
/// [`crate::OptimConfig::schedule`] (then `η_0` is said once, as the config's `lr`), or
/// evaluate it yourself with [`Schedule::lr_at`] and pass the result to
/// [`crate::Adam::set_lr`] before each step.
///
/// A schedule is a factor of the step size: `lr_at(base_lr, t)` is `base_lr` times a
/// number that depends on `t` only, and an owned schedule gives a group with its own step
/// size `lr_g` the step size `lr_g` times that factor. PyTorch's `torch.optim.lr_scheduler`
/// classes do the same to each group's `lr`, except where they take an absolute step
/// size (`CosineAnnealingLR`'s `eta_min`, see [`Schedule::Cosine`]).
///
/// | PyTorch (`torch.optim.lr_scheduler`, transformers) | here |
/// |---|---|
/// | no scheduler | `Constant` |
/// | `CosineAnnealingLR(T_max, eta_min)` | `Cosine { total_steps: T_max, min_factor: eta_min / lr }` |
/// | `StepLR(step_size, gamma)` | `Step { every: step_size, gamma }` |
/// | `MultiStepLR(milestones, gamma)` | `MultiStep { milestones, gamma }` |
/// | `ExponentialLR(gamma)` | `Exponential { gamma }` |
/// | `LinearLR(start_factor=1, end_factor, total_iters)` | `Linear { total_steps: total_iters, end_factor }` |
/// | `SequentialLR([LinearLR(1/W, 1, W − 1), S], milestones=[W])` | `Warmup { warmup_steps: W, from_zero: false, then: S }` |
/// | transformers' `get_cosine_schedule_with_warmup(W, N)` | [`Schedule::warmup_cosine_from_zero`]`(W, N)` |
/// | transformers' `get_linear_schedule_with_warmup(W, N)` | [`Schedule::warmup_linear_from_zero`]`(W, N)` |
///
/// Where the two differ: after `total_steps`, `Cosine` stays at its minimum (PyTorch's
/// `CosineAnnealingLR` and transformers' cosine rise again), and PyTorch evaluates most
/// schedulers step by step (`lr_t` from `lr_{t−1}`), so the step sizes agree to about
/// 1e-14 relative, not bit for bit (crates/optim/tests/schedules.rs measures it).
///
/// ```
/// use adamw_prox::Schedule;
/// let cosine = Schedule::cosine(100);
/// assert_eq!(cosine.lr_at(1e-3, 0), 1e-3);
/// assert!((cosine.lr_at(1e-3, 50) - 5e-4).abs() < 1e-12);
/// assert_eq!(cosine.lr_at(1e-3, 100), 0.0);
/// assert!(Schedule::cosine(0).try_lr_at(1e-3, 0).is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Schedule {
    /// `η_t = η_0`.
    Constant,
    /// Cosine annealing from `η_0` to `η_0·min_factor` over `total_steps` (at least 1),
    /// then `η_0·min_factor`: `η_t = η_0·(m + (1 − m)·(1 + cos(π·t/T))/2)` with
    /// `m = min_factor` (in `[0, 1]`) and `t ≤ T = total_steps`.
    ///
    /// PyTorch's `CosineAnnealingLR(T_max, eta_min)` takes the minimum as a step size;
    /// here it is a fraction of each group's step size: `min_factor = eta_min / lr`, `lr`
    /// being the optimizer's. A group with its own step size `lr_g` then ends at
    /// `lr_g·min_factor`, where PyTorch would end every group at the same `eta_min` (the
    /// two agree for every group when `eta_min = 0` or all groups share one `lr`).
    ///
    /// ```
    /// use adamw_prox::Schedule;
    /// // CosineAnnealingLR(optimizer(lr=0.1), T_max=100, eta_min=0.001)
    /// let s = Schedule::Cosine { total_steps: 100, min_factor: 0.001 / 0.1 };
    /// assert_eq!(s.lr_at(0.1, 0), 0.1);
    /// assert!((s.lr_at(0.1, 50) - (0.001 + 0.099 / 2.0)).abs() < 1e-15);
    /// assert!((s.lr_at(0.1, 100) - 0.001).abs() < 1e-15);
    /// assert!((s.lr_at(0.1, 1000) - 0.001).abs() < 1e-15); // stays at the minimum
    /// assert!(Schedule::Cosine { total_steps: 100, min_factor: 2.0 }.validate().is_err());
    /// ```
    Cosine {
        /// The steps over which it anneals.
        total_steps: u64,
        /// The final step size as a fraction of the initial one, in `[0, 1]`; 0 when a
        /// file does not have it (files written before it existed), and then not written.
        #[serde(default, skip_serializing_if = "is_zero")]
        min_factor: f64,
    },
    /// `η_t = η_0 · gamma^⌊t / every⌋` (`every` at least 1, `gamma` finite and > 0), as
    /// PyTorch's `StepLR(step_size=every, gamma)`.
    ///
    /// ```
    /// use adamw_prox::Schedule;
    /// let s = Schedule::Step { every: 30, gamma: 0.1 };
    /// assert_eq!(s.lr_at(1.0, 29), 1.0);
    /// assert_eq!(s.lr_at(1.0, 30), 0.1);
    /// ```
    Step {
        /// Steps between two reductions.
        every: u64,
        /// The factor of each reduction.
        gamma: f64,
    },
    /// `η_t = η_0 · gamma^k`, `k` the number of milestones `≤ t`, as PyTorch's
    /// `MultiStepLR(milestones, gamma)`. The milestones are in increasing order; one given
    /// twice reduces twice (as PyTorch counts it); `gamma` is finite and > 0.
    ///
    /// ```
    /// use adamw_prox::Schedule;
    /// let s = Schedule::MultiStep { milestones: vec![30, 80], gamma: 0.1 };
    /// assert_eq!(s.lr_at(1.0, 29), 1.0);
    /// assert_eq!(s.lr_at(1.0, 30), 0.1);
    /// assert!((s.lr_at(1.0, 80) - 0.01).abs() < 1e-17);
    /// let unsorted = Schedule::MultiStep { milestones: vec![80, 30], gamma: 0.1 };
    /// assert!(unsorted.validate().unwrap_err().to_string().contains("`milestones`"));
    /// ```
    MultiStep {
        /// The steps at which the step size is multiplied by `gamma`.
        milestones: Vec<u64>,
        /// The factor of each reduction.
        gamma: f64,
    },
    /// `η_t = η_0 · gamma^t` (`gamma` finite and > 0), as PyTorch's `ExponentialLR(gamma)`.
    ///
    /// ```
    /// use adamw_prox::Schedule;
    /// let s = Schedule::Exponential { gamma: 0.5 };
    /// assert_eq!(s.lr_at(1.0, 3), 0.125);
    /// assert!(Schedule::Exponential { gamma: 0.0 }.validate().is_err());
    /// ```
    Exponential {
        /// The factor of each step.
        gamma: f64,
    },
    /// Linear from `η_0` to `η_0·end_factor` over `total_steps` (at least 1), then
    /// `η_0·end_factor`: `η_t = η_0·((T − t) + end_factor·t)/T` for `t ≤ T`, as PyTorch's
    /// `LinearLR(start_factor=1.0, end_factor, total_iters=T)`. With `end_factor = 0` it is
    /// the decay of transformers' linear schedule ([`Schedule::warmup_linear_from_zero`]).
    ///
    /// ```
    /// use adamw_prox::Schedule;
    /// let s = Schedule::Linear { total_steps: 100, end_factor: 0.0 };
    /// assert_eq!(s.lr_at(1.0, 0), 1.0);
    /// assert_eq!(s.lr_at(1.0, 25), 0.75);
    /// assert_eq!(s.lr_at(1.0, 100), 0.0);
    /// assert_eq!(s.lr_at(1.0, 200), 0.0);
    /// assert!(Schedule::Linear { total_steps: 0, end_factor: 0.0 }.validate().is_err());
    /// ```
    Linear {
        /// The steps over which it decays.
        total_steps: u64,
        /// The final step size as a fraction of the initial one, in `[0, 1]`.
        end_factor: f64,
    },
    /// Linear warm-up over `warmup_steps` (at least 1), then `then` (counted from the end
    /// of the warm-up). The warm-up's factor at step `t < W = warmup_steps` is
    /// `(t + 1)/W` (from `η_0/W` up to `η_0` at its last step: PyTorch's
    /// `LinearLR(start_factor=1/W, total_iters=W − 1)`), or with `from_zero` `t/W` (from 0,
    /// as transformers' `get_*_schedule_with_warmup`: the first step has step size 0).
    ///
    /// ```
    /// use adamw_prox::Schedule;
    /// let constant = Box::new(Schedule::Constant);
    /// let s = Schedule::Warmup { warmup_steps: 4, from_zero: false, then: constant.clone() };
    /// assert_eq!([0, 1, 3, 4].map(|t| s.lr_at(1.0, t)), [0.25, 0.5, 1.0, 1.0]);
    /// let s = Schedule::Warmup { warmup_steps: 4, from_zero: true, then: constant };
    /// assert_eq!([0, 1, 3, 4].map(|t| s.lr_at(1.0, t)), [0.0, 0.25, 0.75, 1.0]);
    /// ```
    Warmup {
        /// The length of the warm-up.
        warmup_steps: u64,
        /// Start from 0 (`t/W`) rather than from `1/W` (`(t + 1)/W`); false when a file
        /// does not have it (files written before it existed), and then not written.
        #[serde(default, skip_serializing_if = "is_false")]
        from_zero: bool,
        /// The schedule after it.
        then: Box<Schedule>,
    },
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Schedule {
    /// Cosine annealing to 0 over `total_steps`: `Cosine { total_steps, min_factor: 0.0 }`.
    ///
    /// ```
    /// use adamw_prox::Schedule;
    /// assert_eq!(Schedule::cosine(100), Schedule::Cosine { total_steps: 100, min_factor: 0.0 });
    /// ```
    pub fn cosine(total_steps: u64) -> Self {
        Schedule::Cosine {
            total_steps,
            min_factor: 0.0,
        }
    }

    /// Linear warm-up from `η_0/warmup_steps` followed by cosine annealing to 0,
    /// `total_steps` in all (the cosine over `total_steps − warmup_steps`, at least 1).
    /// The step size is `η_0` at the warm-up's last step and at the first step after it.
    ///
    /// ```
    /// use adamw_prox::Schedule;
    /// let s = Schedule::warmup_cosine(10, 110);
    /// assert_eq!(s.lr_at(1.0, 0), 0.1);
    /// assert_eq!(s.lr_at(1.0, 9), 1.0);
    /// assert_eq!(s.lr_at(1.0, 10), 1.0);
    /// assert_eq!(s.lr_at(1.0, 110), 0.0);
    /// ```
    pub fn warmup_cosine(warmup_steps: u64, total_steps: u64) -> Self {
        Schedule::Warmup {
            warmup_steps,
            from_zero: false,
            then: Box::new(Schedule::cosine(
                total_steps.saturating_sub(warmup_steps).max(1),
            )),
        }
    }

    /// transformers' `get_cosine_schedule_with_warmup(optimizer, warmup_steps,
    /// total_steps)`: a linear warm-up from 0 (`t/W`), then cosine annealing to 0 over
    /// `total_steps − warmup_steps` (at least 1), `total_steps` in all.
    ///
    /// ```
    /// use adamw_prox::Schedule;
    /// let s = Schedule::warmup_cosine_from_zero(10, 110);
    /// assert_eq!(s.lr_at(1.0, 0), 0.0);
    /// assert_eq!(s.lr_at(1.0, 5), 0.5);
    /// assert_eq!(s.lr_at(1.0, 10), 1.0);
    /// assert!((s.lr_at(1.0, 60) - 0.5).abs() < 1e-15);
    /// assert_eq!(s.lr_at(1.0, 110), 0.0);
    /// ```
    pub fn warmup_cosine_from_zero(warmup_steps: u64, total_steps: u64) -> Self {
        Schedule::Warmup {
            warmup_steps,
            from_zero: true,
            then: Box::new(Schedule::cosine(
                total_steps.saturating_sub(warmup_steps).max(1),
            )),
        }
    }

    /// transformers' `get_linear_schedule_with_warmup(optimizer, warmup_steps,
    /// total_steps)`: a linear warm-up from 0 (`t/W`), then a linear decay to 0 over
    /// `total_steps − warmup_steps` (at least 1), `total_steps` in all.
    ///
    /// ```
    /// use adamw_prox::Schedule;
    /// let s = Schedule::warmup_linear_from_zero(10, 110);
    /// assert_eq!(s.lr_at(1.0, 0), 0.0);
    /// assert_eq!(s.lr_at(1.0, 10), 1.0);
    /// assert_eq!(s.lr_at(1.0, 60), 0.5);
    /// assert_eq!(s.lr_at(1.0, 110), 0.0);
    /// ```
    pub fn warmup_linear_from_zero(warmup_steps: u64, total_steps: u64) -> Self {
        Schedule::Warmup {
            warmup_steps,
            from_zero: true,
            then: Box::new(Schedule::Linear {
                total_steps: total_steps.saturating_sub(warmup_steps).max(1),
                end_factor: 0.0,
            }),
        }
    }

    /// `η` for the step that follows `steps_done` completed steps, from `base_lr` (`η_0`).
    ///
    /// # Panics
    ///
    /// If the schedule is invalid (see [`Schedule::validate`]) or `base_lr` is negative or
    /// not finite: a wrong step size must not be returned silently. [`Schedule::try_lr_at`]
    /// returns the error instead.
    pub fn lr_at(&self, base_lr: f64, steps_done: u64) -> f64 {
        match self.try_lr_at(base_lr, steps_done) {
            Ok(lr) => lr,
            Err(e) => panic!("{e}"),
        }
    }

    /// [`Schedule::lr_at`], with an invalid schedule or `base_lr` as an error naming the field.
    pub fn try_lr_at(&self, base_lr: f64, steps_done: u64) -> Result<f64> {
        if !(base_lr.is_finite() && base_lr >= 0.0) {
            return Err(invalid("base_lr", base_lr, "a finite number >= 0"));
        }
        self.validate()?;
        Ok(self.evaluate(base_lr, steps_done))
    }

    fn evaluate(&self, base_lr: f64, steps_done: u64) -> f64 {
        match self {
            Schedule::Constant => base_lr,
            Schedule::Cosine {
                total_steps,
                min_factor,
            } => {
                let progress = steps_done.min(*total_steps) as f64 / *total_steps as f64;
                let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
                // With min_factor = 0 the factor is `cosine` itself, bit for bit as before
                // min_factor existed; cos(π) is not exactly -1 in floating point.
                let factor = min_factor + (1.0 - min_factor) * cosine;
                (base_lr * factor).max(0.0)
            }
            Schedule::Step { every, gamma } => base_lr * power(*gamma, steps_done / every),
            Schedule::MultiStep { milestones, gamma } => {
                let passed = milestones.partition_point(|&m| m <= steps_done);
                base_lr * power(*gamma, passed as u64)
            }
            Schedule::Exponential { gamma } => base_lr * power(*gamma, steps_done),
            Schedule::Linear {
                total_steps,
                end_factor,
            } => {
                let (t, total) = (steps_done.min(*total_steps), *total_steps);
                // (T − t) is exact: the factor is 1 at t = 0 and end_factor at t = T.
                base_lr * (((total - t) as f64 + end_factor * t as f64) / total as f64)
            }
            Schedule::Warmup {
                warmup_steps,
                from_zero,
                then,
            } => {
                if steps_done < *warmup_steps {
                    let done = if *from_zero {
                        steps_done
                    } else {
                        steps_done + 1
                    };
                    base_lr * done as f64 / *warmup_steps as f64
                } else {
                    then.evaluate(base_lr, steps_done - warmup_steps)
                }
            }
        }
    }

    /// Refuses schedules that cannot be evaluated, naming the field.
    ///
    /// ```
    /// use adamw_prox::Schedule;
    /// assert!(Schedule::Step { every: 0, gamma: 0.1 }.validate().is_err());
    /// assert!(Schedule::Step { every: 30, gamma: 0.1 }.validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<()> {
        match self {
            Schedule::Constant => Ok(()),
            Schedule::Cosine { total_steps: 0, .. } => Err(invalid("total_steps", 0, "at least 1")),
            Schedule::Cosine { min_factor, .. } => unit_fraction("min_factor", *min_factor),
            Schedule::Step { every: 0, .. } => Err(invalid("every", 0, "at least 1")),
            Schedule::Step { gamma, .. }
            | Schedule::MultiStep { gamma, .. }
            | Schedule::Exponential { gamma }
                if !(gamma.is_finite() && *gamma > 0.0) =>
            {
                Err(invalid("gamma", gamma, "a finite number > 0"))
            }
            Schedule::Step { .. } | Schedule::Exponential { .. } => Ok(()),
            Schedule::MultiStep { milestones, .. } => {
                match milestones.windows(2).find(|w| w[0] > w[1]) {
                    Some(w) => Err(invalid(
                        "milestones",
                        format!("{milestones:?} ({} before {})", w[0], w[1]),
                        "in increasing order",
                    )),
                    None => Ok(()),
                }
            }
            Schedule::Linear { total_steps: 0, .. } => Err(invalid("total_steps", 0, "at least 1")),
            Schedule::Linear { end_factor, .. } => unit_fraction("end_factor", *end_factor),
            Schedule::Warmup {
                warmup_steps: 0, ..
            } => Err(invalid("warmup_steps", 0, "at least 1")),
            Schedule::Warmup { then, .. } => then.validate(),
        }
    }
}

/// `gamma^n`, with `n` beyond `i32` (where any `gamma ≠ 1` has reached 0 or infinity)
/// taken as `i32::MAX`.
fn power(gamma: f64, n: u64) -> f64 {
    gamma.powi(n.min(i32::MAX as u64) as i32)
}

fn unit_fraction(field: &'static str, x: f64) -> Result<()> {
    if (0.0..=1.0).contains(&x) {
        Ok(())
    } else {
        Err(invalid(field, x, "in [0, 1]"))
    }
}
