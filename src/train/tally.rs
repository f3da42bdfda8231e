//! What steps and evaluations saw: per-step statistics and their running sums.
use serde::{Deserialize, Serialize};

/// What one forward/backward saw: the un-multiplied loss, correct predictions, images.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepStats {
    pub loss: f64,
    pub correct: f64,
    pub seen: f64,
}

/// Sums over batches: loss × images, correct predictions, images.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub loss_sum: f64,
    pub correct: f64,
    pub seen: f64,
}

impl Tally {
    pub fn add(&mut self, stats: &StepStats) {
        self.loss_sum += stats.loss * stats.seen;
        self.correct += stats.correct;
        self.seen += stats.seen;
    }

    pub fn mean_loss(&self) -> Option<f64> {
        (self.seen > 0.0).then(|| self.loss_sum / self.seen)
    }

    pub fn accuracy(&self) -> Option<f64> {
        (self.seen > 0.0).then(|| self.correct / self.seen)
    }
}
