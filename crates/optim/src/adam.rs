//! [`Adam`]: the optimizer over flat parameter groups.
use crate::coefficients::StepCoefficients;
use crate::config::{validate_weight_decay, AdamConfig, Kernel};
use crate::error::{invalid, Result};
use crate::flat::{FlatGroup, ParamSlot};
use crate::group::ParamGroup;
use crate::kernel_cpu;
use crate::kernel_tensor;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

/// Adam with ℓ2, decoupled or proximal weight decay (see [`crate::DecayMode`]).
pub struct Adam {
    pub(crate) config: AdamConfig,
    pub(crate) lr: f64,
    pub(crate) step: u64,
    pub(crate) groups: Vec<FlatGroup>,
}

/// A read-only look at one parameter group's flat buffers, for statistics and logging.
pub struct GroupView<'a> {
    group: &'a FlatGroup,
}

impl GroupView<'_> {
    pub fn name(&self) -> &str {
        &self.group.name
    }
    pub fn weight_decay(&self) -> f64 {
        self.group.weight_decay
    }
    /// All parameter values of the group, concatenated (the parameters are views of it).
    pub fn values(&self) -> &Tensor {
        &self.group.values
    }
    /// All gradients of the group, concatenated, as of the last [`Adam::step`] or
    /// [`Adam::sync_buffers`].
    pub fn grads(&self) -> &Tensor {
        &self.group.grads
    }
    pub fn exp_avg(&self) -> &Tensor {
        &self.group.exp_avg
    }
    pub fn exp_avg_sq(&self) -> &Tensor {
        &self.group.exp_avg_sq
    }
    /// Where each parameter lies in the flat buffers.
    pub fn slots(&self) -> impl Iterator<Item = &ParamSlot> {
        self.group.slots()
    }
}

impl Adam {
    /// Builds the optimizer over the given groups. A group without its own `λ` uses the
    /// config's. The parameters are moved into flat buffers (they stay usable as before).
    pub fn new(config: AdamConfig, groups: Vec<ParamGroup>) -> Result<Self> {
        config.validate()?;
        if groups.is_empty() {
            return Err(invalid("groups", "[]", "at least one parameter group"));
        }
        let mut names = std::collections::HashSet::new();
        let mut flat = Vec::with_capacity(groups.len());
        for group in groups {
            if !names.insert(group.name.clone()) {
                return Err(invalid(
                    "groups",
                    format!("two groups named `{}`", group.name),
                    "distinct group names",
                ));
            }
            let weight_decay = group.weight_decay.unwrap_or(config.weight_decay);
            validate_weight_decay("weight_decay", weight_decay)?;
            flat.push(FlatGroup::new(group, weight_decay, config.amsgrad)?);
        }
        Ok(Adam {
            lr: config.lr,
            config,
            step: 0,
            groups: flat,
        })
    }

    /// One group with every trainable variable of `vs`.
    pub fn from_var_store(config: AdamConfig, vs: &VarStore) -> Result<Self> {
        Self::new(config, vec![ParamGroup::from_var_store("all", vs)])
    }

    /// Applies one update from the gradients currently held by the parameters.
    pub fn step(&mut self) -> Result<()> {
        self.sync_buffers()?;
        self.step += 1;
        for group in &mut self.groups {
            let coefficients =
                StepCoefficients::new(&self.config, group.weight_decay, self.lr, self.step);
            step_group(&coefficients, self.config.kernel, group);
        }
        Ok(())
    }

    /// Zeroes all gradients in place (one op per group).
    pub fn zero_grad(&mut self) {
        self.groups.iter_mut().for_each(FlatGroup::zero_grad);
    }

    /// Sets the current step size `η_t`; the decay follows as `λ·η_t/η_0`.
    pub fn set_lr(&mut self, lr: f64) -> Result<()> {
        if !(lr.is_finite() && lr >= 0.0) {
            return Err(invalid("lr", lr, "a finite number >= 0"));
        }
        self.lr = lr;
        Ok(())
    }

    /// The current step size `η_t`.
    pub fn lr(&self) -> f64 {
        self.lr
    }

    pub fn config(&self) -> &AdamConfig {
        &self.config
    }

    /// Number of steps taken so far (`t` of the last update).
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// Copies into the flat buffers any parameter or gradient that was replaced since
    /// the last step, so that [`GroupView::grads`] is current. [`Adam::step`] does this.
    pub fn sync_buffers(&mut self) -> Result<()> {
        self.groups.iter_mut().try_for_each(FlatGroup::sync)
    }

    pub fn groups(&self) -> impl Iterator<Item = GroupView<'_>> {
        self.groups.iter().map(|group| GroupView { group })
    }

    pub fn num_parameters(&self) -> i64 {
        self.groups.iter().map(|g| g.values.numel() as i64).sum()
    }
}

fn step_group(c: &StepCoefficients, kernel: Kernel, g: &mut FlatGroup) {
    let cpu_kernel = kernel == Kernel::Auto && g.device == Device::Cpu;
    match (cpu_kernel, g.kind) {
        (true, Kind::Float) => step_cpu::<f32>(c, g),
        (true, Kind::Double) => step_cpu::<f64>(c, g),
        _ => kernel_tensor::step(
            c,
            &mut g.values,
            &g.grads,
            &mut g.exp_avg,
            &mut g.exp_avg_sq,
            g.max_exp_avg_sq.as_mut(),
        ),
    }
}

fn step_cpu<T: num_traits::Float + Send + Sync>(c: &StepCoefficients, g: &mut FlatGroup) {
    let n = g.values.numel();
    // SAFETY: the flat buffers are contiguous CPU tensors of `n` elements of type T
    // (checked by kind above), allocated by this group and distinct from each other; the
    // parameter views alias `values`, but nothing reads them during the step, which
    // holds `&mut self`.
    unsafe {
        let slice = |t: &Tensor| std::slice::from_raw_parts_mut(t.data_ptr() as *mut T, n);
        kernel_cpu::step(
            c,
            slice(&g.values),
            slice(&g.grads),
            slice(&g.exp_avg),
            slice(&g.exp_avg_sq),
            g.max_exp_avg_sq.as_ref().map(slice),
        );
    }
}
