//! This crate's optimizer against tch's `nn::AdamW` on the same `VarStore`, the way a tch
//! user would switch: the same variables, AdamW in PyTorch's convention
//! (`AdamConfig::torch_adamw(lr, wd)` against `nn::AdamW { wd, .. }.build(&vs, lr)`).
use adamw_prox::{Adam, AdamConfig};
use tch::nn::{self, OptimizerConfig, VarStore};
use tch::{Device, Kind, Tensor};

pub const LR: f64 = 1e-3;
pub const WD: f64 = 0.01;

/// A `VarStore` with the named shapes (seeded), each variable holding a gradient, so that
/// a step has work to do and nothing else is timed.
pub fn var_store(named: &[(String, Vec<i64>)], device: Device) -> VarStore {
    tch::manual_seed(0);
    let vs = VarStore::new(device);
    let root = vs.root();
    for (name, shape) in named {
        // A dotted name is a path in the store (tch refuses dots inside one name).
        let mut parts: Vec<&str> = name.split('.').collect();
        let last = parts.pop().expect("a name");
        let path = parts.iter().fold(root.clone(), |path, part| path / *part);
        let _ = path.randn(last, shape, 0.0, 0.02);
    }
    give_gradients(&vs);
    vs
}

/// Leaves a gradient in every trainable variable.
pub fn give_gradients(vs: &VarStore) {
    for v in vs.trainable_variables() {
        (&v * Tensor::randn(v.size(), (Kind::Float, v.device())))
            .sum(Kind::Float)
            .backward();
    }
}

pub fn ours(vs: &VarStore) -> anyhow::Result<Adam> {
    Ok(AdamConfig::torch_adamw(LR, WD).build(vs)?)
}

pub fn theirs(vs: &VarStore) -> anyhow::Result<nn::Optimizer> {
    Ok(nn::AdamW {
        wd: WD,
        ..Default::default()
    }
    .build(vs, LR)?)
}
