//! Gradient clipping over the parameters that the next step updates, as PyTorch's
//! `clip_grad_norm_` and `clip_grad_value_`.
mod common;

use adamw_prox::{Adam, AdamConfig, Kernel, ParamGroup};
use common::{gaussian, to_vec};
use tch::{Kind, Tensor};

struct Setup {
    opt: Adam,
    params: Vec<Tensor>,
    frozen: Tensor,
}

/// Two groups with a frozen parameter in the first; each parameter `i` gets the
/// gradient `gaussian(seed i) · scale`.
fn setup(scale: f64) -> Setup {
    let params: Vec<Tensor> = (0..3)
        .map(|i| gaussian(&[4 + i, 3], Kind::Float, i as u64).set_requires_grad(true))
        .collect();
    let frozen = gaussian(&[6], Kind::Float, 50).set_requires_grad(true);
    let groups = vec![
        ParamGroup::new("a")
            .with_param("p0", params[0].shallow_clone())
            .with_param("frozen", frozen.shallow_clone())
            .with_param("p1", params[1].shallow_clone()),
        ParamGroup::new("b").with_param("p2", params[2].shallow_clone()),
    ];
    let mut opt = AdamConfig::adamw(1e-2, 1e-2).build_groups(groups).unwrap();
    let loss = params.iter().chain([&frozen]).enumerate().fold(
        Tensor::zeros([], tch::kind::FLOAT_CPU),
        |acc, (i, p)| {
            acc + (p * gaussian(&p.size(), Kind::Float, 100 + i as u64) * scale).sum(Kind::Float)
        },
    );
    opt.zero_grad();
    loss.backward();
    let _ = frozen.set_requires_grad(false);
    Setup {
        opt,
        params,
        frozen,
    }
}

fn grads(params: &[Tensor]) -> Vec<f64> {
    params.iter().flat_map(|p| to_vec(&p.grad())).collect()
}

fn norm(xs: &[f64]) -> f64 {
    xs.iter().map(|x| x * x).sum::<f64>().sqrt()
}

#[test]
fn clip_grad_norm_returns_the_norm_of_the_trained_gradients_and_scales_them_to_max_norm() {
    let mut s = setup(10.0);
    let before = grads(&s.params);
    let frozen_grad = to_vec(&s.frozen.grad());
    let expected = norm(&before);
    let returned = s.opt.clip_grad_norm(1.0).unwrap();
    assert!(
        (returned - expected).abs() < 1e-6 * expected,
        "{returned} vs {expected} (the frozen gradient is not counted)"
    );
    let after = grads(&s.params);
    assert!((norm(&after) - 1.0).abs() < 1e-5, "{}", norm(&after));
    for (a, b) in after.iter().zip(&before) {
        let scaled = b / (expected + 1e-6);
        assert!((a - scaled).abs() <= 1e-6 * scaled.abs(), "same direction");
    }
    assert_eq!(
        to_vec(&s.frozen.grad()),
        frozen_grad,
        "frozen gradient untouched"
    );
}

#[test]
fn clip_grad_norm_leaves_small_gradients_bit_for_bit() {
    let mut s = setup(1e-3);
    let before = grads(&s.params);
    let returned = s.opt.clip_grad_norm(1.0).unwrap();
    assert!(returned < 1.0);
    assert_eq!(grads(&s.params), before);
}

#[test]
fn a_non_finite_norm_is_returned_and_the_gradients_left_as_they_are() {
    let mut s = setup(1.0);
    let _ = s.params[1].grad().narrow(0, 0, 1).fill_(f64::INFINITY);
    let before = grads(&s.params);
    assert_eq!(s.opt.clip_grad_norm(1.0).unwrap(), f64::INFINITY);
    assert_eq!(grads(&s.params), before);
}

#[test]
fn clip_grad_value_clamps_the_trained_gradients() {
    let mut s = setup(1.0);
    let frozen_grad = to_vec(&s.frozen.grad());
    let before = grads(&s.params);
    assert!(before.iter().any(|g| g.abs() > 0.5));
    s.opt.clip_grad_value(0.5).unwrap();
    let expected: Vec<f64> = before.iter().map(|g| g.clamp(-0.5, 0.5)).collect();
    assert_eq!(grads(&s.params), expected);
    assert_eq!(to_vec(&s.frozen.grad()), frozen_grad);
}

#[test]
fn backward_step_clip_norm_is_clip_then_step() {
    for kernel in [Kernel::Auto, Kernel::TensorOps] {
        let run = |fused: bool| {
            let p = gaussian(&[20], Kind::Float, 7).set_requires_grad(true);
            let mut opt = AdamConfig::adam_l2(1e-2, 1e-2)
                .kernel(kernel)
                .build_groups(vec![ParamGroup::from_tensors("g", [p.shallow_clone()])])
                .unwrap();
            let mut norms = Vec::new();
            for step in 0..3 {
                let loss = (&p * gaussian(&[20], Kind::Float, 30 + step) * 5.0).sum(Kind::Float);
                if fused {
                    norms.push(opt.backward_step_clip_norm(&loss, 0.5).unwrap());
                } else {
                    opt.zero_grad();
                    loss.backward();
                    norms.push(opt.clip_grad_norm(0.5).unwrap());
                    opt.step().unwrap();
                }
            }
            (to_vec(&p), norms)
        };
        assert_eq!(run(true), run(false), "{kernel:?}");
    }
}
