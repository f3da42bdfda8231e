//! TensorBoard as a training session's observer: the batch loss, the gradient factors,
//! the scale snapshots and every evaluation, on the disk before each checkpoint; and the
//! run as an HParams session: its settings and lane at the start of each process's file,
//! the results HParams shows as scalars, and how it ended in a small file beside it.
//!
//! A resumed run is one session: TensorBoard reads a session's start and end once, from
//! the first file holding them, so an interrupted run writes no end (it has not ended),
//! each process removes the end files of the processes before it (a completed run
//! continued to more epochs has one), and the results are logged where the other scalars
//! are (at an evaluation, at step 1, at the divergence), so that a resumed run's scalars
//! are the straight run's.
//!
//! A run that its experiment no longer counts (damaged, or moved aside as stale) has its
//! session withdrawn ([`withdraw_session`]) and, once it counts again, put back.
use crate::config::RunConfig;
use crate::rundir::lock::{Busy, Lock};
use crate::rundir::{RunDir, DIVERGED_ERROR};
use crate::scales::merge;
use crate::sinks::atomic::write_json_atomic;
use crate::sinks::hparams::{self, Metric, WITHDRAWN_TAGS};
use crate::sinks::tensorboard::{rename_tags, Board};
use crate::train::scale_probe::ScaleSnapshot;
use crate::train::session::records_batch_loss;
use crate::train::{Evaluation, Event, Observer, RunStatus};
use anyhow::{Context, Result};
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
                if let Some(status) = status_of(ending.status) {
                    let end = hparams::session_end(status, now());
                    self.board.write_beside(END_SUFFIX, end, 0)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Beside the event files of a run whose session is withdrawn: why (not an event file:
/// TensorBoard does not read it).
const WITHDRAWN_FILE: &str = "withdrawn.json";

/// Whether the session of the run in `dir` is withdrawn from its experiment.
pub fn session_withdrawn(dir: &RunDir) -> bool {
    dir.tensorboard_dir().join(WITHDRAWN_FILE).exists()
}

/// The run's lock, or `None` while another process writes the run (left to it).
fn lock_unless_busy(dir: &RunDir) -> Result<Option<Lock>> {
    match Lock::acquire(
        dir.path(),
        &dir.lock_path(),
        "scalefree (its HParams session)",
    ) {
        Ok(lock) => Ok(Some(lock)),
        Err(e) if e.downcast_ref::<Busy>().is_some() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Withdraws the HParams session of the run in `dir` from its experiment, because `why`
/// (it is damaged, or was moved aside as stale): its start and end are renamed in its
/// event files, so that TensorBoard lists no session for it (one already running keeps
/// what it read); its curves stay. Whether it was withdrawn now: not when another process
/// writes the run, nor when it has no TensorBoard files.
pub fn withdraw_session(dir: &RunDir, why: &str) -> Result<bool> {
    let tb = dir.tensorboard_dir();
    let Some(_lock) = lock_unless_busy(dir)? else {
        return Ok(false);
    };
    if !tb.is_dir() {
        return Ok(false);
    }
    rename_tags(&tb, &WITHDRAWN_TAGS)?;
    let note = serde_json::json!({
        "why": why,
        "what": "this run's HParams session (its start and end tags) is withdrawn from its \
                 experiment; scalefree puts it back once the run counts again",
    });
    write_json_atomic(&tb.join(WITHDRAWN_FILE), &note)?;
    Ok(true)
}

/// Puts back the session [`withdraw_session`] withdrew; whether it did (not while another
/// process writes the run).
pub fn reinstate_session(dir: &RunDir) -> Result<bool> {
    let tb = dir.tensorboard_dir();
    let Some(_lock) = lock_unless_busy(dir)? else {
        return Ok(false);
    };
    let back = WITHDRAWN_TAGS.map(|(tag, withdrawn)| (withdrawn, tag));
    rename_tags(&tb, &back)?;
    let marker = tb.join(WITHDRAWN_FILE);
    std::fs::remove_file(&marker).with_context(|| format!("cannot remove {}", marker.display()))?;
    Ok(true)
}

/// How a run's session ended, in HParams' words; `None` for an interrupted run, which has
/// not ended: it will be resumed. TensorBoard has no word for such a run and shows it as
/// it shows one still training (no end: Unknown); and since it reads a session's end once,
/// an end written now would stand in a running TensorBoard after the run's real end.
fn status_of(status: RunStatus) -> Option<Status> {
    match status {
        RunStatus::Completed => Some(Status::STATUS_SUCCESS),
        RunStatus::Diverged => Some(Status::STATUS_FAILURE),
        RunStatus::Interrupted => None,
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
        assert_eq!(
            status_of(RunStatus::Completed),
            Some(Status::STATUS_SUCCESS)
        );
        assert_eq!(status_of(RunStatus::Diverged), Some(Status::STATUS_FAILURE));
        assert_eq!(status_of(RunStatus::Interrupted), None);
    }
}
