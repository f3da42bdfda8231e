//! An experiment's folder, `<runs>/<experiment>/`: the one place that knows its file names.
//!
//! | entry | written by |
//! |---|---|
//! | `plan.json` | `sweep`: the [`Plan`] |
//! | `configs/<run>.json` | `sweep`: each run's run file, which its `scalefree train` reads |
//! | `<run>/` | each run's directory ([`crate::rundir::RunDir`]) |
//! | `sweep.lock` | held by the one sweep of the experiment |
//! | `stale/<run>/` | `sweep --redo-stale`: runs made with other settings, moved aside |
//! | `slurm/` | the Slurm backend: its scripts and submissions |
//! | `summary/` | `report`, `sweep` and `sweep status`: TensorBoard's summary run (HParams experiment, texts, figures) |
//! | `summary/<optimizer>/` | the same: each optimizer's seed means and claim-4 changes, a TensorBoard run (a colour) of its own |
//! | `summary.lock` | held by the one process writing the summary run |
use super::Plan;
use crate::config::RunConfig;
use crate::sinks::atomic::write_json_atomic;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq)]
pub struct ExperimentDir {
    path: PathBuf,
}

impl ExperimentDir {
    /// The folder of `experiment` under `runs_dir`.
    pub fn new(runs_dir: &Path, experiment: &str) -> ExperimentDir {
        ExperimentDir {
            path: runs_dir.join(experiment),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn plan_path(&self) -> PathBuf {
        self.path.join("plan.json")
    }

    pub fn configs_dir(&self) -> PathBuf {
        self.path.join("configs")
    }

    /// The run file of the run `name`.
    pub fn run_file(&self, name: &str) -> PathBuf {
        self.configs_dir().join(format!("{name}.json"))
    }

    /// The directory of the run `name`.
    pub fn run_dir(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// The TensorBoard run beside the runs that summarises them.
    pub fn summary_run_dir(&self) -> PathBuf {
        self.path.join("summary")
    }

    pub fn lock_path(&self) -> PathBuf {
        self.path.join("sweep.lock")
    }

    /// Held by whoever writes the summary run (`report`, `sweep`, `sweep status`, a Slurm
    /// array task), one at a time.
    pub fn summary_lock_path(&self) -> PathBuf {
        self.path.join("summary.lock")
    }

    /// Where `--redo-stale` moves stale runs.
    pub fn stale_dir(&self) -> PathBuf {
        self.path.join("stale")
    }

    pub fn slurm_dir(&self) -> PathBuf {
        self.path.join("slurm")
    }

    /// Where a stale run goes with `--redo-stale`: `stale/<name>`, numbered if taken.
    pub fn stale_destination(&self, name: &str) -> PathBuf {
        let dir = self.stale_dir();
        let mut dest = dir.join(name);
        let mut n = 2;
        while dest.exists() {
            dest = dir.join(format!("{name}.{n}"));
            n += 1;
        }
        dest
    }

    pub fn read_plan(&self) -> Result<Plan> {
        Plan::read(&self.plan_path())
    }

    /// Refuses to replace a plan written from another experiment file that is still there:
    /// two files with the same `name` would share this folder, and the second's plan would
    /// silently take over the first's runs and report.
    pub fn refuse_plan_of_another_file(&self, plan: &Plan) -> Result<()> {
        let path = self.plan_path();
        let Ok(existing) = Plan::read(&path) else {
            return Ok(());
        };
        let (Some(theirs), Some(ours)) = (&existing.experiment_file, &plan.experiment_file) else {
            return Ok(());
        };
        // A plan whose file has gone was moved or renamed: this file takes it over.
        if theirs != ours && theirs.is_file() {
            bail!(
                "{} was written from the experiment file {}, which also has the name `{}`; \
                 {} would replace its plan and mix their runs in {}: give one of them another \
                 `name`, or sweep it with another --runs",
                path.display(),
                theirs.display(),
                plan.experiment,
                ours.display(),
                self.path.display()
            );
        }
        Ok(())
    }

    /// Writes the plan and one run file per run.
    pub fn write_plan(&self, plan: &Plan) -> Result<()> {
        let configs = self.configs_dir();
        std::fs::create_dir_all(&configs)
            .with_context(|| format!("cannot create {}", configs.display()))?;
        plan.write(&self.plan_path())?;
        for run in &plan.runs {
            self.write_run_file(&run.name, &run.config)?;
        }
        Ok(())
    }

    pub fn write_run_file(&self, name: &str, config: &RunConfig) -> Result<()> {
        write_json_atomic(&self.run_file(name), config)
    }
}
