//! Each decay mode, with AMSGrad off and on, against a float64 reference written from the
//! update rules (tests/common), over 200 steps of a warm-up + cosine schedule, on a loss
//! whose gradient depends on the iterate and spans ten decades across coordinates.
mod common;

use adamw_prox::{AdamConfig, DecayMode, Kernel, ParamGroup, Schedule};
use common::{flat_values, mixed_params, rel_error, Reference};
use tch::{Kind, Tensor};

const STEPS: u64 = 200;
const LR0: f64 = 1e-2;
const LAMBDA: f64 = 5e-2;

const WARMUP: u64 = 20;

/// The step size of step `t` (0-based), written out independently of `Schedule`:
/// linear warm-up over 20 steps, then cosine to 0 over the remaining 200.
fn reference_lr(t: u64) -> f64 {
    if t < WARMUP {
        LR0 * (t + 1) as f64 / WARMUP as f64
    } else {
        let progress = (t - WARMUP).min(STEPS) as f64 / STEPS as f64;
        LR0 * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
    }
}

/// The fixed factor of coordinate `i`'s gradient: 10^-6 … 10^3.
fn gradient_scale(i: usize) -> f64 {
    10f64.powi((i * 3 % 10) as i32 - 6)
}

/// Gradient of `Σ scale_i·(½ c_i (x_i − 1)² + n_i x_i)` with curvatures `c` spanning
/// 1e-3…1e3, a step-dependent noise `n` and the per-coordinate scales above.
fn gradient_f64(x: &[f64], step: u64) -> Vec<f64> {
    x.iter()
        .enumerate()
        .map(|(i, &xi)| {
            let c = 10f64.powi((i % 7) as i32 - 3);
            let noise =
                ((i as f64 * 12.9898 + step as f64 * 78.233).sin() * 43758.5453).fract() * 0.1;
            gradient_scale(i) * (c * (xi - 1.0) + noise)
        })
        .collect()
}

#[test]
fn the_gradients_span_more_than_eight_decades() {
    // Root mean square of each coordinate's gradient along the reference trajectory.
    let params = mixed_params(Kind::Double, 7);
    let mut reference = Reference::new(
        DecayMode::Decoupled,
        LR0,
        LAMBDA,
        false,
        flat_values(&params),
    );
    let mut sum_of_squares = vec![0.0; reference.x.len()];
    for step in 0..STEPS {
        let g = gradient_f64(&reference.x.clone(), step);
        for (s, g) in sum_of_squares.iter_mut().zip(&g) {
            *s += g * g;
        }
        reference.step(&g, reference_lr(step));
    }
    let rms: Vec<f64> = sum_of_squares
        .iter()
        .map(|s| (s / STEPS as f64).sqrt())
        .collect();
    let (min, max) = rms
        .iter()
        .fold((f64::MAX, 0.0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
    assert!(
        max / min > 1e8,
        "the gradients span only {:.1} decades",
        (max / min).log10()
    );
}

/// The relative error after `STEPS` steps; `owned`: the optimizer owns the schedule,
/// else `set_lr` is called with the reference's step size before each step.
fn run(mode: DecayMode, amsgrad: bool, kind: Kind, kernel: Kernel, owned: bool) -> f64 {
    let params = mixed_params(kind, 7);
    let mut config = AdamConfig::new(mode, LR0, LAMBDA)
        .amsgrad(amsgrad)
        .kernel(kernel);
    if owned {
        config = config.schedule(Schedule::warmup_cosine(WARMUP, STEPS + WARMUP));
    }
    let mut reference = Reference::new(mode, LR0, LAMBDA, amsgrad, flat_values(&params));
    let mut opt = config
        .build_groups(vec![ParamGroup::from_tensors(
            "all",
            params.iter().map(|p| p.shallow_clone()),
        )])
        .unwrap();
    for step in 0..STEPS {
        let lr = reference_lr(step);
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
        if !owned {
            opt.set_lr(lr).unwrap();
        }
        opt.step().unwrap();
        reference.step(&gradient_f64(&reference.x.clone(), step), lr);
    }
    rel_error(&flat_values(&params), &reference.x)
}

#[test]
fn every_mode_matches_the_update_rules_in_f64_to_1e12() {
    for mode in DecayMode::ALL {
        for amsgrad in [false, true] {
            for kernel in [Kernel::Auto, Kernel::TensorOps] {
                for owned in [false, true] {
                    let err = run(mode, amsgrad, Kind::Double, kernel, owned);
                    assert!(
                        err < 1e-12,
                        "{mode} amsgrad={amsgrad} {kernel:?} owned schedule={owned}: \
                         relative error {err:e}"
                    );
                }
            }
        }
    }
}

#[test]
fn every_mode_matches_the_update_rules_in_f32_to_1e6() {
    for mode in DecayMode::ALL {
        for amsgrad in [false, true] {
            for kernel in [Kernel::Auto, Kernel::TensorOps] {
                let err = run(mode, amsgrad, Kind::Float, kernel, true);
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
        with_decay.step(
            &gradient_f64(&with_decay.x.clone(), step),
            reference_lr(step),
        );
        without.step(&gradient_f64(&without.x.clone(), step), reference_lr(step));
    }
    assert!(rel_error(&with_decay.x, &without.x) > 1e-3);
}
