//! The check as its lanes' observer: every `every` steps, each run's deviation from its
//! reference.
use super::verdict::nan_max;
use super::{Deviation, Run, ScaleFreeProgress};
use crate::checks::{distance, norm};
use crate::train::lockstep::{Flow, LaneObserver};
use crate::train::Session;
use anyhow::Result;
use tch::Tensor;

pub struct ScaleFreeWatch<'a> {
    pub runs: Vec<Run>,
    references: Vec<usize>,
    every: u64,
    steps: u64,
    progress: &'a mut dyn ScaleFreeProgress,
}

impl<'a> ScaleFreeWatch<'a> {
    pub fn new(
        runs: Vec<Run>,
        references: Vec<usize>,
        every: u64,
        steps: u64,
        progress: &'a mut dyn ScaleFreeProgress,
    ) -> Self {
        ScaleFreeWatch {
            runs,
            references,
            every,
            steps,
            progress,
        }
    }

    fn measure(&mut self, lanes: &mut [Session], t: u64) {
        let values: Vec<Tensor> = lanes.iter().map(|l| l.trainer().flat_values()).collect();
        for (i, (run, lane)) in self.runs.iter_mut().zip(lanes.iter_mut()).enumerate() {
            let tally = lane.take_window();
            run.train_loss = tally.mean_loss();
            run.train_accuracy = tally.accuracy();
            if run.reference {
                continue;
            }
            let reference = &values[self.references[i]];
            let diverged = run.diverged_at.is_some() || live_diverged(&values[i]);
            let deviation = if diverged {
                f64::NAN
            } else {
                distance(&values[i], reference) / norm(reference)
            };
            run.deviations.push(Deviation { step: t, deviation });
            run.final_deviation = Some(deviation);
            run.max_deviation = Some(nan_max(run.max_deviation.unwrap_or(0.0), deviation));
        }
    }
}

impl LaneObserver for ScaleFreeWatch<'_> {
    fn stepped(&mut self, t: u64, lanes: &mut [Session]) -> Result<Flow> {
        for (run, lane) in self.runs.iter_mut().zip(lanes.iter()) {
            run.diverged_at = lane.diverged_at();
        }
        if t.is_multiple_of(self.every) || t == self.steps {
            self.measure(lanes, t);
            self.progress.measured(t, &self.runs);
        }
        Ok(Flow::Continue)
    }
}

fn live_diverged(values: &Tensor) -> bool {
    values.isfinite().logical_not().any().int64_value(&[]) != 0
}
