//! `scalefree train`: the run's configuration → data → [`Trainer`] → the run directory
//! (metrics, scales, summary, checkpoints) and TensorBoard, with resume, signals and a
//! progress bar.
use crate::commands::info::Environment;
use crate::config::{parse_device, DatasetName, Layout, RunConfig, ScheduleName};
use crate::data::{self, Loader, LoaderConfig};
use crate::rundir::{checkpoint, MetricsRow, RunDir, RunStatus, ScaleRow, Summary, DIVERGED_ERROR};
use crate::sinks::tensorboard::Board;
use crate::train::device;
use crate::train::scale_probe::ScaleProbe;
use crate::train::step_timing::{StepTimer, StepTiming};
use crate::train::{Position, Trainer, TrainerSpec};
use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use optim::DecayMode;
use serde::Serialize;
use serde_json::{Map, Value};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Every flag is a setting of the run file (`--batch-size` ↔ `batch_size`); flags given
/// override the file. Serialised, the flags that were given are those settings.
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
    #[arg(long, allow_hyphen_values = true)]
    pub lr: Option<f64>,
    /// Weight decay λ as in the paper (AdamW decays by λ·η_t/η_0 per step).
    #[arg(long, allow_hyphen_values = true)]
    pub wd: Option<f64>,
    #[arg(long, allow_hyphen_values = true)]
    pub beta1: Option<f64>,
    #[arg(long, allow_hyphen_values = true)]
    pub beta2: Option<f64>,
    #[arg(long, allow_hyphen_values = true)]
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
    #[arg(long, allow_hyphen_values = true)]
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
    #[arg(long, allow_hyphen_values = true)]
    pub loss_mult: Option<f64>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Hold out this fraction of the training set and evaluate on it instead of the test set.
    #[arg(long, allow_hyphen_values = true)]
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
    pub grad_factors: Option<String>,
    /// Seed of spread:D's draw (independent of --seed).
    #[arg(long)]
    pub factor_seed: Option<u64>,
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

/// How a run ended, and where it wrote.
pub struct Outcome {
    pub status: RunStatus,
    pub run_dir: PathBuf,
}

/// How the loop presents itself, beside what the configuration says.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunOptions {
    /// Continue from the run directory's last checkpoint.
    pub resume: bool,
    /// No progress bar; one line per evaluation.
    pub quiet: bool,
}

/// Settings a resumed run may change: where and how fast it runs, and how far it goes.
pub const CHANGEABLE_ON_RESUME: [&str; 6] =
    ["device", "threads", "layout", "epochs", "max_steps", "out"];

fn check_resume_compatible(stored: &RunConfig, requested: &RunConfig) -> Result<()> {
    let requested = requested.settings();
    for (field, value) in stored.settings() {
        if !CHANGEABLE_ON_RESUME.contains(&field.as_str()) && requested.get(&field) != Some(&value)
        {
            bail!(
                "cannot resume with `{field}` = {}: the run was started with {value}; \
                 only {} may change on resume",
                requested.get(&field).cloned().unwrap_or_default(),
                CHANGEABLE_ON_RESUME.join(", ")
            );
        }
    }
    Ok(())
}

/// What a valid configuration may still not train: ε = 0 (the checks' ε = 0 mode runs in
/// float64 with a stand-in; a training run would divide 0 by 0).
pub fn check_trainable(config: &RunConfig) -> Result<()> {
    let eps = config.optimizer.eps;
    if eps <= 0.0 {
        bail!(
            "invalid `eps` = {eps}: must be > 0 to train (with ε = 0 a coordinate whose gradient \
             stays 0, such as a dead ReLU channel, gets 0/0 = NaN and the run diverges at once; \
             `scalefree check scale-free` is where ε = 0 is studied); the default is 1e-8"
        );
    }
    Ok(())
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
        check_resume_compatible(&stored, &config)?;
    } else if !args.resume && !args.print_config && dir.has_run() {
        bail!(
            "{} already holds a run; pass --resume to continue it, or --name/--out for a new one",
            dir.path().display()
        );
    }
    check_trainable(&config)?;
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
    };
    train(&config, &options)
}

pub fn set_threads(threads: Option<usize>) {
    if let Some(n) = threads {
        tch::set_num_threads(n as i32);
        // Only the first call in a process can size rayon's global pool.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    }
}

fn progress_bar(quiet: bool, epoch: u32, epochs: u32, len: u64, pos: u64) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len)
        .with_position(pos)
        .with_prefix(format!("epoch {}/{epochs}", epoch + 1));
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} {per_sec} ETA {eta}")
            .expect("the template is valid")
            .progress_chars("=> "),
    );
    bar
}

/// The run's loaders: the (augmented, shuffled) training split and the evaluation split.
struct RunData {
    train: Loader,
    eval: Loader,
    eval_name: &'static str,
    classes: i64,
}

fn open_data(config: &RunConfig, device: tch::Device) -> Result<RunData> {
    let kind = config.data.dataset.kind();
    let dataset = data::open(kind, &config.data_source())?;
    let splits = data::splits(
        &dataset,
        config.data.val_fraction,
        config.data.train_subset,
        config.training.seed,
    )?;
    let train_config = LoaderConfig {
        batch_size: config.data.batch_size,
        device,
        ..LoaderConfig::train(config.training.seed)
    };
    let eval_config = LoaderConfig {
        batch_size: 500,
        device,
        ..LoaderConfig::test()
    };
    Ok(RunData {
        train: Loader::new(splits.train, kind, train_config)?,
        eval: Loader::new(splits.eval, kind, eval_config)?,
        eval_name: splits.eval_name,
        classes: splits.classes,
    })
}

/// Trains (or resumes) the run `config` describes, into its run directory.
///
/// A run is complete only once its final evaluation and its summary are written: a run
/// stopped after its last step but before them does them when resumed.
pub fn train(config: &RunConfig, options: &RunOptions) -> Result<Outcome> {
    // From the start, so that a stop request at any point ends in a checkpoint and a summary.
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // Fails only if a handler is already installed (a second run in this process).
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst));
    }
    let dir = RunDir::new(config.run_dir());
    set_threads(config.runtime.threads);
    if config.runtime.device != "cpu" {
        // `auto` would train on the CPU, `cuda` fail, when the driver is too old for the wheel.
        crate::cuda_driver::refuse_unusable_gpus(&format!("--device {}", config.runtime.device))?;
    }
    let device = parse_device(&config.runtime.device)?;
    device::configure(device);
    let data = open_data(config, device)?;
    let mut trainer = Trainer::new(&TrainerSpec::from_run(config, data.classes, device), device)?
        .with_hooks(crate::train::GradientHooks {
            loss_mult: config.training.loss_mult,
            ..Default::default()
        });

    // One writer per run directory, from here until this process ends.
    let _lock = dir.claim("scalefree train")?;
    // An intervention's factors: those this run already fixed (an `equalize` measured on
    // its first batch), else the ones the setting names.
    match dir.read_factors()? {
        Some(factors) if options.resume => trainer.set_layer_factors(&factors)?,
        _ => trainer
            .use_factors(&config.training.grad_factors, config.training.factor_seed)
            .with_context(|| format!("--grad-factors {}", config.training.grad_factors))?,
    }
    let mut factors_logged = false;
    let epochs = config.training.epochs;
    let steps_per_epoch = data.train.batches_per_epoch() as u64;
    let total_steps =
        (epochs as u64 * steps_per_epoch).min(config.training.max_steps.unwrap_or(u64::MAX));
    let mut position = Position::default();
    let mut rows = Vec::new();
    let mut scale_rows = Vec::new();
    if options.resume {
        match checkpoint::latest(dir.path())? {
            Some(checkpoint_dir) => {
                position = checkpoint::load(&checkpoint_dir, &mut trainer)?;
                refuse_resume_past_the_end(config, &dir, &position, total_steps)?;
                rows = dir.read_metrics()?;
                rows.retain(|r| r.step <= position.step);
                scale_rows = dir.read_scales()?;
                scale_rows.retain(|r| r.step <= position.step);
                eprintln!(
                    "resuming {} at step {} ({})",
                    dir.path().display(),
                    position.step,
                    checkpoint::describe(&position)
                );
            }
            None => eprintln!(
                "no checkpoint in {}; starting from the beginning",
                dir.path().display()
            ),
        }
    }
    // From here on the directory holds this process's run: no summary until it ends, and
    // no rows past the point it starts from.
    dir.remove_summary()?;
    dir.write_config(config)?;
    dir.write_environment(&Environment::detect())?;
    dir.write_metrics(&rows)?;
    dir.write_scales(&scale_rows)?;

    let schedule = config.schedule(steps_per_epoch, total_steps);
    let mut board = Board::open(&dir.tensorboard_dir(), Some(position.step))?;
    let mut probe = ScaleProbe::new(trainer.optimizer(), config.training.hist_every);
    let started = Instant::now();
    let mut status = RunStatus::Completed;
    let mut message = None;
    let mut train_seconds = 0.0;
    let mut images_this_process = 0u64;
    let mut timer = StepTimer::default();
    let evaluation = Evaluation {
        data: &data,
        epochs,
        quiet: options.quiet,
        started,
    };
    if stop.load(Ordering::SeqCst) {
        status = RunStatus::Interrupted; // asked to stop before the first step
    }
    while status == RunStatus::Completed && position.epoch < epochs && position.step < total_steps {
        let bar = progress_bar(
            options.quiet,
            position.epoch,
            epochs,
            steps_per_epoch,
            position.batch,
        );
        // The epoch's clock starts with the device idle (nothing earlier is timed in it).
        device::synchronize(device);
        let epoch_started = Instant::now();
        timer.resume();
        // Steps queued so far; `position` counts those whose statistics have been read.
        let mut step = position.step;
        let mut batches = data
            .train
            .epoch_from(position.epoch as u64, position.batch as usize);
        let mut next = batches.next();
        while let Some(batch) = next.take() {
            let batch = batch?;
            // Batch t+1's copy to the device is queued before step t's work (on the CPU
            // there is nothing to copy: order and content are the same either way).
            next = batches.next();
            let t = step + 1;
            trainer.set_lr(schedule.lr_at(config.optimizer.lr, step))?;
            trainer.backward_queued(&batch)?;
            step = t;
            let log_scales = probe.due(t);
            // Read the statistics at the first step, every READ_EVERY steps, and before
            // logging scales (so that, as at every read, a non-finite loss stops the run
            // before its step is applied or logged).
            if t == 1 || t.is_multiple_of(READ_EVERY) || log_scales {
                if let Some(diverged) = take_stats(&mut trainer, &mut position, &mut board) {
                    status = RunStatus::Diverged;
                    message = Some(diverged);
                    break;
                }
                show_progress(&bar, &position);
            }
            if !factors_logged {
                if let Some(factors) = trainer.layer_factors() {
                    dir.write_factors(factors)?;
                    // At step 1 only: a resumed run's TensorBoard is the straight run's.
                    if t == 1 {
                        for (layer, factor) in factors {
                            board.scalar(&format!("factors/log10/{layer}"), factor.log10(), t);
                        }
                    }
                }
                factors_logged = true;
            }
            let mut logging = Duration::ZERO;
            if log_scales {
                // The logging clock starts once the backward work queued before it is done.
                device::synchronize(device);
                let started = Instant::now();
                probe.before_step(trainer.optimizer_mut())?;
                logging += started.elapsed();
            }
            trainer.apply()?;
            if log_scales {
                device::synchronize(device);
                let started = Instant::now();
                if let Some(snapshot) = probe.after_step(trainer.optimizer(), t, position.epoch) {
                    board.scale_snapshot(&snapshot);
                    scale_rows.push(ScaleRow::of(&snapshot));
                    dir.write_scales(&scale_rows)?;
                }
                timer.scale_log_took(logging + started.elapsed());
            }
            images_this_process += batch.len() as u64;
            bar.set_position(batch.index as u64 + 1);
            crate::fault::point_then("step", || stop.load(Ordering::SeqCst));
            let stopping = stop.load(Ordering::SeqCst);
            let last_here =
                stopping || t >= total_steps || batch.index as u64 + 1 >= steps_per_epoch;
            // A stretch of timed steps must start and end with the device done (the time
            // between is then the device's, however the steps were queued).
            if last_here || timer.ends_warmup() {
                device::synchronize(device);
            }
            timer.step_done(batch.len());
            if stopping {
                status = RunStatus::Interrupted;
                break;
            }
            if t >= total_steps {
                break;
            }
        }
        drop(batches);
        if status != RunStatus::Diverged {
            if let Some(diverged) = take_stats(&mut trainer, &mut position, &mut board) {
                status = RunStatus::Diverged;
                message = Some(diverged);
            }
        }
        device::synchronize(device);
        bar.finish_and_clear();
        train_seconds += epoch_started.elapsed().as_secs_f64();
        if status != RunStatus::Completed {
            break;
        }
        let epoch_finished = position.batch >= steps_per_epoch;
        let last = position.step >= total_steps || (epoch_finished && position.epoch + 1 >= epochs);
        if epoch_finished || last {
            // eval_every 0: never (benchmarks time training alone).
            let eval_every = config.training.eval_every;
            if eval_every > 0 && (last || (position.epoch + 1) % eval_every == 0) {
                let rate = images_this_process as f64 / train_seconds.max(1e-9);
                evaluation.run(&trainer, &mut position, &mut rows, &dir, &mut board, rate)?;
            }
            if epoch_finished {
                position.next_epoch();
            }
            save_checkpoint(&dir, &trainer, &position, &started, &mut board)?;
        }
    }
    // Images per second of this process, or (if it trained none) of the last one's.
    let rate = |rows: &[MetricsRow]| match images_this_process {
        0 => rows.last().map_or(0.0, |r| r.images_per_s),
        n => n as f64 / train_seconds.max(1e-9),
    };
    if status == RunStatus::Completed
        && config.training.eval_every > 0
        && rows.last().map(|r| r.step) != Some(position.step)
    {
        // The last step was taken, but the process that took it stopped before evaluating.
        let rate = rate(&rows);
        evaluation.run(&trainer, &mut position, &mut rows, &dir, &mut board, rate)?;
        if position.batch >= steps_per_epoch {
            position.next_epoch();
        }
        save_checkpoint(&dir, &trainer, &position, &started, &mut board)?;
    }
    if status == RunStatus::Interrupted {
        save_checkpoint(&dir, &trainer, &position, &started, &mut board)?;
        message = Some(format!(
            "interrupted at step {}; `--resume` continues from here",
            position.step
        ));
    }
    board.sync()?;
    let summary = summarise(
        status,
        message,
        &rows,
        &position,
        position.wall_s + started.elapsed().as_secs_f64(),
        rate(&rows),
        timer.timing(),
    );
    dir.write_summary(&summary)?;
    if status != RunStatus::Interrupted {
        checkpoint::discard_previous(dir.path())?;
    }
    Ok(Outcome {
        status,
        run_dir: dir.path().to_path_buf(),
    })
}

/// Steps between reads of the training statistics from the device (each read waits for
/// the device; see [`crate::train::PendingStats`]).
const READ_EVERY: u64 = 20;

/// Reads the queued steps' statistics into `position`, in step order, logging the batch
/// loss of step 1 and every 20th; at a non-finite loss it stops there (that step and
/// the ones after it are not counted) and says where the run diverged.
fn take_stats(trainer: &mut Trainer, position: &mut Position, board: &mut Board) -> Option<String> {
    for stats in trainer.read_stats() {
        let t = position.step + 1;
        if !stats.loss.is_finite() {
            return Some(format!("loss became {} at step {t}", stats.loss));
        }
        position.advance(&stats);
        if t.is_multiple_of(20) || t == 1 {
            board.scalar("train/batch_loss", stats.loss, t);
        }
    }
    None
}

fn show_progress(bar: &ProgressBar, position: &Position) {
    let epoch_tally = position.epoch_tally();
    bar.set_message(format!(
        "loss {:.4} acc {:.3}",
        epoch_tally.mean_loss().unwrap_or(0.0),
        epoch_tally.accuracy().unwrap_or(0.0)
    ));
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

/// Evaluates on the run's evaluation split and records the row (metrics file,
/// TensorBoard, the quiet line, the best accuracy).
struct Evaluation<'a> {
    data: &'a RunData,
    epochs: u32,
    quiet: bool,
    started: Instant,
}

impl Evaluation<'_> {
    fn run(
        &self,
        trainer: &Trainer,
        position: &mut Position,
        rows: &mut Vec<MetricsRow>,
        dir: &RunDir,
        board: &mut Board,
        images_per_s: f64,
    ) -> Result<()> {
        let train_tally = position.epoch_tally();
        let eval = trainer.evaluate(self.data.eval.epoch(0))?;
        crate::fault::point("eval");
        let row = MetricsRow {
            epoch: position.epoch + 1,
            step: position.step,
            train_loss: train_tally.mean_loss().unwrap_or(0.0),
            train_accuracy: train_tally.accuracy().unwrap_or(0.0),
            eval_split: self.data.eval_name.to_string(),
            eval_loss: eval.mean_loss().unwrap_or(0.0),
            eval_accuracy: eval.accuracy().unwrap_or(0.0),
            lr: trainer.optimizer().group("all")?.scheduled_lr(),
            wall_s: position.wall_s + self.started.elapsed().as_secs_f64(),
            images_per_s,
        };
        log_row(board, &row);
        if self.quiet {
            println!(
                "epoch {:>3}/{} step {:>6}  train loss {:.4} acc {:.4}  {} loss {:.4} acc {:.4}  lr {:.2e}  {:.0} img/s",
                row.epoch, self.epochs, row.step, row.train_loss, row.train_accuracy, row.eval_split,
                row.eval_loss, row.eval_accuracy, row.lr, row.images_per_s
            );
        }
        position.best_test_accuracy = Some(
            position
                .best_test_accuracy
                .unwrap_or(0.0)
                .max(row.eval_accuracy),
        );
        rows.push(row);
        dir.write_metrics(rows)?;
        board.flush();
        Ok(())
    }
}

/// Saves a checkpoint once everything logged before it is on the disk, so that a run
/// resumed from it misses nothing.
fn save_checkpoint(
    dir: &RunDir,
    trainer: &Trainer,
    position: &Position,
    started: &Instant,
    board: &mut Board,
) -> Result<()> {
    board.sync()?;
    let mut saved = position.clone();
    saved.wall_s += started.elapsed().as_secs_f64();
    checkpoint::save(dir.path(), trainer, &saved)
}

fn log_row(board: &mut Board, row: &MetricsRow) {
    board.scalar("train/loss", row.train_loss, row.step);
    board.scalar("train/accuracy", row.train_accuracy, row.step);
    board.scalar(&format!("{}/loss", row.eval_split), row.eval_loss, row.step);
    board.scalar(
        &format!("{}/accuracy", row.eval_split),
        row.eval_accuracy,
        row.step,
    );
    board.scalar("opt/lr", row.lr, row.step);
    board.scalar("perf/images_per_s", row.images_per_s, row.step);
}

fn summarise(
    status: RunStatus,
    message: Option<String>,
    rows: &[MetricsRow],
    position: &Position,
    wall_s: f64,
    images_per_s: f64,
    timing: StepTiming,
) -> Summary {
    let last = rows.last();
    let final_test_accuracy = last.map(|r| r.eval_accuracy);
    Summary {
        status,
        final_test_accuracy,
        best_test_accuracy: rows.iter().map(|r| r.eval_accuracy).reduce(f64::max),
        final_test_loss: last.map(|r| r.eval_loss),
        final_train_loss: last.map(|r| r.train_loss),
        final_train_accuracy: last.map(|r| r.train_accuracy),
        epochs_done: position.epoch,
        steps_done: position.step,
        wall_s,
        images_per_s,
        test_error_for_heatmap: match status {
            RunStatus::Diverged => Some(DIVERGED_ERROR),
            _ => final_test_accuracy.map(|a| 1.0 - a),
        },
        message,
        timing: Some(timing),
    }
}
