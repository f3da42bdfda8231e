//! `scalefree train`: the run's configuration → data → [`Trainer`] → the run directory
//! (metrics, scales, summary, checkpoints) and TensorBoard, with resume, signals and a
//! progress bar.
use crate::config::{
    compare, parse_device, DatasetName, FactorSpec, Layout, Precision, RunConfig, ScheduleName,
};
use crate::data::{self, RunLoaders};
use crate::environment::Environment;
use crate::rundir::{checkpoint, RunDir, RunRecorder, RunStatus};
use crate::sinks::progress::Progress;
use crate::sinks::run_board::RunBoard;
use crate::sinks::tensorboard::Board;
use crate::train::{
    device, GradientHooks, Plan, Position, Session, SessionData, StopRequest, Trainer, TrainerSpec,
};
use anyhow::{bail, Context, Result};
use clap::Args;
use optim::DecayMode;
use serde::Serialize;
use serde_json::{Map, Value};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Every flag is a setting of the run file (`--batch-size` ↔ `batch_size`); flags given
/// override the file. Serialised, the flags that were given are those settings; so every
/// float flag is parsed by [`parse_finite`] (JSON would turn NaN into "not given").
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
    #[arg(long, allow_hyphen_values = true, value_parser = parse_finite)]
    pub lr: Option<f64>,
    /// Weight decay λ as in the paper (AdamW decays by λ·η_t/η_0 per step).
    #[arg(long, allow_hyphen_values = true, value_parser = parse_finite)]
    pub wd: Option<f64>,
    #[arg(long, allow_hyphen_values = true, value_parser = parse_finite)]
    pub beta1: Option<f64>,
    #[arg(long, allow_hyphen_values = true, value_parser = parse_finite)]
    pub beta2: Option<f64>,
    #[arg(long, allow_hyphen_values = true, value_parser = parse_finite)]
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
    #[arg(long, allow_hyphen_values = true, value_parser = parse_finite)]
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
    #[arg(long, allow_hyphen_values = true, value_parser = parse_finite)]
    pub loss_mult: Option<f64>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Hold out this fraction of the training set and evaluate on it instead of the test set.
    #[arg(long, allow_hyphen_values = true, value_parser = parse_finite)]
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

/// A float flag's value: a finite number. NaN, ±inf and what overflows to inf (`1e309`)
/// are refused here, because the flags reach the configuration as JSON, where a
/// non-finite number becomes `null`, which reads as "not given" and so the default.
fn parse_finite(s: &str) -> Result<f64, String> {
    let value: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number"))?;
    if value.is_finite() {
        Ok(value)
    } else if value.is_nan() || s.to_ascii_lowercase().contains("inf") {
        Err(format!("must be a finite number, not {s}"))
    } else {
        Err(format!(
            "must be a finite number; {s} is beyond a float64's range (±1.8e308)"
        ))
    }
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

/// How a run ended, and where it wrote.
pub struct Outcome {
    pub status: RunStatus,
    pub run_dir: PathBuf,
}

/// How the loop presents itself, beside what the configuration says.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Continue from the run directory's last checkpoint.
    pub resume: bool,
    /// No progress bar; one line per evaluation.
    pub quiet: bool,
    /// Raised by SIGINT/SIGTERM (or by the caller): the run stops after its current
    /// step with a checkpoint and a summary.
    pub stop: StopRequest,
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

/// The run's loaders, from its data settings.
fn open_data(config: &RunConfig, device: tch::Device) -> Result<RunLoaders> {
    let kind = config.data.dataset.kind();
    let dataset = data::open(kind, &config.data_source())?;
    let seed = config.training.seed;
    let splits = data::splits(
        &dataset,
        config.data.val_fraction,
        config.data.train_subset,
        seed,
    )?;
    data::loaders(splits, kind, config.data.batch_size, seed, device)
}

/// The session of the run `config` describes: its trainer with the run's gradient hooks
/// and factors, and its plan.
fn open_session(
    config: &RunConfig,
    dir: &RunDir,
    data: &RunLoaders,
    device: tch::Device,
    options: &RunOptions,
) -> Result<Session> {
    let mut trainer = Trainer::new(&TrainerSpec::from_run(config, data.classes, device), device)?
        .with_hooks(GradientHooks {
            loss_mult: config.training.loss_mult,
            ..Default::default()
        });
    // An intervention's factors: those this run already fixed (an `equalize` measured on
    // its first batch), else the ones the setting names.
    match dir.read_factors()? {
        Some(factors) if options.resume => trainer.set_layer_factors(&factors)?,
        _ => trainer
            .use_factors(&config.training.grad_factors, config.training.factor_seed)
            .with_context(|| format!("--grad-factors {}", config.training.grad_factors))?,
    }
    let steps_per_epoch = data.train.batches_per_epoch() as u64;
    let epochs = config.training.epochs;
    let total_steps =
        (epochs as u64 * steps_per_epoch).min(config.training.max_steps.unwrap_or(u64::MAX));
    let plan = Plan {
        epochs,
        steps_per_epoch,
        total_steps,
        lr0: config.optimizer.lr,
        schedule: config.schedule(steps_per_epoch, total_steps),
        eval_every: config.training.eval_every,
        hist_every: config.training.hist_every,
    };
    Ok(Session::new(trainer, plan, device, options.stop.clone()))
}

/// The checkpoint a resumed run continues from, loaded into the session's trainer.
fn load_checkpoint(
    config: &RunConfig,
    dir: &RunDir,
    session: &mut Session,
) -> Result<Option<checkpoint::Resume>> {
    let Some(checkpoint_dir) = checkpoint::latest(dir.path())? else {
        let dir = dir.path().display();
        eprintln!("no checkpoint in {dir}; starting from the beginning");
        return Ok(None);
    };
    let resume = checkpoint::load(&checkpoint_dir, session.trainer_mut())?;
    let position = &resume.position;
    refuse_resume_past_the_end(config, dir, position, session.plan().total_steps)?;
    eprintln!(
        "resuming {} at step {} ({})",
        dir.path().display(),
        position.step,
        checkpoint::describe(position)
    );
    Ok(Some(resume))
}

/// Trains (or resumes) the run `config` describes, into its run directory: a session
/// observed by TensorBoard, the progress bar and the run directory, in that order (the
/// events are on the disk before a checkpoint or the summary is written).
pub fn train(config: &RunConfig, options: &RunOptions) -> Result<Outcome> {
    let dir = RunDir::new(config.run_dir());
    device::set_threads(config.runtime.threads);
    if config.runtime.device != "cpu" {
        // `auto` would train on the CPU, `cuda` fail, when the driver is too old for the wheel.
        crate::cuda_driver::refuse_unusable_gpus(&format!("--device {}", config.runtime.device))?;
    }
    let device = parse_device(&config.runtime.device)?;
    config.training.precision.check_device(device)?;
    device::configure(device);
    let data = open_data(config, device)?;
    let mut session = open_session(config, &dir, &data, device, options)?;
    // One writer per run directory, from here until this process ends.
    let _lock = dir.claim("scalefree train")?;
    let resumed_at = match options.resume {
        true => load_checkpoint(config, &dir, &mut session)?,
        false => None,
    };
    let environment = Environment::detect();
    let mut recorder = RunRecorder::start(
        dir.clone(),
        config,
        &environment,
        resumed_at.as_ref(),
        session.plan(),
    )?;
    let first_step = resumed_at.as_ref().map_or(0, |r| r.position.step);
    let mut board = RunBoard::new(
        Board::open(&dir.tensorboard_dir(), Some(first_step))?,
        config,
    )?;
    if let Some(resume) = resumed_at {
        session.resume_at(resume.position, recorder.last_evaluation())?;
    }
    let plan = session.plan();
    let mut progress = Progress::new(options.quiet, plan.epochs, plan.steps_per_epoch);
    let data = SessionData {
        train: &data.train,
        eval: &data.eval,
        eval_split: data.eval_name,
    };
    let status = session.run(&data, &mut [&mut board, &mut progress, &mut recorder])?;
    Ok(Outcome {
        status,
        run_dir: dir.path().to_path_buf(),
    })
}

/// A resumed run cannot go back: `--epochs`/`--max-steps` that end before the checkpoint
/// are refused, naming the setting and what would be valid.
fn refuse_resume_past_the_end(
    config: &RunConfig,
    dir: &RunDir,
    position: &Position,
    total_steps: u64,
) -> Result<()> {
    if position.step <= total_steps {
        return Ok(());
    }
    let (field, value) = match config.training.max_steps {
        Some(max) if max == total_steps => ("max_steps", max.to_string()),
        _ => ("epochs", config.training.epochs.to_string()),
    };
    bail!(
        "cannot resume {} with `{field}` = {value}: that ends at step {total_steps}, but the \
         run's checkpoint is already at step {} ({}); resume with a `{field}` that reaches at \
         least that far (or without --max-steps), or start a new run with --out",
        dir.path().display(),
        position.step,
        checkpoint::describe(position)
    )
}
