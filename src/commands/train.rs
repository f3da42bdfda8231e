//! `scalefree train`: the flags (and run file) → the run's configuration → a training run
//! ([`crate::training_run`]) with resume, signals and a progress bar.
use crate::config::flag_values::finite;
use crate::config::{compare, DatasetName, FactorSpec, Layout, Precision, RunConfig, ScheduleName};
use crate::rundir::{RunDir, RunStatus};
use crate::train::StopRequest;
pub use crate::training_run::{train, Outcome, RunOptions};
use anyhow::{bail, Result};
use clap::Args;
use optim::DecayMode;
use serde::Serialize;
use serde_json::{Map, Value};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Every flag is a setting of the run file (`--batch-size` ↔ `batch_size`); flags given
/// override the file. Serialised, the flags that were given are those settings; so every
/// float flag is parsed by [`finite`] (JSON would turn NaN into "not given").
#[derive(Args, Default, Debug, Serialize)]
pub struct TrainArgs {
    /// JSON run file; flags given as well override its fields.
    #[arg(long)]
    #[serde(skip)]
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
    #[serde(skip)]
    pub bn: bool,
    /// Without batch norm (the default).
    #[arg(long)]
    #[serde(skip)]
    pub no_bn: bool,
    /// adam-l2, adamw or adam-prox.
    #[arg(long, value_parser = parse_optimizer)]
    pub optimizer: Option<DecayMode>,
    /// Initial step size η_0.
    #[arg(long, allow_hyphen_values = true, value_parser = finite)]
    pub lr: Option<f64>,
    /// Weight decay λ as in the paper (AdamW decays by λ·η_t/η_0 per step).
    #[arg(long, allow_hyphen_values = true, value_parser = finite)]
    pub wd: Option<f64>,
    #[arg(long, allow_hyphen_values = true, value_parser = finite)]
    pub beta1: Option<f64>,
    #[arg(long, allow_hyphen_values = true, value_parser = finite)]
    pub beta2: Option<f64>,
    #[arg(long, allow_hyphen_values = true, value_parser = finite)]
    pub eps: Option<f64>,
    /// AMSGrad: the running maximum of v (then bias-corrected, as PyTorch does).
    #[arg(long, conflicts_with = "no_amsgrad")]
    #[serde(skip)]
    pub amsgrad: bool,
    /// Without AMSGrad (the default; overrides a run file that sets it).
    #[arg(long)]
    #[serde(skip)]
    pub no_amsgrad: bool,
    #[arg(long, value_enum)]
    pub schedule: Option<ScheduleName>,
    /// Step schedule: epochs between decays.
    #[arg(long)]
    pub step_every: Option<u32>,
    /// Step schedule: factor per decay.
    #[arg(long, allow_hyphen_values = true, value_parser = finite)]
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
    #[arg(long, allow_hyphen_values = true, value_parser = finite)]
    pub loss_mult: Option<f64>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Hold out this fraction of the training set and evaluate on it instead of the test set.
    #[arg(long, allow_hyphen_values = true, value_parser = finite)]
    pub val_fraction: Option<f64>,
    /// Evaluate every N epochs and after the last step (0 = never, for benchmarks).
    #[arg(long)]
    pub eval_every: Option<u32>,
    /// Log gradient-scale histograms every N steps (0 = off).
    #[arg(long)]
    pub hist_every: Option<u64>,
    /// Per-layer gradient factors: none, spread:D (c = 10^(D·U(−1,1)) per layer), equalize
    /// (1/rms of each layer's first gradient) or a JSON file {"layer": factor}.
    #[arg(long)]
    pub grad_factors: Option<FactorSpec>,
    /// Seed of spread:D's draw (independent of --seed).
    #[arg(long)]
    pub factor_seed: Option<u64>,
    /// Convolutions and matrix products in fp32, bf16 (CPU or CUDA) or f16 (CUDA, with
    /// dynamic loss scaling); weights, optimizer state, loss and logs stay float32.
    #[arg(long, value_enum)]
    pub precision: Option<Precision>,
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
    #[serde(skip)]
    pub resume: bool,
    /// No progress bar; one line per evaluation (automatic when stdout is not a terminal).
    #[arg(long)]
    #[serde(skip)]
    pub quiet: bool,
    /// Print the effective configuration as JSON and exit without training.
    #[arg(long)]
    #[serde(skip)]
    pub print_config: bool,
}

fn parse_optimizer(s: &str) -> Result<DecayMode, String> {
    s.parse()
}

impl TrainArgs {
    /// The flags that were given, as flat settings (see [`crate::config::keys`]).
    pub fn settings(&self) -> Map<String, Value> {
        let Ok(Value::Object(mut map)) = serde_json::to_value(self) else {
            unreachable!("flags serialise to an object");
        };
        map.retain(|_, value| !value.is_null());
        for (key, on, off) in [
            ("bn", self.bn, self.no_bn),
            ("amsgrad", self.amsgrad, self.no_amsgrad),
        ] {
            // `--x` / `--no-x`: set either way, or left to the run file.
            if on || off {
                map.insert(key.into(), Value::Bool(on));
            }
        }
        map
    }

    /// The run file (or `base`, or the defaults), then every flag that was given, validated.
    pub fn effective_config(&self, base: Option<RunConfig>) -> Result<RunConfig> {
        let base = match (&self.config, base) {
            (Some(path), _) => RunConfig::from_file(path)?,
            (None, Some(base)) => base,
            (None, None) => RunConfig::default(),
        };
        base.with_settings(&self.settings())
    }
}

/// Reads the flags (and run file), and refuses a run directory that holds another run.
fn resolve_config(args: &TrainArgs) -> Result<RunConfig> {
    let mut config = args.effective_config(None)?;
    let dir = RunDir::new(config.run_dir());
    if args.resume && dir.has_run() {
        let stored = dir.read_config()?;
        if args.config.is_none() {
            config = args.effective_config(Some(stored.clone()))?;
        }
        compare::check_resume(&stored, &config)?;
    } else if !args.resume && !args.print_config && dir.has_run() {
        bail!(
            "{} already holds a run; pass --resume to continue it, or --name/--out for a new one",
            dir.path().display()
        );
    }
    config.check_trainable()?;
    Ok(config)
}

/// `scalefree train`.
pub fn run(args: &TrainArgs) -> Result<Outcome> {
    let config = resolve_config(args)?;
    if args.print_config {
        println!("{}", serde_json::to_string_pretty(&config)?);
        return Ok(Outcome {
            status: RunStatus::Completed,
            run_dir: config.run_dir(),
        });
    }
    let options = RunOptions {
        resume: args.resume,
        quiet: args.quiet || !std::io::stdout().is_terminal(),
        // From the start, so that a stop request at any point ends in a checkpoint and a summary.
        stop: StopRequest::on_signals(),
    };
    train(&config, &options)
}
