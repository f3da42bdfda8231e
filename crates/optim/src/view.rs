//! [`GroupView`]: a read-only look at one parameter group's settings and flat buffers.
use crate::flat::{FlatGroup, ParamSlot};
use tch::Tensor;

/// One parameter group's settings and flat buffers, from [`crate::Adam::group`] or
/// [`crate::Adam::groups`], for statistics and logging. The parameters are views of
/// [`GroupView::values`] and their gradients of [`GroupView::grads`]; the [`ParamSlot`]s
/// say where each one lies. The tensors are the optimizer's own buffers: writing to
/// them (through a `shallow_clone`) changes the optimizer's state.
///
/// ```
/// use adamw_prox::{AdamConfig, Schedule};
/// # let vs = tch::nn::VarStore::new(tch::Device::Cpu);
/// let _fc = tch::nn::linear(vs.root() / "fc", 4, 2, Default::default());
/// let opt = AdamConfig::adamw(1e-3, 1e-5)
///     .schedule(Schedule::warmup_cosine(10, 100))
///     .build(&vs)?;
/// let group = opt.group("all")?;
/// assert_eq!(group.name(), "all");
/// assert_eq!((group.lr(), group.weight_decay()), (1e-3, 1e-5));
/// assert_eq!(group.scheduled_lr(), 1e-4); // the first warm-up step: 1/10 of lr
/// assert_eq!(group.values().size(), [10]);
/// assert_eq!(group.grads().size(), [10]);
/// assert_eq!(group.exp_avg().size(), [10]);
/// assert_eq!(group.exp_avg_sq().size(), [10]);
/// assert!(group.max_exp_avg_sq().is_none()); // no AMSGrad
/// assert_eq!(group.step_counts().collect::<Vec<_>>(), [0, 0]);
/// # Ok::<(), adamw_prox::OptimError>(())
/// ```
pub struct GroupView<'a> {
    group: &'a FlatGroup,
    scheduled_lr: f64,
}

impl<'a> GroupView<'a> {
    pub(crate) fn new(group: &'a FlatGroup, scheduled_lr: f64) -> Self {
        GroupView {
            group,
            scheduled_lr,
        }
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        &self.group.name
    }

    /// `λ` of this group.
    pub fn weight_decay(&self) -> f64 {
        self.group.weight_decay
    }

    /// The group's step size, what [`crate::Adam::set_lr`] sets: the number the schedule's
    /// factor multiplies (without a schedule, the step size of the next step).
    pub fn lr(&self) -> f64 {
        self.group.lr
    }

    /// `η_t`, the step size the next step uses: [`GroupView::lr`] times the schedule's
    /// factor at the current step.
    pub fn scheduled_lr(&self) -> f64 {
        self.scheduled_lr
    }

    /// All parameter values of the group, concatenated.
    pub fn values(&self) -> &Tensor {
        &self.group.values
    }

    /// All gradients of the group, concatenated (zero where a parameter never had one).
    /// See [`crate::Adam::sync_grads`] for when they are current.
    pub fn grads(&self) -> &Tensor {
        &self.group.grads
    }

    /// The float32 master weights of a Half or BFloat16 group, which the steps update
    /// and [`GroupView::values`] are rounded from; `None` for other dtypes.
    ///
    /// ```
    /// use adamw_prox::AdamConfig;
    /// use tch::{nn, Device, Kind};
    /// let mut vs = nn::VarStore::new(Device::Cpu);
    /// let _w = vs.root().ones("w", &[3]);
    /// vs.bfloat16();
    /// let opt = AdamConfig::adamw(1e-3, 1e-2).build(&vs)?;
    /// let group = opt.group("all")?;
    /// assert_eq!(group.values().kind(), Kind::BFloat16);
    /// assert_eq!(group.master_values().map(|m| m.kind()), Some(Kind::Float));
    /// assert_eq!(group.exp_avg().kind(), Kind::Float);
    /// # Ok::<(), adamw_prox::OptimError>(())
    /// ```
    pub fn master_values(&self) -> Option<&Tensor> {
        self.group.master.as_ref()
    }

    /// The first moments `m` (float32 for a Half or BFloat16 group).
    ///
    /// # Panics
    ///
    /// If the group's rule keeps no `exp_avg` (it is not Adam): see [`GroupView::state`].
    pub fn exp_avg(&self) -> &Tensor {
        self.expect_state("exp_avg")
    }

    /// The second moments `v` (raw, before bias correction).
    ///
    /// # Panics
    ///
    /// If the group's rule keeps no `exp_avg_sq`: see [`GroupView::state`].
    pub fn exp_avg_sq(&self) -> &Tensor {
        self.expect_state("exp_avg_sq")
    }

    /// The running maximum of `v`, with AMSGrad.
    pub fn max_exp_avg_sq(&self) -> Option<&Tensor> {
        self.group.state_named("max_exp_avg_sq")
    }

    /// The rule's state buffer called `name` (see [`GroupView::state_names`]), float32 for
    /// a Half or BFloat16 group.
    ///
    /// ```
    /// use adamw_prox::OptimConfig;
    /// # let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    /// # let _w = vs.root().ones("w", &[3]);
    /// let opt = OptimConfig::named("adamw", 1e-3, 0.0)?.build(&vs)?;
    /// let group = opt.group("all")?;
    /// assert_eq!(group.state_names(), ["exp_avg", "exp_avg_sq"]);
    /// assert!(group.state("exp_avg").is_some());
    /// assert!(group.state("momentum_buffer").is_none());
    /// # Ok::<(), adamw_prox::OptimError>(())
    /// ```
    pub fn state(&self, name: &str) -> Option<&Tensor> {
        self.group.state_named(name)
    }

    /// The names of the rule's state buffers, in the order of its [`crate::Piece`]s.
    pub fn state_names(&self) -> Vec<&'static str> {
        self.group.rule.state_names()
    }

    /// The group's rule with its settings (the optimizer's, with the group's own).
    pub fn rule(&self) -> &dyn crate::UpdateRule {
        self.group.rule.as_ref()
    }

    fn expect_state(&self, name: &str) -> &Tensor {
        self.state(name).unwrap_or_else(|| {
            panic!(
                "the {} rule keeps no `{name}`; its state is {:?} (use GroupView::state)",
                self.group.rule.family(),
                self.group.rule.state_names()
            )
        })
    }

    /// Where each parameter lies in the flat buffers, in the group's order.
    pub fn slots(&self) -> impl Iterator<Item = &ParamSlot> {
        self.group.slots()
    }

    /// Each parameter's own step count `t` (its bias corrections), in slot order.
    pub fn step_counts(&self) -> impl Iterator<Item = u64> + '_ {
        self.group.params.iter().map(|p| p.steps)
    }
}
