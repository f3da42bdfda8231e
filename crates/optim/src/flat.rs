//! Flat buffers: each parameter group's values and gradients live in one contiguous
//! tensor each, and the user's parameter tensors become views into them. The kernels
//! then touch a handful of large buffers instead of hundreds of small tensors.
//!
//! Linking works through `set_data`: a parameter's storage is swapped for a view into
//! the flat buffer, and so is its gradient's once autograd has created it (autograd then
//! accumulates in place). If anything replaces a parameter or gradient afterwards (a
//! reload that swaps storage, a gradient created fresh), linking notices by pointer and
//! copies it back in before it is used: slower once, never wrong. A parameter handle
//! shares its `TensorImpl` with the user's tensor, so `set_data` through any handle
//! (also from `&self`) relinks the user's tensor.
//!
//! A parameter takes part in a step when it requires grad and has a gradient, as in
//! `torch.optim`; the others are left bit for bit as they are, moments and own step
//! count included.
use crate::error::{bad_param, OptimError, Result};
use crate::master::{self, state_kind};
use crate::rule::UpdateRule;
use std::ops::Range;
use tch::{Device, Kind, Tensor};

/// Where one parameter lives inside its group's flat buffers ([`crate::GroupView::slots`]).
///
/// ```
/// use adamw_prox::AdamConfig;
/// # let vs = tch::nn::VarStore::new(tch::Device::Cpu);
/// let _fc = tch::nn::linear(vs.root() / "fc", 4, 2, Default::default());
/// let opt = AdamConfig::adamw(1e-3, 0.0).build(&vs)?;
/// let group = opt.group("all")?;
/// let slots: Vec<_> = group.slots().collect();
/// assert_eq!(slots[0].name(), "fc.bias"); // by name
/// assert_eq!((slots[0].offset(), slots[0].numel(), slots[0].shape()), (0, 2, &[2][..]));
/// assert_eq!((slots[1].offset(), slots[1].numel(), slots[1].shape()), (2, 8, &[2, 4][..]));
/// // The parameter's elements in the flat buffers:
/// let weight = group.values().narrow(0, slots[1].offset(), slots[1].numel());
/// assert_eq!(weight.size(), [8]);
/// # Ok::<(), adamw_prox::OptimError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamSlot {
    pub(crate) name: String,
    pub(crate) shape: Vec<i64>,
    pub(crate) offset: i64,
    pub(crate) numel: i64,
}

impl ParamSlot {
    /// The parameter's name (its `VarStore` path, or the name it was given).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The parameter's shape.
    pub fn shape(&self) -> &[i64] {
        &self.shape
    }

    /// Where its first element is in the group's flat buffers.
    pub fn offset(&self) -> i64 {
        self.offset
    }

    /// Its number of elements.
    pub fn numel(&self) -> i64 {
        self.numel
    }
}

pub(crate) struct FlatParam {
    pub slot: ParamSlot,
    /// This parameter's own `t` for the bias corrections: steps that skip it do not count.
    pub steps: u64,
    tensor: Tensor,
    value_view: Tensor,
    grad_view: Tensor,
}

pub(crate) struct FlatGroup {
    pub name: String,
    pub weight_decay: f64,
    /// The group's step size before any owned schedule scales it.
    pub lr: f64,
    pub kind: Kind,
    pub device: Device,
    pub params: Vec<FlatParam>,
    pub values: Tensor,
    pub grads: Tensor,
    /// The group's rule: the optimizer's, with the group's own settings.
    pub rule: Box<dyn UpdateRule>,
    /// The rule's state buffers, named by `rule.state_names()`: float32 for a Half or
    /// BFloat16 group ([`crate::master`]), else of the group's dtype.
    pub state: Vec<Tensor>,
    /// The float32 master weights of a Half or BFloat16 group ([`crate::master`]).
    pub master: Option<Tensor>,
}

/// A run of adjacent parameters that take part in a step and share their step count.
pub(crate) struct Segment {
    pub range: Range<i64>,
    pub steps: u64,
}

fn is_float(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Float | Kind::Double | Kind::Half | Kind::BFloat16
    )
}

pub(crate) fn check_float(name: &str, kind: Kind) -> Result<()> {
    if is_float(kind) {
        Ok(())
    } else {
        Err(bad_param(
            name,
            format!("has dtype {kind:?}; a floating-point dtype (Float, Double, Half, BFloat16) is needed"),
        ))
    }
}

/// The first line of libtorch's message (the rest is its C++ backtrace).
fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or(message).trim().to_string()
}

fn view(buffer: &Tensor, slot: &ParamSlot) -> Tensor {
    buffer
        .narrow(0, slot.offset, slot.numel)
        .view(slot.shape.as_slice())
}

impl FlatGroup {
    pub fn new(
        name: String,
        params: Vec<(String, Tensor)>,
        weight_decay: f64,
        lr: f64,
        rule: Box<dyn UpdateRule>,
    ) -> Result<Self> {
        let Some((first_name, first)) = params.first() else {
            return Err(bad_param(&name, "the parameter group is empty"));
        };
        let (kind, device) = (first.kind(), first.device());
        let mut total = 0i64;
        let mut slots = Vec::with_capacity(params.len());
        for (param, tensor) in &params {
            check_float(param, tensor.kind())?;
            if tensor.kind() != kind || tensor.device() != device {
                return Err(bad_param(
                    param,
                    format!(
                        "is {:?} on {:?} but `{first_name}` of the same group is {kind:?} on {device:?}; \
                         a group needs one dtype and device",
                        tensor.kind(),
                        tensor.device()
                    ),
                ));
            }
            if !tensor.is_leaf() {
                return Err(bad_param(
                    param,
                    "is not a leaf tensor (it is computed from others); optimise the tensors it \
                     is computed from, or `detach()` it and set requires_grad",
                ));
            }
            let numel = tensor.numel() as i64;
            slots.push(ParamSlot {
                name: param.clone(),
                shape: tensor.size(),
                offset: total,
                numel,
            });
            total += numel;
        }
        // tch's `Tensor::zeros` panics when libtorch cannot allocate; `f_zeros` says so.
        let state_kind = state_kind(kind);
        let low = master::is_low_precision(kind);
        let names = rule.state_names();
        let per_element = 2 * kind.elt_size_in_bytes()
            + (names.len() + usize::from(low)) * state_kind.elt_size_in_bytes();
        let group_name = name.clone();
        let allocation = |e: tch::TchError| OptimError::Allocation {
            group: group_name.clone(),
            bytes: total as u64 * per_element as u64,
            device: format!("{device:?}"),
            reason: first_line(&e.to_string()),
        };
        let zeros = |kind: Kind| Tensor::f_zeros([total], (kind, device)).map_err(allocation);
        let (values, grads) = (zeros(kind)?, zeros(kind)?);
        let state = names
            .iter()
            .map(|name| {
                let start = zeros(state_kind)?;
                let initial = rule.initial_state(name);
                if initial != 0.0 {
                    let _ = start.shallow_clone().fill_(initial);
                }
                Ok(start)
            })
            .collect::<Result<Vec<_>>>()?;
        let mut group = FlatGroup {
            name,
            weight_decay,
            lr,
            kind,
            device,
            params: Vec::with_capacity(slots.len()),
            values,
            grads,
            rule,
            state,
            master: None,
        };
        for ((_, tensor), slot) in params.into_iter().zip(slots) {
            let param = FlatParam {
                value_view: view(&group.values, &slot),
                grad_view: view(&group.grads, &slot),
                slot,
                steps: 0,
                tensor,
            };
            param.move_value_in();
            param.link_grad()?;
            group.params.push(param);
        }
        if master::is_low_precision(kind) {
            group.master = Some(group.values.f_to_kind(Kind::Float).map_err(allocation)?);
        }
        Ok(group)
    }

    /// Links every parameter and gradient into the flat buffers and says which
    /// parameters take part in the next step: those that require grad and have one.
    /// Changes nothing that the step would not (no buffer is reallocated).
    pub fn prepare(&self) -> Result<Vec<bool>> {
        self.params
            .iter()
            .map(|p| {
                p.link_value()?;
                let has_grad = p.link_grad()?;
                Ok(has_grad && p.tensor.requires_grad())
            })
            .collect()
    }

    /// [`FlatGroup::prepare`] without the errors: what can be linked is, the rest stays
    /// stale until a step reports it. For read-only views of the buffers.
    pub fn link_what_fits(&self) {
        for p in &self.params {
            let _ = p.link_value();
            let _ = p.link_grad();
        }
    }

    /// Zeroes every gradient, including fresh ones not linked yet (which the next link
    /// would otherwise copy in, stale, over the zeros).
    pub fn zero_grad(&self) {
        for p in &self.params {
            let mut grad = p.tensor.grad();
            if grad.defined() && p.slot.numel > 0 && grad.data_ptr() != p.grad_view.data_ptr() {
                let _ = grad.zero_();
            }
        }
        let _ = self.grads.shallow_clone().zero_();
    }

    /// Advances the step count of the parameters that take part and returns them as
    /// segments: adjacent ones with the same count share a segment when `merge`.
    pub fn advance(&mut self, takes_part: &[bool], merge: bool) -> Vec<Segment> {
        let mut segments: Vec<Segment> = Vec::new();
        for (p, &active) in self.params.iter_mut().zip(takes_part) {
            if !active {
                continue;
            }
            p.steps += 1;
            let range = p.slot.offset..p.slot.offset + p.slot.numel;
            match segments.last_mut() {
                Some(last) if merge && last.range.end == range.start && last.steps == p.steps => {
                    last.range.end = range.end;
                }
                _ => segments.push(Segment {
                    range,
                    steps: p.steps,
                }),
            }
        }
        segments
    }

    /// The element ranges of the parameters that take part, adjacent ones merged.
    pub fn active_ranges(&self, takes_part: &[bool]) -> Vec<Range<i64>> {
        let mut ranges: Vec<Range<i64>> = Vec::new();
        for (p, _) in self.params.iter().zip(takes_part).filter(|(_, &a)| a) {
            let range = p.slot.offset..p.slot.offset + p.slot.numel;
            match ranges.last_mut() {
                Some(last) if last.end == range.start => last.end = range.end,
                _ => ranges.push(range),
            }
        }
        ranges
    }

    /// The state buffer called `name`, if the rule keeps one.
    pub fn state_named(&self, name: &str) -> Option<&Tensor> {
        let index = self.rule.state_names().iter().position(|n| *n == name)?;
        self.state.get(index)
    }

    pub fn numel(&self) -> i64 {
        self.values.numel() as i64
    }

    pub fn slots(&self) -> impl Iterator<Item = &ParamSlot> {
        self.params.iter().map(|p| &p.slot)
    }

    /// The data pointers of the parameters with elements: what identifies them.
    pub fn data_ptrs(&self) -> impl Iterator<Item = usize> + '_ {
        self.params
            .iter()
            .filter(|p| p.slot.numel > 0)
            .map(|p| p.value_view.data_ptr() as usize)
    }

    /// Moves the buffers, the moments and the parameters (and their gradients) to
    /// `device` and `kind`. The values are taken from the parameters wherever they are
    /// now, so it does not matter whether the model was moved first; where a parameter
    /// still holds its float32 (or master) value rounded, the exact value is kept: a
    /// conversion to half precision and back gives the float32 weights bit for bit.
    pub fn migrate(&mut self, device: Device, kind: Kind) {
        let convert = |t: &Tensor| t.to_device(device).to_kind(state_kind(kind));
        let total = self.numel();
        let values = Tensor::zeros([total], (kind, device));
        let grads = Tensor::zeros([total], (kind, device));
        let state: Vec<Tensor> = self.state.iter().map(convert).collect();
        for p in &mut self.params {
            p.value_view = view(&values, &p.slot);
            p.grad_view = view(&grads, &p.slot);
            p.move_value_in();
            let mut grad = p.tensor.grad();
            if grad.defined() && p.slot.numel > 0 {
                tch::no_grad(|| p.grad_view.shallow_clone().copy_(&grad));
                grad.set_data(&p.grad_view);
            }
        }
        // The most exact value known of each coordinate, and the dtype it was rounded to
        // for the parameters: the master weights, or the float32 values that a
        // conversion to half precision rounds.
        let exact = match &self.master {
            Some(master) => Some((master.to_device(device), self.kind)),
            None if master::is_low_precision(kind) => Some((self.values.to_device(device), kind)),
            None => None,
        };
        let refined = exact.map(|(exact, rounding)| {
            let refined = master::refine(&exact, rounding, &values);
            tch::no_grad(|| values.shallow_clone().copy_(&refined));
            refined
        });
        self.master = refined.filter(|_| master::is_low_precision(kind));
        self.values = values;
        self.grads = grads;
        self.state = state;
        self.device = device;
        self.kind = kind;
    }
}

impl FlatParam {
    /// Copies the parameter's value into its view (converting dtype and device) and makes
    /// the parameter that view.
    fn move_value_in(&self) {
        if self.slot.numel == 0 {
            return;
        }
        tch::no_grad(|| self.value_view.shallow_clone().copy_(&self.tensor));
        self.tensor.shallow_clone().set_data(&self.value_view);
    }

    fn check_same_layout(&self, what: &str, tensor: &Tensor) -> Result<()> {
        let (kind, device) = (self.value_view.kind(), self.value_view.device());
        if tensor.size() != self.slot.shape {
            return Err(bad_param(
                &self.slot.name,
                format!(
                    "its {what} now has shape {:?}, but the optimizer was built for {:?}; \
                     build a new optimizer for a model of another shape",
                    tensor.size(),
                    self.slot.shape
                ),
            ));
        }
        if tensor.kind() != kind || tensor.device() != device {
            return Err(bad_param(
                &self.slot.name,
                format!(
                    "its {what} is now {:?} on {:?}, but the optimizer's buffers are {kind:?} on \
                     {device:?}; after moving or converting the model, call \
                     `Adam::set_device({:?})` or `Adam::set_kind({:?})`, which move the moments too",
                    tensor.kind(),
                    tensor.device(),
                    tensor.device(),
                    tensor.kind()
                ),
            ));
        }
        Ok(())
    }

    fn link_value(&self) -> Result<()> {
        if self.slot.numel == 0 || self.tensor.data_ptr() == self.value_view.data_ptr() {
            return Ok(());
        }
        self.check_same_layout("value", &self.tensor)?;
        self.move_value_in();
        Ok(())
    }

    /// Links the gradient if there is one; returns whether there is.
    fn link_grad(&self) -> Result<bool> {
        let mut grad = self.tensor.grad();
        if !grad.defined() {
            return Ok(false);
        }
        if self.slot.numel == 0 || grad.data_ptr() == self.grad_view.data_ptr() {
            return Ok(true);
        }
        self.check_same_layout("gradient", &grad)?;
        tch::no_grad(|| self.grad_view.shallow_clone().copy_(&grad));
        grad.set_data(&self.grad_view);
        Ok(true)
    }
}
