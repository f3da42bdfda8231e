//! The run directory: the one module that knows its file names and schemas and what
//! they say about the run. `scalefree train` writes it; `sweep`, `sweep status`,
//! `report` and `train --resume` read it through here.
//!
//! | file | written |
//! |---|---|
//! | `config.json` | at the start: the effective [`RunConfig`], one key per setting |
//! | `environment.json` | at the start: code version, libtorch, threads, CUDA |
//! | `metrics.jsonl` | a [`MetricsRow`] per evaluation |
//! | `scales.jsonl` | a [`ScaleRow`] per histogram step |
//! | `summary.json` | at the end: the [`Summary`] |
//! | `grad_factors.json` | once known: the per-layer gradient factors of an intervention |
//! | `checkpoint/` | weights, optimizer state, the loop's position ([`checkpoint`]) |
//! | `tb/` | TensorBoard events ([`crate::sinks::tensorboard`]) |
pub mod checkpoint;
mod files;

pub use files::{MetricsRow, RunStatus, ScaleRow, SpreadRow, Summary, DIVERGED_ERROR};

use crate::config::RunConfig;
use crate::sinks::{atomic::write_json_atomic, jsonl};
use crate::train::factors::LayerFactors;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where a run stands, from what its directory holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// No run directory, or nothing written yet.
    Missing,
    /// Started, no summary: running now, or stopped without one (killed, crashed).
    Started,
    Interrupted,
    Completed,
    Diverged,
}

impl RunState {
    pub fn label(self) -> &'static str {
        match self {
            RunState::Missing => "not started",
            RunState::Started => "started, unfinished",
            RunState::Interrupted => "interrupted",
            RunState::Completed => "completed",
            RunState::Diverged => "diverged",
        }
    }

    /// Completed and diverged runs are final: a sweep skips them and a report has their
    /// value.
    pub fn is_final(self) -> bool {
        matches!(self, RunState::Completed | RunState::Diverged)
    }

    /// A run that already wrote its directory continues from its checkpoint.
    pub fn needs_resume(self) -> bool {
        self != RunState::Missing
    }
}

/// One layer's gradient factor, as `grad_factors.json` lists it.
#[derive(Serialize, Deserialize)]
struct FactorRow {
    layer: String,
    factor: f64,
}

/// One run's directory.
#[derive(Clone, Debug, PartialEq)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    pub fn new(path: impl Into<PathBuf>) -> RunDir {
        RunDir { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn config_path(&self) -> PathBuf {
        self.path.join("config.json")
    }

    pub fn environment_path(&self) -> PathBuf {
        self.path.join("environment.json")
    }

    pub fn metrics_path(&self) -> PathBuf {
        self.path.join("metrics.jsonl")
    }

    pub fn scales_path(&self) -> PathBuf {
        self.path.join("scales.jsonl")
    }

    pub fn summary_path(&self) -> PathBuf {
        self.path.join("summary.json")
    }

    pub fn factors_path(&self) -> PathBuf {
        self.path.join("grad_factors.json")
    }

    /// The factors an intervention fixed (written once, read on resume so that
    /// `equalize` keeps the factors it measured on the first batch).
    pub fn read_factors(&self) -> Result<Option<LayerFactors>> {
        let path = self.factors_path();
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let rows: Vec<FactorRow> = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a list of layer factors", path.display()))?;
        Ok(Some(
            rows.into_iter().map(|r| (r.layer, r.factor)).collect(),
        ))
    }

    pub fn write_factors(&self, factors: &LayerFactors) -> Result<()> {
        let rows: Vec<FactorRow> = factors
            .iter()
            .map(|(layer, factor)| FactorRow {
                layer: layer.clone(),
                factor: *factor,
            })
            .collect();
        write_json_atomic(&self.factors_path(), &rows)
    }

    pub fn tensorboard_dir(&self) -> PathBuf {
        self.path.join("tb")
    }

    /// Whether a run was started here (its configuration is written first).
    pub fn has_run(&self) -> bool {
        self.config_path().exists()
    }

    /// The state, and the summary when there is one. A summary that exists but cannot be
    /// read is an error naming it (summaries are written atomically, so it was damaged).
    pub fn state(&self) -> Result<(RunState, Option<Summary>)> {
        let path = self.summary_path();
        if path.exists() {
            let summary = Summary::read(&path)?;
            let state = match summary.status {
                RunStatus::Completed => RunState::Completed,
                RunStatus::Diverged => RunState::Diverged,
                RunStatus::Interrupted => RunState::Interrupted,
            };
            return Ok((state, Some(summary)));
        }
        let state = if self.has_run() {
            RunState::Started
        } else {
            RunState::Missing
        };
        Ok((state, None))
    }

    pub fn read_config(&self) -> Result<RunConfig> {
        RunConfig::from_file(&self.config_path())
    }

    pub fn write_config(&self, config: &RunConfig) -> Result<()> {
        write_json_atomic(&self.config_path(), config)
    }

    pub fn write_environment<T: Serialize>(&self, environment: &T) -> Result<()> {
        write_json_atomic(&self.environment_path(), environment)
    }

    pub fn read_metrics(&self) -> Result<Vec<MetricsRow>> {
        jsonl::read_jsonl(&self.metrics_path(), "metrics row")
    }

    pub fn write_metrics(&self, rows: &[MetricsRow]) -> Result<()> {
        jsonl::write_jsonl(&self.metrics_path(), rows)
    }

    pub fn read_scales(&self) -> Result<Vec<ScaleRow>> {
        jsonl::read_jsonl(&self.scales_path(), "scales row")
    }

    pub fn write_scales(&self, rows: &[ScaleRow]) -> Result<()> {
        jsonl::write_jsonl(&self.scales_path(), rows)
    }

    pub fn write_summary(&self, summary: &Summary) -> Result<()> {
        write_json_atomic(&self.summary_path(), summary)
    }
}
