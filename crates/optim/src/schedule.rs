//! Step-size schedules: they give `η_t`; the optimizer derives `s_t = η_t / η_0`.
use crate::error::{invalid, Result};
use serde::{Deserialize, Serialize};

/// A schedule of the step size as a function of the number of steps already taken.
///
/// ```
/// use optim::Schedule;
/// let cosine = Schedule::Cosine { total_steps: 100 };
/// assert_eq!(cosine.lr_at(1e-3, 0), 1e-3);
/// assert!((cosine.lr_at(1e-3, 50) - 5e-4).abs() < 1e-12);
/// assert_eq!(cosine.lr_at(1e-3, 100), 0.0);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Schedule {
    /// `η_t = η_0` (the paper's main setting).
    Constant,
    /// Cosine annealing from `η_0` to 0 over `total_steps`, then 0.
    Cosine { total_steps: u64 },
    /// `η_t = η_0 · gamma^⌊t / every⌋`.
    Step { every: u64, gamma: f64 },
    /// Linear warm-up from `η_0/warmup_steps` to `η_0` over `warmup_steps`, then `then`
    /// (counted from the end of the warm-up).
    Warmup {
        warmup_steps: u64,
        then: Box<Schedule>,
    },
}

impl Schedule {
    /// Linear warm-up followed by cosine annealing, `total_steps` in all.
    pub fn warmup_cosine(warmup_steps: u64, total_steps: u64) -> Self {
        Schedule::Warmup {
            warmup_steps,
            then: Box::new(Schedule::Cosine {
                total_steps: total_steps.saturating_sub(warmup_steps).max(1),
            }),
        }
    }

    /// `η` for the step that follows `steps_done` completed steps.
    pub fn lr_at(&self, base_lr: f64, steps_done: u64) -> f64 {
        match self {
            Schedule::Constant => base_lr,
            Schedule::Cosine { total_steps } => {
                let progress = steps_done.min(*total_steps) as f64 / *total_steps as f64;
                let lr = base_lr * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
                lr.max(0.0)
            }
            Schedule::Step { every, gamma } => {
                base_lr * gamma.powi((steps_done / every).min(i32::MAX as u64) as i32)
            }
            Schedule::Warmup { warmup_steps, then } => {
                if steps_done < *warmup_steps {
                    base_lr * (steps_done + 1) as f64 / *warmup_steps as f64
                } else {
                    then.lr_at(base_lr, steps_done - warmup_steps)
                }
            }
        }
    }

    /// Refuses schedules that cannot be evaluated, naming the field.
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
