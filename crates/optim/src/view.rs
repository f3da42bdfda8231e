//! [`GroupView`]: a read-only look at one parameter group's flat buffers.
use crate::flat::{FlatGroup, ParamSlot};
use tch::Tensor;

/// One parameter group's flat buffers, for statistics and logging. The parameters are
/// views of [`GroupView::values`] and their gradients of [`GroupView::grads`]; the
/// [`ParamSlot`]s say where each one lies.
pub struct GroupView<'a> {
    group: &'a FlatGroup,
    lr: f64,
}

impl<'a> GroupView<'a> {
    pub(crate) fn new(group: &'a FlatGroup, lr: f64) -> Self {
        GroupView { group, lr }
    }

    pub fn name(&self) -> &str {
        &self.group.name
    }

    /// `λ` of this group.
    pub fn weight_decay(&self) -> f64 {
        self.group.weight_decay
    }

    /// The step size `η_t` that the next step uses for this group.
    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// All parameter values of the group, concatenated.
    pub fn values(&self) -> &Tensor {
        &self.group.values
    }

    /// All gradients of the group, concatenated (zero where a parameter never had one).
    pub fn grads(&self) -> &Tensor {
        &self.group.grads
    }

    /// The first moments `m`.
    pub fn exp_avg(&self) -> &Tensor {
        &self.group.exp_avg
    }

    /// The second moments `v` (raw, before bias correction).
    pub fn exp_avg_sq(&self) -> &Tensor {
        &self.group.exp_avg_sq
    }

    /// The running maximum of `v`, with AMSGrad.
    pub fn max_exp_avg_sq(&self) -> Option<&Tensor> {
        self.group.max_exp_avg_sq.as_ref()
    }

    /// Where each parameter lies in the flat buffers.
    pub fn slots(&self) -> impl Iterator<Item = &ParamSlot> {
        self.group.slots()
    }

    /// Each parameter's own step count `t` (its bias corrections), in slot order.
    pub fn step_counts(&self) -> impl Iterator<Item = u64> + '_ {
        self.group.params.iter().map(|p| p.steps)
    }
}
