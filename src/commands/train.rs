//! `scalefree train`: the flags (and run file) → the run's configuration → a training run
//! ([`crate::training_run`]) with resume, signals and a progress bar.
use super::rule_flags::RuleFlags;
use crate::config::flag_values::finite;
use crate::config::{compare, DatasetName, FactorSpec, Layout, Precision, RunConfig, ScheduleName};
use crate::optimizers::Method;
use crate::rundir::{RunDir, RunStatus};
use crate::train::StopRequest;
pub use crate::training_run::{train, Outcome, RunOptions};
use anyhow::{bail, Result};
use clap::Args;
use serde::Serialize;
use serde_json::{Map, Value};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Every flag is a setting of the run file (`--batch-size` ↔ `batch_size`); flags given
/// override the file. A setting's help and default are its row in the table of settings
/// ([`crate::config::keys::SETTINGS`]), which [`crate::cli::command`] gives each flag.
/// Serialised, the flags that were given are those settings; so every float flag is
/// parsed by [`finite`] (JSON would turn NaN into "not given").
#[derive(Args, Default, Debug, Serialize)]
pub struct TrainArgs {
    /// JSON run file; flags given as well override its fields.
    #[arg(long)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    #[arg(long, value_enum)]
    pub dataset: Option<DatasetName>,
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[arg(long)]
    pub model: Option<String>,
    #[arg(long, conflicts_with = "no_bn")]
    #[serde(skip)]
    pub bn: bool,
    /// Without batch norm: overrides a run file that sets --bn.
    #[arg(long)]
    #[serde(skip)]
    pub no_bn: bool,
    #[arg(long, value_parser = parse_optimizer)]
    pub optimizer: Option<Method>,
    #[arg(long, allow_hyphen_values = true, value_parser = finite)]
    pub lr: Option<f64>,
    #[arg(long, allow_hyphen_values = true, value_parser = finite)]
    pub wd: Option<f64>,
    /// The rule's own settings (`--beta1`, `--momentum`, `--nesterov`, …), from the table
    /// of optimizers.
    #[command(flatten)]
    #[serde(flatten)]
    pub rule: RuleFlags,
    #[arg(long, value_enum)]
    pub schedule: Option<ScheduleName>,
    #[arg(long)]
    pub step_every: Option<u32>,
    #[arg(long, allow_hyphen_values = true, value_parser = finite)]
    pub step_gamma: Option<f64>,
    #[arg(long)]
    pub warmup_epochs: Option<u32>,
    #[arg(long)]
    pub epochs: Option<u32>,
    #[arg(long)]
    pub max_steps: Option<u64>,
    #[arg(long)]
    pub train_subset: Option<usize>,
    #[arg(long)]
    pub batch_size: Option<usize>,
    #[arg(long, allow_hyphen_values = true, value_parser = finite)]
    pub loss_mult: Option<f64>,
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(long, allow_hyphen_values = true, value_parser = finite)]
    pub val_fraction: Option<f64>,
    #[arg(long)]
    pub eval_every: Option<u32>,
    #[arg(long)]
    pub hist_every: Option<u64>,
    #[arg(long)]
    pub grad_factors: Option<FactorSpec>,
    #[arg(long)]
    pub factor_seed: Option<u64>,
    #[arg(long, value_enum)]
    pub precision: Option<Precision>,
    #[arg(long)]
    pub device: Option<String>,
    #[arg(long, value_enum)]
    pub layout: Option<Layout>,
    #[arg(long)]
    pub threads: Option<usize>,
    #[arg(long)]
    pub out: Option<PathBuf>,
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

fn parse_optimizer(s: &str) -> Result<Method, String> {
    s.parse()
}

impl TrainArgs {
    /// The flags that were given, as flat settings (see [`crate::config::keys`]).
    pub fn settings(&self) -> Map<String, Value> {
        let Ok(Value::Object(mut map)) = serde_json::to_value(self) else {
            unreachable!("flags serialise to an object");
        };
        map.retain(|_, value| !value.is_null());
        for (key, on, off) in [("bn", self.bn, self.no_bn)] {
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
