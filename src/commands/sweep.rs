//! `scalefree sweep`: expand an experiment into runs with stable names, write the plan,
//! and run what is not done yet, locally or through Slurm. Completed and diverged runs
//! are skipped; started or interrupted ones resume from their checkpoints. A run made
//! with other settings than the plan's (the experiment was edited) is stale: never counted
//! as done, reported, and redone or kept only when asked (`--redo-stale`, `--keep-stale`).
//! One sweep of an experiment at a time (`sweep.lock` in its folder).
//!
//! The sweep itself is [`crate::sweep`]; this command reads its arguments and prints.
use crate::config::flag_values::at_least_one;
use crate::experiment::{ExperimentDir, Plan, PlannedRun};
use crate::rundir::lock::Lock;
use crate::sweep::triage::{triage, StalePolicy};
use crate::sweep::{local, plan_of, runs_per_gpu, slurm, status, SummaryRefresh};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    Local,
    Slurm,
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SweepArgs {
    #[command(subcommand)]
    pub action: Option<SweepAction>,
    /// Experiment file, or its name under experiments/ (cifar10-quick).
    pub experiment: Option<String>,
    /// Where run directories go: <runs>/<experiment>/<run>.
    #[arg(long, default_value = "runs")]
    pub runs: PathBuf,
    /// Where the runs go: local (this machine, as many at once as --jobs) or slurm (one
    /// array job).
    #[arg(long, value_enum, default_value = "local")]
    pub backend: Backend,
    /// Write the plan and show it without running anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Local: runs at once (default: one per visible GPU; on the CPU, a measured rule's).
    #[arg(long, value_parser = at_least_one::<usize>)]
    pub jobs: Option<usize>,
    /// Local: device for every run (default: each visible GPU in turn, else cpu). A run
    /// on a GPU sees only that GPU (CUDA_VISIBLE_DEVICES) and trains on `--device cuda`.
    #[arg(long)]
    pub device: Option<String>,
    /// Runs sharing each GPU at once (local: jobs = GPUs × this; Slurm: runs packed into
    /// each array task and its GPU). Default: the experiment's `runs_per_gpu`, else 1.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs_per_gpu: Option<u32>,
    /// CPU threads per run (default: the rule's; on GPUs cores / jobs; Slurm: --cpus-per-task).
    #[arg(long, value_parser = at_least_one::<usize>)]
    pub threads: Option<usize>,
    /// Slurm: partition.
    #[arg(long)]
    pub partition: Option<String>,
    /// Slurm: time limit per run, e.g. 12:00:00.
    #[arg(long)]
    pub time: Option<String>,
    /// Slurm: GPUs per run (0 = CPU runs).
    #[arg(long, default_value_t = 0)]
    pub gpus_per_task: u32,
    /// Slurm: CPUs per run.
    #[arg(long, default_value_t = 2)]
    pub cpus_per_task: usize,
    /// Slurm: at most this many runs at once.
    #[arg(long)]
    pub max_parallel: Option<usize>,
    /// Slurm: an extra sbatch option, repeatable (--sbatch-arg=--account=abc).
    #[arg(long = "sbatch-arg", allow_hyphen_values = true)]
    pub sbatch_args: Vec<String>,
    /// Runs made with other settings than the plan's: move them to <runs>/<experiment>/stale/
    /// and run them again from the start.
    #[arg(long, conflicts_with = "keep_stale")]
    pub redo_stale: bool,
    /// Runs made with other settings than the plan's: keep them as they are (finished ones
    /// count as done; unfinished ones continue with their own settings).
    #[arg(long)]
    pub keep_stale: bool,
}

#[derive(Subcommand, Debug)]
pub enum SweepAction {
    /// Each run's state, from its directory and from squeue/sacct where available.
    Status {
        /// Experiment file, or its name under experiments/ (cifar10-quick).
        experiment: String,
        /// Where the run directories are: <runs>/<experiment>/<run>.
        #[arg(long, default_value = "runs")]
        runs: PathBuf,
    },
}

pub fn run(args: &SweepArgs) -> Result<i32> {
    if let Some(SweepAction::Status { experiment, runs }) = &args.action {
        return status(experiment, runs);
    }
    let Some(spec) = &args.experiment else {
        bail!("name an experiment: `scalefree sweep cifar10-quick` or `scalefree sweep experiments/x.json`");
    };
    let plan = plan_of(spec, &args.runs)?;
    // Every setting is checked before the sweep writes its plan or moves a stale run.
    let runs_per_gpu = runs_per_gpu(args.runs_per_gpu, spec)?;
    if args.backend == Backend::Local && args.device.as_deref() != Some("cpu") {
        // Without a device the runs would go to the CPU, unasked, on a GPU machine.
        crate::cuda_driver::refuse_unusable_gpus(&format!(
            "--device {}",
            args.device.as_deref().unwrap_or("(default: the GPUs)")
        ))?;
    }
    let local_options = match args.backend {
        Backend::Local => {
            let machine = local::Machine::detect();
            let configs: Vec<&crate::config::RunConfig> =
                plan.runs.iter().map(|run| &run.config).collect();
            let options = local::LocalOptions::new(
                &machine,
                args.jobs,
                args.device.as_deref(),
                args.threads,
                runs_per_gpu,
                &configs,
            )?;
            options.refuse_unrunnable(&plan, &machine)?;
            Some(options)
        }
        _ => None,
    };
    let folder = ExperimentDir::new(&args.runs, &plan.experiment);
    std::fs::create_dir_all(folder.path())
        .with_context(|| format!("cannot create {}", folder.path().display()))?;
    // One sweep of an experiment at a time; released when this process ends.
    let _lock = Lock::acquire(folder.path(), &folder.lock_path(), "scalefree sweep")?;
    folder.refuse_plan_of_another_file(&plan)?;
    folder.write_plan(&plan)?;
    let policy = StalePolicy {
        redo: args.redo_stale,
        keep: args.keep_stale,
        dry_run: args.dry_run,
    };
    let triage = triage(&plan, policy, &folder)?;
    for line in triage.lines(&plan, &folder) {
        println!("{line}");
    }
    let unresolved = triage.unresolved();
    let todo = triage.todo;
    if !args.dry_run {
        // The grid is in TensorBoard's HParams from the start, with what is done so far.
        SummaryRefresh::now(&plan, &folder, &|line| println!("{line}"));
    }
    if args.dry_run || todo.is_empty() {
        if let Some(options) = local_options.as_ref().filter(|_| args.dry_run) {
            options.lines().iter().for_each(|line| println!("{line}"));
        }
        for (run, resume) in &todo {
            println!("  {}{}", run.name, if *resume { " (resume)" } else { "" });
        }
        return Ok(if unresolved && !args.dry_run { 1 } else { 0 });
    }
    match local_options {
        Some(options) => run_locally(&plan, todo, &folder, &options, unresolved),
        None => submit_to_slurm(&plan, &todo, &folder, args, runs_per_gpu, unresolved),
    }
}

/// The local backend, and what it says at the end; the exit code.
fn run_locally(
    plan: &Plan,
    todo: Vec<(PlannedRun, bool)>,
    folder: &ExperimentDir,
    options: &local::LocalOptions,
    unresolved: bool,
) -> Result<i32> {
    options.lines().iter().for_each(|line| println!("{line}"));
    let ended = local::run(plan, todo, folder, options)?;
    for line in ended.lines(&plan.experiment) {
        println!("{line}");
    }
    Ok(if ended.clean() && !unresolved { 0 } else { 1 })
}

/// The Slurm backend: one array job for the runs to do; the exit code.
fn submit_to_slurm(
    plan: &Plan,
    todo: &[(PlannedRun, bool)],
    folder: &ExperimentDir,
    args: &SweepArgs,
    runs_per_gpu: usize,
    unresolved: bool,
) -> Result<i32> {
    let options = slurm::SlurmOptions {
        partition: args.partition.clone(),
        time: args.time.clone(),
        gpus_per_task: args.gpus_per_task,
        cpus_per_task: args.threads.unwrap_or(args.cpus_per_task),
        max_parallel: args.max_parallel,
        extra: args.sbatch_args.clone(),
        runs_per_task: slurm::runs_per_task(args.gpus_per_task, runs_per_gpu),
        experiment_file: plan.experiment_file.clone(),
    };
    let submission = slurm::submit(&plan.experiment, todo, folder, &options)?;
    println!(
        "submitted job {} ({} array tasks of {} run(s), script {}); follow with `scalefree sweep status {}`",
        submission.job_id,
        submission.runs.len().div_ceil(submission.runs_per_task),
        submission.runs_per_task,
        submission.script.display(),
        args.experiment.as_deref().unwrap_or(&plan.experiment)
    );
    Ok(if unresolved { 1 } else { 0 })
}

fn status(spec: &str, runs_dir: &Path) -> Result<i32> {
    let plan = plan_of(spec, runs_dir)?;
    let folder = ExperimentDir::new(runs_dir, &plan.experiment);
    let states = status::states(&plan, &folder)?;
    println!(
        "{:<48} {:<20} {:<22} {:>9} {:>7}",
        "run", "state", "slurm", "test acc", "epochs"
    );
    let mut counts = std::collections::BTreeMap::new();
    for run in &states {
        *counts.entry(run.label.clone()).or_insert(0) += 1;
        let accuracy = run.final_test_accuracy.map(|a| format!("{a:.4}"));
        let epochs = run.epochs_done.map(|e| e.to_string());
        println!(
            "{:<48} {:<20} {:<22} {:>9} {:>7}",
            run.name,
            run.label,
            run.slurm.as_deref().unwrap_or("-"),
            accuracy.as_deref().unwrap_or("-"),
            epochs.as_deref().unwrap_or("-")
        );
    }
    let summary: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    println!("{}: {}", plan.experiment, summary.join(", "));
    for run in &states {
        if let Some(why) = &run.damaged {
            println!("  damaged: {}: {why}", run.name);
        }
    }
    // TensorBoard's view brought up to date: how a Slurm sweep's dashboard fills in.
    SummaryRefresh::now(&plan, &folder, &|line| eprintln!("{line}"));
    Ok(0)
}
