//! The options every check shares with `scalefree train` (model, data, seed, device,
//! threads, Adam's moments), their parsers, and how a check builds its optimizer.
use crate::config::flag_values::device_name;
pub use crate::config::flag_values::{at_least_one, beta, model_name, non_negative, positive};
use crate::config::parse_device;
use crate::config::DatasetName;
use clap::Args;
use optim::{AdamConfig, DecayMode};
use std::path::PathBuf;
use tch::{Device, Kind};

/// The data (or random input) and where the work runs; the same flags as `scalefree train`.
#[derive(Args, Debug, Clone)]
pub struct InputArgs {
    #[arg(long, value_enum, default_value = "cifar10")]
    pub dataset: DatasetName,
    /// Dataset location: official directory or .tar.gz, or image-folder directory or .tar.gz
    /// [default: data/<dataset>, where `make data` puts it].
    #[arg(long, conflicts_with = "random_input")]
    pub data: Option<PathBuf>,
    /// Standard-normal images and uniformly random labels instead of the training set
    /// (also used, with a note, when no --data is given and data/<dataset> is missing).
    #[arg(long)]
    pub random_input: bool,
    /// Train on the first N training images after a seeded shuffle.
    #[arg(long, value_parser = at_least_one::<usize>)]
    pub train_subset: Option<usize>,
    /// Images per batch [default: prox 64, scale-free 32, grad-scales 64].
    #[arg(long, value_parser = at_least_one::<usize>)]
    pub batch_size: Option<usize>,
    /// Seed of the initial weights, the data order and augmentation, and the random input.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto", value_parser = device_name)]
    pub device: String,
    /// CPU threads (libtorch and the data pipeline).
    #[arg(long, value_parser = at_least_one::<usize>)]
    pub threads: Option<usize>,
}

impl InputArgs {
    /// Applies `--threads` and resolves `--device`.
    pub fn set_threads_and_device(&self) -> anyhow::Result<Device> {
        crate::train::device::refuse_more_threads_than_cpus(self.threads)?;
        crate::train::device::set_threads(self.threads);
        parse_device(&self.device)
    }
}

/// One model, as `scalefree train` names it.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// resnet20, resnet32, resnet44, resnet56, resnet110, resnet218, densenet100, … (any
    /// resnet<6n+2> or densenet<6n+4>).
    #[arg(long, default_value = "resnet20", value_parser = model_name)]
    pub model: String,
    /// With batch norm.
    #[arg(long, conflicts_with = "no_bn")]
    pub bn: bool,
    /// Without batch norm (the default).
    #[arg(long)]
    pub no_bn: bool,
}

/// The optimizers' settings every check shares (ε is each check's own: one value, or a
/// list for scale-free).
#[derive(Args, Debug, Clone)]
pub struct OptimizerArgs {
    /// Step size η_0 (constant); 1e-3 is the paper's best for ResNet-20 without BN.
    #[arg(long, default_value_t = 1e-3, value_parser = positive)]
    pub lr: f64,
    /// Weight decay λ as in the paper (AdamW decays by λ per step) [default: 5e-5, AdamW's
    /// best for ResNet-20 without BN; scale-free: 5e-4, Adam-ℓ2's, since it needs λ > 0].
    #[arg(long, value_parser = non_negative)]
    pub wd: Option<f64>,
    #[arg(long, default_value_t = 0.9, value_parser = beta)]
    pub beta1: f64,
    #[arg(long, default_value_t = 0.999, value_parser = beta)]
    pub beta2: f64,
}

impl OptimizerArgs {
    /// Adam for a check, in `kind`; ε = 0 is given as [`zero_eps`].
    pub fn adam(&self, mode: DecayMode, wd: f64, eps: f64, kind: Kind) -> AdamConfig {
        AdamConfig::new(mode, self.lr, wd)
            .eps(effective_eps(eps, kind))
            .betas(self.beta1, self.beta2)
    }
}

/// The ε that stands in for ε = 0. A literal 0 turns every coordinate whose gradient has
/// been exactly 0 so far (a dead ReLU channel) into `0/0 = NaN`; a tiny ε makes those
/// `0/ε = 0` and is far below `√v̂` of any other coordinate: 1e-300 in float64, 1e-30 in
/// float32 (where, with ε that small, a gradient below ~1e-22 whose square underflows to 0
/// gets a huge step: ε = 0 is not a float32 setting).
pub fn zero_eps(kind: Kind) -> f64 {
    if kind == Kind::Double {
        1e-300
    } else {
        1e-30
    }
}

/// The ε the optimizer is given for a requested ε.
pub fn effective_eps(eps: f64, kind: Kind) -> f64 {
    if eps == 0.0 {
        zero_eps(kind)
    } else {
        eps
    }
}
