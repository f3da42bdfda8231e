//! The run directory as a session's observer: it records each evaluation in
//! `metrics.jsonl`, the batch losses in `losses.jsonl`, each scale snapshot in
//! `scales.jsonl`, the gradient factors, the checkpoints and, at the end, `summary.json`.
use super::{checkpoint, LossRow, MetricsRow, PaceRow, RunDir, RunStatus, ScaleRow, Summary};
use crate::config::RunConfig;
use crate::train::session::BATCH_LOSS_EVERY;
use crate::train::{Ending, Event, LastEvaluation, Observer, Plan, Position};
use anyhow::{bail, Result};
use checkpoint::{Recorded, Resume};
use serde::Serialize;
use std::time::{Duration, Instant};

/// A run records about this many batch losses at most: every step of a short run, every
/// [`BATCH_LOSS_EVERY`]-th of a long one (a paper run's 78,000 steps: 3,900 rows).
const LOSS_ROWS: u64 = 2000;

/// `pace.json` is rewritten at most this often.
const PACE_EVERY: Duration = Duration::from_secs(1);

/// What `pace.json` is made of: this process' start, and when it last wrote it.
struct PaceClock {
    started: Instant,
    first_step: u64,
    total_steps: u64,
    written: Option<Instant>,
}

pub struct RunRecorder {
    dir: RunDir,
    rows: Vec<MetricsRow>,
    scale_rows: Vec<ScaleRow>,
    /// Written with each evaluation, checkpoint and the summary (not at every logged
    /// step): rows after the last checkpoint are dropped on resume anyway.
    loss_rows: Vec<LossRow>,
    /// Batch losses are recorded at step 1 and every this many steps.
    loss_every: u64,
    steps_per_epoch: u64,
    pace: PaceClock,
}

impl RunRecorder {
    /// Takes over `dir` for the run of `config` from `resumed` (a checkpoint) or the
    /// start: no summary until the run ends, and no rows past the point it starts from. The session's `plan` places the batch losses in epochs and says
    /// how many steps there are to go.
    pub fn start(
        dir: RunDir,
        config: &RunConfig,
        environment: &impl Serialize,
        resumed: Option<&Resume>,
        plan: &Plan,
    ) -> Result<RunRecorder> {
        let resumed_at = resumed.map(|r| &r.position);
        let (mut rows, mut scale_rows, mut loss_rows) = (Vec::new(), Vec::new(), Vec::new());
        if let Some(position) = resumed_at {
            // Both files are written when a run starts, so a resumed run without one has
            // lost its earlier rows: going on would end with only the later ones.
            for (path, what) in [
                (dir.metrics_path(), "evaluations"),
                (dir.scales_path(), "gradient-scale snapshots"),
            ] {
                if !path.exists() {
                    bail!(
                        "cannot resume: {} is missing, so the run's {what} up to step {} are \
                         lost and the resumed run would record only the later ones; restore the \
                         file, or start the run again without --resume in a new --out",
                        path.display(),
                        position.step
                    );
                }
            }
            rows = dir.read_metrics()?;
            refuse_repeated_steps(&dir.metrics_path(), rows.iter().map(|r| r.step))?;
            rows.retain(|r| r.step <= position.step);
            scale_rows = dir.read_scales()?;
            refuse_repeated_steps(&dir.scales_path(), scale_rows.iter().map(|r| r.step))?;
            scale_rows.retain(|r| r.step <= position.step);
            loss_rows = resumed_losses(&dir, position)?;
            refuse_repeated_steps(&dir.losses_path(), loss_rows.iter().map(|r| r.step))?;
            if let Some(recorded) = resumed.and_then(|r| r.recorded) {
                let held = [rows.len(), scale_rows.len(), loss_rows.len()];
                refuse_lost_rows(&dir, position, recorded, held)?;
            }
        }
        dir.remove_summary()?;
        dir.write_config(config)?;
        dir.write_environment(environment)?;
        dir.write_metrics(&rows)?;
        dir.write_scales(&scale_rows)?;
        dir.write_losses(&loss_rows)?;
        Ok(RunRecorder {
            dir,
            rows,
            scale_rows,
            loss_rows,
            loss_every: (plan.total_steps / LOSS_ROWS).clamp(1, BATCH_LOSS_EVERY),
            steps_per_epoch: plan.steps_per_epoch.max(1),
            pace: PaceClock {
                started: Instant::now(),
                first_step: resumed_at.map_or(0, |p| p.step),
                total_steps: plan.total_steps,
                written: None,
            },
        })
    }

    /// Rewrites `pace.json` at step `step`, unless it was written less than
    /// [`PACE_EVERY`] ago.
    fn write_pace(&mut self, step: u64) -> Result<()> {
        let pace = &mut self.pace;
        if pace.written.is_some_and(|at| at.elapsed() < PACE_EVERY) {
            return Ok(());
        }
        let seconds = pace.started.elapsed().as_secs_f64();
        let row = PaceRow {
            step,
            first_step: pace.first_step,
            total_steps: pace.total_steps,
            steps_per_s: match seconds > 0.0 {
                true => step.saturating_sub(pace.first_step) as f64 / seconds,
                false => 0.0,
            },
        };
        pace.written = Some(Instant::now());
        self.dir.write_pace(&row)
    }

    /// The last evaluation the run has recorded, for a resumed session.
    pub fn last_evaluation(&self) -> Option<LastEvaluation> {
        self.rows.last().map(|r| LastEvaluation {
            step: r.step,
            images_per_s: r.images_per_s,
        })
    }

    fn summary(&self, ending: &Ending) -> Summary {
        let last = self.rows.last();
        // A completed run that never evaluated (`eval_every` 0): its last epoch's training
        // statistics. A diverged run has no final training loss.
        let unevaluated_end = || {
            (ending.status == RunStatus::Completed)
                .then(|| ending.position.latest_train_tally())
                .flatten()
        };
        let final_test_accuracy = last.map(|r| r.eval_accuracy);
        Summary {
            status: ending.status,
            final_test_accuracy,
            best_test_accuracy: self.rows.iter().map(|r| r.eval_accuracy).reduce(f64::max),
            final_test_loss: last.map(|r| r.eval_loss),
            // Without evaluations (`eval_every` 0), the training statistics the loop kept.
            final_train_loss: last.map(|r| r.train_loss).or_else(|| {
                let tally = unevaluated_end()?;
                tally.mean_loss()
            }),
            final_train_accuracy: last.map(|r| r.train_accuracy).or_else(|| {
                let tally = unevaluated_end()?;
                tally.accuracy()
            }),
            epochs_done: ending.position.epoch,
            steps_done: ending.position.step,
            wall_s: ending.wall_s,
            images_per_s: ending.images_per_s,
            test_error_for_heatmap: Summary::heatmap_value(ending.status, final_test_accuracy),
            message: ending.message.clone(),
            timing: Some(ending.timing.clone()),
            records: Some(self.recorded()),
        }
    }

    /// How many rows each record file holds now.
    fn recorded(&self) -> Recorded {
        Recorded {
            evaluations: self.rows.len(),
            scale_snapshots: self.scale_rows.len(),
            batch_losses: self.loss_rows.len(),
        }
    }
}

/// Refuses to resume from a record file whose rows do not go forward step by step (a row
/// repeated, or rows out of order): written by a run, each row is of a later step than
/// the one before, so the file was edited or two copies were joined.
fn refuse_repeated_steps(path: &std::path::Path, steps: impl Iterator<Item = u64>) -> Result<()> {
    let mut previous: Option<u64> = None;
    for (line, step) in steps.enumerate() {
        if let Some(before) = previous.filter(|&before| step <= before) {
            bail!(
                "cannot resume: {} has a row for step {step} on line {} after one for step                  {before}: a run writes each step once, in order, so the file was edited or                  joined from two copies; restore the file, or start the run again without                  --resume in a new --out",
                path.display(),
                line + 1
            );
        }
        previous = Some(step);
    }
    Ok(())
}

/// Refuses to resume when a record file holds fewer rows up to the checkpoint than it did
/// when the checkpoint was written: the run would go on with a gap (`held`: the rows of
/// `metrics.jsonl`, `scales.jsonl` and `losses.jsonl` kept up to the checkpoint).
fn refuse_lost_rows(
    dir: &RunDir,
    position: &Position,
    recorded: Recorded,
    held: [usize; 3],
) -> Result<()> {
    let files = [
        (dir.metrics_path(), "evaluations", recorded.evaluations),
        (
            dir.scales_path(),
            "gradient-scale snapshots",
            recorded.scale_snapshots,
        ),
        (dir.losses_path(), "batch losses", recorded.batch_losses),
    ];
    for ((path, what, expected), held) in files.into_iter().zip(held) {
        if held < expected {
            bail!(
                "cannot resume: {} holds {held} {what} up to step {}, but {expected} when the \
                 checkpoint was written: the file was truncated or replaced by an older copy, \
                 and the resumed run would go on with a gap; restore the file, or start the run \
                 again without --resume in a new --out",
                path.display(),
                position.step
            );
        }
    }
    Ok(())
}

/// The batch losses a resumed run keeps: those up to its checkpoint. Runs made before
/// `losses.jsonl` existed have none; their training curve starts where they resume, and
/// the user is told so (the evaluations, which the report falls back to, are all there).
fn resumed_losses(dir: &RunDir, position: &Position) -> Result<Vec<LossRow>> {
    let path = dir.losses_path();
    if !path.exists() {
        eprintln!(
            "note: {} is missing, so the run's batch losses before step {} are not recorded; \
             its training-loss curve starts at the resumed step",
            path.display(),
            position.step
        );
        return Ok(Vec::new());
    }
    let mut rows = dir.read_losses()?;
    rows.retain(|r| r.step <= position.step);
    Ok(rows)
}

impl Observer for RunRecorder {
    fn observe(&mut self, event: &Event<'_>) -> Result<()> {
        match event {
            // A non-finite loss is the divergence, which the summary tells.
            Event::StepRead { step, stats }
                if (*step == 1 || step.is_multiple_of(self.loss_every))
                    && stats.loss.is_finite() =>
            {
                self.loss_rows.push(LossRow {
                    step: *step,
                    epoch: *step as f64 / self.steps_per_epoch as f64,
                    loss: stats.loss,
                })
            }
            Event::Progress { position } => self.write_pace(position.step)?,
            Event::FactorsFixed { factors, .. } => self.dir.write_factors(factors)?,
            Event::Scales(snapshot) => {
                self.scale_rows.push(ScaleRow::of(snapshot));
                self.dir.write_scales(&self.scale_rows)?;
            }
            Event::Evaluated(evaluation) => {
                self.rows.push(MetricsRow::of(evaluation));
                self.dir.write_metrics(&self.rows)?;
                self.dir.write_losses(&self.loss_rows)?;
            }
            Event::CheckpointDue { trainer, position } => {
                self.dir.write_losses(&self.loss_rows)?;
                checkpoint::save(self.dir.path(), trainer, position, self.recorded())?
            }
            Event::Ended(ending) => {
                // The pace is of a process training the run: it ends with it.
                self.dir.remove_pace()?;
                self.dir.write_losses(&self.loss_rows)?;
                self.dir.write_summary(&self.summary(ending))?;
                if ending.status != RunStatus::Interrupted {
                    checkpoint::discard_previous(self.dir.path())?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}
