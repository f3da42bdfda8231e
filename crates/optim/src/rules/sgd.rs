//! SGD with momentum, dampening and Nesterov momentum, as `torch.optim.SGD`.
//!
//! Per element, with `h = g + l2·x`: `b ← h` at the parameter's first step, else
//! `b ← μ·b + (1 − dampening)·h`; the direction is `h + μ·b` (Nesterov) or `b` (or `h`
//! without momentum); `x ← (pre·x − η_t·direction) / post`.
use crate::error::{OptimError, Result};
use crate::rule::{
    apply_decay, cast, gradient_tensor, in_range, unknown_setting, Piece, Placement, Setting,
    StepInfo, UpdateRule,
};
use num_traits::Float;
use tch::Tensor;

/// SGD's settings (PyTorch's names). Invariances: none; a tensor's gradients multiplied
/// by `c` multiply its steps by `c`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sgd {
    /// `μ`, the momentum factor, `≥ 0` (0: no momentum buffer).
    pub momentum: f64,
    /// The dampening of the momentum, in `[0, 1]`.
    pub dampening: f64,
    /// Nesterov momentum (needs `momentum > 0` and `dampening = 0`, as PyTorch).
    pub nesterov: bool,
}

impl Sgd {
    /// `torch.optim.SGD(lr, momentum, dampening, weight_decay, nesterov)`: ℓ2 decay, the
    /// same numbers.
    ///
    /// ```
    /// use adamw_prox::rules::Sgd;
    /// let config = Sgd::torch(0.1, 0.9, 0.0, 5e-4, true);
    /// assert_eq!(config.name(), "sgd");
    /// assert_eq!(config.weight_decay, 5e-4);
    /// config.validate()?;
    /// # Ok::<(), adamw_prox::OptimError>(())
    /// ```
    pub fn torch(
        lr: f64,
        momentum: f64,
        dampening: f64,
        weight_decay: f64,
        nesterov: bool,
    ) -> crate::OptimConfig {
        let rule = Sgd {
            momentum,
            dampening,
            nesterov,
        };
        crate::OptimConfig::new(rule, Placement::L2, lr, weight_decay)
    }

    fn step_slices<T: Float>(&self, info: &StepInfo, piece: Piece<'_, T>) {
        let decay = info.decay::<T>();
        let lr = cast::<T>(info.lr);
        let Piece { x, g, mut state } = piece;
        let Some(buffer) = state.first_mut() else {
            for (x, &g) in x.iter_mut().zip(g) {
                let h = decay.gradient(*x, g);
                *x = decay.apply(*x, lr * h);
            }
            return;
        };
        let (mu, keep) = (cast::<T>(self.momentum), cast::<T>(1.0 - self.dampening));
        let first = info.t <= 1;
        for ((x, &g), b) in x.iter_mut().zip(g).zip(buffer.iter_mut()) {
            let h = decay.gradient(*x, g);
            *b = if first { h } else { mu * *b + keep * h };
            let direction = if self.nesterov { h + mu * *b } else { *b };
            *x = decay.apply(*x, lr * direction);
        }
    }
}

const PLACEMENTS: &[Placement] = &[Placement::L2, Placement::Decoupled, Placement::Proximal];

impl UpdateRule for Sgd {
    fn family(&self) -> &'static str {
        "sgd"
    }

    fn placements(&self) -> &'static [Placement] {
        PLACEMENTS
    }

    fn settings(&self) -> Vec<(&'static str, Setting)> {
        vec![
            ("momentum", self.momentum.into()),
            ("dampening", self.dampening.into()),
            ("nesterov", self.nesterov.into()),
        ]
    }

    fn set(&mut self, key: &str, value: Setting) -> Result<()> {
        match key {
            "momentum" => {
                let m = value.number("momentum")?;
                self.momentum = in_range("momentum", m, 0.0, f64::INFINITY, "a finite number >= 0")?
            }
            "dampening" => {
                let d = value.number("dampening")?;
                self.dampening = in_range("dampening", d, 0.0, 1.0 + f64::EPSILON, "in [0, 1]")?
            }
            "nesterov" => self.nesterov = value.flag("nesterov")?,
            _ => return Err(unknown_setting(self, key)),
        }
        Ok(())
    }

    fn check(&self) -> Result<()> {
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(OptimError::InvalidSetting {
                field: "nesterov",
                value: format!(
                    "true with momentum = {}, dampening = {}",
                    self.momentum, self.dampening
                ),
                expected: "used with momentum > 0 and dampening = 0 (as torch.optim.SGD)",
            });
        }
        Ok(())
    }

    fn state_names(&self) -> Vec<&'static str> {
        if self.momentum != 0.0 {
            vec!["momentum_buffer"]
        } else {
            vec![]
        }
    }

    fn step_f32(&self, info: &StepInfo, piece: Piece<'_, f32>) {
        self.step_slices(info, piece)
    }

    fn step_f64(&self, info: &StepInfo, piece: Piece<'_, f64>) {
        self.step_slices(info, piece)
    }

    fn step_tensors(&self, info: &StepInfo, x: &Tensor, g: &Tensor, state: &[Tensor]) {
        let h = gradient_tensor(info, x, g);
        let direction = match state.first() {
            None => h,
            Some(buffer) => {
                let mut b = buffer.shallow_clone();
                if info.t <= 1 {
                    b.copy_(&h);
                } else {
                    let _ = b
                        .g_mul_scalar_(self.momentum)
                        .g_add_(&(&h * (1.0 - self.dampening)));
                }
                if self.nesterov {
                    h + &b * self.momentum
                } else {
                    b
                }
            }
        };
        apply_decay(info, x, &direction, info.lr);
    }

    fn boxed_clone(&self) -> Box<dyn UpdateRule> {
        Box::new(*self)
    }
}

pub(crate) fn new() -> Box<dyn UpdateRule> {
    Box::new(Sgd::default())
}

pub(crate) const NAMES: &[super::Named] = &[
    super::Named {
        name: "sgd",
        placement: Placement::L2,
        summary: "SGD (torch.optim.SGD's weight_decay): λ·x in the gradient; no invariance",
    },
    super::Named {
        name: "sgdw",
        placement: Placement::Decoupled,
        summary: "SGDW: SGD with decoupled decay; no invariance",
    },
    super::Named {
        name: "sgd-prox",
        placement: Placement::Proximal,
        summary: "SGD with the proximal decay; no invariance",
    },
];
