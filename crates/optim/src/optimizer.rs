//! [`Optimizer`]: any update rule over flat parameter groups.
use crate::config::{validate_lr, validate_weight_decay, Kernel};
use crate::error::{bad_param, invalid, OptimError, Result};
use crate::flat::{FlatGroup, Segment};
use crate::group::ParamGroup;
use crate::master;
use crate::optim_config::{torch_units, OptimConfig};
use crate::rule::StepInfo;
use crate::traverse::{self, Run};
use crate::view::GroupView;
use crate::watch::StoreWatch;
use std::collections::HashMap;
use tch::{Device, Kind, Tensor};

/// An optimizer: an update rule with a placement of the weight decay (Adam-ℓ2, AdamW,
/// AdamProx, SGD, Lion, …; see [`crate::rules`]) over flat parameter groups. [`Adam`] is
/// another name for it.
///
/// Built from an [`crate::AdamConfig`] or an [`OptimConfig`]: `build` over a `VarStore`,
/// or `build_groups` over [`ParamGroup`]s. Then, as with tch's `nn::Optimizer`,
/// [`Adam::backward_step`] (or [`Adam::zero_grad`], `backward`, [`Adam::step`]) once per
/// batch.
///
/// Parameters that do not require grad, or have no gradient (never differentiated), are
/// skipped by [`Adam::step`] as in `torch.optim`: their values, moments and own step
/// counts stay as they are. [`Adam::zero_grad`] zeroes gradients in place (tch's
/// semantics), so once a parameter has had a gradient it takes part in every step.
///
/// ```
/// use adamw_prox::AdamConfig;
/// use tch::{nn, nn::Module, Device, Kind, Tensor};
///
/// let vs = nn::VarStore::new(Device::Cpu);
/// let net = nn::linear(vs.root() / "fc", 3, 1, Default::default());
/// let mut opt = AdamConfig::torch_adamw(1e-2, 0.01).build(&vs)?;
/// let x = Tensor::randn([32, 3], (Kind::Float, Device::Cpu));
/// let y = x.sum_dim_intlist(1, true, Kind::Float);
/// for _ in 0..10 {
///     let loss = net.forward(&x).mse_loss(&y, tch::Reduction::Mean);
///     opt.backward_step(&loss)?;
/// }
/// assert_eq!(opt.step_count(), 10);
/// # Ok::<(), adamw_prox::OptimError>(())
/// ```
pub struct Optimizer {
    pub(crate) config: OptimConfig,
    /// Steps taken: the clock of the owned schedule.
    pub(crate) step: u64,
    pub(crate) groups: Vec<FlatGroup>,
    stores: StoreWatch,
    /// Data pointer of each parameter with elements → (group, parameter) names.
    managed: HashMap<usize, (String, String)>,
}

/// The optimizer of Adam-ℓ2, AdamW and AdamProx: the same type as every other rule's.
pub type Adam = Optimizer;

impl Optimizer {
    /// Builds the optimizer over the given groups ([`OptimConfig::build_groups`]). A group
    /// without its own `λ` or step size uses the config's. The parameters are moved into
    /// flat buffers (they stay usable as before).
    pub(crate) fn new(config: OptimConfig, groups: Vec<ParamGroup>) -> Result<Self> {
        config.validate()?;
        if groups.is_empty() {
            return Err(invalid("groups", "[]", "at least one parameter group"));
        }
        let mut adam = Optimizer {
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

    /// Adds a group, for example for variables created after the optimizer. Its
    /// parameters start with zero moments and their own step count at 0. Its name must
    /// differ from the other groups', and its tensors must be in no other group.
    ///
    /// ```
    /// use adamw_prox::{AdamConfig, ParamGroup};
    /// use tch::{nn, Device};
    /// let vs = nn::VarStore::new(Device::Cpu);
    /// let _body = nn::linear(vs.root() / "body", 4, 4, Default::default());
    /// let mut opt = AdamConfig::adamw(1e-3, 1e-5).build(&vs)?;
    /// // A head created after the optimizer, with its own step size.
    /// let head = vs.root().sub("head").zeros("weight", &[2, 4]);
    /// opt.add_param_group(ParamGroup::new("head").with_param("head.weight", head).with_lr(1e-2))?;
    /// assert_eq!(opt.group("head")?.lr(), 1e-2);
    /// # Ok::<(), adamw_prox::OptimError>(())
    /// ```
    pub fn add_param_group(&mut self, group: ParamGroup) -> Result<()> {
        if self.groups.iter().any(|g| g.name == group.name) {
            return Err(invalid(
                "groups",
                format!("two groups named `{}`", group.name),
                "distinct group names",
            ));
        }
        let weight_decay = match (group.weight_decay, group.torch_weight_decay) {
            (_, Some(wd)) => wd * torch_units(self.config.placement, self.config.lr),
            (Some(lambda), None) => lambda,
            (None, None) => self.config.weight_decay,
        };
        validate_weight_decay(weight_decay)?;
        let lr = group.lr.unwrap_or(self.config.lr);
        validate_lr(lr)?;
        let mut rule = self.config.rule.clone();
        for (key, value) in &group.settings {
            rule.set(key, *value).map_err(|e| {
                bad_param(
                    &group.name,
                    format!("(a parameter group) has a bad setting: {e}"),
                )
            })?;
        }
        rule.check().map_err(|e| {
            bad_param(
                &group.name,
                format!("(a parameter group) has a bad setting: {e}"),
            )
        })?;
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
        let flat = FlatGroup::new(group.name, group.params, weight_decay, lr, rule)?;
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

    /// Applies one update from the gradients currently held by the parameters, with each
    /// group's `η_t` (its step size times the schedule's factor) and `λ`.
    ///
    /// Fails, changing nothing, if a parameter changed shape, dtype or device behind the
    /// optimizer's back, or if a `VarStore` it was built from has a trainable variable
    /// that no group holds.
    ///
    /// ```
    /// use adamw_prox::AdamConfig;
    /// use tch::{nn, Device, Kind};
    /// let vs = nn::VarStore::new(Device::Cpu);
    /// let w = vs.root().ones("w", &[3]);
    /// let mut opt = AdamConfig::adam_l2(0.1, 0.0).build(&vs)?;
    /// opt.zero_grad();
    /// w.sum(Kind::Float).backward();
    /// opt.step()?; // the first Adam step moves every coordinate by η: 1 − 0.1
    /// assert!((w.double_value(&[0]) - 0.9).abs() < 1e-6);
    /// # Ok::<(), adamw_prox::OptimError>(())
    /// ```
    pub fn step(&mut self) -> Result<()> {
        let takes_part = self.prepare()?;
        for (group, takes_part) in self.groups.iter_mut().zip(&takes_part) {
            let lr = scheduled_lr(&self.config, group.lr, self.step);
            let merge = !group.rule.per_tensor(self.config.placement);
            let segments = group.advance(takes_part, merge);
            step_group(&self.config, lr, group, &segments);
        }
        self.step += 1;
        Ok(())
    }

    /// `zero_grad`, `loss.backward()`, `step`, as tch's `Optimizer::backward_step`.
    ///
    /// ```
    /// use adamw_prox::AdamConfig;
    /// use tch::{nn, Device, Kind};
    /// let vs = nn::VarStore::new(Device::Cpu);
    /// let w = vs.root().ones("w", &[3]);
    /// let mut opt = AdamConfig::adamw(1e-2, 0.0).build(&vs)?;
    /// opt.backward_step(&w.square().sum(Kind::Float))?;
    /// assert!(w.double_value(&[0]) < 1.0);
    /// # Ok::<(), adamw_prox::OptimError>(())
    /// ```
    pub fn backward_step(&mut self, loss: &Tensor) -> Result<()> {
        self.zero_grad();
        loss.backward();
        self.step()
    }

    /// As [`Adam::backward_step`], with the gradients clamped to `[-max_value, max_value]`
    /// before the step (tch's `backward_step_clip`).
    ///
    /// ```
    /// use adamw_prox::AdamConfig;
    /// use tch::{nn, Device, Kind};
    /// let vs = nn::VarStore::new(Device::Cpu);
    /// let w = vs.root().ones("w", &[3]);
    /// let mut opt = AdamConfig::adamw(1e-2, 0.0).build(&vs)?;
    /// opt.backward_step_clip(&(w.sum(Kind::Float) * 1e6), 1.0)?;
    /// assert!(opt.group("all")?.grads().max().double_value(&[]) <= 1.0);
    /// # Ok::<(), adamw_prox::OptimError>(())
    /// ```
    pub fn backward_step_clip(&mut self, loss: &Tensor, max_value: f64) -> Result<()> {
        self.zero_grad();
        loss.backward();
        self.clip_grad_value(max_value)?;
        self.step()
    }

    /// As [`Adam::backward_step`], with the gradients clipped to a global ℓ2 norm of at
    /// most `max_norm` before the step (tch's `backward_step_clip_norm`); returns the
    /// norm before clipping.
    ///
    /// ```
    /// use adamw_prox::AdamConfig;
    /// use tch::{nn, Device, Kind};
    /// let vs = nn::VarStore::new(Device::Cpu);
    /// let w = vs.root().ones("w", &[4]);
    /// let mut opt = AdamConfig::adamw(1e-2, 0.0).build(&vs)?;
    /// let norm = opt.backward_step_clip_norm(&(w.sum(Kind::Float) * 3.0), 1.0)?;
    /// assert!((norm - 6.0).abs() < 1e-6); // ‖(3, 3, 3, 3)‖
    /// # Ok::<(), adamw_prox::OptimError>(())
    /// ```
    pub fn backward_step_clip_norm(&mut self, loss: &Tensor, max_norm: f64) -> Result<f64> {
        self.zero_grad();
        loss.backward();
        let norm = self.clip_grad_norm(max_norm)?;
        self.step()?;
        Ok(norm)
    }

    /// Zeroes all gradients in place (one op per group, plus any gradient that autograd
    /// created since the last step). For gradient accumulation, call it once per
    /// optimizer step, not per backward pass.
    ///
    /// ```
    /// use adamw_prox::AdamConfig;
    /// use tch::{nn, Device, Kind};
    /// let vs = nn::VarStore::new(Device::Cpu);
    /// let w = vs.root().ones("w", &[3]);
    /// let mut opt = AdamConfig::adamw(1e-2, 0.0).build(&vs)?;
    /// w.sum(Kind::Float).backward();
    /// opt.zero_grad();
    /// assert_eq!(w.grad().abs().sum(Kind::Float).double_value(&[]), 0.0);
    /// # Ok::<(), adamw_prox::OptimError>(())
    /// ```
    pub fn zero_grad(&mut self) {
        self.groups.iter().for_each(FlatGroup::zero_grad);
    }

    /// Brings the flat gradient buffers up to date after a backward pass, and reports
    /// what `step` would refuse.
    ///
    /// The gradients of the parameters are views of each group's flat buffer
    /// ([`GroupView::grads`]), but a gradient that autograd created or replaced since the
    /// last step (the first backward pass, or one after the gradient was set to `None`)
    /// is copied into it only at the next step, clip or this call. Call it between
    /// `backward` and reading or changing the gradients through [`Adam::groups`] (for
    /// statistics, or scaling them by hand); [`Adam::step`] and the `clip_grad_*` methods
    /// do it themselves. It fails as [`Adam::step`] would: a parameter that changed
    /// shape, dtype or device, or a trainable variable that no group holds.
    ///
    /// ```
    /// use adamw_prox::AdamConfig;
    /// use tch::{nn, Device, Kind};
    /// let vs = nn::VarStore::new(Device::Cpu);
    /// let w = vs.root().ones("w", &[3]);
    /// let mut opt = AdamConfig::adamw(1e-2, 0.0).build(&vs)?;
    /// (w.sum(Kind::Float) * 2.0).backward();
    /// opt.sync_grads()?;
    /// let grads = opt.group("all")?.grads().shallow_clone();
    /// assert_eq!(grads.sum(Kind::Float).double_value(&[]), 6.0);
    /// # Ok::<(), adamw_prox::OptimError>(())
    /// ```
    pub fn sync_grads(&mut self) -> Result<()> {
        self.prepare().map(drop)
    }

    /// The configuration the optimizer was built with (each group's current step size
    /// and `λ` are in [`Adam::group`]).
    ///
    /// ```
    /// use adamw_prox::AdamConfig;
    /// # let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    /// # let _w = vs.root().ones("w", &[3]);
    /// let opt = AdamConfig::adamw(1e-3, 1e-5).build(&vs)?;
    /// assert_eq!(opt.config().lr, 1e-3);
    /// # Ok::<(), adamw_prox::OptimError>(())
    /// ```
    pub fn config(&self) -> &OptimConfig {
        &self.config
    }

    /// Number of steps taken so far (the owned schedule's clock). A parameter that was
    /// skipped by some steps has a smaller count of its own for its bias corrections
    /// ([`GroupView::step_counts`]).
    ///
    /// ```
    /// use adamw_prox::AdamConfig;
    /// # let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    /// # let _w = vs.root().ones("w", &[3]);
    /// let mut opt = AdamConfig::adamw(1e-3, 0.0).build(&vs)?;
    /// opt.step()?; // no gradient yet: every parameter is skipped, the clock advances
    /// assert_eq!(opt.step_count(), 1);
    /// # Ok::<(), adamw_prox::OptimError>(())
    /// ```
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// Each group's flat buffers and settings, in the order the groups were given.
    /// Gradients created since the last step are linked in first where they fit (call
    /// [`Adam::sync_grads`] to have the errors too).
    ///
    /// ```
    /// use adamw_prox::{AdamConfig, ParamGroup};
    /// use tch::{nn, Device};
    /// let vs = nn::VarStore::new(Device::Cpu);
    /// let _fc = nn::linear(vs.root() / "fc", 4, 2, Default::default());
    /// let groups = ParamGroup::split_var_store(&vs, |name| name.ends_with(".bias"));
    /// let opt = AdamConfig::adamw(1e-3, 1e-5).build_groups(groups)?;
    /// let names: Vec<String> = opt.groups().map(|g| g.name().to_string()).collect();
    /// assert_eq!(names, ["decay", "no_decay"]);
    /// # Ok::<(), adamw_prox::OptimError>(())
    /// ```
    pub fn groups(&self) -> impl Iterator<Item = GroupView<'_>> {
        self.groups.iter().map(|group| self.view(group))
    }

    /// The group named `name`: its step size, `λ`, buffers and parameters.
    ///
    /// ```
    /// use adamw_prox::{AdamConfig, OptimError};
    /// # let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    /// # let _w = vs.root().ones("w", &[3]);
    /// let opt = AdamConfig::adamw(1e-3, 1e-5).build(&vs)?;
    /// assert_eq!(opt.group("all")?.weight_decay(), 1e-5);
    /// assert!(matches!(opt.group("head"), Err(OptimError::UnknownGroup { .. })));
    /// # Ok::<(), adamw_prox::OptimError>(())
    /// ```
    pub fn group(&self, name: &str) -> Result<GroupView<'_>> {
        let index = self.group_index(name)?;
        Ok(self.view(&self.groups[index]))
    }

    fn view<'a>(&'a self, group: &'a FlatGroup) -> GroupView<'a> {
        group.link_what_fits();
        GroupView::new(group, scheduled_lr(&self.config, group.lr, self.step))
    }

    pub(crate) fn group_index(&self, name: &str) -> Result<usize> {
        self.groups
            .iter()
            .position(|g| g.name == name)
            .ok_or_else(|| OptimError::UnknownGroup {
                name: name.to_string(),
                known: self.groups.iter().map(|g| g.name.clone()).collect(),
            })
    }

    /// The number of elements of all parameters of all groups.
    ///
    /// ```
    /// use adamw_prox::AdamConfig;
    /// # let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    /// let _fc = tch::nn::linear(vs.root() / "fc", 4, 2, Default::default());
    /// let opt = AdamConfig::adamw(1e-3, 0.0).build(&vs)?;
    /// assert_eq!(opt.num_parameters(), 10);
    /// # Ok::<(), adamw_prox::OptimError>(())
    /// ```
    pub fn num_parameters(&self) -> i64 {
        self.groups.iter().map(FlatGroup::numel).sum()
    }

    /// Moves the moments, the flat buffers and the parameters with their gradients to
    /// `device`, keeping the optimizer's state. Call it with the model's move
    /// (`vs.set_device(device)`), before or after it.
    ///
    /// ```
    /// use adamw_prox::AdamConfig;
    /// use tch::{nn, Device};
    /// let mut vs = nn::VarStore::new(Device::Cpu);
    /// let _w = vs.root().ones("w", &[3]);
    /// let mut opt = AdamConfig::adamw(1e-3, 0.0).build(&vs)?;
    /// let device = Device::cuda_if_available();
    /// vs.set_device(device);
    /// opt.set_device(device);
    /// assert_eq!(opt.group("all")?.values().device(), device);
    /// # Ok::<(), adamw_prox::OptimError>(())
    /// ```
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
    ///
    /// ```
    /// use adamw_prox::AdamConfig;
    /// use tch::{nn, Device, Kind};
    /// let mut vs = nn::VarStore::new(Device::Cpu);
    /// let _w = vs.root().ones("w", &[3]);
    /// let mut opt = AdamConfig::adamw(1e-3, 0.0).build(&vs)?;
    /// vs.double();
    /// opt.set_kind(Kind::Double)?;
    /// assert_eq!(opt.group("all")?.exp_avg().kind(), Kind::Double);
    /// assert!(opt.set_kind(Kind::Int64).is_err());
    /// # Ok::<(), adamw_prox::OptimError>(())
    /// ```
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
fn scheduled_lr(config: &OptimConfig, lr: f64, steps_done: u64) -> f64 {
    match &config.schedule {
        // Validated when the optimizer was built.
        Some(schedule) => schedule.lr_at(lr, steps_done),
        None => lr,
    }
}

fn step_group(config: &OptimConfig, lr: f64, group: &mut FlatGroup, segments: &[Segment]) {
    if segments.is_empty() {
        return;
    }
    let runs: Vec<Run> = segments
        .iter()
        .map(|s| Run {
            range: s.range.clone(),
            info: StepInfo {
                placement: config.placement,
                lr,
                weight_decay: group.weight_decay,
                schedule_multiplier: lr / config.lr, // s_t = η_t / η_0
                t: s.steps,
            },
        })
        .collect();
    let cpu_kernel = config.kernel == Kernel::Auto && group.device == Device::Cpu;
    let rule = group.rule.as_ref();
    let Some(master) = &group.master else {
        return traverse::step_buffers(
            rule,
            cpu_kernel,
            &runs,
            &group.values,
            &group.grads,
            &group.state,
        );
    };
    // Half precision: the step runs on the float32 master weights and state, from the
    // gradients in float32, and the parameters take the result rounded ([`crate::master`]).
    let _no_grad = tch::no_grad_guard();
    let mut master = master.shallow_clone();
    master.copy_(&master::refine(&master, group.kind, &group.values));
    let grads = group.grads.to_kind(Kind::Float);
    traverse::step_buffers(rule, cpu_kernel, &runs, &master, &grads, &group.state);
    for run in &runs {
        let len = run.range.end - run.range.start;
        group
            .values
            .narrow(0, run.range.start, len)
            .copy_(&master.narrow(0, run.range.start, len));
    }
}
