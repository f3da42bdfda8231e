//! The paper's AdamW with (η_0, λ) is libtorch's AdamW with (lr = η_0,
//! weight_decay = λ/η_0), and Adam-ℓ2 is libtorch's Adam with weight_decay = λ.
//! tch's `nn::AdamW` / `nn::Adam` are libtorch's C++ optimizers. The constructors in
//! PyTorch's convention (`AdamConfig::torch_adamw`, `torch_adam`) take tch's numbers as
//! they are and match step for step.
mod common;

use adamw_prox::{AdamConfig, DecayMode, Kernel, Schedule};
use common::{gaussian, rel_error, to_vec};
use tch::nn::{self, OptimizerConfig, VarStore};
use tch::{Device, Kind, Tensor};

const STEPS: u64 = 100;
const LR0: f64 = 3e-3;
const LAMBDA: f64 = 2e-2;

fn var_store(kind: Kind) -> VarStore {
    let mut vs = VarStore::new(Device::Cpu);
    vs.set_kind(kind);
    let root = vs.root();
    let _ = (&root / "conv").var_copy("weight", &gaussian(&[8, 3, 3, 3], kind, 1));
    let _ = (&root / "fc").var_copy("weight", &gaussian(&[10, 8], kind, 2));
    let _ = (&root / "fc").var_copy("bias", &gaussian(&[10], kind, 3));
    assert!(vs.variables().values().all(|v| v.kind() == kind));
    vs
}

/// A loss whose gradient is `G_t + 0.3·x` for each variable, with `G_t` drawn per step
/// from a seeded generator, so both optimizers see the same gradient function.
fn loss(vs: &VarStore, step: u64, kind: Kind) -> Tensor {
    let mut names: Vec<_> = vs.variables().into_iter().collect();
    names.sort_by(|a, b| a.0.cmp(&b.0));
    names.iter().enumerate().fold(
        Tensor::zeros([], (kind, Device::Cpu)),
        |acc, (i, (_, x))| {
            let g = gaussian(&x.size(), kind, 1000 * step + i as u64)
                * 10f64.powi((step % 5) as i32 - 2);
            acc + (x * g).sum(kind) + (x * x).sum(kind) * 0.15
        },
    )
}

fn flat(vs: &VarStore) -> Vec<f64> {
    let mut vars: Vec<_> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars.iter().flat_map(|(_, t)| to_vec(t)).collect()
}

fn compare(mode: DecayMode, kind: Kind, kernel: Kernel, amsgrad: bool) -> f64 {
    let schedule = Schedule::cosine(STEPS + 10);
    let theirs_vs = var_store(kind);
    let mut theirs = match mode {
        DecayMode::Decoupled => nn::AdamW {
            beta1: 0.9,
            beta2: 0.999,
            wd: LAMBDA / LR0,
            eps: 1e-8,
            amsgrad,
        }
        .build(&theirs_vs, LR0)
        .unwrap(),
        DecayMode::L2 => nn::Adam {
            beta1: 0.9,
            beta2: 0.999,
            wd: LAMBDA,
            eps: 1e-8,
            amsgrad,
        }
        .build(&theirs_vs, LR0)
        .unwrap(),
        DecayMode::Proximal => unreachable!("libtorch has no proximal Adam"),
    };
    let ours_vs = var_store(kind);
    let config = AdamConfig::new(mode, LR0, LAMBDA)
        .amsgrad(amsgrad)
        .kernel(kernel);
    let mut ours = config.build(&ours_vs).unwrap();
    assert_eq!(
        flat(&theirs_vs),
        flat(&ours_vs),
        "both start from the same weights"
    );
    for step in 0..STEPS {
        let lr = schedule.lr_at(LR0, step);
        theirs.set_lr(lr);
        theirs.zero_grad();
        loss(&theirs_vs, step, kind).backward();
        theirs.step();
        ours.set_lr(lr).unwrap();
        ours.zero_grad();
        loss(&ours_vs, step, kind).backward();
        ours.step().unwrap();
    }
    let err = rel_error(&flat(&ours_vs), &flat(&theirs_vs));
    // The trajectories must have moved, or matching would prove nothing.
    assert!(rel_error(&flat(&ours_vs), &flat(&var_store(kind))) > 1e-2);
    err
}

#[test]
fn adamw_matches_libtorch_adamw_with_weight_decay_lambda_over_lr0() {
    for kernel in [Kernel::Auto, Kernel::TensorOps] {
        for amsgrad in [false, true] {
            let err = compare(DecayMode::Decoupled, Kind::Double, kernel, amsgrad);
            assert!(
                err < 1e-12,
                "f64 {kernel:?} amsgrad={amsgrad}: relative error {err:e}"
            );
            let err = compare(DecayMode::Decoupled, Kind::Float, kernel, amsgrad);
            assert!(
                err < 1e-6,
                "f32 {kernel:?} amsgrad={amsgrad}: relative error {err:e}"
            );
        }
    }
}

#[test]
fn adam_l2_matches_libtorch_adam_with_weight_decay_lambda() {
    for kernel in [Kernel::Auto, Kernel::TensorOps] {
        for amsgrad in [false, true] {
            let err = compare(DecayMode::L2, Kind::Double, kernel, amsgrad);
            assert!(
                err < 1e-12,
                "f64 {kernel:?} amsgrad={amsgrad}: relative error {err:e}"
            );
            let err = compare(DecayMode::L2, Kind::Float, kernel, amsgrad);
            assert!(
                err < 1e-6,
                "f32 {kernel:?} amsgrad={amsgrad}: relative error {err:e}"
            );
        }
    }
}

#[test]
fn adamw_with_pytorch_weight_decay_read_as_lambda_does_not_match() {
    // The conversion matters: using λ itself as libtorch's weight_decay is a different
    // optimizer, and this comparison is able to see it.
    let kind = Kind::Double;
    let theirs_vs = var_store(kind);
    let mut theirs = nn::AdamW {
        beta1: 0.9,
        beta2: 0.999,
        wd: LAMBDA,
        eps: 1e-8,
        amsgrad: false,
    }
    .build(&theirs_vs, LR0)
    .unwrap();
    let ours_vs = var_store(kind);
    let mut ours = AdamConfig::adamw(LR0, LAMBDA).build(&ours_vs).unwrap();
    for step in 0..STEPS {
        theirs.zero_grad();
        loss(&theirs_vs, step, kind).backward();
        theirs.step();
        ours.zero_grad();
        loss(&ours_vs, step, kind).backward();
        ours.step().unwrap();
    }
    assert!(rel_error(&flat(&ours_vs), &flat(&theirs_vs)) > 1e-3);
}

/// tch's optimizer and ours in PyTorch's convention, on two copies of one float64
/// `VarStore`, compared after every step. With `schedule`, ours owns it while tch's is
/// given `set_lr` by hand before each step, as a tch user schedules.
fn torch_convention_max_error(
    theirs: impl OptimizerConfig,
    ours: AdamConfig,
    schedule: Option<Schedule>,
) -> f64 {
    let kind = Kind::Double;
    let theirs_vs = var_store(kind);
    let mut theirs = theirs.build(&theirs_vs, LR0).unwrap();
    let ours_vs = var_store(kind);
    let ours = match &schedule {
        Some(s) => ours.schedule(s.clone()),
        None => ours,
    };
    let mut ours = ours.build(&ours_vs).unwrap();
    let mut worst: f64 = 0.0;
    for step in 0..STEPS {
        if let Some(s) = &schedule {
            theirs.set_lr(s.lr_at(LR0, step));
        }
        theirs.zero_grad();
        loss(&theirs_vs, step, kind).backward();
        theirs.step();
        ours.zero_grad();
        loss(&ours_vs, step, kind).backward();
        ours.step().unwrap();
        worst = worst.max(rel_error(&flat(&ours_vs), &flat(&theirs_vs)));
    }
    assert!(rel_error(&flat(&ours_vs), &flat(&var_store(kind))) > 1e-2);
    worst
}

fn torch_cases() -> [Option<Schedule>; 2] {
    [None, Some(Schedule::warmup_cosine(10, STEPS + 10))]
}

#[test]
fn torch_adamw_equals_tch_adamw_step_for_step_at_the_defaults_and_another_wd() {
    for schedule in torch_cases() {
        let defaults = nn::AdamW::default();
        assert_eq!(defaults.wd, 0.01, "tch's default weight decay");
        let err = torch_convention_max_error(
            defaults,
            AdamConfig::torch_adamw(LR0, 0.01),
            schedule.clone(),
        );
        assert!(
            err < 1e-12,
            "defaults, {schedule:?}: relative error {err:e}"
        );
        let other = nn::AdamW {
            wd: 0.3,
            ..Default::default()
        };
        let err =
            torch_convention_max_error(other, AdamConfig::torch_adamw(LR0, 0.3), schedule.clone());
        assert!(err < 1e-12, "wd 0.3, {schedule:?}: relative error {err:e}");
    }
}

#[test]
fn torch_adam_equals_tch_adam_step_for_step_at_the_defaults_and_another_wd() {
    for schedule in torch_cases() {
        let err = torch_convention_max_error(
            nn::Adam::default(),
            AdamConfig::torch_adam(LR0, 0.0),
            schedule.clone(),
        );
        assert!(
            err < 1e-12,
            "defaults, {schedule:?}: relative error {err:e}"
        );
        let other = nn::Adam {
            wd: 0.05,
            ..Default::default()
        };
        let err =
            torch_convention_max_error(other, AdamConfig::torch_adam(LR0, 0.05), schedule.clone());
        assert!(err < 1e-12, "wd 0.05, {schedule:?}: relative error {err:e}");
    }
}

#[test]
fn the_conversion_goes_both_ways() {
    let config = AdamConfig::torch_adamw(LR0, 0.02);
    assert!((config.weight_decay - 0.02 * LR0).abs() < 1e-18);
    assert!((config.torch_weight_decay() - 0.02).abs() < 1e-15);
    assert_eq!(AdamConfig::adam_l2(LR0, 0.02).torch_weight_decay(), 0.02);
}
