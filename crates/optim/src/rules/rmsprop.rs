//! RMSprop as `torch.optim.RMSprop`: `alpha`, `eps`, `centered`, `momentum`.
//!
//! Per element, with `h = g + l2·x`: `s ← α·s + (1−α)·h²`; centered: `a ← α·a + (1−α)·h`,
//! `d = √(s − a²) + ε`, else `d = √s + ε`; with momentum `b ← μ·b + h/d` and the direction
//! `b`, else `h/d`; `x ← (pre·x − η_t·direction) / post`.
use crate::error::Result;
use crate::rule::{
    apply_decay, cast, gradient_tensor, in_range, unknown_setting, Piece, Placement, Setting,
    StepInfo, UpdateRule,
};
use num_traits::Float;
use tch::Tensor;

/// RMSprop's settings (PyTorch's names and defaults). Invariance (ε = 0, decoupled or
/// proximal decay): a coordinate's gradients multiplied by a fixed factor leave the
/// iterates unchanged.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RmsProp {
    /// `α`, the square average's decay rate, in `[0, 1)`.
    pub alpha: f64,
    /// `ε`, added to the root; `≥ 0`.
    pub eps: f64,
    /// Normalise by the variance estimate instead of the second moment.
    pub centered: bool,
    /// `μ`, the momentum factor, `≥ 0`.
    pub momentum: f64,
}

impl Default for RmsProp {
    fn default() -> Self {
        RmsProp {
            alpha: 0.99,
            eps: 1e-8,
            centered: false,
            momentum: 0.0,
        }
    }
}

impl RmsProp {
    /// `torch.optim.RMSprop(lr, alpha, eps, weight_decay, momentum, centered)`: ℓ2 decay,
    /// the same numbers.
    ///
    /// ```
    /// use adamw_prox::rules::RmsProp;
    /// let config = RmsProp::torch(1e-2, 0.99, 1e-8, 0.0, 0.9, true);
    /// assert_eq!(config.name(), "rmsprop");
    /// ```
    pub fn torch(
        lr: f64,
        alpha: f64,
        eps: f64,
        weight_decay: f64,
        momentum: f64,
        centered: bool,
    ) -> crate::OptimConfig {
        let rule = RmsProp {
            alpha,
            eps,
            centered,
            momentum,
        };
        crate::OptimConfig::new(rule, Placement::L2, lr, weight_decay)
    }

    fn step_slices<T: Float>(&self, info: &StepInfo, piece: Piece<'_, T>) {
        let c = Scalars {
            decay: info.decay::<T>(),
            lr: cast::<T>(info.lr),
            alpha: cast::<T>(self.alpha),
            one_minus_alpha: cast::<T>(1.0 - self.alpha),
            eps: cast::<T>(self.eps),
            mu: cast::<T>(self.momentum),
        };
        let Piece { x, g, mut state } = piece;
        let [square_avg, rest @ ..] = &mut state[..] else {
            unreachable!("RMSprop keeps a square average")
        };
        let (mut momentum, mut grad_avg) = (None, None);
        for (name, buffer) in self.state_names()[1..].iter().zip(rest.iter_mut()) {
            match *name {
                "momentum_buffer" => momentum = Some(buffer),
                _ => grad_avg = Some(buffer),
            }
        }
        let elements = x.iter_mut().zip(g).zip(square_avg.iter_mut());
        // One loop per combination of buffers, so that the inner loop has no branches.
        match (momentum, grad_avg) {
            (None, None) => elements.for_each(|((x, &g), s)| c.element(x, g, s, None, None)),
            (Some(b), None) => elements
                .zip(b.iter_mut())
                .for_each(|(((x, &g), s), b)| c.element(x, g, s, Some(b), None)),
            (None, Some(a)) => elements
                .zip(a.iter_mut())
                .for_each(|(((x, &g), s), a)| c.element(x, g, s, None, Some(a))),
            (Some(b), Some(a)) => elements
                .zip(b.iter_mut())
                .zip(a.iter_mut())
                .for_each(|((((x, &g), s), b), a)| c.element(x, g, s, Some(b), Some(a))),
        }
    }
}

/// The scalars of one step in the element type.
#[derive(Clone, Copy)]
struct Scalars<T> {
    decay: crate::rule::Decay<T>,
    lr: T,
    alpha: T,
    one_minus_alpha: T,
    eps: T,
    mu: T,
}

impl<T: Float> Scalars<T> {
    /// One element: `s` the square average, `b` the momentum buffer, `a` the gradient
    /// average (centered).
    #[inline(always)]
    fn element(&self, x: &mut T, g: T, s: &mut T, b: Option<&mut T>, a: Option<&mut T>) {
        let h = self.decay.gradient(*x, g);
        *s = self.alpha * *s + self.one_minus_alpha * h * h;
        let variance = match a {
            Some(a) => {
                *a = self.alpha * *a + self.one_minus_alpha * h;
                *s - *a * *a
            }
            None => *s,
        };
        let d = variance.sqrt() + self.eps;
        let direction = match b {
            Some(b) => {
                *b = self.mu * *b + h / d;
                *b
            }
            None => h / d,
        };
        *x = self.decay.apply(*x, self.lr * direction);
    }
}

const PLACEMENTS: &[Placement] = &[Placement::L2, Placement::Decoupled, Placement::Proximal];

impl UpdateRule for RmsProp {
    fn family(&self) -> &'static str {
        "rmsprop"
    }

    fn placements(&self) -> &'static [Placement] {
        PLACEMENTS
    }

    fn settings(&self) -> Vec<(&'static str, Setting)> {
        vec![
            ("alpha", self.alpha.into()),
            ("eps", self.eps.into()),
            ("centered", self.centered.into()),
            ("momentum", self.momentum.into()),
        ]
    }

    fn set(&mut self, key: &str, value: Setting) -> Result<()> {
        let any = f64::INFINITY;
        match key {
            "alpha" => {
                self.alpha = in_range("alpha", value.number("alpha")?, 0.0, 1.0, "in [0, 1)")?
            }
            "eps" => {
                self.eps = in_range(
                    "eps",
                    value.number("eps")?,
                    0.0,
                    any,
                    "a finite number >= 0",
                )?
            }
            "centered" => self.centered = value.flag("centered")?,
            "momentum" => {
                let m = value.number("momentum")?;
                self.momentum = in_range("momentum", m, 0.0, any, "a finite number >= 0")?
            }
            _ => return Err(unknown_setting(self, key)),
        }
        Ok(())
    }

    fn state_names(&self) -> Vec<&'static str> {
        let mut names = vec!["square_avg"];
        if self.momentum > 0.0 {
            names.push("momentum_buffer");
        }
        if self.centered {
            names.push("grad_avg");
        }
        names
    }

    fn step_f32(&self, info: &StepInfo, piece: Piece<'_, f32>) {
        self.step_slices(info, piece)
    }

    fn step_f64(&self, info: &StepInfo, piece: Piece<'_, f64>) {
        self.step_slices(info, piece)
    }

    fn step_tensors(&self, info: &StepInfo, x: &Tensor, g: &Tensor, state: &[Tensor]) {
        let h = gradient_tensor(info, x, g);
        let names = self.state_names();
        let buffer = |name: &str| {
            names
                .iter()
                .position(|n| *n == name)
                .map(|i| state[i].shallow_clone())
        };
        let mut s = state[0].shallow_clone();
        let _ = s
            .g_mul_scalar_(self.alpha)
            .g_add_(&(&h * (1.0 - self.alpha) * &h));
        let centered = match buffer("grad_avg") {
            Some(mut a) => {
                let _ = a
                    .g_mul_scalar_(self.alpha)
                    .g_add_(&(&h * (1.0 - self.alpha)));
                &s - &a * &a
            }
            None => s.shallow_clone(),
        };
        let d = centered.sqrt() + self.eps;
        let direction = match buffer("momentum_buffer") {
            Some(mut b) => {
                let _ = b.g_mul_scalar_(self.momentum).g_add_(&(&h / &d));
                b
            }
            None => &h / &d,
        };
        apply_decay(info, x, &direction, info.lr);
    }

    fn boxed_clone(&self) -> Box<dyn UpdateRule> {
        Box::new(*self)
    }
}

pub(crate) fn new() -> Box<dyn UpdateRule> {
    Box::new(RmsProp::default())
}

pub(crate) const NAMES: &[super::Named] = &[
    super::Named {
        name: "rmsprop",
        placement: Placement::L2,
        summary:
            "RMSprop (torch.optim.RMSprop's weight_decay): λ·x in the gradient; not scale-free",
    },
    super::Named {
        name: "rmspropw",
        placement: Placement::Decoupled,
        summary: "RMSprop with decoupled decay; scale-free per coordinate",
    },
    super::Named {
        name: "rmsprop-prox",
        placement: Placement::Proximal,
        summary: "RMSprop with the proximal decay; scale-free per coordinate",
    },
];
