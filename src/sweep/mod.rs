//! Running an experiment's plan: which planned runs are done, to do, stale, busy or
//! damaged ([`triage`]), running them here ([`local`], with its [`progress`] and the
//! summary run refreshed as runs end) or through Slurm ([`slurm`]), and where each run
//! stands ([`status`]). `scalefree sweep` reads its arguments, calls these and prints.
pub mod cpu_placement;
pub mod local;
mod progress;
pub mod slurm;
pub mod status;
mod summary_refresh;
pub mod triage;

pub use summary_refresh::SummaryRefresh;

use crate::experiment::{resolve_path, Experiment, Plan};
use anyhow::{bail, Result};
use std::path::Path;

/// Reads and expands the experiment `spec` (a file, or a name under experiments/) for
/// run directories under `runs_dir`.
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

/// Runs sharing a GPU: `given` (the flag), else the experiment's `runs_per_gpu`, else 1.
pub fn runs_per_gpu(given: Option<u32>, spec: &str) -> Result<usize> {
    let file_runs_per_gpu = Experiment::read(&resolve_path(spec))?.runs_per_gpu;
    if file_runs_per_gpu == Some(0) {
        bail!(
            "experiment file {}: key `runs_per_gpu` = 0: must be at least 1 (runs sharing one GPU)",
            resolve_path(spec).display()
        );
    }
    Ok(given.map_or(file_runs_per_gpu.unwrap_or(1), |n| n as usize))
}
