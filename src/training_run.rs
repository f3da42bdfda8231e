//! A training run from its configuration: the data, the session with its trainer and
//! plan, the checkpoint a resumed run continues from, and the observers that record it
//! (TensorBoard, the terminal, the run directory). `scalefree train` and the benchmarks
//! drive it; a sweep starts `scalefree train` processes.
use crate::config::{parse_device, RunConfig};
use crate::data::{self, RunLoaders};
use crate::environment::Environment;
use crate::observers::progress::Progress;
use crate::observers::run_board::RunBoard;
use crate::rundir::{checkpoint, RunDir, RunRecorder, RunStatus};
use crate::sinks::tensorboard::Board;
use crate::train::{
    device, memory, GradientHooks, Plan, Position, Session, SessionData, StopRequest, Trainer,
    TrainerSpec,
};
use anyhow::{bail, Context, Result};
use std::path::PathBuf;

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
    refuse_other_cpu_threads(dir, &resume, session.trainer().var_store().device())?;
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
    device::refuse_more_threads_than_cpus(config.runtime.threads)?;
    device::set_threads(config.runtime.threads);
    if config.runtime.device != "cpu" {
        // `auto` would train on the CPU, `cuda` fail, when the driver is too old for the wheel.
        crate::cuda_driver::refuse_unusable_gpus(&format!("--device {}", config.runtime.device))?;
    }
    let device = parse_device(&config.runtime.device)?;
    config.training.precision.check_device(device)?;

    device::configure(device);
    let data = open_data(config, device)?;
    if device == tch::Device::Cpu {
        // After the data (a batch larger than the training split is refused as that), before
        // the model, whose activations would grow until the out-of-memory killer ends them.
        memory::refuse_what_does_not_fit(config, data.classes)?;
    }
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

/// On the CPU the thread count splits libtorch's sums differently, so a run resumed with
/// other threads than it trained with matches neither the run it continues nor one with
/// the new count: refused, saying which count resumes it.
fn refuse_other_cpu_threads(
    dir: &RunDir,
    resume: &checkpoint::Resume,
    device: tch::Device,
) -> Result<()> {
    let now = tch::get_num_threads() as usize;
    match resume.cpu_threads {
        Some(trained) if device == tch::Device::Cpu && trained != now => bail!(
            "cannot resume {} with {now} CPU thread{}: it trained with {trained}, and the \
             thread count changes the last bits of a CPU run's sums, so the resumed run would \
             match neither; resume with `--threads {trained}` (or start a new run with --out)",
            dir.path().display(),
            if now == 1 { "" } else { "s" }
        ),
        _ => Ok(()),
    }
}
