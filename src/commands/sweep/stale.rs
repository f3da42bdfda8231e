//! Whether a run directory still holds the run the plan describes. After an experiment
//! is edited, a run made under the old settings is *stale*: a sweep never counts it as
//! done; it says so, and `--redo-stale` (move it aside, run it again) or `--keep-stale`
//! (keep its result as it is) decide.
use crate::commands::train::CHANGEABLE_ON_RESUME;
use crate::config::{keys, RunConfig, ScheduleName};
use crate::rundir::{RunDir, RunState};
use anyhow::{Context, Result};
use serde_json::Value;

/// Where and how fast a run goes: never part of what a run is.
const RUNTIME_KEYS: [&str; 5] = ["device", "threads", "layout", "out", "name"];

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

fn show(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "none".into(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

fn limit(value: Option<&Value>) -> f64 {
    value.and_then(Value::as_f64).unwrap_or(f64::INFINITY)
}

/// Compares the stored configuration of a run with the planned one.
pub fn compare(stored: &RunConfig, planned: &RunConfig, state: RunState) -> Match {
    let (old, new) = (stored.settings(), planned.settings());
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    let differing: Vec<&str> = keys
        .into_iter()
        .map(String::as_str)
        .filter(|k| !RUNTIME_KEYS.contains(k) && old.get(*k) != new.get(*k))
        .collect();
    if differing.is_empty() {
        return Match::Same;
    }
    let what = differing
        .iter()
        .map(|k| format!("`{k}` {} → {}", show(old.get(*k)), show(new.get(*k))))
        .collect::<Vec<_>>()
        .join(", ");
    let only_length = differing.iter().all(|k| CHANGEABLE_ON_RESUME.contains(k));
    // A cosine or warm-up schedule spans the whole run: a longer run is another schedule.
    let schedule_fixed = matches!(
        planned.schedule.kind,
        ScheduleName::Constant | ScheduleName::Step
    );
    let longer = ["epochs", "max_steps"]
        .iter()
        .all(|k| limit(new.get(*k)) >= limit(old.get(*k)));
    if only_length && schedule_fixed && (longer || !state.is_final()) {
        // A run that stopped before its old end goes on to the new one (train refuses, naming
        // the setting, if it is already past it); a diverged run stays diverged.
        return Match::Extend(what);
    }
    Match::Stale(what)
}

/// The settings a run was made with, its runtime settings left at their defaults: they
/// never make a run stale, and the device it ran on may not exist where the sweep runs (a
/// login node without the GPUs).
pub fn stored_config(dir: &RunDir) -> Result<RunConfig> {
    let path = dir.config_path();
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let value: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let Some(map) = value.as_object() else {
        anyhow::bail!("{} is not a run configuration", path.display());
    };
    let mut flat = keys::flatten(map).with_context(|| format!("{}", path.display()))?;
    flat.retain(|key, _| !RUNTIME_KEYS.contains(&key.as_str()));
    RunConfig::from_settings(&flat).with_context(|| format!("{}", path.display()))
}

/// The match of the run in `dir` (which holds a run) with `planned`; a configuration
/// that cannot be read makes the run stale.
pub fn check(dir: &RunDir, planned: &RunConfig, state: RunState) -> Match {
    if !dir.has_run() {
        return Match::Same;
    }
    match stored_config(dir) {
        Ok(stored) => compare(&stored, planned, state),
        Err(e) => Match::Stale(format!("its config.json cannot be read ({e:#})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(settings: Value) -> RunConfig {
        RunConfig::from_value(&settings).unwrap()
    }

    #[test]
    fn runtime_settings_never_make_a_run_stale_and_other_settings_do() {
        let base = config(json!({"lr": 1e-3, "device": "cpu", "threads": 2}));
        let moved = config(json!({"lr": 1e-3, "device": "auto", "layout": "nchw", "out": "/x"}));
        assert_eq!(compare(&base, &moved, RunState::Completed), Match::Same);
        let other = config(json!({"lr": 2e-3}));
        match compare(&base, &other, RunState::Completed) {
            Match::Stale(what) => assert!(what.contains("`lr` 0.001 → 0.002"), "{what}"),
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn a_run_made_on_a_gpu_is_compared_on_a_machine_without_one() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        let written = json!({"lr": 1e-3, "device": "cuda:3", "threads": 8});
        std::fs::write(run.config_path(), written.to_string()).unwrap();
        let planned = config(json!({"lr": 1e-3}));
        assert_eq!(check(&run, &planned, RunState::Completed), Match::Same);
    }

    #[test]
    fn more_epochs_extend_a_constant_schedule_but_make_a_cosine_run_stale() {
        let short = config(json!({"epochs": 1}));
        let long = config(json!({"epochs": 2}));
        assert!(matches!(
            compare(&short, &long, RunState::Completed),
            Match::Extend(_)
        ));
        // Fewer epochs than a finished run was trained for: not the plan's run.
        assert!(matches!(
            compare(&long, &short, RunState::Completed),
            Match::Stale(_)
        ));
        let cosine = |e: u32| config(json!({"epochs": e, "schedule": "cosine"}));
        assert!(matches!(
            compare(&cosine(1), &cosine(2), RunState::Started),
            Match::Stale(_)
        ));
    }
}
