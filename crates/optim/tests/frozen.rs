//! Parameters that do not require grad, or have no gradient, are skipped by a step as in
//! `torch.optim`: their values, moments and own step counts stay bit for bit, in every
//! decay mode and kernel, and the others move exactly as if the skipped ones were absent.
mod common;

use adamw_prox::{AdamConfig, DecayMode, Kernel, ParamGroup};
use common::{gaussian, rel_error, to_vec, Reference};
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

fn bits(t: &Tensor) -> Vec<u64> {
    to_vec(t).into_iter().map(f64::to_bits).collect()
}

fn config(mode: DecayMode, amsgrad: bool, kernel: Kernel) -> AdamConfig {
    AdamConfig::new(mode, 1e-2, 5e-2)
        .amsgrad(amsgrad)
        .kernel(kernel)
}

/// `Σ_p p·G_p(step)` over the parameters used, so each used one gets the gradient `G_p`.
fn loss(used: &[(usize, &Tensor)], step: u64, kind: Kind) -> Tensor {
    used.iter()
        .fold(Tensor::zeros([], (kind, Device::Cpu)), |acc, (i, p)| {
            let g = gaussian(&p.size(), kind, 100 * step + *i as u64);
            acc + (*p * g).sum(kind)
        })
}

#[test]
fn frozen_and_never_differentiated_parameters_are_left_bit_for_bit() {
    for mode in DecayMode::ALL {
        for amsgrad in [false, true] {
            for kernel in [Kernel::Auto, Kernel::TensorOps] {
                let trained = gaussian(&[4, 3], Kind::Float, 1).set_requires_grad(true);
                let frozen = gaussian(&[5], Kind::Float, 2);
                let unused = gaussian(&[2, 2], Kind::Float, 3).set_requires_grad(true);
                let last = gaussian(&[3], Kind::Float, 4).set_requires_grad(true);
                let before = [bits(&frozen), bits(&unused)];
                let group = ParamGroup::new("all")
                    .with_param("trained", trained.shallow_clone())
                    .with_param("frozen", frozen.shallow_clone())
                    .with_param("unused", unused.shallow_clone())
                    .with_param("last", last.shallow_clone());
                let mut opt = config(mode, amsgrad, kernel)
                    .build_groups(vec![group])
                    .unwrap();
                for step in 0..5 {
                    opt.zero_grad();
                    loss(
                        &[(0, &trained), (1, &frozen), (3, &last)],
                        step,
                        Kind::Float,
                    )
                    .backward();
                    opt.step().unwrap();
                }
                let case = format!("{mode} amsgrad={amsgrad} {kernel:?}");
                assert_eq!(bits(&frozen), before[0], "{case}: the frozen one moved");
                assert_eq!(bits(&unused), before[1], "{case}: the unused one moved");
                assert!(!unused.grad().defined(), "{case}");

                let view = opt.groups().next().unwrap();
                let counts: Vec<u64> = view.step_counts().collect();
                assert_eq!(counts, [5, 0, 0, 5], "{case}: own step counts");
                for slot in view.slots() {
                    let m = view.exp_avg().narrow(0, slot.offset(), slot.numel());
                    let v = view.exp_avg_sq().narrow(0, slot.offset(), slot.numel());
                    let untouched = m.abs().max().double_value(&[]) == 0.0
                        && v.abs().max().double_value(&[]) == 0.0;
                    let skipped = matches!(slot.name(), "frozen" | "unused");
                    assert_eq!(untouched, skipped, "{case}: moments of `{}`", slot.name());
                }
            }
        }
    }
}

#[test]
fn the_trained_parameters_move_exactly_as_without_the_skipped_ones() {
    for mode in DecayMode::ALL {
        for kernel in [Kernel::Auto, Kernel::TensorOps] {
            let make = || {
                (
                    gaussian(&[6, 5], Kind::Float, 11).set_requires_grad(true),
                    gaussian(&[7], Kind::Float, 12),
                    gaussian(&[9], Kind::Float, 13).set_requires_grad(true),
                )
            };
            let (a, frozen, b) = make();
            let (a_alone, _, b_alone) = make();
            let mut with_frozen = config(mode, true, kernel)
                .build_groups(vec![ParamGroup::from_tensors(
                    "g",
                    [a.shallow_clone(), frozen, b.shallow_clone()],
                )])
                .unwrap();
            let mut without = config(mode, true, kernel)
                .build_groups(vec![ParamGroup::from_tensors(
                    "g",
                    [a_alone.shallow_clone(), b_alone.shallow_clone()],
                )])
                .unwrap();
            for step in 0..8 {
                for (opt, a, b) in [
                    (&mut with_frozen, &a, &b),
                    (&mut without, &a_alone, &b_alone),
                ] {
                    opt.zero_grad();
                    loss(&[(0, a), (2, b)], step, Kind::Float).backward();
                    opt.step().unwrap();
                }
            }
            assert_eq!(bits(&a), bits(&a_alone), "{mode} {kernel:?}");
            assert_eq!(bits(&b), bits(&b_alone), "{mode} {kernel:?}");
        }
    }
}

#[test]
fn a_parameter_unfrozen_later_counts_only_its_own_steps() {
    // Against the float64 reference, which advances t only when it steps: the bias
    // corrections after unfreezing are those of the parameter's 4th step, not the 7th.
    for mode in DecayMode::ALL {
        for kernel in [Kernel::Auto, Kernel::TensorOps] {
            let p = gaussian(&[11], Kind::Double, 21).set_requires_grad(true);
            let mut reference = Reference::new(mode, 1e-2, 5e-2, true, to_vec(&p));
            let mut opt = config(mode, true, kernel)
                .build_groups(vec![ParamGroup::from_tensors("g", [p.shallow_clone()])])
                .unwrap();
            for step in 0..9u64 {
                let frozen = (3..6).contains(&step);
                let p = p.set_requires_grad(!frozen);
                let g = gaussian(&[11], Kind::Double, 1000 + step);
                opt.zero_grad();
                if !frozen {
                    (&p * &g).sum(Kind::Double).backward();
                }
                let lr = 1e-2 * 0.9f64.powi(step as i32);
                opt.set_lr(lr).unwrap();
                opt.step().unwrap();
                if !frozen {
                    reference.step(&to_vec(&g), lr);
                }
            }
            let counts: Vec<u64> = opt.groups().next().unwrap().step_counts().collect();
            assert_eq!(counts, [6], "{mode} {kernel:?}");
            assert_eq!(opt.step_count(), 9);
            let err = rel_error(&to_vec(&p), &reference.x);
            assert!(err < 1e-12, "{mode} {kernel:?}: relative error {err:e}");
        }
    }
}

#[test]
fn a_frozen_var_store_does_not_move_even_with_gradients_left_over() {
    for mode in DecayMode::ALL {
        tch::manual_seed(0);
        let mut vs = nn::VarStore::new(Device::Cpu);
        let net = nn::linear(vs.root() / "fc", 3, 2, Default::default());
        let mut opt = AdamConfig::new(mode, 1e-2, 1e-1).build(&vs).unwrap();
        let x = Tensor::ones([4, 3], (Kind::Float, Device::Cpu));
        opt.backward_step(&net.forward(&x).sum(Kind::Float))
            .unwrap();
        // A gradient is left in place, and the store is then frozen.
        net.forward(&x).sum(Kind::Float).backward();
        vs.freeze();
        let before: Vec<_> = ["fc.weight", "fc.bias"]
            .iter()
            .map(|n| bits(&vs.variables()[*n]))
            .collect();
        for _ in 0..3 {
            opt.step().unwrap();
        }
        let after: Vec<_> = ["fc.weight", "fc.bias"]
            .iter()
            .map(|n| bits(&vs.variables()[*n]))
            .collect();
        assert_eq!(before, after, "{mode}");
        vs.unfreeze();
        opt.step().unwrap();
        assert_ne!(
            bits(&vs.variables()["fc.bias"]),
            before[1],
            "{mode}: unfrozen"
        );
    }
}
