//! AdamW is the first-order approximation of AdamProx: from the same state, one step
//! of each differs by `a·η_t·u_t + O(a²)` with `a = λ·s_t`.
//!
//! With gradients that do not depend on the iterate, AdamW, AdamProx and plain Adam
//! (λ = 0) share their moments, so `u_t` is the same for all three; before every step the
//! AdamProx iterate is copied into the other two, so each step starts from one state.
mod common;

use adamw_prox::{Adam, AdamConfig, ParamGroup, Schedule};
use common::{gaussian, to_vec};
use tch::{Kind, Tensor};

const LR0: f64 = 1e-2;

fn param(x0: &Tensor) -> Tensor {
    x0.copy().set_requires_grad(true)
}

fn optimizer(config: AdamConfig, p: &Tensor) -> Adam {
    config
        .build_groups(vec![ParamGroup::new("p").with_param("p", p.shallow_clone())])
        .unwrap()
}

fn feed(opt: &mut Adam, p: &Tensor, g: &Tensor) {
    opt.zero_grad();
    (p * g).sum(Kind::Double).backward();
}

// Indexed like the per-coordinate formulas, on purpose.
#[allow(clippy::needless_range_loop)]
/// Runs 100 steps and returns, per step, (a, max |measured − a·Δ0|, max |a·Δ0|) where
/// Δ0 = −η_t·u_t is plain Adam's update, together with the closed-form check.
fn per_step_differences(lambda: f64) -> Vec<(f64, f64, f64)> {
    let x0 = gaussian(&[500], Kind::Double, 11);
    let (pw, pp, pz) = (param(&x0), param(&x0), param(&x0));
    let mut adamw = optimizer(AdamConfig::adamw(LR0, lambda), &pw);
    let mut prox = optimizer(AdamConfig::adam_prox(LR0, lambda), &pp);
    let mut plain = optimizer(AdamConfig::adamw(LR0, 0.0), &pz);
    let schedule = Schedule::Step {
        every: 25,
        gamma: 0.5,
    };
    let mut out = Vec::new();
    for step in 0..100 {
        let lr = schedule.lr_at(LR0, step);
        let a = lambda * lr / LR0;
        tch::no_grad(|| {
            pw.shallow_clone().copy_(&pp);
            pz.shallow_clone().copy_(&pp);
        });
        let x = to_vec(&pp);
        let g = gaussian(&[500], Kind::Double, 100 + step) * 10f64.powi((step % 4) as i32 - 2);
        for (opt, p) in [(&mut adamw, &pw), (&mut prox, &pp), (&mut plain, &pz)] {
            feed(opt, p, &g);
            opt.set_lr(lr).unwrap();
            opt.step().unwrap();
        }
        let (w, p, z) = (to_vec(&pw), to_vec(&pp), to_vec(&pz));
        let mut worst_residual: f64 = 0.0;
        let mut largest_prediction: f64 = 0.0;
        for i in 0..x.len() {
            let delta0 = z[i] - x[i]; // −η_t·u_t
            let measured = w[i] - p[i];
            let predicted = a * delta0;
            // Exact difference: (a·Δ0 − a²·x)/(1 + a).
            let exact = (a * delta0 - a * a * x[i]) / (1.0 + a);
            assert!(
                (measured - exact).abs() <= 1e-12 * (x[i].abs() + delta0.abs()),
                "step {step}, coordinate {i}"
            );
            worst_residual =
                worst_residual.max((measured - predicted).abs() / (x[i].abs() + delta0.abs()));
            largest_prediction = largest_prediction.max(predicted.abs());
        }
        out.push((a, worst_residual, largest_prediction));
    }
    out
}

#[test]
fn adamw_and_adam_prox_differ_per_step_by_a_eta_u_plus_second_order() {
    for (a, residual, prediction) in per_step_differences(1e-2) {
        // The leftover after subtracting a·η_t·u_t is bounded by a²·(|x| + |η u|).
        assert!(
            residual <= a * a * 1.000001,
            "a = {a}: residual {residual:e} > a² = {:e}",
            a * a
        );
        assert!(prediction > 0.0);
    }
}

#[test]
fn the_leftover_shrinks_quadratically_with_the_decay() {
    let big: f64 = per_step_differences(2e-2)
        .iter()
        .map(|r| r.1)
        .fold(0.0, f64::max);
    let small: f64 = per_step_differences(1e-2)
        .iter()
        .map(|r| r.1)
        .fold(0.0, f64::max);
    let ratio = big / small;
    assert!(
        (3.5..4.5).contains(&ratio),
        "halving λ divided the second-order term by {ratio}, expected about 4"
    );
}
