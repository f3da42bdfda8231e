//! The expanded experiment (`plan.json`): every planned run, its name and configuration.
use crate::config::RunConfig;
use crate::stats::factorial::FactorialRule;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// One run of the plan. Its directory is its configuration's `out`, and only there.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(from = "PlannedRunFile", into = "PlannedRunFile")]
pub struct PlannedRun {
    pub name: String,
    pub config: RunConfig,
}

/// A planned run as `plan.json` holds it: the directory beside the configuration (and,
/// in plans written since the configuration had one, as its `out`).
#[derive(Serialize, Deserialize)]
struct PlannedRunFile {
    name: String,
    dir: PathBuf,
    config: RunConfig,
}

impl From<PlannedRunFile> for PlannedRun {
    fn from(file: PlannedRunFile) -> Self {
        PlannedRun::new(file.name, file.dir, file.config)
    }
}

impl From<PlannedRun> for PlannedRunFile {
    fn from(run: PlannedRun) -> Self {
        PlannedRunFile {
            dir: run.dir().to_path_buf(),
            name: run.name,
            config: run.config,
        }
    }
}

impl PlannedRun {
    /// The run `name` in `dir` (which becomes the configuration's `out`).
    pub fn new(name: String, dir: PathBuf, mut config: RunConfig) -> Self {
        config.runtime.out = Some(dir);
        PlannedRun { name, config }
    }

    pub fn dir(&self) -> &Path {
        self.config
            .runtime
            .out
            .as_deref()
            .expect("a planned run's configuration names its directory")
    }

    fn set_dir(&mut self, dir: PathBuf) {
        self.config.runtime.out = Some(dir);
    }
}

/// The expanded experiment, written as `runs/<experiment>/plan.json`. In the file, run
/// directories are relative to the plan's folder (so a copied or moved runs folder still
/// reads); [`Plan::read`] makes them paths again, and reads older plans, whose paths were
/// as given to the sweep.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Plan {
    pub experiment: String,
    pub description: String,
    pub source: PathBuf,
    /// The experiment file's absolute path, which tells the plans of two files of one
    /// `name` apart (they would share a folder); absent in older plans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment_file: Option<PathBuf>,
    /// The factorial test's verdict rule, as the experiment file fixed it when the sweep
    /// planned the runs (so a later edit of the file cannot move it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factorial: Option<FactorialRule>,
    pub runs: Vec<PlannedRun>,
}

/// Marks a plan whose run directories are relative to its folder.
const RELATIVE_KEY: &str = "run_dirs_relative_to_plan";

impl Plan {
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let value: Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a sweep plan", path.display()))?;
        let relative = value.get(RELATIVE_KEY) == Some(&Value::Bool(true));
        let mut plan: Plan = serde_json::from_value(value)
            .with_context(|| format!("{} is not a sweep plan", path.display()))?;
        let here = path.parent().unwrap_or(Path::new("."));
        for run in &mut plan.runs {
            if relative {
                run.set_dir(here.join(run.dir()));
            } else if !run.dir().exists() && here.join(&run.name).exists() {
                // An older plan (paths as given to the sweep) in a folder copied or moved since.
                run.set_dir(here.join(&run.name));
            }
        }
        Ok(plan)
    }

    /// Writes the plan to `path` (in the experiment's folder), run directories relative to it.
    pub fn write(&self, path: &Path) -> Result<()> {
        let here = path.parent().unwrap_or(Path::new("."));
        let mut plan = self.clone();
        for run in &mut plan.runs {
            if let Ok(relative) = run.dir().strip_prefix(here) {
                run.set_dir(relative.to_path_buf());
            }
        }
        let mut value = serde_json::to_value(&plan)?;
        value
            .as_object_mut()
            .expect("a plan is an object")
            .insert(RELATIVE_KEY.into(), Value::Bool(true));
        crate::sinks::atomic::write_json_atomic(path, &value)
    }
}
