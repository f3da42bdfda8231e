//! Flat buffers: each parameter group's values and gradients live in one contiguous
//! tensor each, and the user's parameter tensors become views into them. The kernels
//! then touch a handful of large buffers instead of hundreds of small tensors.
//!
//! Linking works through `set_data`: a parameter's storage is swapped for a view into
//! the flat buffer, and so is its gradient's once autograd has created it (autograd then
//! accumulates in place). If anything replaces a parameter or gradient afterwards (a
//! `set_to_none`-style zero_grad, a reload that swaps storage), [`FlatGroup::sync`]
//! notices by pointer and copies it back in before the step: slower once, never wrong.
use crate::error::{OptimError, Result};
use crate::group::ParamGroup;
use tch::{Device, Kind, Tensor};

/// Where one parameter lives inside its group's flat buffers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamSlot {
    pub name: String,
    pub shape: Vec<i64>,
    pub offset: i64,
    pub numel: i64,
}

pub(crate) struct FlatParam {
    pub slot: ParamSlot,
    tensor: Tensor,
    value_view: Tensor,
    grad_view: Tensor,
}

pub(crate) struct FlatGroup {
    pub name: String,
    pub weight_decay: f64,
    pub kind: Kind,
    pub device: Device,
    pub params: Vec<FlatParam>,
    pub values: Tensor,
    pub grads: Tensor,
    pub exp_avg: Tensor,
    pub exp_avg_sq: Tensor,
    pub max_exp_avg_sq: Option<Tensor>,
}

fn bad_param(name: &str, problem: impl Into<String>) -> OptimError {
    OptimError::InvalidParameter {
        name: name.to_string(),
        problem: problem.into(),
    }
}

fn is_float(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Float | Kind::Double | Kind::Half | Kind::BFloat16
    )
}

impl FlatGroup {
    pub fn new(group: ParamGroup, weight_decay: f64, amsgrad: bool) -> Result<Self> {
        let Some((first_name, first)) = group.params.first() else {
            return Err(bad_param(&group.name, "the parameter group is empty"));
        };
        let (kind, device) = (first.kind(), first.device());
        let mut total = 0i64;
        let mut slots = Vec::with_capacity(group.params.len());
        let mut seen = std::collections::HashMap::new();
        for (name, tensor) in &group.params {
            if !tensor.requires_grad() {
                return Err(bad_param(
                    name,
                    "does not require grad; only trainable tensors can be optimised",
                ));
            }
            if !is_float(tensor.kind()) {
                return Err(bad_param(
                    name,
                    format!(
                        "has dtype {:?}; a floating-point dtype is needed",
                        tensor.kind()
                    ),
                ));
            }
            if tensor.kind() != kind || tensor.device() != device {
                return Err(bad_param(
                    name,
                    format!(
                        "is {:?} on {:?} but `{first_name}` of the same group is {kind:?} on {device:?}; \
                         a group needs one dtype and device",
                        tensor.kind(),
                        tensor.device()
                    ),
                ));
            }
            let numel = tensor.numel() as i64;
            if numel > 0 {
                if let Some(other) = seen.insert(tensor.data_ptr() as usize, name.clone()) {
                    return Err(bad_param(
                        name,
                        format!("shares its memory with `{other}`; pass each tensor once"),
                    ));
                }
            }
            slots.push(ParamSlot {
                name: name.clone(),
                shape: tensor.size(),
                offset: total,
                numel,
            });
            total += numel;
        }

        let zeros = || Tensor::zeros([total], (kind, device));
        let values = zeros();
        let grads = zeros();
        let mut params = Vec::with_capacity(slots.len());
        for ((_, mut tensor), slot) in group.params.into_iter().zip(slots) {
            let value_view = values
                .narrow(0, slot.offset, slot.numel)
                .view(slot.shape.as_slice());
            let grad_view = grads
                .narrow(0, slot.offset, slot.numel)
                .view(slot.shape.as_slice());
            tch::no_grad(|| value_view.shallow_clone().copy_(&tensor));
            tensor.set_data(&value_view);
            let mut param = FlatParam {
                slot,
                tensor,
                value_view,
                grad_view,
            };
            param.link_grad()?;
            params.push(param);
        }
        Ok(FlatGroup {
            name: group.name,
            weight_decay,
            kind,
            device,
            params,
            exp_avg: zeros(),
            exp_avg_sq: zeros(),
            max_exp_avg_sq: amsgrad.then(zeros),
            values,
            grads,
        })
    }

    /// Makes sure every parameter and gradient lives in the flat buffers, copying back
    /// in whatever was replaced since the last step. A parameter without a gradient
    /// counts as a zero gradient (as PyTorch does after `zero_grad(set_to_none=False)`).
    pub fn sync(&mut self) -> Result<()> {
        for param in &mut self.params {
            param.link_value()?;
            param.link_grad()?;
        }
        Ok(())
    }

    pub fn zero_grad(&mut self) {
        let _ = self.grads.zero_();
    }

    pub fn slots(&self) -> impl Iterator<Item = &ParamSlot> {
        self.params.iter().map(|p| &p.slot)
    }
}

impl FlatParam {
    fn check_same_layout(&self, what: &str, tensor: &Tensor) -> Result<()> {
        if tensor.size() != self.slot.shape
            || tensor.kind() != self.value_view.kind()
            || tensor.device() != self.value_view.device()
        {
            return Err(bad_param(
                &self.slot.name,
                format!(
                    "its {what} is now {:?} {:?} on {:?}, but the optimizer was built for {:?} {:?} on {:?}; \
                     build the optimizer after moving or converting the model",
                    tensor.size(),
                    tensor.kind(),
                    tensor.device(),
                    self.slot.shape,
                    self.value_view.kind(),
                    self.value_view.device()
                ),
            ));
        }
        Ok(())
    }

    fn link_value(&mut self) -> Result<()> {
        if self.slot.numel == 0 || self.tensor.data_ptr() == self.value_view.data_ptr() {
            return Ok(());
        }
        self.check_same_layout("value", &self.tensor)?;
        tch::no_grad(|| self.value_view.shallow_clone().copy_(&self.tensor));
        self.tensor.set_data(&self.value_view);
        Ok(())
    }

    fn link_grad(&mut self) -> Result<()> {
        let mut grad = self.tensor.grad();
        if !grad.defined() {
            let _ = self.grad_view.zero_();
            return Ok(());
        }
        if self.slot.numel == 0 || grad.data_ptr() == self.grad_view.data_ptr() {
            return Ok(());
        }
        self.check_same_layout("gradient", &grad)?;
        tch::no_grad(|| self.grad_view.shallow_clone().copy_(&grad));
        grad.set_data(&self.grad_view);
        Ok(())
    }
}
