//! The per-step measurement of `check prox`: from AdamW's state at a step, one step of
//! each rule in float64 ([`Shadow`]), through the optim crate's public API only: the
//! state is read through the optimizer's group view, and written into the shadow through
//! its own parameter, that parameter's gradient and the optimizer's state tensors.
use anyhow::{bail, Result};
use optim::{Adam, AdamConfig, ParamGroup};
use tch::{Device, Kind, Tensor};

/// An optimizer's state at a step, as its (only) group's view shows it: values,
/// gradient and moments (shallow clones, read only).
pub struct State {
    pub values: Tensor,
    pub grads: Tensor,
    pub exp_avg: Tensor,
    pub exp_avg_sq: Tensor,
}

impl State {
    pub fn of(opt: &Adam) -> State {
        let group = opt.groups().next().expect("one parameter group");
        State {
            values: group.values().shallow_clone(),
            grads: group.grads().shallow_clone(),
            exp_avg: group.exp_avg().shallow_clone(),
            exp_avg_sq: group.exp_avg_sq().shallow_clone(),
        }
    }
}

/// The prefix of the shadow's state tensors; the moments of its one group are
/// `<prefix>group0.exp_avg` and `<prefix>group0.exp_avg_sq`, as the crate's state format
/// names them (crates/optim/README.md#state-files).
const PREFIX: &str = "shadow.";

/// A float64 optimizer of one flat parameter, stepped with one rule from another
/// optimizer's state.
pub struct Shadow {
    /// The parameter (the crate makes it a view of the optimizer's flat buffer, and its
    /// gradient a view of the gradient buffer).
    param: Tensor,
    opt: Adam,
}

impl Shadow {
    pub fn new(numel: i64, config: AdamConfig, device: Device) -> Result<Shadow> {
        let param = Tensor::zeros([numel], (Kind::Double, device)).set_requires_grad(true);
        // A defined gradient, so that the optimizer links it to its flat buffer and keeps
        // what is written there instead of zeroing it before the step.
        param.sum(Kind::Double).backward();
        let opt = config.build_groups(vec![ParamGroup::from_tensors(
            "shadow",
            [param.shallow_clone()],
        )])?;
        Ok(Shadow { param, opt })
    }

    /// Loads `state` (values, gradient, moments) and takes one step; returns the new
    /// values. Stepping every step keeps the step count, hence the bias correction, in
    /// line.
    pub fn step_from(&mut self, state: &State) -> Result<Tensor> {
        tch::no_grad(|| {
            self.param.shallow_clone().copy_(&state.values);
            self.param.grad().copy_(&state.grads);
        });
        let mut tensors = self.opt.state_tensors(PREFIX);
        let mut replaced = 0;
        for (name, tensor) in tensors.iter_mut() {
            let moment = match name.strip_prefix(PREFIX) {
                Some("group0.exp_avg") => &state.exp_avg,
                Some("group0.exp_avg_sq") => &state.exp_avg_sq,
                _ => continue,
            };
            *tensor = moment.to_kind(Kind::Double);
            replaced += 1;
        }
        if replaced != 2 {
            bail!("the optimizer's state tensors do not name the moments group0.exp_avg and group0.exp_avg_sq");
        }
        self.opt.load_state_tensors(PREFIX, &tensors)?;
        self.opt.step()?;
        Ok(self.param.detach().copy())
    }
}

/// Moves every weight one float32 ulp, up and down in turn: a perturbation the size of
/// float rounding, whose effect on the trajectory is the floor below which no two
/// runs can be told apart.
pub fn nudge_by_one_ulp(values: &Tensor) {
    tch::no_grad(|| {
        let n = values.numel() as i64;
        let up = Tensor::arange(n, (Kind::Int64, values.device()))
            .remainder(2)
            .eq(0);
        let inf = Tensor::full_like(values, f64::INFINITY);
        let target = inf.where_self(&up, &(-&inf));
        values.shallow_clone().copy_(&values.nextafter(&target));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A float32 AdamW on `x` after `steps` steps of the gradient `cos(x·i)`.
    fn trained(steps: usize) -> (Tensor, Adam) {
        let x = (Tensor::arange(50, (Kind::Float, Device::Cpu)) * 0.1)
            .sin()
            .set_requires_grad(true);
        let mut opt = AdamConfig::adamw(1e-2, 1e-2)
            .build_groups(vec![ParamGroup::from_tensors("x", [x.shallow_clone()])])
            .unwrap();
        for _ in 0..steps {
            opt.zero_grad();
            (&x * x.detach().cos()).sum(Kind::Float).backward();
            opt.step().unwrap();
        }
        opt.zero_grad();
        (&x * x.detach().cos()).sum(Kind::Float).backward();
        opt.sync_grads().unwrap();
        (x, opt)
    }

    #[test]
    fn a_shadow_takes_the_step_the_optimizer_would_take_from_its_state() {
        // The shadow of AdamW is stepped alongside: after 3 steps, from the optimizer's
        // state, its step is the optimizer's own 4th step (in float64, to float32 rounding).
        let (x, mut opt) = trained(3);
        let config = AdamConfig::adamw(1e-2, 1e-2);
        let mut shadow = Shadow::new(50, config, Device::Cpu).unwrap();
        for _ in 0..3 {
            // Earlier steps only advance the shadow's step count.
            let _ = shadow.step_from(&State::of(&opt)).unwrap();
        }
        let next = shadow.step_from(&State::of(&opt)).unwrap();
        opt.step().unwrap();
        let own = x.detach().to_kind(Kind::Double);
        let d = crate::checks::distance(&next, &own) / crate::checks::norm(&own);
        assert!(d < 1e-6, "{d:e}");
        assert_eq!(next.kind(), Kind::Double);
    }

    #[test]
    fn the_rules_differ_per_step_by_the_first_order_term() {
        let (_, opt) = trained(2);
        let state = State::of(&opt);
        let mut w = Shadow::new(50, AdamConfig::adamw(1e-2, 1e-2), Device::Cpu).unwrap();
        let config = AdamConfig::adam_prox(1e-2, 1e-2);
        let mut p = Shadow::new(50, config, Device::Cpu).unwrap();
        let (xw, xp) = (w.step_from(&state).unwrap(), p.step_from(&state).unwrap());
        // x_W' − x_P' = −(a·η u + a²·x)/(1 + a), a = λ: about a·‖η u‖.
        let eta_u = state.values.to_kind(Kind::Double) - &xp * 1.01;
        let ratio = crate::checks::distance(&xw, &xp) / (0.01 * crate::checks::norm(&eta_u));
        assert!((0.5..2.0).contains(&ratio), "{ratio}");
    }

    #[test]
    fn nudging_moves_every_weight_by_one_ulp_in_alternate_directions() {
        let values = Tensor::from_slice(&[1.0f32, 1.0, -2.0, 0.0]);
        nudge_by_one_ulp(&values);
        let v = Vec::<f32>::try_from(&values).unwrap();
        assert_eq!(v[0], f32::from_bits(1.0f32.to_bits() + 1));
        assert_eq!(v[1], f32::from_bits(1.0f32.to_bits() - 1));
        assert!(v[2] > -2.0 && v[2] < -1.999999);
        assert!(v[3] < 0.0);
    }
}
