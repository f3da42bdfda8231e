//! Experiment files (`experiments/*.json`): grids of runs over any run settings (models,
//! BN, optimizers, η_0, λ, seeds, ε, batch size …), on top of shared run settings.
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
//! `base` holds any setting of a run file; every key of a grid is any setting (as its
//! flag is named) with a list of values, and a grid's runs are all combinations of its
//! lists. Several grids are unioned (the best settings of several models, say). Runs are
//! named from their settings, so names are stable.
//!
//! An experiment expands into a [`Plan`], kept in the experiment's folder
//! ([`ExperimentDir`]) beside its runs: `scalefree sweep` writes it, `sweep status` and
//! `scalefree report` read it.
mod folder;
mod plan;
pub mod stale;

pub use folder::ExperimentDir;
pub use plan::{Plan, PlannedRun};

use crate::config::{keys, RunConfig};
use crate::stats::factorial::FactorialRule;
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub base: Map<String, Value>,
    pub grids: Vec<Grid>,
    /// Runs sharing one GPU at once when the sweep is not told (`--runs-per-gpu`).
    #[serde(default)]
    pub runs_per_gpu: Option<usize>,
    /// The factorial test's verdict rule (`{"margin": 0.5}`), for an experiment that runs
    /// the four Adam arms under gradient factors (docs/factorial.md).
    #[serde(default)]
    pub factorial: Option<FactorialRule>,
}

/// A grid: any run setting (a flat key, as the flag is named: `lr`, `wd`, `eps`,
/// `batch_size` …) to the list of its values; its runs are all combinations.
pub type Grid = Map<String, Value>;

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
        let text = crate::user_file::read_text(path)
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
    /// A run is named from its settings ([`RunConfig::derived_name`]); any other setting a
    /// grid sweeps is added to the name (`_eps1e-10`), so that runs differing in it never
    /// share a directory.
    pub fn expand(&self, source: &Path, runs_dir: &Path) -> Result<Plan> {
        let folder = ExperimentDir::new(runs_dir, &self.name);
        let at = |key: &str| format!("experiment file {}: key `{key}`", source.display());
        if let Some(rule) = &self.factorial {
            rule.check()
                .map_err(|e| anyhow!("experiment file {}: {e}", source.display()))?;
        }
        if self.grids.is_empty() {
            bail!("{}: the experiment has no grids, so no runs", at("grids"));
        }
        let base = keys::flatten(&self.base).map_err(|e| anyhow!("{}: {e}", at("base")))?;
        RunConfig::from_settings(&base).map_err(|e| anyhow!("{}: {e:#}", at("base")))?;
        let mut runs: Vec<PlannedRun> = Vec::new();
        for (g, grid) in self.grids.iter().enumerate() {
            let mut axes: Vec<(&'static str, &Vec<Value>)> = Vec::new();
            for (key, values) in grid {
                let here = at(&format!("grids[{g}].{key}"));
                let canonical = keys::canonical(key).map_err(|e| anyhow!("{here}: {e}"))?;
                if keys::role(canonical) == keys::Role::Placement {
                    bail!(
                        "{here}: `{canonical}` cannot vary in a grid: the sweep places every run \
                         in {}/<run name>",
                        folder.path().display()
                    );
                }
                let Some(values) = values.as_array() else {
                    bail!("{here}: must be a list of values");
                };
                if values.is_empty() {
                    bail!("{here}: an empty list makes an empty grid");
                }
                axes.push((canonical, values));
            }
            for combination in cartesian(&axes) {
                let mut settings = base.clone();
                settings.extend(
                    combination
                        .iter()
                        .map(|(k, v)| (k.to_string(), (*v).clone())),
                );
                settings.remove("name");
                let config = RunConfig::from_settings(&settings)
                    .and_then(|c| c.check_trainable().map(|_| c))
                    .with_context(|| at(&format!("grids[{g}]")))?;
                let mut name = config.derived_name();
                for (key, value) in &combination {
                    let named = keys::get(key).is_some_and(|s| s.name_part.is_some());
                    if !named {
                        name.push_str(&format!("_{key}{}", compact(value)));
                    }
                }
                // A name is a directory and a file name in the experiment's folder.
                if !is_file_name_part(&name) {
                    bail!(
                        "{}: the run name {name:?} made from its settings is not a plain file name",
                        at(&format!("grids[{g}]"))
                    );
                }
                let dir = folder.run_dir(&name);
                let config = config.with_settings(&settings)?;
                if !runs.iter().any(|r| r.name == name) {
                    runs.push(PlannedRun::new(name, dir, config));
                }
            }
        }
        Ok(Plan {
            experiment: self.name.clone(),
            description: self.description.clone(),
            source: source.to_path_buf(),
            experiment_file: source.canonicalize().ok(),
            factorial: self.factorial,
            runs,
        })
    }
}

/// Every combination of one value per axis, the last axis varying fastest.
fn cartesian<'a>(axes: &[(&'static str, &'a Vec<Value>)]) -> Vec<Vec<(&'static str, &'a Value)>> {
    let mut combinations = vec![Vec::new()];
    for (key, values) in axes {
        combinations = combinations
            .into_iter()
            .flat_map(|prefix| {
                values.iter().map(move |v| {
                    let mut c = prefix.clone();
                    c.push((*key, v));
                    c
                })
            })
            .collect();
    }
    combinations
}

/// A value as it appears in a run name: `1e-10`, `64`, `cosine`.
fn compact(value: &Value) -> String {
    match value {
        Value::String(s) => file_name_part(s),
        Value::Number(n) => n
            .as_f64()
            .filter(|_| n.is_f64())
            .map_or_else(|| n.to_string(), |f| f.to_string()),
        other => other.to_string(),
    }
}

/// Letters, digits and `. _ - + =`, not starting with `.`: a part of a file name that
/// stays in its folder (no `/`, no `..`).
fn is_file_name_part(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-+=".contains(c))
}

/// A string value (a path: `data`, a factors file) as a part of a run name: as it is when
/// it is a plain name part, else its last component made plain and a short hash of the
/// whole value, so that `/a/b` and `../b` make different names and neither leaves the
/// experiment's folder.
fn file_name_part(value: &str) -> String {
    if is_file_name_part(value) {
        return value.to_string();
    }
    let last = Path::new(value)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let plain: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_-+=".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let digest = Sha256::digest(value.as_bytes());
    let hash: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    let plain = plain.trim_matches('-');
    if plain.is_empty() {
        hash
    } else {
        format!("{plain}-{hash}")
    }
}

#[cfg(test)]
mod name_part_tests {
    use super::*;

    #[test]
    fn paths_become_plain_distinct_name_parts() {
        assert_eq!(file_name_part("cosine"), "cosine");
        let (a, b) = (file_name_part("/a/b"), file_name_part("../b"));
        assert!(
            a.starts_with("b-") && b.starts_with("b-") && a != b,
            "{a} {b}"
        );
        for part in [a, b, file_name_part(".."), file_name_part("/")] {
            assert!(is_file_name_part(&part), "{part}");
        }
    }
}
