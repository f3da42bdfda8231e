//! Experiment files (`experiments/*.json`): grids of runs over models, BN settings,
//! optimizers, η_0, λ, seeds and loss multipliers, on top of shared run settings.
//!
//! ```json
//! {
//!   "name": "cifar10-quick",
//!   "description": "…",
//!   "base": { "epochs": 10, "train_subset": 10000 },
//!   "grids": [ { "model": ["resnet20"], "bn": [false], "optimizer": ["adam-l2", "adamw"],
//!                "lr": [5e-4, 1e-3], "wd": [0, 5e-5], "seed": [0], "loss_mult": [1] } ]
//! }
//! ```
//! `base` holds any field of a run file; every key of a grid is a list, and a grid's runs
//! are all combinations of its lists. Several grids are unioned (the best settings of
//! several models, say). Runs are named from their settings, so names are stable.
use crate::config::RunConfig;
use anyhow::{bail, Context, Result};
use optim::DecayMode;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub base: serde_json::Map<String, serde_json::Value>,
    pub grids: Vec<Grid>,
}

/// Each list multiplies the runs; a missing list keeps `base`'s value.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    pub model: Option<Vec<String>>,
    pub bn: Option<Vec<bool>>,
    pub optimizer: Option<Vec<DecayMode>>,
    pub lr: Option<Vec<f64>>,
    pub wd: Option<Vec<f64>>,
    pub seed: Option<Vec<u64>>,
    pub loss_mult: Option<Vec<f64>>,
}

/// One run of the plan.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PlannedRun {
    pub name: String,
    pub dir: PathBuf,
    pub config: RunConfig,
}

/// The expanded experiment, written as `runs/<experiment>/plan.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Plan {
    pub experiment: String,
    pub description: String,
    pub source: PathBuf,
    pub runs: Vec<PlannedRun>,
}

/// An experiment given by path, or by name under `experiments/`.
pub fn resolve_path(spec: &str) -> PathBuf {
    let path = PathBuf::from(spec);
    if path.exists() || spec.ends_with(".json") || spec.contains('/') {
        return path;
    }
    Path::new("experiments").join(format!("{spec}.json"))
}

impl Experiment {
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read experiment file {}", path.display()))?;
        let mut de = serde_json::Deserializer::from_str(&text);
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            anyhow::anyhow!(
                "experiment file {}: key `{}`: {}",
                path.display(),
                e.path(),
                e.inner()
            )
        })
    }

    /// Every run of every grid, validated as `scalefree train` would, under `runs_dir`.
    pub fn expand(&self, source: &Path, runs_dir: &Path) -> Result<Plan> {
        let at = |key: &str| format!("experiment file {}: key `{key}`", source.display());
        if self.grids.is_empty() {
            bail!("{}: the experiment has no grids, so no runs", at("grids"));
        }
        let base: RunConfig = serde_json::from_value(serde_json::Value::Object(self.base.clone()))
            .map_err(|e| anyhow::anyhow!("{}: {e}", at("base")))?;
        let mut runs: Vec<PlannedRun> = Vec::new();
        for (g, grid) in self.grids.iter().enumerate() {
            let list = |name: &str, len: Option<usize>| -> Result<()> {
                if len == Some(0) {
                    bail!(
                        "{}: an empty list makes an empty grid",
                        at(&format!("grids[{g}].{name}"))
                    );
                }
                Ok(())
            };
            list("model", grid.model.as_ref().map(Vec::len))?;
            list("bn", grid.bn.as_ref().map(Vec::len))?;
            list("optimizer", grid.optimizer.as_ref().map(Vec::len))?;
            list("lr", grid.lr.as_ref().map(Vec::len))?;
            list("wd", grid.wd.as_ref().map(Vec::len))?;
            list("seed", grid.seed.as_ref().map(Vec::len))?;
            list("loss_mult", grid.loss_mult.as_ref().map(Vec::len))?;
            let or =
                |v: &Option<Vec<String>>, d: &String| v.clone().unwrap_or_else(|| vec![d.clone()]);
            for model in or(&grid.model, &base.model) {
                for &bn in grid.bn.as_deref().unwrap_or(&[base.bn]) {
                    for &optimizer in grid.optimizer.as_deref().unwrap_or(&[base.optimizer]) {
                        for &lr in grid.lr.as_deref().unwrap_or(&[base.lr]) {
                            for &wd in grid.wd.as_deref().unwrap_or(&[base.wd]) {
                                for &seed in grid.seed.as_deref().unwrap_or(&[base.seed]) {
                                    for &loss_mult in
                                        grid.loss_mult.as_deref().unwrap_or(&[base.loss_mult])
                                    {
                                        let mut config = RunConfig {
                                            model: model.clone(),
                                            bn,
                                            optimizer,
                                            lr,
                                            wd,
                                            seed,
                                            loss_mult,
                                            ..base.clone()
                                        };
                                        config.name = None;
                                        let name = config.derived_name();
                                        let dir = runs_dir.join(&self.name).join(&name);
                                        config.out = Some(dir.clone());
                                        config
                                            .validate()
                                            .with_context(|| at(&format!("grids[{g}]")))?;
                                        if !runs.iter().any(|r| r.name == name) {
                                            runs.push(PlannedRun { name, dir, config });
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        Ok(Plan {
            experiment: self.name.clone(),
            description: self.description.clone(),
            source: source.to_path_buf(),
            runs,
        })
    }
}

impl Plan {
    pub fn dir(runs_dir: &Path, experiment: &str) -> PathBuf {
        runs_dir.join(experiment)
    }

    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a sweep plan", path.display()))
    }
}
