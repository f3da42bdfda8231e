//! Command-line interface: one subcommand per job. Train flags mirror the run file's
//! fields one for one (`--batch-size` ↔ `batch_size`); flags override the file.
use crate::config::{DatasetName, Layout, RunConfig, ScheduleName};
use clap::{Args, Parser, Subcommand};
use optim::DecayMode;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "scalefree",
    version,
    about = "Adam-l2, AdamW and AdamProx on CIFAR ResNets and DenseNets"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Print versions, the libtorch in use, CPU threads, CUDA/cuDNN availability and GPUs.
    Info(InfoArgs),
    /// List the paper's models with their parameter counts, with and without BN.
    Models(crate::models_list::ModelsArgs),
    /// Train one run: writes runs/<name>/ (config, metrics, summary, checkpoints, TensorBoard).
    #[command(allow_negative_numbers = true)]
    Train(Box<TrainArgs>),
    /// Check the paper's claims in minutes: AdamProx ≈ AdamW, scale-freeness, gradient scales.
    Check(crate::check::CheckArgs),
    /// Run an experiment's grid, locally or on Slurm; `sweep status` shows where it stands.
    Sweep(crate::sweep::SweepArgs),
    /// Figures and tables of an experiment from its run directories.
    Report(crate::report::ReportArgs),
}

#[derive(Args)]
pub struct InfoArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

fn parse_optimizer(s: &str) -> Result<DecayMode, String> {
    s.parse()
}

#[derive(Args, Default, Debug)]
pub struct TrainArgs {
    /// JSON run file; flags given as well override its fields.
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[arg(long, value_enum)]
    pub dataset: Option<DatasetName>,
    /// Dataset location: official directory or .tar.gz, or image-folder directory or .tar.gz.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// resnet20, resnet32, resnet44, resnet56, resnet110, resnet218, resnet1202, densenet100, …
    #[arg(long)]
    pub model: Option<String>,
    /// With batch norm.
    #[arg(long, conflicts_with = "no_bn")]
    pub bn: bool,
    /// Without batch norm (the default).
    #[arg(long)]
    pub no_bn: bool,
    /// adam-l2, adamw or adam-prox.
    #[arg(long, value_parser = parse_optimizer)]
    pub optimizer: Option<DecayMode>,
    /// Initial step size η_0.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Weight decay λ as in the paper (AdamW decays by λ·η_t/η_0 per step).
    #[arg(long)]
    pub wd: Option<f64>,
    #[arg(long)]
    pub beta1: Option<f64>,
    #[arg(long)]
    pub beta2: Option<f64>,
    #[arg(long)]
    pub eps: Option<f64>,
    #[arg(long)]
    pub amsgrad: bool,
    #[arg(long, value_enum)]
    pub schedule: Option<ScheduleName>,
    /// Step schedule: epochs between decays.
    #[arg(long)]
    pub step_every: Option<u32>,
    /// Step schedule: factor per decay.
    #[arg(long)]
    pub step_gamma: Option<f64>,
    /// warmup-cosine: warm-up epochs.
    #[arg(long)]
    pub warmup_epochs: Option<u32>,
    #[arg(long)]
    pub epochs: Option<u32>,
    /// Stop after N optimizer steps (smoke tests, benchmarks).
    #[arg(long)]
    pub max_steps: Option<u64>,
    /// Train on the first N training images after a seeded shuffle.
    #[arg(long)]
    pub train_subset: Option<usize>,
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Multiply the loss the gradients see by this (reported losses are divided back).
    #[arg(long)]
    pub loss_mult: Option<f64>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Hold out this fraction of the training set and evaluate on it instead of the test set.
    #[arg(long)]
    pub val_fraction: Option<f64>,
    /// Evaluate every N epochs and after the last step (0 = never, for benchmarks).
    #[arg(long)]
    pub eval_every: Option<u32>,
    /// Log gradient-scale histograms every N steps (0 = off).
    #[arg(long)]
    pub hist_every: Option<u64>,
    /// cpu, cuda, cuda:N or auto.
    #[arg(long)]
    pub device: Option<String>,
    /// Activation layout: auto (channels-last on CPU, NCHW on CUDA), nchw or channels-last.
    #[arg(long, value_enum)]
    pub layout: Option<Layout>,
    /// CPU threads (libtorch and the data pipeline).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Run directory (default runs/<name>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run name (default derived from the settings).
    #[arg(long)]
    pub name: Option<String>,
    /// Continue the run in the run directory from its last checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// No progress bar; one line per evaluation (automatic when stdout is not a terminal).
    #[arg(long)]
    pub quiet: bool,
    /// Print the effective configuration as JSON and exit without training.
    #[arg(long)]
    pub print_config: bool,
}

impl TrainArgs {
    /// The run file (or `base`, or the defaults), then every flag that was given, validated.
    pub fn effective_config(&self, base: Option<RunConfig>) -> anyhow::Result<RunConfig> {
        let base = match (&self.config, base) {
            (Some(path), _) => RunConfig::from_file(path)?,
            (None, Some(base)) => base,
            (None, None) => RunConfig::default(),
        };
        let c = self.apply_flags(base);
        c.validate()?;
        Ok(c)
    }

    fn apply_flags(&self, mut c: RunConfig) -> RunConfig {
        macro_rules! set {
            ($($field:ident),*) => {$(if let Some(v) = &self.$field { c.$field = v.clone(); })*};
        }
        set!(
            dataset, model, optimizer, lr, wd, beta1, beta2, eps, schedule, step_every, step_gamma
        );
        set!(
            warmup_epochs,
            epochs,
            loss_mult,
            seed,
            val_fraction,
            eval_every,
            hist_every,
            device,
            layout,
            batch_size
        );
        macro_rules! set_some {
            ($($field:ident),*) => {$(if let Some(v) = &self.$field { c.$field = Some(v.clone()); })*};
        }
        set_some!(data, max_steps, train_subset, threads, out, name);
        if self.bn {
            c.bn = true;
        }
        if self.no_bn {
            c.bn = false;
        }
        if self.amsgrad {
            c.amsgrad = true;
        }
        c
    }
}
