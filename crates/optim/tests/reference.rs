//! Each decay mode against the float64 reference of docs/paper.md#update-rules, over 200 steps with a
//! schedule that changes η_t, on a loss whose gradient depends on the iterate.
mod common;

use common::{flat_values, mixed_params, rel_error, Reference};
use optim::{Adam, AdamConfig, DecayMode, Kernel, ParamGroup, Schedule};
use tch::{Kind, Tensor};

const STEPS: u64 = 200;
const LR0: f64 = 1e-2;
const LAMBDA: f64 = 5e-2;

/// Gradient of `½ Σ c_i (x_i − 1)² + Σ n_i x_i` with per-coordinate curvatures `c`
/// spanning several orders of magnitude and a step-dependent noise `n`.
fn gradient_f64(x: &[f64], step: u64) -> Vec<f64> {
    x.iter()
        .enumerate()
        .map(|(i, &xi)| {
            let c = 10f64.powi((i % 7) as i32 - 3);
            let noise =
                ((i as f64 * 12.9898 + step as f64 * 78.233).sin() * 43758.5453).fract() * 0.1;
            c * (xi - 1.0) + noise
        })
        .collect()
}

fn run(mode: DecayMode, amsgrad: bool, kind: Kind, kernel: Kernel) -> f64 {
    let params = mixed_params(kind, 7);
    let schedule = Schedule::warmup_cosine(20, STEPS + 20);
    let config = AdamConfig::new(mode, LR0, LAMBDA)
        .amsgrad(amsgrad)
        .kernel(kernel);
    let mut reference = Reference::new(mode, LR0, LAMBDA, amsgrad, flat_values(&params));
    let mut opt = Adam::new(
        config,
        vec![ParamGroup::from_tensors(
            "all",
            params.iter().map(|p| p.shallow_clone()),
        )],
    )
    .unwrap();
    for step in 0..STEPS {
        let lr = schedule.lr_at(LR0, step);
        // The same gradient formula evaluated at each side's own iterate.
        let g_ours = gradient_f64(&flat_values(&params), step);
        let mut offset = 0;
        let loss = params
            .iter()
            .fold(Tensor::zeros([], (kind, tch::Device::Cpu)), |acc, p| {
                let n = p.numel();
                let g = Tensor::from_slice(&g_ours[offset..offset + n])
                    .to_kind(kind)
                    .view(p.size().as_slice());
                offset += n;
                acc + (p * g).sum(kind)
            });
        opt.zero_grad();
        loss.backward();
        opt.set_lr(lr).unwrap();
        opt.step().unwrap();
        reference.step(&gradient_f64(&reference.x.clone(), step), lr);
    }
    rel_error(&flat_values(&params), &reference.x)
}

#[test]
fn every_mode_matches_the_paper_in_f64_to_1e12() {
    for mode in DecayMode::ALL {
        for amsgrad in [false, true] {
            for kernel in [Kernel::Auto, Kernel::TensorOps] {
                let err = run(mode, amsgrad, Kind::Double, kernel);
                assert!(
                    err < 1e-12,
                    "{mode} amsgrad={amsgrad} {kernel:?}: relative error {err:e}"
                );
            }
        }
    }
}

#[test]
fn every_mode_matches_the_paper_in_f32_to_1e6() {
    for mode in DecayMode::ALL {
        for amsgrad in [false, true] {
            for kernel in [Kernel::Auto, Kernel::TensorOps] {
                let err = run(mode, amsgrad, Kind::Float, kernel);
                assert!(
                    err < 1e-6,
                    "{mode} amsgrad={amsgrad} {kernel:?}: relative error {err:e}"
                );
            }
        }
    }
}

#[test]
fn the_decay_actually_acts_so_the_reference_test_can_fail() {
    // Guard against a reference comparison that passes because λ has no effect.
    let params = mixed_params(Kind::Double, 7);
    let x0 = flat_values(&params);
    let mut with_decay = Reference::new(DecayMode::Decoupled, LR0, LAMBDA, false, x0.clone());
    let mut without = Reference::new(DecayMode::Decoupled, LR0, 0.0, false, x0);
    for step in 0..STEPS {
        with_decay.step(&gradient_f64(&with_decay.x.clone(), step), LR0);
        without.step(&gradient_f64(&without.x.clone(), step), LR0);
    }
    assert!(rel_error(&with_decay.x, &without.x) > 1e-3);
}
