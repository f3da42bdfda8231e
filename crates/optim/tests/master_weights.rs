//! Half-precision parameters train on float32 master weights and moments: the steps are
//! those of a float32 run, the parameters their rounding, and saving, loading and
//! converting keep the float32 bits.
mod common;

use adamw_prox::{Adam, AdamConfig, Kernel, ParamGroup};
use common::gaussian;
use tch::{nn, Device, Kind, Tensor};

const KERNELS: [Kernel; 2] = [Kernel::Auto, Kernel::TensorOps];

/// A parameter of `kind` whose values are exactly representable in bfloat16, so that a
/// float32 and a bfloat16 copy start equal.
fn parameter(kind: Kind, seed: u64) -> Tensor {
    gaussian(&[256], Kind::BFloat16, seed)
        .to_kind(kind)
        .set_requires_grad(true)
}

/// A fixed gradient direction, bfloat16-representable, zero on the first half (there the
/// step is the decay alone).
fn direction(kind: Kind) -> Tensor {
    let g = gaussian(&[256], Kind::BFloat16, 99) * 0.01;
    let _ = g.narrow(0, 0, 128).fill_(0.0);
    g.to_kind(Kind::BFloat16).to_kind(kind)
}

fn train(opt: &mut Adam, w: &Tensor, steps: usize) {
    let g = direction(w.kind());
    for _ in 0..steps {
        opt.zero_grad();
        (w * &g).sum(Kind::Float).backward();
        opt.step().unwrap();
    }
}

fn bits(t: &Tensor) -> Vec<u32> {
    Vec::<f32>::try_from(t.to_kind(Kind::Float).flatten(0, -1))
        .unwrap()
        .into_iter()
        .map(f32::to_bits)
        .collect()
}

fn build(config: &AdamConfig, w: &Tensor) -> Adam {
    config
        .clone()
        .build_groups(vec![ParamGroup::new("w").with_param("w", w.shallow_clone())])
        .unwrap()
}

fn master(opt: &Adam) -> Tensor {
    opt.group("w")
        .unwrap()
        .master_values()
        .unwrap()
        .shallow_clone()
}

#[test]
fn a_bf16_parameter_decays_by_lambda_over_1000_steps_as_float32_does() {
    // The paper's AdamW decays by λ·η_t/η_0 per step: λ = 1e-5, far below bfloat16's
    // resolution (2⁻⁸), so that each step's x·(1 − λ) alone rounds back to x in bfloat16.
    let (lr, lambda) = (1e-3, 1e-5);
    for kernel in KERNELS {
        let config = AdamConfig::adamw(lr, lambda).kernel(kernel);
        let w32 = parameter(Kind::Float, 1);
        let w16 = parameter(Kind::BFloat16, 1);
        let start = Vec::<f32>::try_from(&w32).unwrap();
        let (mut opt32, mut opt16) = (build(&config, &w32), build(&config, &w16));
        train(&mut opt32, &w32, 1000);
        train(&mut opt16, &w16, 1000);

        let master = master(&opt16);
        assert_eq!(master.kind(), Kind::Float);
        assert_eq!(
            bits(&master),
            bits(&w32),
            "{kernel:?}: master weights = float32 run"
        );
        assert_eq!(
            bits(&w16),
            bits(&w32.to_kind(Kind::BFloat16)),
            "{kernel:?}: the parameter is the float32 run rounded"
        );
        let decayed = Vec::<f32>::try_from(master.narrow(0, 0, 128)).unwrap();
        let factor = (1.0 - lambda).powi(1000);
        // Float32's own rounding: at most one unit in the last place per step, against the
        // 1 % (−x·(1 − (1 − λ)¹⁰⁰⁰)) that bfloat16 weights without master weights would lose.
        let tolerance = 1000.0 * f32::EPSILON as f64;
        for (x, x0) in decayed.iter().zip(&start) {
            let expected = *x0 as f64 * factor;
            assert!(
                (*x as f64 - expected).abs() <= tolerance * expected.abs(),
                "{kernel:?}: {x} after 1000 decay steps of {x0}, expected {expected}"
            );
        }
        let moved = w16
            .narrow(0, 0, 128)
            .ne_tensor(&parameter(Kind::BFloat16, 1).narrow(0, 0, 128));
        assert!(
            moved.any().int64_value(&[]) == 1,
            "{kernel:?}: the decay reaches the bfloat16 parameters"
        );
    }
}

#[test]
fn half_precision_groups_keep_float32_moments() {
    for kind in [Kind::BFloat16, Kind::Half] {
        let w = parameter(kind, 2);
        let mut opt = build(&AdamConfig::adamw(1e-3, 1e-2).amsgrad(true), &w);
        train(&mut opt, &w, 3);
        let group = opt.group("w").unwrap();
        assert_eq!(group.values().kind(), kind);
        assert_eq!(group.grads().kind(), kind);
        for moment in [group.exp_avg(), group.exp_avg_sq()] {
            assert_eq!(moment.kind(), Kind::Float);
        }
        assert_eq!(group.max_exp_avg_sq().unwrap().kind(), Kind::Float);
    }
}

#[test]
fn a_saved_and_loaded_bf16_state_continues_bit_for_bit() {
    let config = AdamConfig::adam_prox(1e-2, 1e-2);
    let straight = parameter(Kind::BFloat16, 3);
    let mut opt = build(&config, &straight);
    train(&mut opt, &straight, 20);

    let first = parameter(Kind::BFloat16, 3);
    let mut interrupted = build(&config, &first);
    train(&mut interrupted, &first, 10);
    let mut bytes = Vec::new();
    interrupted.write_state(&mut bytes).unwrap();
    let names: Vec<String> = interrupted
        .state_tensors("")
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(names.contains(&"group0.master".to_string()), "{names:?}");

    let resumed = first.detach().copy().set_requires_grad(true);
    let mut opt2 = build(&config, &resumed);
    opt2.read_state(bytes.as_slice()).unwrap();
    assert_eq!(bits(&master(&opt2)), bits(&master(&interrupted)));
    train(&mut opt2, &resumed, 10);
    assert_eq!(bits(&resumed), bits(&straight));
    assert_eq!(bits(&master(&opt2)), bits(&master(&opt)));
}

#[test]
fn converting_to_bf16_and_back_gives_the_float32_weights_bit_for_bit() {
    let mut vs = nn::VarStore::new(Device::Cpu);
    let w = vs.root().var_copy("w", &parameter(Kind::Float, 4));
    let mut opt = AdamConfig::adamw(1e-2, 1e-2).build(&vs).unwrap();
    let g = direction(Kind::Float);
    for _ in 0..5 {
        opt.backward_step(&(&w * &g).sum(Kind::Float)).unwrap();
    }
    let float32 = bits(opt.group("all").unwrap().values());

    vs.bfloat16();
    opt.set_kind(Kind::BFloat16).unwrap();
    let group = opt.group("all").unwrap();
    assert_eq!(bits(group.master_values().unwrap()), float32);
    assert_eq!(group.values().kind(), Kind::BFloat16);

    vs.float();
    opt.set_kind(Kind::Float).unwrap();
    let group = opt.group("all").unwrap();
    assert!(group.master_values().is_none());
    assert_eq!(bits(group.values()), float32);
    assert_eq!(bits(&w), float32);
}

#[test]
fn a_parameter_written_between_steps_is_taken_into_the_master_weights() {
    let (lr, lambda) = (1e-3, 1e-5);
    let w = parameter(Kind::BFloat16, 5);
    let mut opt = build(&AdamConfig::adamw(lr, lambda), &w);
    train(&mut opt, &w, 3);
    // As loading a checkpoint into the model does: in place, behind the optimizer's back.
    let _ = tch::no_grad(|| w.narrow(0, 0, 128).fill_(2.0));
    train(&mut opt, &w, 1);
    let master = Vec::<f32>::try_from(master(&opt).narrow(0, 0, 128)).unwrap();
    let expected = (2.0 * (1.0 - lambda)) as f32;
    assert!(
        master.iter().all(|&x| x == expected),
        "the written value decays from 2: {:?}, expected {expected}",
        &master[..4]
    );
}
