//! What a run reports: one `metrics.jsonl` row per evaluation and a final `summary.json`.
use super::atomic::write_json_atomic;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricsRow {
    pub epoch: u32,
    pub step: u64,
    /// Mean loss (divided back by the loss multiplier) and accuracy over the epoch's batches.
    pub train_loss: f64,
    pub train_accuracy: f64,
    /// `test` or `validation`.
    pub eval_split: String,
    pub test_loss: f64,
    pub test_accuracy: f64,
    pub lr: f64,
    pub wall_s: f64,
    pub images_per_s: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Completed,
    Diverged,
    Interrupted,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub status: RunStatus,
    pub final_test_accuracy: Option<f64>,
    pub best_test_accuracy: Option<f64>,
    pub final_test_loss: Option<f64>,
    pub final_train_loss: Option<f64>,
    pub final_train_accuracy: Option<f64>,
    pub epochs_done: u32,
    pub steps_done: u64,
    pub wall_s: f64,
    pub images_per_s: f64,
    /// The paper's heatmap value: 1 − final test accuracy, or 1.1 for a diverged run.
    pub test_error_for_heatmap: Option<f64>,
    pub message: Option<String>,
    /// Steady-state rate and logging time of the last process (absent in older summaries).
    #[serde(default)]
    pub timing: Option<super::step_timing::StepTiming>,
}

impl Summary {
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid run summary", path.display()))
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        write_json_atomic(path, self)
    }
}

pub fn write_metrics(path: &Path, rows: &[MetricsRow]) -> Result<()> {
    super::jsonl::write_jsonl(path, rows)
}

pub fn read_metrics(path: &Path) -> Result<Vec<MetricsRow>> {
    super::jsonl::read_jsonl(path, "metrics row")
}
