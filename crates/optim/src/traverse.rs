//! The one traversal of every rule: a step over a group's flat buffers, run by run (a
//! run is adjacent parameters that take part and share their step count, or one whole
//! parameter for a per-tensor rule), on the CPU in pieces across rayon's threads, or
//! with the rule's libtorch ops elsewhere.
//!
//! The CPU path is written by hand because libtorch's own CPU optimizers cost about ten
//! passes over memory per tensor, and tch exposes neither `_foreach_*` nor `_fused_*`.
use crate::rule::{Piece, StepInfo, UpdateRule};
use num_traits::Float;
use rayon::prelude::*;
use std::ops::Range;
use tch::{Kind, Tensor};

/// Elements per rayon task: large enough to amortise scheduling, small enough to
/// balance two to a few dozen threads on ResNet-sized buffers.
const CHUNK: usize = 1 << 15;

/// A range of a group's flat buffers stepped with the same scalars.
pub(crate) struct Run {
    pub range: Range<i64>,
    pub info: StepInfo,
}

/// One step of `rule` over the flat buffers (all of one dtype) for the elements in
/// `runs`; the elements outside them are left untouched.
pub(crate) fn step_buffers(
    rule: &dyn UpdateRule,
    cpu_kernel: bool,
    runs: &[Run],
    params: &Tensor,
    grads: &Tensor,
    state: &[Tensor],
) {
    let _no_grad = tch::no_grad_guard();
    match (cpu_kernel, params.kind()) {
        (true, Kind::Float) => {
            step_cpu::<f32>(runs, params, grads, state, rule, |i, p| rule.step_f32(i, p))
        }
        (true, Kind::Double) => {
            step_cpu::<f64>(runs, params, grads, state, rule, |i, p| rule.step_f64(i, p))
        }
        _ => {
            let whole = params.numel() as i64;
            for run in runs {
                let range = &run.range;
                let part = |t: &Tensor| {
                    if range.start == 0 && range.end == whole {
                        t.shallow_clone()
                    } else {
                        t.narrow(0, range.start, range.end - range.start)
                    }
                };
                let state: Vec<Tensor> = state.iter().map(part).collect();
                rule.step_tensors(&run.info, &part(params), &part(grads), &state);
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

fn step_cpu<T: Float + Send + Sync>(
    runs: &[Run],
    params: &Tensor,
    grads: &Tensor,
    state: &[Tensor],
    rule: &dyn UpdateRule,
    step: impl Fn(&StepInfo, Piece<'_, T>) + Sync,
) {
    let n = params.numel();
    if n == 0 || runs.is_empty() {
        return;
    }
    assert!(
        grads.numel() == n && state.iter().all(|s| s.numel() == n),
        "flat buffers differ in length"
    );
    // SAFETY: the buffers are contiguous CPU tensors of `n > 0` elements of type T
    // (checked by kind by the caller: the state of a group has its values' dtype, or
    // float32 with float32 master weights), allocated by the group (or, for a
    // half-precision group, the step) and distinct from each other; the parameter views
    // alias the group's values, but nothing reads them during the step, which holds
    // `&mut` of an optimizer that cannot be shared between threads.
    let slice = |t: &Tensor| unsafe { std::slice::from_raw_parts_mut(t.data_ptr() as *mut T, n) };
    let (mut x, mut g) = (slice(params), &*slice(grads));
    let mut s: Vec<&mut [T]> = state.iter().map(slice).collect();
    let mut pieces = Vec::with_capacity(n / CHUNK + runs.len());
    let mut position = 0;
    for run in runs {
        let range = run.range.start as usize..run.range.end as usize;
        assert!(
            range.start >= position && range.end <= n,
            "runs must be ascending and inside the buffers"
        );
        let chunk = if rule.per_tensor(run.info.placement) {
            usize::MAX
        } else {
            CHUNK
        };
        let mut start = range.start;
        while start < range.end {
            let len = chunk.min(range.end - start);
            let skip = start - position;
            let (_, g_tail) = g.split_at(skip);
            let (g_piece, g_tail) = g_tail.split_at(len);
            g = g_tail;
            let piece = Piece {
                x: carve(&mut x, skip, len),
                g: g_piece,
                state: s.iter_mut().map(|s| carve(s, skip, len)).collect(),
            };
            pieces.push((run.info, piece));
            position = start + len;
            start += len;
        }
    }
    pieces
        .into_par_iter()
        .for_each(|(info, piece)| step(&info, piece));
}
