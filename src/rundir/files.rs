//! The schemas of a run's reports: `metrics.jsonl`, `losses.jsonl` and `scales.jsonl`
//! rows, and `summary.json`.
use crate::scales::{merge, ScaleSpread, LOW_OCTAVE};
use crate::train::scale_probe::ScaleSnapshot;
use crate::train::{Evaluation, RunStatus};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricsRow {
    pub epoch: u32,
    pub step: u64,
    /// Mean loss (divided back by the loss multiplier) and accuracy over the epoch's batches.
    pub train_loss: f64,
    pub train_accuracy: f64,
    /// `test` or `validation`: the split that `eval_loss` and `eval_accuracy` are of.
    pub eval_split: String,
    /// Stored as `test_loss`/`test_accuracy` (the file's columns since its first version,
    /// read by users' scripts) whichever split was evaluated.
    #[serde(rename = "test_loss")]
    pub eval_loss: f64,
    #[serde(rename = "test_accuracy")]
    pub eval_accuracy: f64,
    pub lr: f64,
    pub wall_s: f64,
    pub images_per_s: f64,
}

/// A batch's training loss as the run trained (un-multiplied), at step 1 and every k-th
/// step, k = total steps / 2,000 from 1 to 20 (see [`super::RunRecorder`]): the training
/// curve between evaluations, which may be rare.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LossRow {
    pub step: u64,
    /// Epochs trained at the end of this step (`step / steps per epoch`).
    pub epoch: f64,
    pub loss: f64,
}

/// `pace.json`: how far a training process has got, rewritten about once a second
/// while it trains, for whoever watches the run from outside (a sweep's progress bar).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PaceRow {
    pub step: u64,
    pub total_steps: u64,
    /// Steps per second of this process so far.
    pub steps_per_s: f64,
    /// The step this process started from (a resumed run's checkpoint; 0 in files
    /// written before it was kept): the steps before it were not this process's work.
    #[serde(default)]
    pub first_step: u64,
}

/// How many rows the run directory's record files held at a point of the run: when a
/// checkpoint was written (resume refuses a file that has lost rows since) and when the
/// run ended (a reader of the run finds it damaged when its files no longer hold them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Recorded {
    /// Rows of `metrics.jsonl`.
    pub evaluations: usize,
    /// Rows of `scales.jsonl`.
    pub scale_snapshots: usize,
    /// Rows of `losses.jsonl`.
    pub batch_losses: usize,
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
    /// The paper's heatmap value: 1 − final test accuracy, or [`DIVERGED_ERROR`] for a
    /// diverged run.
    pub test_error_for_heatmap: Option<f64>,
    pub message: Option<String>,
    /// Steady-state rate and logging time of the last process (absent in older summaries).
    #[serde(default)]
    pub timing: Option<crate::train::step_timing::StepTiming>,
    /// The rows the record files held when the summary was written (absent in older
    /// summaries): a file that holds others since was truncated, deleted or replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<Recorded>,
}

impl MetricsRow {
    /// The row of an evaluation.
    pub fn of(evaluation: &Evaluation) -> MetricsRow {
        MetricsRow {
            epoch: evaluation.epoch,
            step: evaluation.step,
            train_loss: evaluation.train_loss(),
            train_accuracy: evaluation.train_accuracy(),
            eval_split: evaluation.split.to_string(),
            eval_loss: evaluation.eval_loss(),
            eval_accuracy: evaluation.eval_accuracy(),
            lr: evaluation.lr,
            wall_s: evaluation.wall_s,
            images_per_s: evaluation.images_per_s,
        }
    }
}

impl Summary {
    pub fn read(path: &Path) -> Result<Self> {
        crate::sinks::jsonl::read_json(path, "a valid run summary")
    }

    /// The paper's heatmap value of a run that ended as `status` with this final test
    /// accuracy: 1 − the accuracy, or [`DIVERGED_ERROR`] for a diverged run.
    pub fn heatmap_value(status: RunStatus, final_test_accuracy: Option<f64>) -> Option<f64> {
        match status {
            RunStatus::Diverged => Some(DIVERGED_ERROR),
            _ => final_test_accuracy.map(|a| 1.0 - a),
        }
    }

    /// This run's heatmap value, from its status and final accuracy (the stored value where
    /// it has no accuracy); `None` while it has no final value (interrupted).
    pub fn heatmap_error(&self) -> Option<f64> {
        if self.status == RunStatus::Interrupted {
            return None;
        }
        Summary::heatmap_value(self.status, self.final_test_accuracy)
            .or(self.test_error_for_heatmap)
            .filter(|e| e.is_finite())
    }
}

/// The paper's heatmap value of a diverged run: worse than any accuracy.
pub const DIVERGED_ERROR: f64 = 1.1;

/// What `scales.jsonl` holds per logged step: spreads and merged octave counts.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ScaleRow {
    pub step: u64,
    pub epoch: u32,
    pub lowest_octave: i64,
    pub grad_spread: Option<SpreadRow>,
    pub update_spread: Option<SpreadRow>,
    /// Counts per octave from `lowest_octave` up, and the number of exact zeros.
    pub grad_octaves: Vec<f64>,
    pub grad_zeros: f64,
    pub update_octaves: Vec<f64>,
    pub update_zeros: f64,
    pub update_over_lr_octaves: Vec<f64>,
    pub update_over_lr_zeros: f64,
    pub param_octaves: Vec<f64>,
    pub param_zeros: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SpreadRow {
    pub p01: f64,
    pub p50: f64,
    pub p99: f64,
    pub spread: f64,
    pub layer_median_range: f64,
}

impl ScaleRow {
    /// The merged counts and spreads of a probe's snapshot.
    pub fn of(snapshot: &ScaleSnapshot) -> ScaleRow {
        let [g, u, ul, p] = snapshot.per_layer.each_ref().map(|(_, h)| merge(h));
        ScaleRow {
            step: snapshot.step,
            epoch: snapshot.epoch,
            lowest_octave: LOW_OCTAVE,
            grad_spread: snapshot.grad_spread.clone().map(Into::into),
            update_spread: snapshot.update_spread.clone().map(Into::into),
            grad_octaves: g.octaves(),
            grad_zeros: g.zeros,
            update_octaves: u.octaves(),
            update_zeros: u.zeros,
            update_over_lr_octaves: ul.octaves(),
            update_over_lr_zeros: ul.zeros,
            param_octaves: p.octaves(),
            param_zeros: p.zeros,
        }
    }
}

impl From<ScaleSpread> for SpreadRow {
    fn from(s: ScaleSpread) -> Self {
        SpreadRow {
            p01: s.p01,
            p50: s.p50,
            p99: s.p99,
            spread: s.spread,
            layer_median_range: s.layer_median_range,
        }
    }
}
