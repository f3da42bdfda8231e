//! Adam (Kingma & Ba 2015) with every placement of the decay: Adam-ℓ2, AdamW, AdamProx
//! (the paper's three) and the two per-tensor placements that separate decoupling from
//! scale-freeness.
//!
//! Per element, with `h = g + l2·x`: `m ← β1·m + (1−β1)·h`, `v ← β2·v + (1−β2)·h²`,
//! `v̄ = max(v̄, v)` (AMSGrad) or `v`, `x ← (pre·x − step_size·m / (√v̄ / √(1−β2^t) + ε)) /
//! post`, which is `x − η_t·m̂/(√v̂ + ε)` with the placement's decay around it. One read of
//! x, g, m, v and one write of x, m, v per element: the memory floor.
use crate::error::Result;
use crate::rule::{
    cast, in_range, unknown_setting, Piece, Placement, Setting, StepInfo, UpdateRule,
};
use num_traits::Float;
use tch::{Kind, Tensor};

/// Adam's settings (PyTorch's names): `betas = (beta1, beta2)`, `eps`, `amsgrad`.
///
/// Invariances (ε = 0): with [`Placement::Decoupled`], [`Placement::Proximal`] and
/// [`Placement::L2ScaleFree`] the iterates are unchanged when a tensor's gradients are
/// multiplied by a fixed factor (per coordinate for the first two, per tensor for the
/// third): the update is scale-free. With [`Placement::L2`] and
/// [`Placement::ProximalScaled`] the decay's strength changes with the gradients' scale.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adam {
    /// `β1`, the first moment's decay rate, in `[0, 1)`.
    pub beta1: f64,
    /// `β2`, the second moment's decay rate, in `[0, 1)`.
    pub beta2: f64,
    /// `ε`, added to `√v̂` in the denominator; `≥ 0`.
    pub eps: f64,
    /// Use the running maximum of the raw second moment (AMSGrad), as PyTorch.
    pub amsgrad: bool,
}

impl Default for Adam {
    fn default() -> Self {
        Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            amsgrad: false,
        }
    }
}

const PLACEMENTS: &[Placement] = &[
    Placement::L2,
    Placement::Decoupled,
    Placement::Proximal,
    Placement::L2ScaleFree,
    Placement::ProximalScaled,
];

/// The scalars of one step in the element type, so the inner loop has no conversions.
#[derive(Clone, Copy)]
struct Coefficients<T> {
    beta1: T,
    one_minus_beta1: T,
    beta2: T,
    one_minus_beta2: T,
    l2: T,
    pre_scale: T,
    post_divisor: T,
    /// `η_t / (1 − β1^t)`.
    step_size: T,
    /// `√(1 − β2^t)`.
    sqrt_bias_correction2: T,
    eps: T,
}

impl<T: Float> Coefficients<T> {
    fn new(adam: &Adam, info: &StepInfo) -> Self {
        let decay = info.decay::<T>();
        let t = info.t.min(i32::MAX as u64) as i32;
        Coefficients {
            beta1: cast(adam.beta1),
            one_minus_beta1: cast(1.0 - adam.beta1),
            beta2: cast(adam.beta2),
            one_minus_beta2: cast(1.0 - adam.beta2),
            l2: decay.l2,
            pre_scale: decay.pre_scale,
            post_divisor: decay.post_divisor,
            step_size: cast(info.lr / (1.0 - adam.beta1.powi(t))),
            sqrt_bias_correction2: cast((1.0 - adam.beta2.powi(t)).sqrt()),
            eps: cast(adam.eps),
        }
    }

    /// The new first and second moments of one element.
    #[inline(always)]
    fn moments(&self, x: T, g: T, m: T, v: T) -> (T, T) {
        let h = g + self.l2 * x;
        let m = self.beta1 * m + self.one_minus_beta1 * h;
        let v = self.beta2 * v + self.one_minus_beta2 * h * h;
        (m, v)
    }

    /// The new parameter value from the (AMSGrad-maxed) second moment.
    #[inline(always)]
    fn parameter(&self, x: T, m: T, v_used: T) -> T {
        let denom = v_used.sqrt() / self.sqrt_bias_correction2 + self.eps;
        (self.pre_scale * x - self.step_size * m / denom) / self.post_divisor
    }
}

impl Adam {
    fn step_slices<T: Float>(&self, info: &StepInfo, piece: Piece<'_, T>) {
        let mut c = Coefficients::<T>::new(self, info);
        let Piece { x, g, mut state } = piece;
        if info.placement == Placement::L2ScaleFree {
            // h = g + λ·ρ·x with ρ of the previous step's moments (the first step's: of g).
            let rho = if info.t <= 1 {
                root_mean_square(g.iter().map(|&g| g * g), 1.0)
            } else {
                let used = state.get(2).unwrap_or(&state[1]);
                let previous = (info.t - 1).min(i32::MAX as u64) as i32;
                root_mean_square(used.iter().copied(), 1.0 - self.beta2.powi(previous))
            };
            c.l2 = cast(info.weight_decay * rho);
        }
        let [m, v, rest @ ..] = &mut state[..] else {
            unreachable!("Adam keeps two moments")
        };
        let vmax = rest.first_mut();
        match vmax {
            None => {
                for (((x, &g), m), v) in x.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                    let (new_m, new_v) = c.moments(*x, g, *m, *v);
                    *m = new_m;
                    *v = new_v;
                    *x = c.parameter(*x, new_m, new_v);
                }
            }
            Some(vmax) => {
                let elements = x.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut());
                for ((((x, &g), m), v), vmax) in elements.zip(vmax.iter_mut()) {
                    let (new_m, new_v) = c.moments(*x, g, *m, *v);
                    *m = new_m;
                    *v = new_v;
                    *vmax = vmax.max(new_v);
                    *x = c.parameter(*x, new_m, *vmax);
                }
            }
        }
        if info.placement == Placement::ProximalScaled {
            // ρ of this step's moments; x ← x / (1 + η_t·λ/(ρ + ε)).
            let used = state.get(2).unwrap_or(&state[1]);
            let t = info.t.min(i32::MAX as u64) as i32;
            let rho = root_mean_square(used.iter().copied(), 1.0 - self.beta2.powi(t));
            if let Some(divisor) = scaled_divisor(info, rho, self.eps) {
                let divisor = cast::<T>(divisor);
                x.iter_mut().for_each(|x| *x = *x / divisor);
            }
        }
    }
}

/// `√(mean(values) / bias_correction)`, summed in float64 in a fixed order (one thread per
/// tensor), so that it does not depend on the number of threads.
fn root_mean_square<T: Float>(
    values: impl ExactSizeIterator<Item = T>,
    bias_correction: f64,
) -> f64 {
    let n = values.len().max(1) as f64;
    let sum: f64 = values.map(|v| v.to_f64().unwrap_or(f64::NAN)).sum();
    (sum / n / bias_correction).sqrt()
}

/// `1 + η_t·λ/(ρ + ε)`, or `None` where there is no decay (λ = 0, or ρ + ε = 0: a tensor
/// that never had a gradient keeps its values).
fn scaled_divisor(info: &StepInfo, rho: f64, eps: f64) -> Option<f64> {
    let scale = rho + eps;
    (info.weight_decay != 0.0 && scale > 0.0).then(|| 1.0 + info.lr * info.weight_decay / scale)
}

impl UpdateRule for Adam {
    fn family(&self) -> &'static str {
        "adam"
    }

    fn placements(&self) -> &'static [Placement] {
        PLACEMENTS
    }

    fn settings(&self) -> Vec<(&'static str, Setting)> {
        vec![
            ("beta1", self.beta1.into()),
            ("beta2", self.beta2.into()),
            ("eps", self.eps.into()),
            ("amsgrad", self.amsgrad.into()),
        ]
    }

    fn set(&mut self, key: &str, value: Setting) -> Result<()> {
        match key {
            "beta1" => {
                self.beta1 = in_range("beta1", value.number("beta1")?, 0.0, 1.0, "in [0, 1)")?
            }
            "beta2" => {
                self.beta2 = in_range("beta2", value.number("beta2")?, 0.0, 1.0, "in [0, 1)")?
            }
            "eps" => {
                let eps = value.number("eps")?;
                self.eps = in_range("eps", eps, 0.0, f64::INFINITY, "a finite number >= 0")?
            }
            "amsgrad" => self.amsgrad = value.flag("amsgrad")?,
            _ => return Err(unknown_setting(self, key)),
        }
        Ok(())
    }

    fn state_names(&self) -> Vec<&'static str> {
        let mut names = vec!["exp_avg", "exp_avg_sq"];
        if self.amsgrad {
            names.push("max_exp_avg_sq");
        }
        names
    }

    fn per_tensor(&self, placement: Placement) -> bool {
        matches!(
            placement,
            Placement::L2ScaleFree | Placement::ProximalScaled
        )
    }

    fn step_f32(&self, info: &StepInfo, piece: Piece<'_, f32>) {
        self.step_slices(info, piece)
    }

    fn step_f64(&self, info: &StepInfo, piece: Piece<'_, f64>) {
        self.step_slices(info, piece)
    }

    fn step_tensors(&self, info: &StepInfo, x: &Tensor, g: &Tensor, state: &[Tensor]) {
        let c = Coefficients::<f64>::new(self, info);
        let mut params = x.shallow_clone();
        let rms = |t: &Tensor, bias_correction: f64| {
            (t.sum(Kind::Double).double_value(&[]) / t.numel().max(1) as f64 / bias_correction)
                .sqrt()
        };
        let l2 = if info.placement == Placement::L2ScaleFree {
            let rho = if info.t <= 1 {
                rms(&g.square(), 1.0)
            } else {
                let previous = (info.t - 1).min(i32::MAX as u64) as i32;
                rms(
                    state.get(2).unwrap_or(&state[1]),
                    1.0 - self.beta2.powi(previous),
                )
            };
            info.weight_decay * rho
        } else {
            c.l2
        };
        let h = if l2 != 0.0 {
            g + &params * l2
        } else {
            g.shallow_clone()
        };
        let mut exp_avg = state[0].shallow_clone();
        let _ = exp_avg
            .g_mul_scalar_(c.beta1)
            .g_add_(&(&h * c.one_minus_beta1));
        let mut exp_avg_sq = state[1].shallow_clone();
        let _ = exp_avg_sq
            .g_mul_scalar_(c.beta2)
            .g_add_(&(&h * c.one_minus_beta2 * &h));
        let second_moment = match state.get(2) {
            Some(vmax) => {
                let larger = vmax.maximum(&exp_avg_sq);
                vmax.shallow_clone().copy_(&larger);
                vmax.shallow_clone()
            }
            None => exp_avg_sq,
        };
        let denom = second_moment.sqrt() / c.sqrt_bias_correction2 + c.eps;
        if c.pre_scale != 1.0 {
            let _ = params.g_mul_scalar_(c.pre_scale);
        }
        let _ = params.g_sub_(&(&exp_avg * c.step_size / denom));
        if c.post_divisor != 1.0 {
            let _ = params.g_div_scalar_(c.post_divisor);
        }
        if info.placement == Placement::ProximalScaled {
            let t = info.t.min(i32::MAX as u64) as i32;
            let rho = rms(&second_moment, 1.0 - self.beta2.powi(t));
            if let Some(divisor) = scaled_divisor(info, rho, self.eps) {
                let _ = params.g_div_scalar_(divisor);
            }
        }
    }

    fn boxed_clone(&self) -> Box<dyn UpdateRule> {
        Box::new(*self)
    }
}

pub(crate) fn new() -> Box<dyn UpdateRule> {
    Box::new(Adam::default())
}

pub(crate) const NAMES: &[super::Named] = &[
    super::Named {
        name: "adam-l2",
        placement: Placement::L2,
        summary:
            "Adam-ℓ2 (torch.optim.Adam's weight_decay): λ·x through the moments; not scale-free",
    },
    super::Named {
        name: "adamw",
        placement: Placement::Decoupled,
        summary: "AdamW: decay decoupled from the moments; scale-free",
    },
    super::Named {
        name: "adam-prox",
        placement: Placement::Proximal,
        summary: "AdamProx: the Adam step, then the proximal map of the decay; scale-free",
    },
    super::Named {
        name: "adam-l2-scalefree",
        placement: Placement::L2ScaleFree,
        summary:
            "λ·ρ·x through the moments (ρ: the tensor's gradient scale); scale-free per tensor",
    },
    super::Named {
        name: "adamw-not-scalefree",
        placement: Placement::ProximalScaled,
        summary: "decoupled decay divided by the tensor's gradient scale ρ; not scale-free",
    },
];
