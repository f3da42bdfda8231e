//! `scalefree check device`: what a GPU run computes, against the CPU, on the machine at
//! hand (bench/gpu.sh runs it first on a GPU node).
//!
//! - models: forward and backward of the same weights on the same batch in float64 on
//!   `--device` and on the CPU (train-mode batch norm included);
//! - optimizer: the tensor-ops kernel (the one CUDA runs) on `--device` against the
//!   CPU's single-pass kernel, for Adam-ℓ2, AdamW, AdamProx and AdamW with AMSGrad, in
//!   float64 and float32, on gradients seven decades apart;
//! - `--iterates FILE`: the iterates of bench/pytorch/reference_iterates.py's problem on
//!   `--device`, in that script's JSON format, for a comparison with the Python float64
//!   reference of the rules.
//!
//! On a CPU-only machine `--device cpu` still compares the two optimizer kernels and
//! writes the iterates; the models are not compared (CPU against itself).
//!
//! Exit status 1 when a difference exceeds its tolerance.
use super::options::model_name;
use super::present::device_label;
use crate::config::parse_device;
use crate::sinks::atomic::write_json_atomic;
use anyhow::Result;
use clap::Args;
use models::{Model, ModelConfig};
use optim::{AdamConfig, DecayMode, Kernel, ParamGroup};
use serde::Serialize;
use std::f64::consts::{LN_10, PI};
use std::path::PathBuf;
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

#[derive(Args, Debug)]
pub struct DeviceArgs {
    /// The device to check against the CPU: cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Models whose forward and backward are compared (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "resnet20,densenet100", value_parser = model_name)]
    pub models: Vec<String>,
    /// Write the comparisons as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the reference problem's iterates on --device to this file (the format of
    /// bench/pytorch/reference_iterates.py).
    #[arg(long)]
    pub iterates: Option<PathBuf>,
}

/// One comparison: the relative difference ‖a − b‖/‖a‖ and the largest it may be.
#[derive(Serialize, Debug)]
pub struct Comparison {
    pub what: String,
    pub relative_difference: f64,
    pub tolerance: f64,
    pub passed: bool,
}

#[derive(Serialize)]
struct Report<'a> {
    device: String,
    comparisons: &'a [Comparison],
    passed: bool,
}

/// The reference problem's size: 64 coordinates, 25 steps, η_0 = 1e-2, λ = 0.1.
pub const REFERENCE_PROBLEM: (i64, u64, f64, f64) = (64, 25, 1e-2, 0.1);

/// The optimizer variants the reference script writes, by its keys.
pub const REFERENCE_VARIANTS: [(&str, DecayMode, bool); 4] = [
    ("adam-l2", DecayMode::L2, false),
    ("adamw", DecayMode::Decoupled, false),
    ("adam-prox", DecayMode::Proximal, false),
    ("adamw-amsgrad", DecayMode::Decoupled, true),
];

pub fn run(args: &DeviceArgs) -> Result<i32> {
    let device = parse_device(&args.device).map_err(|e| anyhow::anyhow!("--device: {e}"))?;
    let label = device_label(device);
    if let Some(path) = &args.iterates {
        let iterates: serde_json::Map<String, serde_json::Value> = REFERENCE_VARIANTS
            .iter()
            .map(|&(key, mode, amsgrad)| {
                let x = reference_iterates(REFERENCE_PROBLEM, mode, amsgrad, device)?;
                Ok((key.to_string(), serde_json::json!(x)))
            })
            .collect::<Result<_>>()?;
        write_json_atomic(path, &iterates)?;
        println!("wrote {} (reference problem on {label})", path.display());
    }
    let mut comparisons = Vec::new();
    if device == Device::Cpu {
        println!("models: not compared (--device is the CPU itself)");
    } else {
        for name in &args.models {
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
    println!(
        "{:<64} {:>12} {:>10}",
        "comparison", "rel. diff", "tolerance"
    );
    for c in &comparisons {
        let mark = if c.passed { "" } else { "  FAILED" };
        println!(
            "{:<64} {:>12.2e} {:>10.0e}{mark}",
            c.what, c.relative_difference, c.tolerance
        );
    }
    let passed = comparisons.iter().all(|c| c.passed);
    let failed = comparisons.iter().filter(|c| !c.passed).count();
    println!(
        "{}",
        if passed {
            format!("{label}: every comparison within its tolerance")
        } else {
            format!("{label}: {failed} comparison(s) beyond their tolerance")
        }
    );
    if let Some(path) = &args.json {
        let report = Report {
            device: label,
            comparisons: &comparisons,
            passed,
        };
        write_json_atomic(path, &report)?;
        println!("wrote {}", path.display());
    }
    Ok(if passed { 0 } else { 1 })
}

impl Comparison {
    fn new(what: String, relative_difference: f64, tolerance: f64) -> Self {
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
    mode: DecayMode,
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
        ..AdamConfig::new(mode, 1e-2, 5e-2)
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
    mode: DecayMode,
    amsgrad: bool,
    device: Device,
) -> Result<Vec<f64>> {
    let i = Tensor::arange(n, (Kind::Double, Device::Cpu));
    let x = (&i * 0.37 + 0.1).sin().to(device).set_requires_grad(true);
    let config = AdamConfig {
        amsgrad,
        ..AdamConfig::new(mode, lr, wd)
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
        assert!(Comparison::new("a".into(), 1e-12, 1e-12).passed);
        assert!(!Comparison::new("b".into(), 2e-12, 1e-12).passed);
        assert!(!Comparison::new("c".into(), f64::NAN, 1e-12).passed);
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
