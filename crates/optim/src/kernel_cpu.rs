//! The single-pass CPU kernel: one read of x, g, m, v and one write of x, m, v per
//! element (7 floats, the memory floor), split across rayon's threads.
//!
//! Written by hand because libtorch's own CPU Adam costs about ten passes over memory
//! per tensor, and tch exposes neither `_foreach_*` nor `_fused_adam_`.
use crate::coefficients::StepCoefficients;
use num_traits::Float;
use rayon::prelude::*;

/// Elements per rayon task: large enough to amortise scheduling, small enough to
/// balance two to a few dozen threads on ResNet-sized buffers.
const CHUNK: usize = 1 << 15;

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
    step_size: T,
    sqrt_bias_correction2: T,
    eps: T,
}

impl<T: Float> Coefficients<T> {
    fn from(c: &StepCoefficients) -> Self {
        let cast = |x: f64| T::from(x).expect("f64 converts to any float type");
        Coefficients {
            beta1: cast(c.beta1),
            one_minus_beta1: cast(c.one_minus_beta1),
            beta2: cast(c.beta2),
            one_minus_beta2: cast(c.one_minus_beta2),
            l2: cast(c.l2),
            pre_scale: cast(c.pre_scale),
            post_divisor: cast(c.post_divisor),
            step_size: cast(c.step_size),
            sqrt_bias_correction2: cast(c.sqrt_bias_correction2),
            eps: cast(c.eps),
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

/// One Adam step over the flat slices of a parameter group.
///
/// `max_exp_avg_sq` is `Some` exactly when AMSGrad is on. The result of each element
/// depends only on that element, so it is identical for any number of threads.
pub fn step<T: Float + Send + Sync>(
    coefficients: &StepCoefficients,
    params: &mut [T],
    grads: &[T],
    exp_avg: &mut [T],
    exp_avg_sq: &mut [T],
    max_exp_avg_sq: Option<&mut [T]>,
) {
    let c = Coefficients::<T>::from(coefficients);
    let n = params.len();
    assert!(
        grads.len() == n && exp_avg.len() == n && exp_avg_sq.len() == n,
        "flat buffers differ in length"
    );
    let chunks = params
        .par_chunks_mut(CHUNK)
        .zip(grads.par_chunks(CHUNK))
        .zip(exp_avg.par_chunks_mut(CHUNK))
        .zip(exp_avg_sq.par_chunks_mut(CHUNK));
    match max_exp_avg_sq {
        None => chunks.for_each(|(((x, g), m), v)| {
            for (((x, &g), m), v) in x.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                let (new_m, new_v) = c.moments(*x, g, *m, *v);
                *m = new_m;
                *v = new_v;
                *x = c.parameter(*x, new_m, new_v);
            }
        }),
        Some(vmax) => {
            assert_eq!(vmax.len(), n, "flat buffers differ in length");
            chunks
                .zip(vmax.par_chunks_mut(CHUNK))
                .for_each(|((((x, g), m), v), vmax)| {
                    for ((((x, &g), m), v), vmax) in x
                        .iter_mut()
                        .zip(g)
                        .zip(m.iter_mut())
                        .zip(v.iter_mut())
                        .zip(vmax.iter_mut())
                    {
                        let (new_m, new_v) = c.moments(*x, g, *m, *v);
                        *m = new_m;
                        *v = new_v;
                        *vmax = vmax.max(new_v);
                        *x = c.parameter(*x, new_m, *vmax);
                    }
                })
        }
    }
}
