//! Changing the step sizes and weight decays of a built optimizer.
use crate::config::{validate_lr, validate_weight_decay};
use crate::error::Result;
use crate::optimizer::Adam;

impl Adam {
    /// Sets the step size of every group: the number that the schedule's factor
    /// multiplies, `η_t = lr · factor(t)` (the factor is 1 without a schedule, so there
    /// it is the step size of the next steps). It is the same quantity as the config's
    /// `lr` and [`crate::ParamGroup::with_lr`], and what [`crate::GroupView::lr`] reads
    /// back; [`crate::GroupView::scheduled_lr`] is `η_t`. The decoupled and proximal
    /// decays follow as `λ·η_t/η_0`, `η_0` being the config's `lr`.
    ///
    /// To schedule by hand, as with tch's `set_lr`, build without a schedule and call it
    /// before each step with the step size that step should use.
    ///
    /// ```
    /// use adamw_prox::{AdamConfig, Schedule};
    /// # let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    /// # let _w = vs.root().ones("w", &[3]);
    /// let mut opt = AdamConfig::adamw(1e-3, 0.0)
    ///     .schedule(Schedule::Step { every: 1, gamma: 0.5 })
    ///     .build(&vs)?;
    /// opt.set_lr(4e-3)?;
    /// opt.step()?;
    /// let group = opt.group("all")?;
    /// assert_eq!(group.lr(), 4e-3); // unchanged by the schedule
    /// assert_eq!(group.scheduled_lr(), 2e-3); // what the next step uses
    /// # Ok::<(), adamw_prox::OptimError>(())
    /// ```
    pub fn set_lr(&mut self, lr: f64) -> Result<()> {
        validate_lr(lr)?;
        self.groups.iter_mut().for_each(|g| g.lr = lr);
        Ok(())
    }

    /// [`Adam::set_lr`] for one group.
    ///
    /// ```
    /// use adamw_prox::{AdamConfig, ParamGroup};
    /// # let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    /// # let _fc = tch::nn::linear(vs.root() / "fc", 4, 2, Default::default());
    /// let groups = ParamGroup::split_var_store(&vs, |name| name.ends_with(".bias"));
    /// let mut opt = AdamConfig::adamw(1e-3, 1e-5).build_groups(groups)?;
    /// opt.set_group_lr("no_decay", 1e-2)?;
    /// assert_eq!(opt.group("no_decay")?.lr(), 1e-2);
    /// assert_eq!(opt.group("decay")?.lr(), 1e-3);
    /// # Ok::<(), adamw_prox::OptimError>(())
    /// ```
    pub fn set_group_lr(&mut self, group: &str, lr: f64) -> Result<()> {
        validate_lr(lr)?;
        let index = self.group_index(group)?;
        self.groups[index].lr = lr;
        Ok(())
    }

    /// Sets `λ` of every group (the paper's `λ`; for AdamW that is PyTorch's
    /// `weight_decay` times the config's `lr`, see [`crate::AdamConfig`]).
    ///
    /// ```
    /// use adamw_prox::AdamConfig;
    /// # let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    /// # let _w = vs.root().ones("w", &[3]);
    /// let mut opt = AdamConfig::adamw(1e-3, 0.0).build(&vs)?;
    /// opt.set_weight_decay(1e-5)?;
    /// assert_eq!(opt.group("all")?.weight_decay(), 1e-5);
    /// # Ok::<(), adamw_prox::OptimError>(())
    /// ```
    pub fn set_weight_decay(&mut self, weight_decay: f64) -> Result<()> {
        validate_weight_decay(weight_decay)?;
        self.groups
            .iter_mut()
            .for_each(|g| g.weight_decay = weight_decay);
        Ok(())
    }

    /// Sets `λ` of one group.
    ///
    /// ```
    /// use adamw_prox::{AdamConfig, ParamGroup};
    /// # let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    /// # let _fc = tch::nn::linear(vs.root() / "fc", 4, 2, Default::default());
    /// let groups = ParamGroup::split_var_store(&vs, |name| name.ends_with(".bias"));
    /// let mut opt = AdamConfig::adamw(1e-3, 1e-5).build_groups(groups)?;
    /// opt.set_group_weight_decay("decay", 1e-4)?;
    /// assert_eq!(opt.group("decay")?.weight_decay(), 1e-4);
    /// # Ok::<(), adamw_prox::OptimError>(())
    /// ```
    pub fn set_group_weight_decay(&mut self, group: &str, weight_decay: f64) -> Result<()> {
        validate_weight_decay(weight_decay)?;
        let index = self.group_index(group)?;
        self.groups[index].weight_decay = weight_decay;
        Ok(())
    }
}
