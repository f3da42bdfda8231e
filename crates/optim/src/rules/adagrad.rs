//! Adagrad as `torch.optim.Adagrad`: `lr_decay`, `initial_accumulator_value`, `eps`.
//!
//! Per element, with `h = g + l2·x`: `s ← s + h²`, `x ← (pre·x − η'_t·h/(√s + ε)) / post`
//! with `η'_t = η_t / (1 + (t − 1)·lr_decay)`, `t` the parameter's own step count.
use crate::error::Result;
use crate::rule::{
    apply_decay, cast, gradient_tensor, in_range, unknown_setting, Piece, Placement, Setting,
    StepInfo, UpdateRule,
};
use num_traits::Float;
use tch::Tensor;

/// Adagrad's settings (PyTorch's names and defaults). Invariance (ε = 0, zero initial
/// accumulator, decoupled or proximal decay): a coordinate's gradients multiplied by a
/// fixed factor leave the iterates unchanged.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adagrad {
    /// The decay of the step size with the step count, `≥ 0`.
    pub lr_decay: f64,
    /// The value the sum of squares starts from, `≥ 0`.
    pub initial_accumulator_value: f64,
    /// `ε`, added to the root; `≥ 0`.
    pub eps: f64,
}

impl Default for Adagrad {
    fn default() -> Self {
        Adagrad {
            lr_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
        }
    }
}

impl Adagrad {
    /// `torch.optim.Adagrad(lr, lr_decay, weight_decay, initial_accumulator_value, eps)`:
    /// ℓ2 decay, the same numbers.
    ///
    /// ```
    /// use adamw_prox::rules::Adagrad;
    /// let config = Adagrad::torch(1e-2, 0.0, 0.0, 0.1, 1e-10);
    /// assert_eq!(config.name(), "adagrad");
    /// ```
    pub fn torch(
        lr: f64,
        lr_decay: f64,
        weight_decay: f64,
        initial_accumulator_value: f64,
        eps: f64,
    ) -> crate::OptimConfig {
        let rule = Adagrad {
            lr_decay,
            initial_accumulator_value,
            eps,
        };
        crate::OptimConfig::new(rule, Placement::L2, lr, weight_decay)
    }

    /// `η'_t` of a parameter at its step `t`.
    fn decayed_lr(&self, info: &StepInfo) -> f64 {
        info.lr / (1.0 + (info.t.saturating_sub(1)) as f64 * self.lr_decay)
    }

    fn step_slices<T: Float>(&self, info: &StepInfo, piece: Piece<'_, T>) {
        let decay = info.decay::<T>();
        let (lr, eps) = (cast::<T>(self.decayed_lr(info)), cast::<T>(self.eps));
        let Piece { x, g, mut state } = piece;
        for ((x, &g), s) in x.iter_mut().zip(g).zip(state[0].iter_mut()) {
            let h = decay.gradient(*x, g);
            *s = *s + h * h;
            *x = decay.apply(*x, lr * (h / (s.sqrt() + eps)));
        }
    }
}

const PLACEMENTS: &[Placement] = &[Placement::L2, Placement::Decoupled, Placement::Proximal];

impl UpdateRule for Adagrad {
    fn family(&self) -> &'static str {
        "adagrad"
    }

    fn placements(&self) -> &'static [Placement] {
        PLACEMENTS
    }

    fn settings(&self) -> Vec<(&'static str, Setting)> {
        vec![
            ("lr_decay", self.lr_decay.into()),
            (
                "initial_accumulator_value",
                self.initial_accumulator_value.into(),
            ),
            ("eps", self.eps.into()),
        ]
    }

    fn set(&mut self, key: &str, value: Setting) -> Result<()> {
        let (any, expected) = (f64::INFINITY, "a finite number >= 0");
        match key {
            "lr_decay" => {
                self.lr_decay = in_range("lr_decay", value.number("lr_decay")?, 0.0, any, expected)?
            }
            "initial_accumulator_value" => {
                let v = value.number("initial_accumulator_value")?;
                self.initial_accumulator_value =
                    in_range("initial_accumulator_value", v, 0.0, any, expected)?
            }
            "eps" => self.eps = in_range("eps", value.number("eps")?, 0.0, any, expected)?,
            _ => return Err(unknown_setting(self, key)),
        }
        Ok(())
    }

    fn state_names(&self) -> Vec<&'static str> {
        vec!["sum"]
    }

    fn initial_state(&self, _name: &str) -> f64 {
        self.initial_accumulator_value
    }

    fn step_f32(&self, info: &StepInfo, piece: Piece<'_, f32>) {
        self.step_slices(info, piece)
    }

    fn step_f64(&self, info: &StepInfo, piece: Piece<'_, f64>) {
        self.step_slices(info, piece)
    }

    fn step_tensors(&self, info: &StepInfo, x: &Tensor, g: &Tensor, state: &[Tensor]) {
        let h = gradient_tensor(info, x, g);
        let mut s = state[0].shallow_clone();
        let _ = s.g_add_(&(&h * &h));
        apply_decay(
            info,
            x,
            &(&h / (s.sqrt() + self.eps)),
            self.decayed_lr(info),
        );
    }

    fn boxed_clone(&self) -> Box<dyn UpdateRule> {
        Box::new(*self)
    }
}

pub(crate) fn new() -> Box<dyn UpdateRule> {
    Box::new(Adagrad::default())
}

pub(crate) const NAMES: &[super::Named] = &[
    super::Named {
        name: "adagrad",
        placement: Placement::L2,
        summary:
            "Adagrad (torch.optim.Adagrad's weight_decay): λ·x in the gradient; not scale-free",
    },
    super::Named {
        name: "adagradw",
        placement: Placement::Decoupled,
        summary: "Adagrad with decoupled decay; scale-free per coordinate",
    },
    super::Named {
        name: "adagrad-prox",
        placement: Placement::Proximal,
        summary: "Adagrad with the proximal decay; scale-free per coordinate",
    },
];
