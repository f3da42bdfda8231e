//! `check device`: what a GPU run computes, against the CPU, on the machine at hand
//! (bench/gpu.sh runs it first on a GPU node).
//!
//! - models: forward and backward of the same weights on the same batch in float64 on
//!   the device and on the CPU (train-mode batch norm included);
//! - optimizer: the tensor-ops kernel (the one CUDA runs) on the device against the
//!   CPU's single-pass kernel, for Adam-ℓ2, AdamW, AdamProx and AdamW with AMSGrad, in
//!   float64 and float32, on gradients seven decades apart;
//! - [`reference_problem`]: the iterates of bench/pytorch/reference_iterates.py's problem
//!   on the device, in that script's JSON format, for a comparison with the Python
//!   float64 reference of the rules.
//!
//! On a CPU-only machine the CPU still compares the two optimizer kernels and computes
//! the iterates; the models are not compared (CPU against itself). The verdict: every
//! comparison within its tolerance.
use super::verdict::device_label;
use crate::optimizers::Method;
use anyhow::Result;
use models::{Model, ModelConfig};
use optim::{AdamConfig, Kernel, ParamGroup};
use serde::Serialize;
use std::f64::consts::{LN_10, PI};
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

/// The check's settings.
#[derive(Clone, Debug)]
pub struct DeviceSettings {
    /// The device checked against the CPU.
    pub device: Device,
    /// Models whose forward and backward are compared (not on the CPU itself).
    pub models: Vec<String>,
}

/// What `--json` writes: every comparison, and whether all passed.
#[derive(Serialize, Debug)]
pub struct Report {
    pub device: String,
    pub comparisons: Vec<Comparison>,
    pub passed: bool,
}

/// Every comparison: the models' (unless the device is the CPU) and the optimizer
/// kernels'.
pub fn compare(settings: &DeviceSettings) -> Result<Report> {
    let device = settings.device;
    let label = device_label(device);
    let mut comparisons = Vec::new();
    if device != Device::Cpu {
        for name in &settings.models {
            for bn in [true, false] {
                comparisons.extend(compare_model(name, bn, device)?);
            }
        }
    }
    for (key, mode, amsgrad) in REFERENCE_VARIANTS {
        for (kind, tolerance) in [(Kind::Double, 1e-12), (Kind::Float, 1e-5)] {
            let cpu = optimizer_steps(mode, amsgrad, kind, Device::Cpu, Kernel::Auto)?;
            let other = optimizer_steps(mode, amsgrad, kind, device, Kernel::TensorOps)?;
            comparisons.push(Comparison::new(
                format!("optimizer {key} {kind:?}: tensor ops on {label} vs CPU kernel"),
                relative_difference(&cpu, &other),
                tolerance,
            ));
        }
    }
    Ok(Report {
        device: label,
        passed: passed(&comparisons),
        comparisons,
    })
}

/// The verdict: every comparison within its tolerance.
pub fn passed(comparisons: &[Comparison]) -> bool {
    comparisons.iter().all(|c| c.passed)
}

/// The reference problem's iterates on `device` for every variant, by the reference
/// script's keys.
pub fn reference_problem(device: Device) -> Result<serde_json::Map<String, serde_json::Value>> {
    REFERENCE_VARIANTS
        .iter()
        .map(|&(key, mode, amsgrad)| {
            let x = reference_iterates(REFERENCE_PROBLEM, mode, amsgrad, device)?;
            Ok((key.to_string(), serde_json::json!(x)))
        })
        .collect()
}

/// One comparison: the relative difference ‖a − b‖/‖a‖ and the largest it may be.
#[derive(Serialize, Debug)]
pub struct Comparison {
    pub what: String,
    pub relative_difference: f64,
    pub tolerance: f64,
    pub passed: bool,
}

/// The reference problem's size: 64 coordinates, 25 steps, η_0 = 1e-2, λ = 0.1.
pub const REFERENCE_PROBLEM: (i64, u64, f64, f64) = (64, 25, 1e-2, 0.1);

/// The optimizer variants the reference script writes, by its keys.
pub const REFERENCE_VARIANTS: [(&str, Method, bool); 4] = [
    ("adam-l2", Method::ADAM_L2, false),
    ("adamw", Method::ADAMW, false),
    ("adam-prox", Method::ADAM_PROX, false),
    ("adamw-amsgrad", Method::ADAMW, true),
];

impl Comparison {
    pub fn new(what: String, relative_difference: f64, tolerance: f64) -> Self {
        Comparison {
            what,
            relative_difference,
            tolerance,
            // A NaN difference fails.
            passed: relative_difference <= tolerance,
        }
    }
}

/// Logits (train and eval mode) and every gradient of one model, in float64, on the CPU
/// and on `device` from the same weights and batch.
fn compare_model(name: &str, bn: bool, device: Device) -> Result<Vec<Comparison>> {
    let images = (Tensor::arange(4 * 3 * 32 * 32, (Kind::Double, Device::Cpu)) * 0.37)
        .sin()
        .view([4, 3, 32, 32]);
    let labels = Tensor::from_slice(&[3i64, 7, 0, 9]);
    let config = ModelConfig::new(name.to_string(), bn, 10, 4);
    let run = |device: Device| -> Result<(Tensor, Tensor, Tensor)> {
        // Initialised on the CPU (the same weights whatever the device), then moved.
        let mut vs = VarStore::new(Device::Cpu);
        let model = Model::new(&vs.root(), &config)?;
        vs.set_kind(Kind::Double);
        vs.set_device(device);
        let images = images.to(device);
        let logits = model.forward_t(&images, true);
        logits
            .cross_entropy_for_logits(&labels.to(device))
            .backward();
        let eval = tch::no_grad(|| model.forward_t(&images, false));
        let grads: Vec<Tensor> = vs
            .trainable_variables()
            .iter()
            .map(|v| v.grad().flatten(0, -1).to(Device::Cpu))
            .collect();
        Ok((
            logits.detach().to(Device::Cpu),
            eval.to(Device::Cpu),
            Tensor::cat(&grads, 0),
        ))
    };
    let (cpu, other) = (run(Device::Cpu)?, run(device)?);
    let model = format!("{name} {}", if bn { "BN" } else { "no BN" });
    let on = device_label(device);
    Ok([
        ("train-mode logits", &cpu.0, &other.0, 1e-10),
        ("eval-mode logits", &cpu.1, &other.1, 1e-10),
        ("gradients", &cpu.2, &other.2, 1e-8),
    ]
    .into_iter()
    .map(|(what, a, b, tolerance)| {
        Comparison::new(
            format!("{model} float64 {what}: {on} vs CPU"),
            relative_difference(a, b),
            tolerance,
        )
    })
    .collect())
}

/// Twenty steps on three tensors whose gradients span seven decades; the parameters
/// after them, flattened, on the CPU.
fn optimizer_steps(
    mode: Method,
    amsgrad: bool,
    kind: Kind,
    device: Device,
    kernel: Kernel,
) -> Result<Tensor> {
    let shapes: [&[i64]; 3] = [&[16, 3, 3, 3], &[16], &[10, 64]];
    let params: Vec<Tensor> = shapes
        .iter()
        .enumerate()
        .map(|(k, shape)| {
            let n: i64 = shape.iter().product();
            (Tensor::arange(n, (Kind::Double, Device::Cpu)) * 0.37 + k as f64)
                .sin()
                .view(*shape)
                .to_kind(kind)
                .to(device)
                .set_requires_grad(true)
        })
        .collect();
    let config = AdamConfig {
        amsgrad,
        kernel,
        ..AdamConfig::new(mode.decay_mode().expect("Adam's placements"), 1e-2, 5e-2)
    };
    let group = ParamGroup::from_tensors("p", params.iter().map(Tensor::shallow_clone));
    let mut opt = config.build_groups(vec![group])?;
    for t in 1..=20 {
        opt.zero_grad();
        let mut loss = Tensor::zeros([], (kind, device));
        for (k, p) in params.iter().enumerate() {
            let i = Tensor::arange(p.numel() as i64, (Kind::Double, Device::Cpu));
            let scale = ((i.remainder(7) - 3.0) * LN_10).exp();
            let g = ((&i * 1.3 + (t as f64) * 0.7 + k as f64).cos() * scale)
                .view(p.size().as_slice())
                .to_kind(kind)
                .to(device);
            loss += (p * g).sum(kind);
        }
        loss.backward();
        opt.step()?;
    }
    opt.sync_grads()?;
    let flat: Vec<Tensor> = params
        .iter()
        .map(|p| p.detach().flatten(0, -1).to(Device::Cpu))
        .collect();
    Ok(Tensor::cat(&flat, 0))
}

/// The problem of bench/pytorch/reference_iterates.py, built with the same libtorch ops
/// on the CPU, solved on `device`: `n` coordinates `x_0 = sin(0.37 i + 0.1)`, gradients
/// `cos(1.3 i + 0.7 t) · 10^((i mod 7) − 3)` at step `t`, a cosine schedule over `steps`.
pub fn reference_iterates(
    (n, steps, lr, wd): (i64, u64, f64, f64),
    mode: Method,
    amsgrad: bool,
    device: Device,
) -> Result<Vec<f64>> {
    let i = Tensor::arange(n, (Kind::Double, Device::Cpu));
    let x = (&i * 0.37 + 0.1).sin().to(device).set_requires_grad(true);
    let config = AdamConfig {
        amsgrad,
        ..AdamConfig::new(mode.decay_mode().expect("Adam's placements"), lr, wd)
    };
    let mut opt =
        config.build_groups(vec![ParamGroup::from_tensors("x", vec![x.shallow_clone()])])?;
    for t in 1..=steps {
        let lr_t = lr * 0.5 * (1.0 + (PI * (t - 1) as f64 / steps as f64).cos());
        opt.set_lr(lr_t)?;
        opt.zero_grad();
        let scale = ((i.remainder(7) - 3.0) * LN_10).exp();
        let g = ((&i * 1.3 + t as f64 * 0.7).cos() * scale).to(device);
        (&x * g).sum(Kind::Double).backward();
        opt.step()?;
    }
    opt.sync_grads()?;
    Ok(Vec::<f64>::try_from(x.detach().to(Device::Cpu))?)
}

/// `‖a − b‖ / ‖a‖` in float64 (NaN when either holds a NaN).
fn relative_difference(a: &Tensor, b: &Tensor) -> f64 {
    let (a, b) = (a.to_kind(Kind::Double), b.to_kind(Kind::Double));
    (&a - &b).norm().double_value(&[]) / a.norm().double_value(&[]).max(1e-300)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_difference_passes_up_to_its_tolerance_and_nan_fails() {
        let (a, b) = (
            Comparison::new("a".into(), 1e-12, 1e-12),
            Comparison::new("b".into(), 2e-12, 1e-12),
        );
        assert!(a.passed && !b.passed);
        assert!(!Comparison::new("c".into(), f64::NAN, 1e-12).passed);
        assert!(passed(std::slice::from_ref(&a)) && !passed(&[a, b]) && passed(&[]));
    }

    #[test]
    fn on_the_cpu_the_optimizer_kernels_are_compared_and_pass() {
        let settings = DeviceSettings {
            device: Device::Cpu,
            models: vec!["resnet8".into()],
        };
        let report = compare(&settings).unwrap();
        assert_eq!(report.device, "cpu");
        // No model on the CPU against itself: the 4 variants × float64 and float32.
        assert_eq!(report.comparisons.len(), 8);
        assert!(report.passed, "{:?}", report.comparisons);
        let iterates = reference_problem(Device::Cpu).unwrap();
        assert_eq!(iterates.len(), 4);
        assert_eq!(iterates["adamw"].as_array().unwrap().len(), 64);
    }

    #[test]
    fn the_tensor_ops_kernel_on_the_cpu_takes_the_cpu_kernels_steps() {
        for (_, mode, amsgrad) in REFERENCE_VARIANTS {
            let fused = optimizer_steps(mode, amsgrad, Kind::Double, Device::Cpu, Kernel::Auto);
            let ops = optimizer_steps(mode, amsgrad, Kind::Double, Device::Cpu, Kernel::TensorOps);
            let d = relative_difference(&fused.unwrap(), &ops.unwrap());
            assert!(d < 1e-12, "{mode:?} amsgrad={amsgrad}: {d:e}");
        }
    }
}
