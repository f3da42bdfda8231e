//! `scalefree check`: the paper's claims as commands that run in minutes
//! (docs/paper.md#claims-and-how-to-check-them). Each command parses its arguments into
//! the settings of its check in [`crate::checks`], which measures and judges, and
//! presents the result.
//!
//! - `prox`: claim 1, AdamW and AdamProx follow nearly the same trajectory, and differ per
//!   step by the first-order term `a·η·u` (`a = λ·s_t`).
//! - `scale-free`: claim 2, rescaling the loss or each gradient coordinate leaves AdamW and
//!   AdamProx unchanged (exactly with ε = 0) but not Adam-ℓ2.
//! - `grad-scales`: claim 3, gradients of networks without BN span more octaves than with BN.
//! - `multi-scale`: claim 4, fixed per-layer gradient factors hurt Adam-ℓ2 (as a per-layer
//!   weight decay λ/c) and leave AdamW unchanged, over paired seeds.
//!
//! - `device`: not a claim but the ground under them: the CUDA path against the CPU.
//!
//! Each claim check prints a table and a verdict line, writes `--json`, logs to `--tb`,
//! and exits 0 when it ran, whatever the verdict; `device` exits 1 when a comparison
//! fails, so that a script stops there.
pub mod device;
pub mod grad_scales;
pub mod multi_scale;
mod options;
mod present;
pub mod prox;
pub mod scale_free;

use clap::{Args, Subcommand};

#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(subcommand)]
    pub check: CheckCommand,
}

#[derive(Subcommand, Debug)]
pub enum CheckCommand {
    /// Claim 1: AdamW ≈ AdamProx from one initialisation and one data order (ResNet-20 without
    /// BN, 200 steps, η_0 = 1e-3, λ = 5e-5 by default).
    #[command(allow_negative_numbers = true)]
    Prox(prox::ProxArgs),
    /// Claim 2: loss × 1, 10, 100 and per-coordinate gradient factors leave AdamW and AdamProx
    /// unchanged, not Adam-ℓ2 (ε = 0 and 1e-8 by default).
    #[command(allow_negative_numbers = true)]
    ScaleFree(scale_free::ScaleFreeArgs),
    /// Claim 3: the spread of log2|g| over conv/linear weights, with and without BN, per model.
    #[command(allow_negative_numbers = true)]
    GradScales(grad_scales::GradScalesArgs),
    /// Claim 4: per-layer gradient factors (spread:3 by default) hurt Adam-ℓ2 and leave AdamW
    /// unchanged; paired over seeds, with 95% CIs and a fixed verdict rule.
    #[command(allow_negative_numbers = true)]
    MultiScale(multi_scale::MultiScaleArgs),
    /// The CUDA path against the CPU: models forward/backward in float64, the optimizer's
    /// tensor-ops kernel against the CPU kernel, the reference problem's iterates
    /// (bench/gpu.sh). Exits 1 when a difference exceeds its tolerance.
    Device(device::DeviceArgs),
}

pub fn run(args: &CheckArgs) -> anyhow::Result<i32> {
    match &args.check {
        CheckCommand::Prox(a) => prox::run(a).map(|_| 0),
        CheckCommand::ScaleFree(a) => scale_free::run(a).map(|_| 0),
        CheckCommand::GradScales(a) => grad_scales::run(a).map(|_| 0),
        CheckCommand::MultiScale(a) => multi_scale::run(a).map(|_| 0),
        CheckCommand::Device(a) => device::run(a),
    }
}
