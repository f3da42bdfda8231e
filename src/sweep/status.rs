//! Where each planned run stands (`scalefree sweep status`): from its directory, whether
//! another process writes it, whether it is stale, and Slurm's word where there is one.
use super::slurm;
use crate::experiment::{stale, ExperimentDir, Plan};
use crate::rundir::RunDir;
use anyhow::Result;

/// One planned run's line of the status table.
pub struct RunState {
    pub name: String,
    /// `completed`, `diverged`, `running (PID n)`, `… , stale`, …
    pub label: String,
    /// Slurm's state of its array task, if it has one.
    pub slurm: Option<String>,
    pub final_test_accuracy: Option<f64>,
    pub epochs_done: Option<u32>,
    /// Why its records cannot be read, when they cannot.
    pub damaged: Option<String>,
}

/// The state of every run of `plan` in `folder`, in the plan's order.
pub fn states(plan: &Plan, folder: &ExperimentDir) -> Result<Vec<RunState>> {
    let slurm_states = slurm::states(&folder.slurm_dir());
    let mut out = Vec::new();
    for run in &plan.runs {
        let dir = RunDir::new(run.dir());
        // A damaged run is listed as such (why below the table), as the report lists it;
        // the others still are.
        let examined = dir.examine();
        let (progress, summary, damaged) = (examined.progress, examined.summary, examined.damage);
        let label = match (dir.writer()?, stale::check(&dir, &run.config, progress)) {
            (Some(holder), _) => holder
                .pid
                .map_or("running".into(), |pid| format!("running (PID {pid})")),
            (None, stale::Match::Stale(_)) => format!("{}, stale", progress.label()),
            (None, _) => progress.label().to_string(),
        };
        out.push(RunState {
            name: run.name.clone(),
            label,
            slurm: slurm_states.get(&run.name).cloned(),
            final_test_accuracy: summary.as_ref().and_then(|s| s.final_test_accuracy),
            epochs_done: summary.as_ref().map(|s| s.epochs_done),
            damaged,
        });
    }
    Ok(out)
}
