//! The run directory as a session's observer: it records each evaluation in
//! `metrics.jsonl`, each scale snapshot in `scales.jsonl`, the gradient factors, the
//! checkpoints and, at the end, `summary.json`.
use super::{checkpoint, MetricsRow, RunDir, RunStatus, ScaleRow, Summary};
use crate::config::RunConfig;
use crate::train::{Ending, Event, LastEvaluation, Observer, Position};
use anyhow::{bail, Result};
use serde::Serialize;

pub struct RunRecorder {
    dir: RunDir,
    rows: Vec<MetricsRow>,
    scale_rows: Vec<ScaleRow>,
}

impl RunRecorder {
    /// Takes over `dir` for the run of `config` from `resumed_at` (a checkpoint's
    /// position) or the start: no summary until the run ends, and no rows past the point
    /// it starts from.
    pub fn start(
        dir: RunDir,
        config: &RunConfig,
        environment: &impl Serialize,
        resumed_at: Option<&Position>,
    ) -> Result<RunRecorder> {
        let (mut rows, mut scale_rows) = (Vec::new(), Vec::new());
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
            rows.retain(|r| r.step <= position.step);
            scale_rows = dir.read_scales()?;
            scale_rows.retain(|r| r.step <= position.step);
        }
        dir.remove_summary()?;
        dir.write_config(config)?;
        dir.write_environment(environment)?;
        dir.write_metrics(&rows)?;
        dir.write_scales(&scale_rows)?;
        Ok(RunRecorder {
            dir,
            rows,
            scale_rows,
        })
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
        let final_test_accuracy = last.map(|r| r.eval_accuracy);
        Summary {
            status: ending.status,
            final_test_accuracy,
            best_test_accuracy: self.rows.iter().map(|r| r.eval_accuracy).reduce(f64::max),
            final_test_loss: last.map(|r| r.eval_loss),
            final_train_loss: last.map(|r| r.train_loss),
            final_train_accuracy: last.map(|r| r.train_accuracy),
            epochs_done: ending.position.epoch,
            steps_done: ending.position.step,
            wall_s: ending.wall_s,
            images_per_s: ending.images_per_s,
            test_error_for_heatmap: Summary::heatmap_value(ending.status, final_test_accuracy),
            message: ending.message.clone(),
            timing: Some(ending.timing.clone()),
        }
    }
}

impl Observer for RunRecorder {
    fn observe(&mut self, event: &Event<'_>) -> Result<()> {
        match event {
            Event::FactorsFixed { factors, .. } => self.dir.write_factors(factors)?,
            Event::Scales(snapshot) => {
                self.scale_rows.push(ScaleRow::of(snapshot));
                self.dir.write_scales(&self.scale_rows)?;
            }
            Event::Evaluated(evaluation) => {
                self.rows.push(MetricsRow::of(evaluation));
                self.dir.write_metrics(&self.rows)?;
            }
            Event::CheckpointDue { trainer, position } => {
                checkpoint::save(self.dir.path(), trainer, position)?
            }
            Event::Ended(ending) => {
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
