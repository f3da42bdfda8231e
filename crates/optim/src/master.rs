//! Float32 master weights for groups of half-precision parameters (Half, BFloat16).
//!
//! With bfloat16 weights the decoupled decay `x·(1 − η_t λ)` rounds back to `x` whenever
//! `η_t λ` is below half of bfloat16's relative resolution (2⁻⁹): the decay never
//! happens, and small Adam updates vanish the same way. A group of such parameters
//! therefore keeps its moments and a copy of its values (the master weights) in float32;
//! the step runs on those, and the parameters are the master weights rounded to their
//! dtype.
//!
//! The parameters may be written between steps (a checkpoint loaded into the model, an
//! edit by hand). A coordinate whose parameter is no longer its master value rounded was
//! written that way, and the master takes the new value ([`refine`]); the others keep
//! their float32 bits.
use tch::{Kind, Tensor};

/// Whether a group of this dtype keeps float32 master weights.
pub(crate) fn is_low_precision(kind: Kind) -> bool {
    matches!(kind, Kind::Half | Kind::BFloat16)
}

/// The dtype of the moments (and master weights) of a group of parameters of `kind`.
pub(crate) fn state_kind(kind: Kind) -> Kind {
    if is_low_precision(kind) {
        Kind::Float
    } else {
        kind
    }
}

/// The float32 value of each coordinate of `values` (any dtype, same device as `exact`):
/// `exact`'s where `exact` rounded to `rounding` is `values`' coordinate, else
/// `values`' own (it was written since `exact` was).
pub(crate) fn refine(exact: &Tensor, rounding: Kind, values: &Tensor) -> Tensor {
    let _no_grad = tch::no_grad_guard();
    let exact = exact.to_kind(Kind::Float);
    let kept = exact
        .to_kind(rounding)
        .to_kind(values.kind())
        .eq_tensor(values);
    exact.where_self(&kept, &values.to_kind(Kind::Float))
}
