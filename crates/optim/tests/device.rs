//! Moving or converting the model keeps the optimizer's state when the optimizer is
//! moved along (`set_device`, `set_kind`), in either order; moving the model alone is an
//! error that says what to call.
mod common;

use adamw_prox::{Adam, AdamConfig, DecayMode, ParamGroup};
use common::{gaussian, to_vec};
use tch::nn::{self, Module, VarStore};
use tch::{Device, Kind, Tensor};

/// libtorch's generator is global and tests run on parallel threads: the seed and the
/// initialisation that draws from it happen under one lock, so every model is the same.
static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn model() -> (VarStore, nn::Sequential) {
    let _seeded = INIT.lock().unwrap_or_else(|e| e.into_inner());
    tch::manual_seed(5);
    let vs = VarStore::new(Device::Cpu);
    let net = nn::seq()
        .add(nn::linear(vs.root() / "a", 4, 6, Default::default()))
        .add_fn(|x| x.tanh())
        .add(nn::linear(vs.root() / "b", 6, 2, Default::default()));
    (vs, net)
}

fn train(opt: &mut Adam, net: &nn::Sequential, kind: Kind, device: Device, steps: u64) {
    for step in 0..steps {
        let x = gaussian(&[5, 4], kind, 40 + step).to_device(device);
        opt.backward_step(&net.forward(&x).square().sum(kind))
            .unwrap();
    }
}

/// Every value and moment of the optimizer, in f64, for comparisons.
fn state(opt: &Adam) -> Vec<Vec<f64>> {
    opt.groups()
        .flat_map(|g| {
            let mut all = vec![
                to_vec(g.values()),
                to_vec(g.exp_avg()),
                to_vec(g.exp_avg_sq()),
            ];
            all.extend(g.max_exp_avg_sq().map(to_vec));
            all
        })
        .collect()
}

fn inside(t: &Tensor, buffer: &Tensor) -> bool {
    let start = buffer.data_ptr() as usize;
    let end = start + buffer.numel() * buffer.kind().elt_size_in_bytes();
    (start..end).contains(&(t.data_ptr() as usize))
}

#[test]
fn converting_model_and_optimizer_keeps_the_moments_in_either_order() {
    for mode in DecayMode::ALL {
        let config = AdamConfig::new(mode, 1e-2, 1e-2).amsgrad(true);
        let mut runs = Vec::new();
        for optimizer_first in [true, false] {
            let (mut vs, net) = model();
            let mut opt = config.clone().build(&vs).unwrap();
            train(&mut opt, &net, Kind::Float, Device::Cpu, 3);
            let before = state(&opt);
            if optimizer_first {
                opt.set_kind(Kind::Double).unwrap();
                vs.double();
            } else {
                vs.double();
                opt.set_kind(Kind::Double).unwrap();
            }
            // f32 → f64 is exact: the state is the same numbers.
            assert_eq!(state(&opt), before, "{mode}");
            let group = opt.groups().next().unwrap();
            assert_eq!(group.values().kind(), Kind::Double);
            assert!(group.step_counts().all(|t| t == 3));
            for (name, var) in vs.variables() {
                assert_eq!(var.kind(), Kind::Double, "{name}");
                assert!(
                    inside(&var, group.values()),
                    "{name} is a view of the buffer"
                );
            }
            train(&mut opt, &net, Kind::Double, Device::Cpu, 3);
            for (name, var) in vs.variables() {
                assert!(
                    inside(&var.grad(), opt.groups().next().unwrap().grads()),
                    "{name}"
                );
            }
            runs.push(state(&opt));
        }
        assert_eq!(runs[0], runs[1], "{mode}: the order does not matter");
        assert_ne!(runs[0][0], vec![0.0; runs[0][0].len()]);
    }
}

#[test]
fn a_model_converted_without_the_optimizer_is_an_error_saying_what_to_call() {
    let (mut vs, net) = model();
    let mut opt = AdamConfig::adamw(1e-2, 0.0).build(&vs).unwrap();
    train(&mut opt, &net, Kind::Float, Device::Cpu, 1);
    vs.double();
    let x = gaussian(&[5, 4], Kind::Double, 0);
    let err = opt
        .backward_step(&net.forward(&x).sum(Kind::Double))
        .unwrap_err()
        .to_string();
    assert!(err.contains("is now Double on Cpu"), "{err}");
    assert!(
        err.contains("call `Adam::set_device(Cpu)` or `Adam::set_kind(Double)`"),
        "{err}"
    );
}

#[test]
#[ignore = "needs a CUDA device: cargo test -p adamw-prox --test device -- --ignored"]
fn moving_to_cuda_and_back_keeps_the_state() {
    assert!(tch::Cuda::is_available(), "this test needs a CUDA device");
    let cuda = Device::Cuda(0);
    let (mut vs, net) = model();
    let mut opt = AdamConfig::adamw(1e-2, 1e-2)
        .build_groups(ParamGroup::split_var_store(&vs, |n| n.ends_with(".bias")))
        .unwrap();
    train(&mut opt, &net, Kind::Float, Device::Cpu, 2);
    let before = state(&opt);
    vs.set_device(cuda);
    opt.set_device(cuda);
    assert_eq!(state(&opt), before);
    train(&mut opt, &net, Kind::Float, cuda, 2);
    assert!(opt.groups().all(|g| g.values().device() == cuda));
    opt.set_device(Device::Cpu);
    vs.set_device(Device::Cpu);
    train(&mut opt, &net, Kind::Float, Device::Cpu, 1);
    assert!(opt.groups().all(|g| g.step_counts().all(|t| t == 5)));
}
