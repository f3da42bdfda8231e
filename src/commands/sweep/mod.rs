//! `scalefree sweep`: expand an experiment into runs with stable names, write the plan,
//! and run what is not done yet, locally or through Slurm. Completed and diverged runs
//! are skipped; started or interrupted ones resume from their checkpoints. A run made
//! with other settings than the plan's (the experiment was edited) is stale: never counted
//! as done, reported, and redone or kept only when asked (`--redo-stale`, `--keep-stale`).
//! One sweep of an experiment at a time (`sweep.lock` in its folder).
pub mod local;
mod progress;
pub mod slurm;
pub mod stale;
mod summary_refresh;

use crate::experiment::{resolve_path, Experiment, ExperimentDir, Plan, PlannedRun};
use crate::rundir::lock::Lock;
use crate::rundir::{RunDir, RunProgress};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    Local,
    Slurm,
}

/// A count of runs or threads: 0 would start nothing (`--jobs`) or runs that all fail
/// (`--threads`), so it is refused before anything is planned.
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("must be a whole number, at least 1, not {s}")),
    }
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
    #[arg(long, value_parser = at_least_one)]
    pub jobs: Option<usize>,
    /// Local: device for every run (default: each visible GPU in turn, else cpu). A run
    /// on a GPU sees only that GPU (CUDA_VISIBLE_DEVICES) and trains on `--device cuda`.
    #[arg(long)]
    pub device: Option<String>,
    /// Runs sharing each GPU at once (local: jobs = GPUs × this; Slurm: runs packed into
    /// each array task and its GPU). Default: the experiment's `runs_per_gpu`, else 1.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs_per_gpu: Option<u32>,
    /// CPU threads per run (default: the machine's cores / jobs; Slurm: --cpus-per-task).
    #[arg(long, value_parser = at_least_one)]
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
        experiment: String,
        #[arg(long, default_value = "runs")]
        runs: PathBuf,
    },
}

/// Reads and expands the experiment.
pub fn plan_of(spec: &str, runs_dir: &Path) -> Result<Plan> {
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
    experiment.expand(&path, runs_dir)
}

/// What a sweep finds in the planned runs' directories.
#[derive(Default)]
struct Triage {
    /// Runs to start (`false`) or resume (`true`).
    todo: Vec<(PlannedRun, bool)>,
    done: usize,
    /// (name, progress, what differs) of stale runs left alone.
    stale: Vec<(String, RunProgress, String)>,
    /// Lines saying what happens to runs that differ from the plan.
    notes: Vec<String>,
    /// (name, who writes it) of runs another process is writing.
    busy: Vec<(String, String)>,
    /// (name, folder, why) of runs whose summary cannot be read: left as they are, for the
    /// user to look at (a rerun would replace what may be the only copy of its result).
    damaged: Vec<(String, std::path::PathBuf, String)>,
}

fn triage(plan: &Plan, args: &SweepArgs, folder: &ExperimentDir) -> Result<Triage> {
    let mut t = Triage::default();
    for run in &plan.runs {
        let dir = RunDir::new(run.dir());
        if let Some(holder) = dir.writer()? {
            t.busy.push((run.name.clone(), holder.to_string()));
            continue;
        }
        let progress = match dir.progress() {
            Ok((progress, _)) => progress,
            Err(e) => {
                let why = format!("{e:#}");
                t.damaged
                    .push((run.name.clone(), run.dir().to_path_buf(), why));
                continue;
            }
        };
        if progress == RunProgress::Missing {
            t.todo.push((run.clone(), false));
            continue;
        }
        match stale::check(&dir, &run.config, progress) {
            stale::Match::Same if progress.is_final() => t.done += 1,
            stale::Match::Same => t.todo.push((run.clone(), true)),
            stale::Match::Extend(_) if progress == RunProgress::Diverged => t.done += 1,
            stale::Match::Extend(what) => {
                t.notes.push(format!(
                    "  continues: {} ({}; {what})",
                    run.name,
                    progress.label()
                ));
                t.todo.push((run.clone(), true));
            }
            stale::Match::Stale(what) if args.redo_stale => {
                t.notes.push(redo_stale(run, folder, args.dry_run, &what)?);
                t.todo.push((run.clone(), false));
            }
            stale::Match::Stale(what) if args.keep_stale => {
                t.notes.push(format!(
                    "  stale, kept as it is: {} ({}; {what})",
                    run.name,
                    progress.label()
                ));
                if progress.is_final() {
                    t.done += 1;
                } else {
                    keep_stale(run, &dir, folder)?;
                    t.todo.push((run.clone(), true));
                }
            }
            stale::Match::Stale(what) => t.stale.push((run.name.clone(), progress, what)),
        }
    }
    Ok(t)
}

/// `--redo-stale`: moves the stale run aside (unless this is a dry run); says where.
fn redo_stale(
    run: &PlannedRun,
    folder: &ExperimentDir,
    dry_run: bool,
    what: &str,
) -> Result<String> {
    let dest = folder.stale_destination(&run.name);
    if dry_run {
        return Ok(format!(
            "  stale, would be moved to {} and redone: {} ({what})",
            dest.display(),
            run.name
        ));
    }
    std::fs::create_dir_all(dest.parent().expect("under the experiment"))?;
    std::fs::rename(run.dir(), &dest)
        .with_context(|| format!("cannot move {} to {}", run.dir().display(), dest.display()))?;
    Ok(format!(
        "  stale, moved to {} and redone: {} ({what})",
        dest.display(),
        run.name
    ))
}

/// `--keep-stale` of an unfinished run: its run file becomes its own settings, not the
/// plan's, so that it continues as it was made.
fn keep_stale(run: &PlannedRun, dir: &RunDir, folder: &ExperimentDir) -> Result<()> {
    let mut out = serde_json::Map::new();
    out.insert("out".into(), run.dir().display().to_string().into());
    let stored = dir.read_config_without_runtime()?.with_settings(&out)?;
    folder.write_run_file(&run.name, &stored)
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
    let runs_per_gpu = runs_per_gpu(args, spec)?;
    if args.backend == Backend::Local && args.device.as_deref() != Some("cpu") {
        // Without a device the runs would go to the CPU, unasked, on a GPU machine.
        crate::cuda_driver::refuse_unusable_gpus(&format!(
            "--device {}",
            args.device.as_deref().unwrap_or("(default: the GPUs)")
        ))?;
    }
    let local_options = match args.backend {
        Backend::Local => Some(local::LocalOptions::new(
            &local::Machine::detect(),
            args.jobs,
            args.device.as_deref(),
            args.threads,
            runs_per_gpu,
        )?),
        _ => None,
    };
    let folder = ExperimentDir::new(&args.runs, &plan.experiment);
    std::fs::create_dir_all(folder.path())
        .with_context(|| format!("cannot create {}", folder.path().display()))?;
    // One sweep of an experiment at a time; released when this process ends.
    let _lock = Lock::acquire(folder.path(), &folder.lock_path(), "scalefree sweep")?;
    folder.refuse_plan_of_another_file(&plan)?;
    folder.write_plan(&plan)?;
    let triage = triage(&plan, args, &folder)?;
    print_triage(&plan, &triage, &folder);
    let unresolved =
        !triage.stale.is_empty() || !triage.busy.is_empty() || !triage.damaged.is_empty();
    let todo = triage.todo;
    if !args.dry_run {
        // The grid is in TensorBoard's HParams from the start, with what is done so far.
        summary_refresh::SummaryRefresh::now(&plan, &folder, &|line| println!("{line}"));
    }
    if args.dry_run || todo.is_empty() {
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

/// Runs sharing a GPU: `--runs-per-gpu`, else the experiment's `runs_per_gpu`, else 1.
fn runs_per_gpu(args: &SweepArgs, spec: &str) -> Result<usize> {
    let file_runs_per_gpu = Experiment::read(&resolve_path(spec))?.runs_per_gpu;
    if file_runs_per_gpu == Some(0) {
        bail!(
            "experiment file {}: key `runs_per_gpu` = 0: must be at least 1 (runs sharing one GPU)",
            resolve_path(spec).display()
        );
    }
    Ok(args
        .runs_per_gpu
        .map_or(file_runs_per_gpu.unwrap_or(1), |n| n as usize))
}

/// The counts, then a line per run that differs from the plan or that another process holds.
fn print_triage(plan: &Plan, triage: &Triage, folder: &ExperimentDir) {
    let mut counts = format!(
        "{} runs, {} already done, {} to run",
        plan.runs.len(),
        triage.done,
        triage.todo.len()
    );
    if !triage.stale.is_empty() {
        counts.push_str(&format!(", {} stale", triage.stale.len()));
    }
    if !triage.busy.is_empty() {
        counts.push_str(&format!(", {} busy", triage.busy.len()));
    }
    if !triage.damaged.is_empty() {
        counts.push_str(&format!(", {} damaged", triage.damaged.len()));
    }
    println!(
        "{}: {counts}; plan at {}",
        plan.experiment,
        folder.plan_path().display()
    );
    for note in &triage.notes {
        println!("{note}");
    }
    for (name, holder) in &triage.busy {
        println!("  busy: {name} ({holder} is writing it; left to it)");
    }
    for (name, progress, what) in &triage.stale {
        println!("  stale: {name} ({}; {what})", progress.label());
    }
    for (name, dir, why) in &triage.damaged {
        println!(
            "  damaged, left as it is: {name}: {why}; move its folder {} away (or restore the \
             file) and sweep again to run it",
            dir.display()
        );
    }
    if !triage.stale.is_empty() {
        println!(
            "  {} made with other settings than the plan's, so not counted as done: \
             --redo-stale moves them to {} and runs them again; --keep-stale keeps them as they are",
            if triage.stale.len() == 1 { "1 run was" } else { "these runs were" },
            folder.stale_dir().display()
        );
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
    let placements: Vec<String> = options.placements.iter().map(|p| p.label()).collect();
    println!(
        "{} at once, {} CPU threads each, on {}",
        options.jobs,
        options.threads_per_run,
        placements.join(", ")
    );
    let ended = local::run(plan, todo, folder, options)?;
    let busy = if ended.busy.is_empty() {
        String::new()
    } else {
        format!(
            ", {} busy (another process is writing them)",
            ended.busy.len()
        )
    };
    println!(
        "{}: {} done, {} failed{busy}{}",
        plan.experiment,
        ended.done,
        ended.failed.len(),
        if ended.interrupted {
            ", interrupted (re-run to continue)"
        } else {
            ""
        }
    );
    for (name, why) in &ended.failed {
        println!("  failed: {name} ({why})");
    }
    let clean =
        ended.failed.is_empty() && ended.busy.is_empty() && !ended.interrupted && !unresolved;
    Ok(if clean { 0 } else { 1 })
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
        // Runs share a GPU, runs_per_gpu on each of the task's GPUs; CPU-only
        // tasks keep one run each.
        runs_per_task: if args.gpus_per_task > 0 {
            runs_per_gpu * args.gpus_per_task as usize
        } else {
            1
        },
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
    let slurm_states = slurm::states(&folder.slurm_dir());
    println!(
        "{:<48} {:<20} {:<22} {:>9} {:>7}",
        "run", "state", "slurm", "test acc", "epochs"
    );
    let mut counts = std::collections::BTreeMap::new();
    let mut damaged = Vec::new();
    for run in &plan.runs {
        let dir = RunDir::new(run.dir());
        // One damaged run is listed as such (why below the table); the others still are.
        let (progress, summary) = dir.progress().unwrap_or_else(|e| {
            damaged.push(format!("  damaged: {}: {e:#}", run.name));
            (RunProgress::Damaged, None)
        });
        let label = match (dir.writer()?, stale::check(&dir, &run.config, progress)) {
            (Some(holder), _) => holder
                .pid
                .map_or("running".into(), |pid| format!("running (PID {pid})")),
            (None, stale::Match::Stale(_)) => format!("{}, stale", progress.label()),
            (None, _) => progress.label().to_string(),
        };
        *counts.entry(label.clone()).or_insert(0) += 1;
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
            run.name, label, slurm, acc, epochs
        );
    }
    let summary: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    println!("{}: {}", plan.experiment, summary.join(", "));
    for line in &damaged {
        println!("{line}");
    }
    Ok(0)
}
