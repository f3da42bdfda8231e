//! Gradient clipping over the flat gradient buffers, as `torch.nn.utils.clip_grad_norm_`
//! and `clip_grad_value_` over the parameters that the next step updates.
use crate::error::{invalid, Result};
use crate::flat::FlatGroup;
use crate::optimizer::Adam;
use std::ops::Range;
use tch::{Kind, Tensor};

/// The parts of `buffer` in `ranges`: the buffer itself when they cover all of it.
fn parts(group: &FlatGroup, buffer: &Tensor, ranges: &[Range<i64>]) -> Vec<Tensor> {
    match ranges {
        [only] if only.start == 0 && only.end == group.numel() => vec![buffer.shallow_clone()],
        _ => ranges
            .iter()
            .map(|r| buffer.narrow(0, r.start, r.end - r.start))
            .collect(),
    }
}

impl Adam {
    /// Scales the gradients so that their global ℓ2 norm is at most `max_norm` and returns
    /// the norm before clipping, over the parameters that the next step updates. One
    /// reduction per group when all of its parameters take part.
    ///
    /// The scale is `max_norm / (norm + 1e-6)` when that is below 1, as PyTorch. A norm
    /// that is not finite is returned with the gradients left as they are (PyTorch would
    /// turn them into NaN): check it to skip such a step.
    ///
    /// ```
    /// use adamw_prox::AdamConfig;
    /// use tch::{nn, Device, Kind};
    /// let vs = nn::VarStore::new(Device::Cpu);
    /// let w = vs.root().ones("w", &[4]);
    /// let mut opt = AdamConfig::adamw(1e-2, 0.0).build(&vs)?;
    /// opt.zero_grad();
    /// (w.sum(Kind::Float) * 3.0).backward();
    /// let norm = opt.clip_grad_norm(1.0)?;
    /// assert!((norm - 6.0).abs() < 1e-6);
    /// assert!((w.grad().norm().double_value(&[]) - 1.0).abs() < 1e-5);
    /// opt.step()?;
    /// # Ok::<(), adamw_prox::OptimError>(())
    /// ```
    pub fn clip_grad_norm(&mut self, max_norm: f64) -> Result<f64> {
        if !(max_norm.is_finite() && max_norm > 0.0) {
            return Err(invalid("max_norm", max_norm, "a finite number > 0"));
        }
        let takes_part = self.prepare()?;
        let ranges: Vec<Vec<Range<i64>>> = self
            .groups
            .iter()
            .zip(&takes_part)
            .map(|(g, t)| g.active_ranges(t))
            .collect();
        let mut sum_of_squares = 0.0;
        for (group, ranges) in self.groups.iter().zip(&ranges) {
            let norm = match parts(group, &group.grads, ranges).as_slice() {
                [] => continue,
                [whole] => whole.norm(),
                many => Tensor::stack(&many.iter().map(Tensor::norm).collect::<Vec<_>>(), 0).norm(),
            };
            let norm = norm.to_kind(Kind::Double).double_value(&[]);
            sum_of_squares += norm * norm;
        }
        let total = sum_of_squares.sqrt();
        let scale = max_norm / (total + 1e-6);
        if total.is_finite() && scale < 1.0 {
            for (group, ranges) in self.groups.iter().zip(&ranges) {
                for mut part in parts(group, &group.grads, ranges) {
                    let _ = part.g_mul_scalar_(scale);
                }
            }
        }
        Ok(total)
    }

    /// Clamps the gradients of the parameters that the next step updates to
    /// `[-max_value, max_value]`.
    ///
    /// ```
    /// use adamw_prox::AdamConfig;
    /// use tch::{nn, Device, Kind};
    /// let vs = nn::VarStore::new(Device::Cpu);
    /// let w = vs.root().ones("w", &[4]);
    /// let mut opt = AdamConfig::adamw(1e-2, 0.0).build(&vs)?;
    /// opt.zero_grad();
    /// (w.sum(Kind::Float) * 3.0).backward();
    /// opt.clip_grad_value(0.5)?;
    /// assert_eq!(w.grad().max().double_value(&[]), 0.5);
    /// # Ok::<(), adamw_prox::OptimError>(())
    /// ```
    pub fn clip_grad_value(&mut self, max_value: f64) -> Result<()> {
        if !(max_value.is_finite() && max_value > 0.0) {
            return Err(invalid("max_value", max_value, "a finite number > 0"));
        }
        let takes_part = self.prepare()?;
        for (group, takes_part) in self.groups.iter().zip(&takes_part) {
            for mut part in parts(group, &group.grads, &group.active_ranges(takes_part)) {
                let _ = part.clamp_(-max_value, max_value);
            }
        }
        Ok(())
    }
}
