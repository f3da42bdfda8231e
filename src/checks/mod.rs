//! The checks of the paper's claims as a library: each check's settings (plain structs),
//! how it builds its lanes and measures (returning the report `--json` writes), and its
//! verdict rule as a pure function of the measurements, so that every branch of a rule
//! is testable without training (docs/checks.md says what each check does).
//!
//! - [`prox`]: claim 1, AdamW and AdamProx follow nearly the same trajectory, and differ
//!   per step by the first-order term `a·η·u` (`a = λ·s_t`).
//! - [`scale_free`]: claim 2, rescaling the loss or each gradient coordinate leaves AdamW
//!   and AdamProx unchanged (exactly with ε = 0) but not Adam-ℓ2.
//! - [`grad_scales`]: claim 3, gradients of networks without BN span more octaves than
//!   with BN.
//! - [`multi_scale`]: claim 4, fixed per-layer gradient factors hurt Adam-ℓ2 (as a
//!   per-layer weight decay λ/c) and leave AdamW unchanged, over paired seeds.
//! - [`device`]: not a claim but the ground under them: the CUDA path against the CPU.
//!
//! Shared by all of them: [`setup`] (the run configuration a check's lanes are built
//! from, and ε = 0's stand-in), [`input`] (the batches: the training set or random
//! input) and [`verdict`] (the verdict line and the numbers' formats). A check reports
//! its progress to the command through a trait of its own (`ProxProgress`, …), which
//! prints and logs; the library itself prints nothing but notes on stderr.
pub mod device;
pub mod grad_scales;
pub mod input;
pub mod multi_scale;
pub mod prox;
pub mod scale_free;
pub mod setup;
pub mod verdict;

#[cfg(test)]
mod testing;

/// `‖t‖` in float64.
pub fn norm(t: &tch::Tensor) -> f64 {
    t.to_kind(tch::Kind::Double).norm().double_value(&[])
}

/// `‖a − b‖` in float64.
pub fn distance(a: &tch::Tensor, b: &tch::Tensor) -> f64 {
    (a.to_kind(tch::Kind::Double) - b.to_kind(tch::Kind::Double))
        .norm()
        .double_value(&[])
}
