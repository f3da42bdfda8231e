//! What steps and evaluations saw: per-step statistics, their running sums, and the
//! statistics still on the device.
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

/// What one forward/backward saw: the un-multiplied loss, correct predictions, images.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepStats {
    pub loss: f64,
    pub correct: f64,
    pub seen: f64,
    /// Whether the optimizer's second moment was finite when the step began (checked
    /// where a loss multiplier can square the gradients past the float range).
    pub state_finite: bool,
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

/// Steps' statistics kept on the device until they are read, so that a step does not
/// wait for the device (reading a loss blocks the CPU until the GPU has computed it,
/// and the CPU can then not queue the next step while the GPU runs this one). Each step
/// leaves `[loss, correct]` in float64 on the device; [`PendingStats::read`] brings all of
/// them over in one copy, and the host sums them in step order exactly as
/// [`Tally::add`] always has, so the reported numbers are bit for bit those of reading
/// every step. Non-finite losses come back as they are: the reader sees where a run
/// diverged.
#[derive(Debug, Default)]
pub struct PendingStats {
    steps: Vec<(Tensor, f64)>,
}

impl PendingStats {
    /// Records a batch's loss (as computed: reported losses are not multiplied) and its
    /// correct predictions, without reading either.
    /// `state_finite`: a 0-d flag on the device, whether the optimizer's state was finite
    /// as the step began (none: not checked).
    pub fn push(
        &mut self,
        loss: &Tensor,
        logits: &Tensor,
        labels: &Tensor,
        state_finite: Option<Tensor>,
    ) {
        let record = tch::no_grad(|| {
            let correct = logits.argmax(-1, false).eq_tensor(labels).sum(Kind::Double);
            let state = match state_finite {
                Some(flag) => flag.to_kind(Kind::Double),
                None => Tensor::ones([], (Kind::Double, correct.device())),
            };
            Tensor::stack(&[loss.detach().to_kind(Kind::Double), correct, state], 0)
        });
        self.steps.push((record, labels.size()[0] as f64));
    }

    pub fn len(&self) -> usize {
        self.steps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The recorded steps in order, read in one copy to the host; none are left pending.
    pub fn read(&mut self) -> Vec<StepStats> {
        if self.steps.is_empty() {
            return Vec::new();
        }
        let records: Vec<&Tensor> = self.steps.iter().map(|(r, _)| r).collect();
        let values = Tensor::stack(&records, 0).to_device(Device::Cpu);
        let values = Vec::<f64>::try_from(values.flatten(0, -1)).expect("f64 on the CPU");
        let stats = values
            .chunks(3)
            .zip(&self.steps)
            .map(|(v, &(_, seen))| StepStats {
                loss: v[0],
                correct: v[1],
                seen,
                state_finite: v[2] != 0.0,
            })
            .collect();
        self.steps.clear();
        stats
    }
}
