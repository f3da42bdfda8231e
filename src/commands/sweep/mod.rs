//! `scalefree sweep`: expand an experiment into runs with stable names, write the plan,
//! and run what is not done yet, locally or through Slurm. Completed and diverged runs
//! are skipped; started or interrupted ones resume from their checkpoints.
pub mod experiment;
pub mod local;
pub mod slurm;

use crate::rundir::RunDir;
use crate::sinks::atomic::write_json_atomic;
use anyhow::{bail, Result};
use clap::{Args, Subcommand, ValueEnum};
use experiment::{resolve_path, Experiment, Plan};
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
    #[arg(long, value_enum, default_value = "local")]
    pub backend: Backend,
    /// Write the plan and show it without running anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Local: runs at once (default: one per visible GPU, else 1).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Local: device for every run (default: one GPU per run, else cpu).
    #[arg(long)]
    pub device: Option<String>,
    /// CPU threads per run (default: the machine's cores / jobs; Slurm: --cpus-per-task).
    #[arg(long)]
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
}

#[derive(Subcommand, Debug)]
pub enum SweepAction {
    /// Each run's state, from its directory and from squeue/sacct where available.
    Status {
        experiment: String,
        #[arg(long, default_value = "runs")]
        runs: PathBuf,
    },
}

/// Reads and expands the experiment, and writes its plan and one run file per run.
pub fn prepare(spec: &str, runs_dir: &Path) -> Result<(Plan, PathBuf)> {
    let path = resolve_path(spec);
    if !path.exists() {
        bail!(
            "no experiment file {} (give a path, or a name from experiments/)",
            path.display()
        );
    }
    let experiment = Experiment::read(&path)?;
    let valid = !experiment.name.is_empty()
        && experiment
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !valid {
        bail!("experiment file {}: key `name` = {:?} must be letters, digits, . _ - (it names a directory)", path.display(), experiment.name);
    }
    let plan = experiment.expand(&path, runs_dir)?;
    let dir = Plan::dir(runs_dir, &plan.experiment);
    let configs = dir.join("configs");
    std::fs::create_dir_all(&configs)?;
    write_json_atomic(&dir.join("plan.json"), &plan)?;
    for run in &plan.runs {
        write_json_atomic(&configs.join(format!("{}.json", run.name)), &run.config)?;
    }
    Ok((plan, configs))
}

pub fn run(args: &SweepArgs) -> Result<i32> {
    if let Some(SweepAction::Status { experiment, runs }) = &args.action {
        return status(experiment, runs);
    }
    let Some(spec) = &args.experiment else {
        bail!("name an experiment: `scalefree sweep cifar10-quick` or `scalefree sweep experiments/x.json`");
    };
    let (plan, configs) = prepare(spec, &args.runs)?;
    let mut todo = Vec::new();
    for run in &plan.runs {
        let (state, _) = RunDir::new(&run.dir).state()?;
        if !state.is_final() {
            todo.push((run.clone(), state.needs_resume()));
        }
    }
    println!(
        "{}: {} runs, {} already done, {} to run; plan at {}",
        plan.experiment,
        plan.runs.len(),
        plan.runs.len() - todo.len(),
        todo.len(),
        Plan::dir(&args.runs, &plan.experiment)
            .join("plan.json")
            .display()
    );
    if args.dry_run || todo.is_empty() {
        for (run, resume) in &todo {
            println!("  {}{}", run.name, if *resume { " (resume)" } else { "" });
        }
        return Ok(0);
    }
    match args.backend {
        Backend::Local => {
            let options =
                local::LocalOptions::detect(args.jobs, args.device.as_deref(), args.threads);
            println!(
                "{} at once, {} CPU threads each, on {}",
                options.jobs,
                options.threads_per_run,
                options.devices.join(", ")
            );
            let outcome = local::run(&plan, todo, &configs, &options)?;
            println!(
                "{}: {} done, {} failed{}",
                plan.experiment,
                outcome.done,
                outcome.failed.len(),
                if outcome.interrupted {
                    ", interrupted (re-run to continue)"
                } else {
                    ""
                }
            );
            for (name, why) in &outcome.failed {
                println!("  failed: {name} ({why})");
            }
            Ok(if outcome.failed.is_empty() && !outcome.interrupted {
                0
            } else {
                1
            })
        }
        Backend::Slurm => {
            let options = slurm::SlurmOptions {
                partition: args.partition.clone(),
                time: args.time.clone(),
                gpus_per_task: args.gpus_per_task,
                cpus_per_task: args.threads.unwrap_or(args.cpus_per_task),
                max_parallel: args.max_parallel,
                extra: args.sbatch_args.clone(),
            };
            let slurm_dir = Plan::dir(&args.runs, &plan.experiment).join("slurm");
            let submission =
                slurm::submit(&plan.experiment, &todo, &configs, &slurm_dir, &options)?;
            println!(
                "submitted job {} ({} array tasks, script {}); follow with `scalefree sweep status {spec}`",
                submission.job_id,
                submission.runs.len(),
                submission.script.display()
            );
            Ok(0)
        }
    }
}

fn status(spec: &str, runs_dir: &Path) -> Result<i32> {
    let (plan, _) = prepare(spec, runs_dir)?;
    let slurm_states = slurm::states(&Plan::dir(runs_dir, &plan.experiment).join("slurm"));
    println!(
        "{:<48} {:<20} {:<22} {:>9} {:>7}",
        "run", "state", "slurm", "test acc", "epochs"
    );
    let mut counts = std::collections::BTreeMap::new();
    for run in &plan.runs {
        let (state, summary) = RunDir::new(&run.dir).state()?;
        *counts.entry(state.label()).or_insert(0) += 1;
        let (acc, epochs) = match &summary {
            Some(s) => (
                s.final_test_accuracy
                    .map(|a| format!("{a:.4}"))
                    .unwrap_or_else(|| "-".into()),
                s.epochs_done.to_string(),
            ),
            None => ("-".into(), "-".into()),
        };
        let slurm = slurm_states
            .get(&run.name)
            .cloned()
            .unwrap_or_else(|| "-".into());
        println!(
            "{:<48} {:<20} {:<22} {:>9} {:>7}",
            run.name,
            state.label(),
            slurm,
            acc,
            epochs
        );
    }
    let summary: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    println!("{}: {}", plan.experiment, summary.join(", "));
    Ok(0)
}
