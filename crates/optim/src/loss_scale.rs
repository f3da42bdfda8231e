//! [`LossScaler`]: dynamic loss scaling for float16 training, as PyTorch's `GradScaler`.
use crate::error::{invalid, Result};
use crate::optimizer::Adam;
use serde::{Deserialize, Serialize};

/// Dynamic loss scaling, with PyTorch `GradScaler`'s rule and defaults: the loss is
/// multiplied by the scale before backward so that small float16 gradients do not flush
/// to zero; [`LossScaler::step`] divides the gradients back and steps only if they are
/// all finite. A step with a non-finite gradient is skipped (weights, moments and step
/// counts stay as they were) and the scale is multiplied by the backoff factor; after
/// `growth_interval` steps in a row without one, it is multiplied by the growth factor.
///
/// The gradients are unscaled in their own dtype: float32 for a model kept in float32
/// whose operations run in float16 (autocast's way), which is what this is for.
///
/// ```
/// use adamw_prox::{AdamConfig, LossScaler};
/// use tch::{nn, Device, Kind};
/// let vs = nn::VarStore::new(Device::Cpu);
/// let w = vs.root().ones("w", &[3]);
/// let mut opt = AdamConfig::adamw(1e-2, 0.0).build(&vs)?;
/// let mut scaler = LossScaler::default();
/// opt.zero_grad();
/// (w.sum(Kind::Float) * scaler.scale()).backward();
/// assert!(scaler.step(&mut opt)?); // finite: unscaled and taken
/// assert_eq!(opt.step_count(), 1);
/// opt.zero_grad();
/// (w.sum(Kind::Float) * f64::INFINITY).backward();
/// assert!(!scaler.step(&mut opt)?); // skipped, the scale backed off
/// assert_eq!((opt.step_count(), scaler.skipped_steps(), scaler.scale()), (1, 1, 32768.0));
/// # Ok::<(), adamw_prox::OptimError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LossScaler {
    scale: f64,
    growth_factor: f64,
    backoff_factor: f64,
    growth_interval: u64,
    /// Steps in a row with finite gradients since the scale last changed.
    good_steps: u64,
    skipped: u64,
}

impl Default for LossScaler {
    /// PyTorch's defaults: scale 2¹⁶, growth ×2 every 2,000 good steps, backoff ×½.
    fn default() -> Self {
        LossScaler {
            scale: 65536.0,
            growth_factor: 2.0,
            backoff_factor: 0.5,
            growth_interval: 2000,
            good_steps: 0,
            skipped: 0,
        }
    }
}

impl LossScaler {
    /// A scaler starting at `scale`, multiplied by `growth_factor` (> 1) after
    /// `growth_interval` (≥ 1) good steps in a row and by `backoff_factor` (in (0, 1))
    /// after a skipped one.
    ///
    /// ```
    /// let scaler = adamw_prox::LossScaler::new(1024.0, 2.0, 0.5, 100)?;
    /// assert_eq!(scaler.scale(), 1024.0);
    /// assert!(adamw_prox::LossScaler::new(1024.0, 0.5, 0.5, 100).is_err());
    /// # Ok::<(), adamw_prox::OptimError>(())
    /// ```
    pub fn new(
        scale: f64,
        growth_factor: f64,
        backoff_factor: f64,
        growth_interval: u64,
    ) -> Result<Self> {
        if !(scale.is_finite() && scale > 0.0) {
            return Err(invalid("scale", scale, "a finite number > 0"));
        }
        if !(growth_factor.is_finite() && growth_factor > 1.0) {
            return Err(invalid(
                "growth_factor",
                growth_factor,
                "a finite number > 1",
            ));
        }
        if !(backoff_factor > 0.0 && backoff_factor < 1.0) {
            return Err(invalid(
                "backoff_factor",
                backoff_factor,
                "a number in (0, 1)",
            ));
        }
        if growth_interval == 0 {
            return Err(invalid("growth_interval", 0, "at least 1"));
        }
        Ok(LossScaler {
            scale,
            growth_factor,
            backoff_factor,
            growth_interval,
            good_steps: 0,
            skipped: 0,
        })
    }

    /// What to multiply the loss by before backward.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// The steps skipped so far for non-finite gradients.
    pub fn skipped_steps(&self) -> u64 {
        self.skipped
    }

    /// Divides every gradient of `opt` by the scale and says whether they are all finite
    /// (one read from the device). Changes no weight, moment or step count.
    pub fn unscale(&self, opt: &mut Adam) -> Result<bool> {
        opt.sync_grads()?;
        let _no_grad = tch::no_grad_guard();
        let inverse = 1.0 / self.scale;
        let mut finite = true;
        for group in opt.groups() {
            let mut grads = group.grads().shallow_clone();
            let _ = grads.g_mul_scalar_(inverse);
            finite &= grads.isfinite().all().int64_value(&[]) == 1;
        }
        Ok(finite)
    }

    /// Updates the scale after a step whose gradients were `finite` or not.
    pub fn update(&mut self, finite: bool) {
        if finite {
            self.good_steps += 1;
            if self.good_steps == self.growth_interval {
                self.scale *= self.growth_factor;
                self.good_steps = 0;
            }
        } else {
            self.scale *= self.backoff_factor;
            self.good_steps = 0;
            self.skipped += 1;
        }
    }

    /// [`LossScaler::unscale`], then [`Adam::step`] if the gradients are finite, then
    /// [`LossScaler::update`]; returns whether the step was taken.
    pub fn step(&mut self, opt: &mut Adam) -> Result<bool> {
        let finite = self.unscale(opt)?;
        if finite {
            opt.step()?;
        }
        self.update(finite);
        Ok(finite)
    }
}
