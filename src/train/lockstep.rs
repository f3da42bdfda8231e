//! The checks' way to train: several sessions (the check's lanes) stepped side by side on
//! the same batches, the check looking on after every backward and every step.
use super::session::Session;
use crate::data::Batch;
use anyhow::Result;

/// Whether a check wants more steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// A check following its lanes.
pub trait LaneObserver {
    /// Every live lane has the gradient of step `t` in its optimizer, and none has
    /// applied it yet; `Stop` ends the run before step `t` is taken.
    fn gradients_ready(&mut self, _t: u64, _lanes: &[Session]) -> Result<Flow> {
        Ok(Flow::Continue)
    }

    /// Every live lane has taken step `t`.
    fn stepped(&mut self, t: u64, lanes: &mut [Session]) -> Result<Flow>;
}

/// Steps every lane on each of `steps` batches from `next_batch`, in lockstep, until the
/// steps are done or the observer stops. A lane that diverges stops there (its weights
/// stay those before the non-finite loss); the others go on. Returns the steps taken.
pub fn run(
    lanes: &mut [Session],
    steps: u64,
    mut next_batch: impl FnMut() -> Result<Batch>,
    observer: &mut dyn LaneObserver,
) -> Result<u64> {
    for t in 1..=steps {
        let batch = next_batch()?;
        for lane in lanes.iter_mut() {
            lane.lane_backward(&batch)?;
        }
        if observer.gradients_ready(t, lanes)? == Flow::Stop {
            return Ok(t - 1);
        }
        for lane in lanes.iter_mut() {
            lane.lane_apply()?;
        }
        if observer.stepped(t, lanes)? == Flow::Stop {
            return Ok(t);
        }
    }
    Ok(steps)
}
