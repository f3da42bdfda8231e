//! What a sweep finds in the planned runs' directories: runs done, to start or resume,
//! stale (made with other settings than the plan's), busy (another process writes them)
//! or damaged; and what `--redo-stale` and `--keep-stale` do to stale runs.
use crate::experiment::{stale, ExperimentDir, Plan, PlannedRun};
use crate::rundir::{RunDir, RunProgress};
use anyhow::{Context, Result};
use std::path::PathBuf;

/// What to do with stale runs, and whether this is a dry run (nothing moved).
#[derive(Clone, Copy, Debug, Default)]
pub struct StalePolicy {
    /// Move them to the experiment's `stale/` and run them again from the start.
    pub redo: bool,
    /// Keep them as they are: finished ones count as done, unfinished ones continue with
    /// their own settings.
    pub keep: bool,
    pub dry_run: bool,
}

/// What a sweep finds in the planned runs' directories.
#[derive(Default)]
pub struct Triage {
    /// Runs to start (`false`) or resume (`true`).
    pub todo: Vec<(PlannedRun, bool)>,
    pub done: usize,
    /// (name, progress, what differs) of stale runs left alone.
    pub stale: Vec<(String, RunProgress, String)>,
    /// Lines saying what happens to runs that differ from the plan.
    pub notes: Vec<String>,
    /// (name, who writes it) of runs another process is writing.
    pub busy: Vec<(String, String)>,
    /// (name, folder, why) of damaged runs ([`RunDir::examine`]): left as they are, for the
    /// user to look at (a rerun would replace what may be the only copy of its result).
    pub damaged: Vec<(String, PathBuf, String)>,
}

impl Triage {
    /// What a sweep says of it: the counts, then a line per run that differs from the plan
    /// or that another process holds.
    pub fn lines(&self, plan: &Plan, folder: &ExperimentDir) -> Vec<String> {
        let triage = self;
        let mut lines = Vec::new();
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
        lines.push(format!(
            "{}: {counts}; plan at {}",
            plan.experiment,
            folder.plan_path().display()
        ));
        for note in &triage.notes {
            lines.push(note.clone());
        }
        for (name, holder) in &triage.busy {
            lines.push(format!(
                "  busy: {name} ({holder} is writing it; left to it)"
            ));
        }
        for (name, progress, what) in &triage.stale {
            lines.push(format!("  stale: {name} ({}; {what})", progress.label()));
        }
        for (name, dir, why) in &triage.damaged {
            lines.push(format!(
                "  damaged, left as it is: {name}: {why}; move its folder {} away (or restore the \
             file) and sweep again to run it",
                dir.display()
            ));
        }
        if !triage.stale.is_empty() {
            lines.push(format!(
            "  {} made with other settings than the plan's, so not counted as done: \
             --redo-stale moves them to {} and runs them again; --keep-stale keeps them as they are",
            if triage.stale.len() == 1 { "1 run was" } else { "these runs were" },
            folder.stale_dir().display()
        ));
        }
        lines
    }

    /// Runs the sweep leaves for the user to resolve (stale, busy or damaged).
    pub fn unresolved(&self) -> bool {
        !self.stale.is_empty() || !self.busy.is_empty() || !self.damaged.is_empty()
    }
}

/// Sorts the runs of `plan` by what their directories hold, acting on stale runs as
/// `policy` says.
pub fn triage(plan: &Plan, policy: StalePolicy, folder: &ExperimentDir) -> Result<Triage> {
    let mut t = Triage::default();
    for run in &plan.runs {
        let dir = RunDir::new(run.dir());
        if let Some(holder) = dir.writer()? {
            t.busy.push((run.name.clone(), holder.to_string()));
            continue;
        }
        let examined = dir.examine();
        if let Some(why) = examined.damage {
            t.damaged
                .push((run.name.clone(), run.dir().to_path_buf(), why));
            continue;
        }
        let progress = examined.progress;
        if progress == RunProgress::Missing {
            t.todo.push((run.clone(), false));
            continue;
        }
        sort_started(&mut t, run, &dir, progress, policy, folder)?;
    }
    Ok(t)
}

/// Sorts a run that has started, by how it compares with the plan.
fn sort_started(
    t: &mut Triage,
    run: &PlannedRun,
    dir: &RunDir,
    progress: RunProgress,
    policy: StalePolicy,
    folder: &ExperimentDir,
) -> Result<()> {
    match stale::check(dir, &run.config, progress) {
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
        stale::Match::Stale(what) if policy.redo => {
            t.notes
                .push(redo_stale(run, folder, policy.dry_run, &what)?);
            t.todo.push((run.clone(), false));
        }
        stale::Match::Stale(what) if policy.keep => {
            t.notes.push(format!(
                "  stale, kept as it is: {} ({}; {what})",
                run.name,
                progress.label()
            ));
            if progress.is_final() {
                t.done += 1;
            } else {
                keep_stale(run, dir, folder)?;
                t.todo.push((run.clone(), true));
            }
        }
        stale::Match::Stale(what) => t.stale.push((run.name.clone(), progress, what)),
    }
    Ok(())
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
