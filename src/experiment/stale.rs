//! Whether a run directory still holds the run the plan describes. After an experiment
//! is edited, a run made under the old settings is *stale*: a sweep never counts it as
//! done; it says so, and `--redo-stale` (move it aside, run it again) or `--keep-stale`
//! (keep its result as it is) decide.
use crate::config::compare::{describe, Comparison};
use crate::config::RunConfig;
use crate::rundir::{RunDir, RunProgress, CONFIG_FILE};

/// How a run directory compares with its planned run.
#[derive(Clone, Debug, PartialEq)]
pub enum Match {
    /// The plan's run (or nothing there yet).
    Same,
    /// The plan's run, to go further than it was set to (`epochs` or `max_steps` grew, and
    /// the schedule does not depend on them): resuming it gives the plan's result.
    Extend(String),
    /// Made with other settings: `what` lists them, `old → new`.
    Stale(String),
}

/// Compares the stored configuration of a run with the planned one: the same rule as
/// `train --resume` ([`Comparison`]), where a run may also be continued that stopped
/// before its new, shorter end (train refuses, naming the setting, if it is already past
/// it); a diverged run stays diverged.
pub fn compare(stored: &RunConfig, planned: &RunConfig, progress: RunProgress) -> Match {
    let comparison = Comparison::of(stored, planned);
    let of_the_run = comparison.of_the_run();
    if of_the_run.is_empty() {
        return Match::Same;
    }
    let what = describe(&of_the_run);
    let continues = comparison.goes_as_far() || !progress.is_final();
    if comparison.another_run().is_empty() && continues {
        return Match::Extend(what);
    }
    Match::Stale(what)
}

/// The match of the run in `dir` (which holds a run) with `planned`; a configuration
/// that cannot be read makes the run stale.
pub fn check(dir: &RunDir, planned: &RunConfig, progress: RunProgress) -> Match {
    if !dir.has_run() {
        return Match::Same;
    }
    match dir.read_config_without_runtime() {
        Ok(stored) => compare(&stored, planned, progress),
        Err(e) => Match::Stale(format!("its {CONFIG_FILE} cannot be read ({e:#})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn config(settings: Value) -> RunConfig {
        RunConfig::from_value(&settings).unwrap()
    }

    #[test]
    fn runtime_settings_never_make_a_run_stale_and_other_settings_do() {
        let base = config(json!({"lr": 1e-3, "device": "cpu", "threads": 2}));
        let moved = config(json!({"lr": 1e-3, "device": "auto", "layout": "nchw", "out": "/x"}));
        assert_eq!(compare(&base, &moved, RunProgress::Completed), Match::Same);
        let other = config(json!({"lr": 2e-3}));
        match compare(&base, &other, RunProgress::Completed) {
            Match::Stale(what) => assert!(what.contains("`lr` 0.001 → 0.002"), "{what}"),
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn kernel_and_logging_never_make_a_run_stale_and_name_does_not_either() {
        let base = config(json!({"lr": 1e-3, "kernel": "auto", "hist_every": 5, "eval_every": 1}));
        let other = config(json!({"lr": 1e-3, "kernel": "tensor-ops", "hist_every": 0,
                                  "eval_every": 2, "name": "elsewhere"}));
        assert_eq!(compare(&base, &other, RunProgress::Completed), Match::Same);
    }

    #[test]
    fn a_run_made_on_a_gpu_is_compared_on_a_machine_without_one() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        let written = json!({"lr": 1e-3, "device": "cuda:3", "threads": 8});
        std::fs::write(run.config_path(), written.to_string()).unwrap();
        let planned = config(json!({"lr": 1e-3}));
        assert_eq!(check(&run, &planned, RunProgress::Completed), Match::Same);
    }

    #[test]
    fn more_epochs_extend_a_constant_schedule_but_make_a_cosine_run_stale() {
        let short = config(json!({"epochs": 1}));
        let long = config(json!({"epochs": 2}));
        assert!(matches!(
            compare(&short, &long, RunProgress::Completed),
            Match::Extend(_)
        ));
        // Fewer epochs than a finished run was trained for: not the plan's run.
        assert!(matches!(
            compare(&long, &short, RunProgress::Completed),
            Match::Stale(_)
        ));
        let cosine = |e: u32| config(json!({"epochs": e, "schedule": "cosine"}));
        assert!(matches!(
            compare(&cosine(1), &cosine(2), RunProgress::Started),
            Match::Stale(_)
        ));
    }
}
