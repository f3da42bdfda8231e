//! [`Adam`]: the optimizer over flat parameter groups.
use crate::coefficients::StepCoefficients;
use crate::config::{validate_lr, validate_weight_decay, AdamConfig, Kernel};
use crate::error::{bad_param, invalid, OptimError, Result};
use crate::flat::{FlatGroup, Segment};
use crate::group::ParamGroup;
use crate::kernel_cpu;
use crate::kernel_tensor::{self, Buffers};
use crate::view::GroupView;
use crate::watch::StoreWatch;
use std::collections::HashMap;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

/// Adam with ℓ2, decoupled or proximal weight decay (see [`crate::DecayMode`]).
///
/// Parameters that do not require grad, or have no gradient (never differentiated), are
/// skipped by [`Adam::step`] as in `torch.optim`: their values, moments and own step
/// counts stay as they are. [`Adam::zero_grad`] zeroes gradients in place (tch's
/// semantics), so once a parameter has had a gradient it takes part in every step.
pub struct Adam {
    pub(crate) config: AdamConfig,
    /// Steps taken: the clock of the owned schedule.
    pub(crate) step: u64,
    pub(crate) groups: Vec<FlatGroup>,
    stores: StoreWatch,
    /// Data pointer of each parameter with elements → (group, parameter) names.
    managed: HashMap<usize, (String, String)>,
}

impl Adam {
    /// Builds the optimizer over the given groups. A group without its own `λ` or step
    /// size uses the config's. The parameters are moved into flat buffers (they stay
    /// usable as before).
    pub fn new(config: AdamConfig, groups: Vec<ParamGroup>) -> Result<Self> {
        config.validate()?;
        if groups.is_empty() {
            return Err(invalid("groups", "[]", "at least one parameter group"));
        }
        let mut adam = Adam {
            config,
            step: 0,
            groups: Vec::with_capacity(groups.len()),
            stores: StoreWatch::default(),
            managed: HashMap::new(),
        };
        for group in groups {
            adam.add_param_group(group)?;
        }
        Ok(adam)
    }

    /// One group, `all`, with every trainable variable of `vs` (frozen ones included:
    /// they are skipped while frozen). A variable created in `vs` later and left
    /// trainable is an error at the next step; see [`Adam::add_param_group`].
    pub fn from_var_store(config: AdamConfig, vs: &VarStore) -> Result<Self> {
        Self::new(config, vec![ParamGroup::from_var_store("all", vs)])
    }

    /// Adds a group, for example for variables created after the optimizer. Its
    /// parameters start with zero moments and their own step count at 0.
    pub fn add_param_group(&mut self, group: ParamGroup) -> Result<()> {
        if self.groups.iter().any(|g| g.name == group.name) {
            return Err(invalid(
                "groups",
                format!("two groups named `{}`", group.name),
                "distinct group names",
            ));
        }
        let weight_decay = group.weight_decay.unwrap_or(self.config.weight_decay);
        validate_weight_decay(weight_decay)?;
        let lr = group.lr.unwrap_or(self.config.lr);
        validate_lr(lr)?;
        let mut seen: HashMap<usize, &str> = HashMap::new();
        for (name, tensor) in &group.params {
            if tensor.numel() == 0 {
                continue;
            }
            let ptr = tensor.data_ptr() as usize;
            if let Some((other_group, other)) = self.managed.get(&ptr) {
                return Err(bad_param(
                    name,
                    format!(
                        "is the same tensor as `{other}` of group `{other_group}`; a tensor can \
                         be in one parameter group only"
                    ),
                ));
            }
            if let Some(other) = seen.insert(ptr, name) {
                return Err(bad_param(
                    name,
                    format!(
                        "is the same tensor as `{other}` of this group (`{}`); pass each tensor once",
                        group.name
                    ),
                ));
            }
        }
        let flat = FlatGroup::new(
            group.name,
            group.params,
            weight_decay,
            lr,
            self.config.amsgrad,
        )?;
        self.stores.add(&group.stores);
        self.groups.push(flat);
        self.reindex();
        Ok(())
    }

    /// Records where the parameters live, after they were linked or moved.
    pub(crate) fn reindex(&mut self) {
        self.managed = self
            .groups
            .iter()
            .flat_map(|g| {
                g.data_ptrs()
                    .zip(g.slots().filter(|s| s.numel > 0))
                    .map(|(ptr, slot)| (ptr, (g.name.clone(), slot.name.clone())))
            })
            .collect();
        self.stores.rescan();
    }

    /// Links every parameter and gradient into the flat buffers; for each group, which
    /// parameters take part in the next step.
    pub(crate) fn prepare(&mut self) -> Result<Vec<Vec<bool>>> {
        let takes_part = self
            .groups
            .iter()
            .map(FlatGroup::prepare)
            .collect::<Result<Vec<_>>>()?;
        self.stores.check(&self.managed)?;
        Ok(takes_part)
    }

    /// Applies one update from the gradients currently held by the parameters.
    pub fn step(&mut self) -> Result<()> {
        let takes_part = self.prepare()?;
        for (group, takes_part) in self.groups.iter_mut().zip(&takes_part) {
            let lr = scheduled_lr(&self.config, group.lr, self.step);
            let segments = group.advance(takes_part);
            step_group(&self.config, lr, group, &segments);
        }
        self.step += 1;
        Ok(())
    }

    /// `zero_grad`, `loss.backward()`, `step`, as tch's `Optimizer::backward_step`.
    pub fn backward_step(&mut self, loss: &Tensor) -> Result<()> {
        self.zero_grad();
        loss.backward();
        self.step()
    }

    /// As [`Adam::backward_step`], with the gradients clamped to `[-max_value, max_value]`
    /// before the step.
    pub fn backward_step_clip(&mut self, loss: &Tensor, max_value: f64) -> Result<()> {
        self.zero_grad();
        loss.backward();
        self.clip_grad_value(max_value)?;
        self.step()
    }

    /// As [`Adam::backward_step`], with the gradients clipped to a global ℓ2 norm of at
    /// most `max_norm` before the step; returns the norm before clipping.
    pub fn backward_step_clip_norm(&mut self, loss: &Tensor, max_norm: f64) -> Result<f64> {
        self.zero_grad();
        loss.backward();
        let norm = self.clip_grad_norm(max_norm)?;
        self.step()?;
        Ok(norm)
    }

    /// Zeroes all gradients in place (one op per group, plus any gradient that autograd
    /// created since the last step).
    pub fn zero_grad(&mut self) {
        self.groups.iter().for_each(FlatGroup::zero_grad);
    }

    /// Sets the step size of every group. Without an owned schedule this is `η_t` for the
    /// next steps; with one, it is what the schedule scales (`η_0` of these groups). The
    /// decay follows as `λ·η_t/η_0`, with `η_0` the config's `lr`.
    pub fn set_lr(&mut self, lr: f64) -> Result<()> {
        validate_lr(lr)?;
        self.groups.iter_mut().for_each(|g| g.lr = lr);
        Ok(())
    }

    /// [`Adam::set_lr`] for one group.
    pub fn set_group_lr(&mut self, group: &str, lr: f64) -> Result<()> {
        validate_lr(lr)?;
        self.group_mut(group)?.lr = lr;
        Ok(())
    }

    /// Sets `λ` of every group.
    pub fn set_weight_decay(&mut self, weight_decay: f64) -> Result<()> {
        validate_weight_decay(weight_decay)?;
        self.groups
            .iter_mut()
            .for_each(|g| g.weight_decay = weight_decay);
        Ok(())
    }

    /// Sets `λ` of one group.
    pub fn set_group_weight_decay(&mut self, group: &str, weight_decay: f64) -> Result<()> {
        validate_weight_decay(weight_decay)?;
        self.group_mut(group)?.weight_decay = weight_decay;
        Ok(())
    }

    fn group_mut(&mut self, name: &str) -> Result<&mut FlatGroup> {
        let known: Vec<String> = self.groups.iter().map(|g| g.name.clone()).collect();
        self.groups
            .iter_mut()
            .find(|g| g.name == name)
            .ok_or_else(|| OptimError::UnknownGroup {
                name: name.to_string(),
                known,
            })
    }

    /// The step size `η_t` that the next step uses for the first group (the owned
    /// schedule applied); [`GroupView::lr`] gives it for each group.
    pub fn lr(&self) -> f64 {
        scheduled_lr(&self.config, self.groups[0].lr, self.step)
    }

    pub fn config(&self) -> &AdamConfig {
        &self.config
    }

    /// Number of steps taken so far (the owned schedule's clock). A parameter that was
    /// skipped by some steps has a smaller count of its own for its bias corrections.
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// Copies into the flat buffers any parameter or gradient that was replaced or
    /// created since the last step. [`Adam::step`] does this; call it to read or change
    /// the gradients in the flat buffers before the step.
    pub fn sync_buffers(&mut self) -> Result<()> {
        self.prepare().map(drop)
    }

    /// A look at each group's flat buffers. Gradients created since the last step are
    /// linked in first, so [`GroupView::grads`] is current.
    pub fn groups(&self) -> impl Iterator<Item = GroupView<'_>> {
        self.groups.iter().map(|group| {
            group.link_what_fits();
            GroupView::new(group, scheduled_lr(&self.config, group.lr, self.step))
        })
    }

    pub fn num_parameters(&self) -> i64 {
        self.groups.iter().map(FlatGroup::numel).sum()
    }

    /// Moves the moments, the flat buffers and the parameters with their gradients to
    /// `device`, keeping the optimizer's state. Call it with the model's move
    /// (`vs.set_device(device)`), before or after it.
    pub fn set_device(&mut self, device: Device) {
        for group in &mut self.groups {
            let kind = group.kind;
            group.migrate(device, kind);
        }
        self.reindex();
    }

    /// Converts the moments, the flat buffers and the parameters with their gradients to
    /// `kind`, keeping the optimizer's state. Call it with the model's conversion
    /// (`vs.double()`, `vs.set_kind(kind)`, …), before or after it.
    pub fn set_kind(&mut self, kind: Kind) -> Result<()> {
        if !matches!(
            kind,
            Kind::Float | Kind::Double | Kind::Half | Kind::BFloat16
        ) {
            return Err(invalid(
                "kind",
                format!("{kind:?}"),
                "a floating-point kind: Float, Double, Half or BFloat16",
            ));
        }
        for group in &mut self.groups {
            let device = group.device;
            group.migrate(device, kind);
        }
        self.reindex();
        Ok(())
    }
}

/// `η_t` of a group whose step size is `lr`, after `steps_done` steps.
fn scheduled_lr(config: &AdamConfig, lr: f64, steps_done: u64) -> f64 {
    match &config.schedule {
        // Validated when the optimizer was built.
        Some(schedule) => schedule.lr_at(lr, steps_done),
        None => lr,
    }
}

fn step_group(config: &AdamConfig, lr: f64, group: &mut FlatGroup, segments: &[Segment]) {
    if segments.is_empty() {
        return;
    }
    let coefficients: Vec<_> = segments
        .iter()
        .map(|s| {
            let c = StepCoefficients::new(config, group.weight_decay, lr, s.steps);
            (s.range.clone(), c)
        })
        .collect();
    let cpu_kernel = config.kernel == Kernel::Auto && group.device == Device::Cpu;
    match (cpu_kernel, group.kind) {
        (true, Kind::Float) => step_cpu::<f32>(&coefficients, group),
        (true, Kind::Double) => step_cpu::<f64>(&coefficients, group),
        _ => {
            let whole = group.numel();
            for (range, c) in &coefficients {
                let part = |t: &Tensor| {
                    if range.start == 0 && range.end == whole {
                        t.shallow_clone()
                    } else {
                        t.narrow(0, range.start, range.end - range.start)
                    }
                };
                let vmax = group.max_exp_avg_sq.as_ref().map(part);
                kernel_tensor::step(
                    c,
                    Buffers {
                        params: &part(&group.values),
                        grads: &part(&group.grads),
                        exp_avg: &part(&group.exp_avg),
                        exp_avg_sq: &part(&group.exp_avg_sq),
                        max_exp_avg_sq: vmax.as_ref(),
                    },
                );
            }
        }
    }
}

fn step_cpu<T: num_traits::Float + Send + Sync>(
    coefficients: &[(std::ops::Range<i64>, StepCoefficients)],
    g: &mut FlatGroup,
) {
    let n = g.values.numel();
    if n == 0 {
        return;
    }
    let segments: Vec<_> = coefficients
        .iter()
        .map(|(range, c)| (range.start as usize..range.end as usize, *c))
        .collect();
    // SAFETY: the flat buffers are contiguous CPU tensors of `n > 0` elements of type T
    // (checked by kind above), allocated by this group and distinct from each other; the
    // parameter views alias `values`, but nothing reads them during the step, which
    // holds `&mut self` of an optimizer that cannot be shared between threads.
    unsafe {
        let slice = |t: &Tensor| std::slice::from_raw_parts_mut(t.data_ptr() as *mut T, n);
        kernel_cpu::step(
            &segments,
            slice(&g.values),
            slice(&g.grads),
            slice(&g.exp_avg),
            slice(&g.exp_avg_sq),
            g.max_exp_avg_sq.as_ref().map(slice),
        );
    }
}
