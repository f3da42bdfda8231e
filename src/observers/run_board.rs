//! TensorBoard as a training session's observer: the batch loss, the gradient factors,
//! the scale snapshots and every evaluation, on the disk before each checkpoint; and the
//! run as an HParams session: its settings and lane at the start of each process's file,
//! the results HParams shows as scalars, and how it ended in a small file beside it.
//!
//! A resumed run is one session: TensorBoard reads a session's start and end once, from
//! the first file holding them, so each process removes the end files of the processes
//! before it (an interrupted one's end would otherwise stand for good), and the results
//! are logged where the other scalars are (at an evaluation, at step 1, at the divergence),
//! so that a resumed run's scalars are the straight run's.
use crate::config::RunConfig;
use crate::rundir::DIVERGED_ERROR;
use crate::scales::merge;
use crate::sinks::hparams::{self, Metric};
use crate::sinks::tensorboard::Board;
use crate::train::scale_probe::ScaleSnapshot;
use crate::train::session::records_batch_loss;
use crate::train::{Evaluation, Event, Observer, RunStatus};
use anyhow::Result;
use std::time::{SystemTime, UNIX_EPOCH};
use tensorboard_proto::api::Status;

/// The paper's heatmap value so far: 1 − the accuracy of each evaluation, and
/// [`DIVERGED_ERROR`] at the step a run diverges.
pub const HEATMAP_TAG: &str = "result/test_error_for_heatmap";
/// The log2 spread of the gradients at step 1 (logged with the scale snapshots).
pub const SPREAD_AT_START_TAG: &str = "result/grad_log2_spread_at_step_1";
/// The suffix of the file holding a process's session end.
const END_SUFFIX: &str = "session_end";

/// The metrics HParams shows of each run (the last value of each tag): those of the
/// paper's heatmap and of claim 4. `validation`: the runs evaluate on a held-out part of
/// the training set.
pub fn hparams_metrics(validation: bool) -> Vec<Metric> {
    let (tag, display_name) = match validation {
        true => ("validation/accuracy", "final validation accuracy"),
        false => ("test/accuracy", "final test accuracy"),
    };
    vec![
        Metric {
            tag,
            display_name,
            description: "accuracy of the last evaluation",
        },
        Metric {
            tag: HEATMAP_TAG,
            display_name: "heatmap value",
            description: "the paper's heatmap value: 1 − final accuracy, 1.1 when diverged",
        },
        Metric {
            tag: "train/loss",
            display_name: "final training loss",
            description: "mean training loss of the last evaluated epoch",
        },
        Metric {
            tag: SPREAD_AT_START_TAG,
            display_name: "gradient spread at step 1",
            description: "log2 spread (p99 − p1) of the gradients at step 1",
        },
    ]
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

pub struct RunBoard {
    board: Board,
}

impl RunBoard {
    /// The run of `config` on `board`: its session starts there, and the end files of
    /// earlier processes are removed.
    pub fn new(mut board: Board, config: &RunConfig) -> Result<RunBoard> {
        let dir = board.path().parent().expect("an event file is in a folder");
        Board::remove_beside(dir, END_SUFFIX)?;
        let start = hparams::session_start(&config.defining_settings(), &config.lane(), now());
        board.add_summary(start, 0);
        board.sync()?;
        Ok(RunBoard { board })
    }

    fn log_evaluation(&mut self, e: &Evaluation) {
        let (board, step, split) = (&mut self.board, e.step, e.split);
        board.scalar("train/loss", e.train_loss(), step);
        board.scalar("train/accuracy", e.train_accuracy(), step);
        board.scalar(&format!("{split}/loss"), e.eval_loss(), step);
        board.scalar(&format!("{split}/accuracy"), e.eval_accuracy(), step);
        board.scalar(HEATMAP_TAG, 1.0 - e.eval_accuracy(), step);
        board.scalar("opt/lr", e.lr, step);
        board.scalar("perf/images_per_s", e.images_per_s, step);
        if let Some(scaler) = &e.loss_scaler {
            board.scalar("opt/loss_scale", scaler.scale(), step);
            board.scalar("opt/skipped_steps", scaler.skipped_steps() as f64, step);
        }
        board.flush();
    }
}

impl Observer for RunBoard {
    fn observe(&mut self, event: &Event<'_>) -> Result<()> {
        match event {
            Event::StepRead { step, stats } if records_batch_loss(*step) => {
                self.board.scalar("train/batch_loss", stats.loss, *step);
            }
            // At step 1 only: a resumed run's TensorBoard is the straight run's.
            Event::FactorsFixed { factors, step: 1 } => {
                for (layer, factor) in factors.iter() {
                    let tag = format!("factors/log10/{layer}");
                    self.board.scalar(&tag, factor.log10(), 1);
                }
            }
            Event::Scales(snapshot) => {
                log_scale_snapshot(&mut self.board, snapshot);
                if let (1, Some(spread)) = (snapshot.step, &snapshot.grad_spread) {
                    self.board.scalar(SPREAD_AT_START_TAG, spread.spread, 1);
                }
            }
            Event::Evaluated(evaluation) => self.log_evaluation(evaluation),
            Event::Diverged { step, .. } => self.board.scalar(HEATMAP_TAG, DIVERGED_ERROR, *step),
            // Everything logged before a checkpoint (or the summary) is on the disk first.
            Event::CheckpointDue { .. } => self.board.sync()?,
            Event::Ended(ending) => {
                self.board.sync()?;
                let end = hparams::session_end(status_of(ending.status), now());
                self.board.write_beside(END_SUFFIX, end, 0)?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// How a run's session ended, in HParams' words: TensorBoard has no word for a stopped
/// run that will be resumed, so an interrupted run is `STATUS_UNKNOWN`, as a run still
/// training (which has no end yet) is.
fn status_of(status: RunStatus) -> Status {
    match status {
        RunStatus::Completed => Status::STATUS_SUCCESS,
        RunStatus::Diverged => Status::STATUS_FAILURE,
        RunStatus::Interrupted => Status::STATUS_UNKNOWN,
    }
}

/// A probe's snapshot: `hist/<quantity>/{all,<layer>}` and the spreads as
/// `scale/…` scalars.
fn log_scale_snapshot(board: &mut Board, snapshot: &ScaleSnapshot) {
    let t = snapshot.step;
    for (kind, per_layer) in &snapshot.per_layer {
        board.log2_histogram(&format!("hist/{kind}/all"), &merge(per_layer), t);
        for (layer, h) in snapshot.layer_names.iter().zip(per_layer) {
            board.log2_histogram(&format!("hist/{kind}/{layer}"), h, t);
        }
    }
    if let Some(s) = &snapshot.grad_spread {
        board.scalar("scale/grad_log2_spread", s.spread, t);
        board.scalar("scale/layer_median_range", s.layer_median_range, t);
    }
    if let Some(s) = &snapshot.update_spread {
        board.scalar("scale/update_log2_spread", s.spread, t);
        board.scalar("scale/update_layer_median_range", s.layer_median_range, t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_hparams_words() {
        assert_eq!(status_of(RunStatus::Completed), Status::STATUS_SUCCESS);
        assert_eq!(status_of(RunStatus::Diverged), Status::STATUS_FAILURE);
        assert_eq!(status_of(RunStatus::Interrupted), Status::STATUS_UNKNOWN);
    }
}
