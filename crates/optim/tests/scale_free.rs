//! Scale-freeness: multiplying each gradient coordinate by a fixed
//! positive factor leaves AdamW's and AdamProx's iterates unchanged when ε = 0, and
//! changes Adam-ℓ2's, whose `λ·x` term is not rescaled.
mod common;

use adamw_prox::{AdamConfig, DecayMode, ParamGroup};
use common::{gaussian, rel_error, to_vec};
use tch::{Device, Kind, Tensor};

const N: i64 = 2000;

fn trajectory(mode: DecayMode, factors: &Tensor, kind: Kind) -> Vec<f64> {
    let p = gaussian(&[N], kind, 5).set_requires_grad(true);
    let config = AdamConfig::new(mode, 1e-3, 1e-2).eps(0.0);
    let mut opt = config
        .build_groups(vec![ParamGroup::new("p").with_param("p", p.shallow_clone())])
        .unwrap();
    for step in 0..100 {
        let g = gaussian(&[N], kind, 10 + step) * factors;
        opt.zero_grad();
        (&p * g).sum(kind).backward();
        opt.step().unwrap();
    }
    to_vec(&p)
}

/// A fixed shuffle of 0..N, so that neighbouring coordinates get unrelated factors.
fn permutation() -> Tensor {
    let keys = common::to_vec(&gaussian(&[N], Kind::Double, 99));
    let mut order: Vec<i64> = (0..N).collect();
    order.sort_by(|&a, &b| keys[a as usize].total_cmp(&keys[b as usize]));
    Tensor::from_slice(&order)
}

/// Factors spanning 1e-4 … 1e4, log-uniform per coordinate.
fn factors(kind: Kind) -> Tensor {
    let exponent =
        Tensor::linspace(-4.0, 4.0, N, (Kind::Double, Device::Cpu)).index_select(0, &permutation());
    Tensor::from(10.0).pow(&exponent).to_kind(kind)
}

#[test]
fn adamw_and_adam_prox_are_invariant_to_per_coordinate_gradient_scaling() {
    for kind in [Kind::Float, Kind::Double] {
        let ones = Tensor::ones([N], (kind, Device::Cpu));
        for mode in [DecayMode::Decoupled, DecayMode::Proximal] {
            let err = rel_error(
                &trajectory(mode, &factors(kind), kind),
                &trajectory(mode, &ones, kind),
            );
            assert!(
                err < 1e-5,
                "{mode} {kind:?}: rescaled gradients moved the iterates by {err:e}"
            );
        }
    }
}

#[test]
fn adam_l2_is_not_invariant_to_per_coordinate_gradient_scaling() {
    let kind = Kind::Float;
    let ones = Tensor::ones([N], (kind, Device::Cpu));
    let err = rel_error(
        &trajectory(DecayMode::L2, &factors(kind), kind),
        &trajectory(DecayMode::L2, &ones, kind),
    );
    assert!(err > 1e-3, "Adam-ℓ2 moved by only {err:e}");
}
