//! TensorBoard as a training session's observer: the batch loss, the gradient factors,
//! the scale snapshots and every evaluation, on the disk before each checkpoint.
use super::tensorboard::Board;
use crate::train::{Evaluation, Event, Observer};
use anyhow::Result;

/// The batch loss is logged at step 1 and every this many steps.
pub const BATCH_LOSS_EVERY: u64 = 20;

pub struct RunBoard {
    board: Board,
}

impl RunBoard {
    pub fn new(board: Board) -> RunBoard {
        RunBoard { board }
    }

    fn log_evaluation(&mut self, e: &Evaluation) {
        let (board, step, split) = (&mut self.board, e.step, e.split);
        board.scalar("train/loss", e.train_loss(), step);
        board.scalar("train/accuracy", e.train_accuracy(), step);
        board.scalar(&format!("{split}/loss"), e.eval_loss(), step);
        board.scalar(&format!("{split}/accuracy"), e.eval_accuracy(), step);
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
            Event::StepRead { step, stats }
                if *step == 1 || step.is_multiple_of(BATCH_LOSS_EVERY) =>
            {
                self.board.scalar("train/batch_loss", stats.loss, *step);
            }
            // At step 1 only: a resumed run's TensorBoard is the straight run's.
            Event::FactorsFixed { factors, step: 1 } => {
                for (layer, factor) in factors.iter() {
                    let tag = format!("factors/log10/{layer}");
                    self.board.scalar(&tag, factor.log10(), 1);
                }
            }
            Event::Scales(snapshot) => self.board.scale_snapshot(snapshot),
            Event::Evaluated(evaluation) => self.log_evaluation(evaluation),
            // Everything logged before a checkpoint (or the summary) is on the disk first.
            Event::CheckpointDue { .. } | Event::Ended(_) => self.board.sync()?,
            _ => {}
        }
        Ok(())
    }
}
