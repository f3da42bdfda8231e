//! The single-pass CPU kernel: one read of x, g, m, v and one write of x, m, v per
//! element (7 floats, the memory floor), split across rayon's threads.
//!
//! Written by hand because libtorch's own CPU Adam costs about ten passes over memory
//! per tensor, and tch exposes neither `_foreach_*` nor `_fused_adam_`.
use crate::coefficients::StepCoefficients;
use num_traits::Float;
use rayon::prelude::*;
use std::ops::Range;

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

/// The slices of one piece of work: at most `CHUNK` elements of one segment.
struct Piece<'a, T> {
    c: Coefficients<T>,
    x: &'a mut [T],
    g: &'a [T],
    m: &'a mut [T],
    v: &'a mut [T],
    vmax: Option<&'a mut [T]>,
}

impl<T: Float> Piece<'_, T> {
    fn run(self) {
        let c = self.c;
        let elements = self.x.iter_mut().zip(self.g).zip(self.m).zip(self.v);
        match self.vmax {
            None => {
                for (((x, &g), m), v) in elements {
                    let (new_m, new_v) = c.moments(*x, g, *m, *v);
                    *m = new_m;
                    *v = new_v;
                    *x = c.parameter(*x, new_m, new_v);
                }
            }
            Some(vmax) => {
                for ((((x, &g), m), v), vmax) in elements.zip(vmax) {
                    let (new_m, new_v) = c.moments(*x, g, *m, *v);
                    *m = new_m;
                    *v = new_v;
                    *vmax = vmax.max(new_v);
                    *x = c.parameter(*x, new_m, *vmax);
                }
            }
        }
    }
}

/// Splits `rest` at `skip` and then `len` elements, returning the middle part.
fn carve<'a, T>(rest: &mut &'a mut [T], skip: usize, len: usize) -> &'a mut [T] {
    let (_, tail) = std::mem::take(rest).split_at_mut(skip);
    let (piece, tail) = tail.split_at_mut(len);
    *rest = tail;
    piece
}

/// One Adam step over the flat slices of a parameter group, for the elements in
/// `segments` (ascending, disjoint ranges, each with its own coefficients: parameters
/// with different step counts, and frozen ones in between, which are left untouched).
///
/// `max_exp_avg_sq` is `Some` exactly when AMSGrad is on. The result of each element
/// depends only on that element, so it is identical for any number of threads and any
/// segmentation.
pub fn step<T: Float + Send + Sync>(
    segments: &[(Range<usize>, StepCoefficients)],
    params: &mut [T],
    grads: &[T],
    exp_avg: &mut [T],
    exp_avg_sq: &mut [T],
    mut max_exp_avg_sq: Option<&mut [T]>,
) {
    let n = params.len();
    assert!(
        grads.len() == n
            && exp_avg.len() == n
            && exp_avg_sq.len() == n
            && max_exp_avg_sq.as_ref().is_none_or(|vmax| vmax.len() == n),
        "flat buffers differ in length"
    );
    let (mut x, mut g, mut m, mut v) = (params, grads, exp_avg, exp_avg_sq);
    let mut pieces = Vec::with_capacity(n / CHUNK + segments.len());
    let mut position = 0;
    for (range, coefficients) in segments {
        assert!(
            range.start >= position && range.end <= n,
            "segments must be ascending and inside the buffers"
        );
        let c = Coefficients::<T>::from(coefficients);
        let mut start = range.start;
        while start < range.end {
            let len = CHUNK.min(range.end - start);
            let skip = start - position;
            let (_, g_tail) = g.split_at(skip);
            let (g_piece, g_tail) = g_tail.split_at(len);
            g = g_tail;
            pieces.push(Piece {
                c,
                x: carve(&mut x, skip, len),
                g: g_piece,
                m: carve(&mut m, skip, len),
                v: carve(&mut v, skip, len),
                vmax: max_exp_avg_sq.as_mut().map(|vmax| carve(vmax, skip, len)),
            });
            position = start + len;
            start += len;
        }
    }
    pieces.into_par_iter().for_each(Piece::run);
}
