//! The options every check shares with `scalefree train` (model, data, seed, device,
//! threads, Adam's settings), and how they become the library's [`Setup`]: a run
//! configuration for the check's lanes.
use crate::checks::setup::Setup;
use crate::config::flag_values::{
    at_least_one, beta, device_name, model_name, non_negative, positive,
};
use crate::config::{DatasetName, ModelChoice, RunConfig};
use clap::Args;
use optim::AdamConfig;
use std::path::PathBuf;

/// The data (or random input) and where the work runs; the same flags as `scalefree train`,
/// whose help the flags without their own come with ([`crate::cli::command`]).
#[derive(Args, Debug, Clone)]
pub struct InputArgs {
    #[arg(long, value_enum, default_value = "cifar10")]
    pub dataset: DatasetName,
    #[arg(long, conflicts_with = "random_input")]
    pub data: Option<PathBuf>,
    /// Standard-normal images and uniformly random labels instead of the training set
    /// (also used, with a note, when no --data is given and data/<dataset> is missing).
    #[arg(long)]
    pub random_input: bool,
    #[arg(long, value_parser = at_least_one::<usize>)]
    pub train_subset: Option<usize>,
    /// Images per batch [default: prox 64, scale-free 32, grad-scales 64, multi-scale 128].
    #[arg(long, value_parser = at_least_one::<usize>)]
    pub batch_size: Option<usize>,
    /// Seed of the initial weights, the data order and augmentation, and the random input.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value = "auto", value_parser = device_name)]
    pub device: String,
    #[arg(long, value_parser = at_least_one::<usize>)]
    pub threads: Option<usize>,
}

impl InputArgs {
    /// These settings in a run configuration (batches of `default_batch` without
    /// --batch-size), the rest of it at `scalefree train`'s defaults.
    pub fn setup(&self, default_batch: usize) -> Setup {
        let mut run = RunConfig::default();
        run.data.dataset = self.dataset;
        run.data.path = self.data.clone();
        run.data.train_subset = self.train_subset;
        run.data.batch_size = self.batch_size.unwrap_or(default_batch);
        run.training.seed = self.seed;
        run.runtime.device = self.device.clone();
        run.runtime.threads = self.threads;
        Setup {
            run,
            random_input: self.random_input,
        }
    }
}

/// One model, as `scalefree train` names it.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    #[arg(long, default_value = "resnet20", value_parser = model_name)]
    pub model: String,
    #[arg(long, conflicts_with = "no_bn")]
    pub bn: bool,
    /// Without batch norm (the default): overrides --bn.
    #[arg(long)]
    pub no_bn: bool,
}

impl ModelArgs {
    pub fn choice(&self) -> ModelChoice {
        ModelChoice {
            name: self.model.clone(),
            bn: self.bn,
        }
    }
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
    /// The run configuration's optimizer: λ = --wd, else `default_wd`; ε as given (each
    /// lane sets its own decay mode and ε = 0's stand-in).
    pub fn adam(&self, default_wd: f64, eps: f64) -> AdamConfig {
        let wd = self.wd.unwrap_or(default_wd);
        AdamConfig::adamw(self.lr, wd)
            .eps(eps)
            .betas(self.beta1, self.beta2)
    }
}
