//! Step-size schedules: they give `η_t`; the optimizer derives `s_t = η_t / η_0`.
use crate::error::{invalid, Result};
use serde::{Deserialize, Serialize};

/// A schedule of the step size as a function of the number of steps already taken.
///
/// Give it to the optimizer with [`crate::AdamConfig::schedule`] (then `η_0` is said once,
/// as the config's `lr`), or evaluate it yourself with [`Schedule::lr_at`] and pass the
/// result to [`crate::Adam::set_lr`] before each step.
///
/// ```
/// use adamw_prox::Schedule;
/// let cosine = Schedule::Cosine { total_steps: 100 };
/// assert_eq!(cosine.lr_at(1e-3, 0), 1e-3);
/// assert!((cosine.lr_at(1e-3, 50) - 5e-4).abs() < 1e-12);
/// assert_eq!(cosine.lr_at(1e-3, 100), 0.0);
/// assert!(Schedule::Cosine { total_steps: 0 }.try_lr_at(1e-3, 0).is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Schedule {
    /// `η_t = η_0`.
    Constant,
    /// Cosine annealing from `η_0` to 0 over `total_steps` (at least 1), then 0.
    Cosine {
        /// The steps over which it anneals.
        total_steps: u64,
    },
    /// `η_t = η_0 · gamma^⌊t / every⌋` (`every` at least 1, `gamma` finite and > 0).
    Step {
        /// Steps between two reductions.
        every: u64,
        /// The factor of each reduction.
        gamma: f64,
    },
    /// Linear warm-up from `η_0/warmup_steps` to `η_0` over `warmup_steps` (at least 1),
    /// then `then` (counted from the end of the warm-up).
    Warmup {
        /// The length of the warm-up.
        warmup_steps: u64,
        /// The schedule after it.
        then: Box<Schedule>,
    },
}

impl Schedule {
    /// Linear warm-up followed by cosine annealing, `total_steps` in all.
    ///
    /// ```
    /// use adamw_prox::Schedule;
    /// let s = Schedule::warmup_cosine(10, 110);
    /// assert_eq!(s.lr_at(1.0, 0), 0.1);
    /// assert_eq!(s.lr_at(1.0, 9), 1.0);
    /// assert_eq!(s.lr_at(1.0, 110), 0.0);
    /// ```
    pub fn warmup_cosine(warmup_steps: u64, total_steps: u64) -> Self {
        Schedule::Warmup {
            warmup_steps,
            then: Box::new(Schedule::Cosine {
                total_steps: total_steps.saturating_sub(warmup_steps).max(1),
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
            Schedule::Cosine { total_steps } => {
                let progress = steps_done.min(*total_steps) as f64 / *total_steps as f64;
                let lr = base_lr * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
                // cos(π) is not exactly -1 in floating point.
                lr.max(0.0)
            }
            Schedule::Step { every, gamma } => {
                base_lr * gamma.powi((steps_done / every).min(i32::MAX as u64) as i32)
            }
            Schedule::Warmup { warmup_steps, then } => {
                if steps_done < *warmup_steps {
                    base_lr * (steps_done + 1) as f64 / *warmup_steps as f64
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
            Schedule::Cosine { total_steps: 0 } => Err(invalid("total_steps", 0, "at least 1")),
            Schedule::Cosine { .. } => Ok(()),
            Schedule::Step { every: 0, .. } => Err(invalid("every", 0, "at least 1")),
            Schedule::Step { gamma, .. } if !(gamma.is_finite() && *gamma > 0.0) => {
                Err(invalid("gamma", gamma, "a finite number > 0"))
            }
            Schedule::Step { .. } => Ok(()),
            Schedule::Warmup {
                warmup_steps: 0, ..
            } => Err(invalid("warmup_steps", 0, "at least 1")),
            Schedule::Warmup { then, .. } => then.validate(),
        }
    }
}
