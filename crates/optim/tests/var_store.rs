//! Working with a tch `VarStore` as with tch's own optimizers: build from it, no
//! variable silently left out, `backward_step`, an owned schedule, per-group setters,
//! gradients readable before the first step.
mod common;

use adamw_prox::{Adam, AdamConfig, DecayMode, OptimError, ParamGroup, Schedule};
use common::{gaussian, to_vec};
use tch::nn::{self, Module, VarStore};
use tch::{Device, Kind, Tensor};

fn bits(t: &Tensor) -> Vec<u64> {
    to_vec(t).into_iter().map(f64::to_bits).collect()
}

fn input() -> Tensor {
    gaussian(&[8, 4], Kind::Float, 99)
}

fn store_with_body() -> (VarStore, nn::Linear) {
    let vs = VarStore::new(Device::Cpu);
    let body = nn::linear(vs.root() / "body", 4, 3, Default::default());
    // Fixed weights rather than a seed: the tests run on parallel threads that all draw
    // from libtorch's one global generator, so a seed did not give two stores the same
    // weights (two tests failed that way once).
    tch::no_grad(|| {
        let weights = (Tensor::arange(12, (Kind::Float, Device::Cpu)) * 0.37).sin();
        body.ws.shallow_clone().copy_(&weights.view([3, 4]));
        if let Some(bias) = &body.bs {
            bias.shallow_clone()
                .copy_(&(Tensor::arange(3, (Kind::Float, Device::Cpu)) * 1.3).cos());
        }
    });
    (vs, body)
}

#[test]
fn a_variable_created_after_the_optimizer_is_an_error_naming_it() {
    let (vs, body) = store_with_body();
    let mut opt = AdamConfig::adamw(1e-2, 1e-3).build(&vs).unwrap();
    opt.backward_step(&body.forward(&input()).sum(Kind::Float))
        .unwrap();

    let head = nn::linear(vs.root() / "head", 3, 1, Default::default());
    let loss = || head.forward(&body.forward(&input())).sum(Kind::Float);
    let body_before = bits(&body.ws);
    let err = opt.backward_step(&loss()).unwrap_err();
    assert!(
        matches!(err, OptimError::UnmanagedVariable { .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.starts_with("variable `head.bias` of the VarStore requires grad")
            || message.starts_with("variable `head.weight` of the VarStore requires grad"),
        "{message}"
    );
    assert!(message.contains("Adam::add_param_group"), "{message}");
    assert_eq!(
        bits(&body.ws),
        body_before,
        "a refused step changes nothing"
    );

    let vars = vs.variables();
    opt.add_param_group(
        ParamGroup::new("head")
            .with_param("head.weight", vars["head.weight"].shallow_clone())
            .with_param("head.bias", vars["head.bias"].shallow_clone()),
    )
    .unwrap();
    let head_before = bits(&head.ws);
    opt.backward_step(&loss()).unwrap();
    assert_ne!(bits(&head.ws), head_before, "the added head is trained");
    let counts: Vec<Vec<u64>> = opt.groups().map(|g| g.step_counts().collect()).collect();
    assert_eq!(
        counts,
        [vec![2, 2], vec![1, 1]],
        "the refused step counts for no one"
    );
}

#[test]
fn a_frozen_variable_outside_the_optimizer_is_allowed_until_it_is_unfrozen() {
    let (vs, body) = store_with_body();
    let groups = ParamGroup::split_var_store(&vs, |name| name.ends_with(".bias"));
    let mut opt = AdamConfig::adamw(1e-2, 1e-3).build_groups(groups).unwrap();
    let extra = vs.root().zeros("extra", &[2]).set_requires_grad(false);
    let loss = || body.forward(&input()).sum(Kind::Float);
    opt.backward_step(&loss()).unwrap();
    let _ = extra.set_requires_grad(true);
    let err = opt.backward_step(&loss()).unwrap_err().to_string();
    assert!(err.starts_with("variable `extra` of the VarStore"), "{err}");
}

#[test]
fn backward_step_is_zero_grad_backward_step() {
    for mode in DecayMode::ALL {
        let (vs_a, net_a) = store_with_body();
        let (vs_b, net_b) = store_with_body();
        let config = AdamConfig::new(mode, 1e-2, 1e-2).amsgrad(true);
        let mut a = config.clone().build(&vs_a).unwrap();
        let mut b = config.build(&vs_b).unwrap();
        for _ in 0..4 {
            a.backward_step(&net_a.forward(&input()).square().sum(Kind::Float))
                .unwrap();
            b.zero_grad();
            net_b.forward(&input()).square().sum(Kind::Float).backward();
            b.step().unwrap();
        }
        assert_eq!(bits(&net_a.ws), bits(&net_b.ws), "{mode}");
        assert_eq!(bits(&net_a.bs.unwrap()), bits(&net_b.bs.unwrap()), "{mode}");
    }
}

#[test]
fn an_owned_schedule_steps_exactly_as_set_lr_by_hand() {
    let lr0 = 3e-2;
    let schedule = Schedule::warmup_cosine(3, 12);
    for mode in DecayMode::ALL {
        let (vs_a, net_a) = store_with_body();
        let (vs_b, net_b) = store_with_body();
        let config = AdamConfig::new(mode, lr0, 5e-2);
        let mut owned = config
            .clone()
            .schedule(schedule.clone())
            .build(&vs_a)
            .unwrap();
        let mut by_hand = config.build(&vs_b).unwrap();
        for step in 0..15 {
            by_hand.set_lr(schedule.lr_at(lr0, step)).unwrap();
            assert_eq!(
                owned.group("all").unwrap().scheduled_lr(),
                by_hand.group("all").unwrap().scheduled_lr(),
                "{mode} step {step}"
            );
            owned
                .backward_step(&net_a.forward(&input()).square().sum(Kind::Float))
                .unwrap();
            by_hand
                .backward_step(&net_b.forward(&input()).square().sum(Kind::Float))
                .unwrap();
        }
        assert_eq!(
            owned.group("all").unwrap().scheduled_lr(),
            0.0,
            "{mode}: the cosine ends at 0"
        );
        assert_eq!(bits(&net_a.ws), bits(&net_b.ws), "{mode}");
    }
}

#[test]
fn group_setters_change_their_group_only() {
    let make = || {
        let w = gaussian(&[5], Kind::Double, 1).set_requires_grad(true);
        let b = gaussian(&[3], Kind::Double, 2).set_requires_grad(true);
        (w, b)
    };
    let train = |opt: &mut Adam, w: &Tensor, b: &Tensor| {
        for step in 0..3 {
            opt.zero_grad();
            let gw = gaussian(&[5], Kind::Double, 10 + step);
            let gb = gaussian(&[3], Kind::Double, 20 + step);
            ((w * gw).sum(Kind::Double) + (b * gb).sum(Kind::Double)).backward();
            opt.step().unwrap();
        }
    };
    let groups = |w: &Tensor, b: &Tensor| {
        vec![
            ParamGroup::new("weights").with_param("w", w.shallow_clone()),
            ParamGroup::new("biases").with_param("b", b.shallow_clone()),
        ]
    };
    let (w, b) = make();
    let b_before = bits(&b);
    let mut opt = AdamConfig::adamw(1e-2, 0.1)
        .build_groups(groups(&w, &b))
        .unwrap();
    opt.set_group_lr("biases", 0.0).unwrap();
    opt.set_group_weight_decay("weights", 0.3).unwrap();
    train(&mut opt, &w, &b);
    assert_eq!(
        bits(&b),
        b_before,
        "a group at lr 0 stays (η_t = 0, so s_t = 0)"
    );
    let lrs: Vec<f64> = opt.groups().map(|g| g.lr()).collect();
    assert_eq!(lrs, [1e-2, 0.0]);

    // The same as building the weights' group with that λ from the start.
    let (w2, b2) = make();
    let mut expected = AdamConfig::adamw(1e-2, 0.1)
        .build_groups(vec![
            ParamGroup::new("weights")
                .with_param("w", w2.shallow_clone())
                .with_weight_decay(0.3),
            ParamGroup::new("biases")
                .with_param("b", b2.shallow_clone())
                .with_lr(0.0),
        ])
        .unwrap();
    train(&mut expected, &w2, &b2);
    assert_eq!(bits(&w), bits(&w2));

    // And set_weight_decay sets every group.
    opt.set_weight_decay(0.0).unwrap();
    let decays: Vec<f64> = opt.groups().map(|g| g.weight_decay()).collect();
    assert_eq!(decays, [0.0, 0.0]);
}

#[test]
fn gradients_are_readable_before_the_first_step() {
    let (vs, body) = store_with_body();
    let opt = AdamConfig::adamw(1e-2, 0.0).build(&vs).unwrap();
    body.forward(&input()).sum(Kind::Float).backward();
    let group = opt.groups().next().unwrap();
    for slot in group.slots() {
        let in_flat = group.grads().narrow(0, slot.offset(), slot.numel());
        let own = vs.variables()[slot.name()].grad().flatten(0, -1);
        assert_eq!(bits(&in_flat), bits(&own), "{}", slot.name());
        assert!(own.abs().sum(Kind::Float).double_value(&[]) > 0.0);
    }
}

#[test]
fn zero_grad_also_clears_gradients_created_before_any_step() {
    let (vs, body) = store_with_body();
    let mut opt = AdamConfig::adamw(1e-2, 0.0).build(&vs).unwrap();
    let loss = || body.forward(&input()).sum(Kind::Float);
    loss().backward();
    let once = bits(&body.ws.grad());
    opt.zero_grad();
    loss().backward();
    opt.sync_grads().unwrap();
    assert_eq!(
        bits(&body.ws.grad()),
        once,
        "not accumulated on a stale gradient"
    );
}
