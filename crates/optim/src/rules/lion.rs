//! Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms", Algorithm 2).
//!
//! Per element, with `h = g + l2·x`: `c = β1·m + (1−β1)·h`, `x ← (pre·x − η_t·sign(c)) /
//! post`, `m ← β2·m + (1−β2)·h`. The published decay is decoupled: `x ← x − η_t·(sign(c) +
//! λ'·x)` with `λ' = λ/η_0` in this crate's units (PyTorch's convention, as AdamW's).
use crate::error::Result;
use crate::rule::{
    apply_decay, cast, gradient_tensor, in_range, unknown_setting, Piece, Placement, Setting,
    StepInfo, UpdateRule,
};
use num_traits::Float;
use tch::Tensor;

/// Lion's settings. Invariance (any placement but ℓ2): the update `sign(c)` is unchanged
/// when a coordinate's gradients are multiplied by a fixed positive factor (`c` and `m`
/// are then multiplied by it). A factor that changes every step does change it: `c` adds
/// the past gradients (through `m`) and the present one with different factors, so its
/// sign flips where the gradient's did (`crate::invariance` measures it); only at
/// `β1 = 0`, `sign(h)`, is the update blind to such factors.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lion {
    /// `β1`, the interpolation of the update, in `[0, 1)`.
    pub beta1: f64,
    /// `β2`, the momentum's decay rate, in `[0, 1)`.
    pub beta2: f64,
}

impl Default for Lion {
    fn default() -> Self {
        Lion {
            beta1: 0.9,
            beta2: 0.99,
        }
    }
}

/// `sign(c)`, 0 at 0 (as `torch.sign`; Rust's `signum` gives ±1 there).
#[inline(always)]
fn sign<T: Float>(c: T) -> T {
    if c > T::zero() {
        T::one()
    } else if c < T::zero() {
        -T::one()
    } else {
        c
    }
}

impl Lion {
    /// Lion as in the paper and the common PyTorch ports (`lion-pytorch`): `lr`, `betas`,
    /// and a decoupled `weight_decay` in PyTorch's units (`x ← x·(1 − lr_t·wd)`), so
    /// `λ = weight_decay·lr`.
    ///
    /// ```
    /// use adamw_prox::rules::Lion;
    /// let config = Lion::torch(1e-4, 0.9, 0.99, 1.0);
    /// assert_eq!(config.name(), "lion");
    /// assert!((config.weight_decay - 1e-4).abs() < 1e-18);
    /// ```
    pub fn torch(lr: f64, beta1: f64, beta2: f64, weight_decay: f64) -> crate::OptimConfig {
        crate::OptimConfig::new(
            Lion { beta1, beta2 },
            Placement::Decoupled,
            lr,
            weight_decay * lr,
        )
    }

    fn step_slices<T: Float>(&self, info: &StepInfo, piece: Piece<'_, T>) {
        let decay = info.decay::<T>();
        let lr = cast::<T>(info.lr);
        let (b1, one_minus_b1) = (cast::<T>(self.beta1), cast::<T>(1.0 - self.beta1));
        let (b2, one_minus_b2) = (cast::<T>(self.beta2), cast::<T>(1.0 - self.beta2));
        let Piece { x, g, mut state } = piece;
        for ((x, &g), m) in x.iter_mut().zip(g).zip(state[0].iter_mut()) {
            let h = decay.gradient(*x, g);
            let c = b1 * *m + one_minus_b1 * h;
            *x = decay.apply(*x, lr * sign(c));
            *m = b2 * *m + one_minus_b2 * h;
        }
    }
}

const PLACEMENTS: &[Placement] = &[Placement::Decoupled, Placement::L2, Placement::Proximal];

impl UpdateRule for Lion {
    fn family(&self) -> &'static str {
        "lion"
    }

    fn placements(&self) -> &'static [Placement] {
        PLACEMENTS
    }

    fn settings(&self) -> Vec<(&'static str, Setting)> {
        vec![("beta1", self.beta1.into()), ("beta2", self.beta2.into())]
    }

    fn set(&mut self, key: &str, value: Setting) -> Result<()> {
        match key {
            "beta1" => {
                self.beta1 = in_range("beta1", value.number("beta1")?, 0.0, 1.0, "in [0, 1)")?
            }
            "beta2" => {
                self.beta2 = in_range("beta2", value.number("beta2")?, 0.0, 1.0, "in [0, 1)")?
            }
            _ => return Err(unknown_setting(self, key)),
        }
        Ok(())
    }

    fn state_names(&self) -> Vec<&'static str> {
        vec!["exp_avg"]
    }

    fn step_f32(&self, info: &StepInfo, piece: Piece<'_, f32>) {
        self.step_slices(info, piece)
    }

    fn step_f64(&self, info: &StepInfo, piece: Piece<'_, f64>) {
        self.step_slices(info, piece)
    }

    fn step_tensors(&self, info: &StepInfo, x: &Tensor, g: &Tensor, state: &[Tensor]) {
        let h = gradient_tensor(info, x, g);
        let mut m = state[0].shallow_clone();
        let c = &m * self.beta1 + &h * (1.0 - self.beta1);
        apply_decay(info, x, &c.sign(), info.lr);
        let _ = m
            .g_mul_scalar_(self.beta2)
            .g_add_(&(&h * (1.0 - self.beta2)));
    }

    fn boxed_clone(&self) -> Box<dyn UpdateRule> {
        Box::new(*self)
    }
}

pub(crate) fn new() -> Box<dyn UpdateRule> {
    Box::new(Lion::default())
}

pub(crate) const NAMES: &[super::Named] = &[
    super::Named {
        name: "lion",
        placement: Placement::Decoupled,
        summary: "Lion (Chen et al. 2023) with its decoupled decay; scale-free per coordinate",
    },
    super::Named {
        name: "lion-l2",
        placement: Placement::L2,
        summary: "Lion with λ·x in the gradient; not scale-free",
    },
    super::Named {
        name: "lion-prox",
        placement: Placement::Proximal,
        summary: "Lion with the proximal decay; scale-free per coordinate",
    },
];
