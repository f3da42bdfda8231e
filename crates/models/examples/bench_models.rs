//! `make bench-models`: training throughput (forward + backward, images/s) of the paper's
//! models on the CPU, with and without batch norm, batch 128, f32, in the NCHW and the
//! channels-last layout (`ModelConfig::channels_last`).
//!
//! Each model is built, run for `--warmup` steps, then timed for `--iters` steps; a step is
//! zeroing the gradients, a training-mode forward pass, cross-entropy and backward (no
//! optimizer step). The median step gives images/s. The 1-minute load average before and
//! after each model is recorded, since other processes on the machine skew the numbers.
//!
//! Usage: bench_models [--models resnet20,densenet100] [--layout nchw|channels-last|both]
//!                     [--iters N] [--warmup N] [--batch N] [--threads N] [--out DIR]
#[path = "../../optim/examples/bench_optim/support.rs"]
mod support;
use anyhow::{bail, Context};
use models::{trainable_parameter_count, Model, ModelConfig};
use serde_json::{json, Value};
use std::time::Instant;
use support::{arg, load_average, median, number};
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

const DEFAULT_MODELS: &str = "resnet20,resnet56,resnet110,densenet100";

/// Seconds of each timed training step (forward + backward) of one model.
fn time_steps(model: &Model, vs: &VarStore, batch: i64, warmup: usize, iters: usize) -> Vec<f64> {
    let images = Tensor::randn([batch, 3, 32, 32], (Kind::Float, Device::Cpu));
    let labels = Tensor::randint(model.classes(), [batch], (Kind::Int64, Device::Cpu));
    let params = vs.trainable_variables();
    let step = || {
        for p in &params {
            let mut grad = p.grad();
            if grad.defined() {
                let _ = grad.zero_();
            }
        }
        model
            .forward_t(&images, true)
            .cross_entropy_for_logits(&labels)
            .backward();
    };
    (0..warmup).for_each(|_| step());
    (0..iters)
        .map(|_| {
            let start = Instant::now();
            step();
            start.elapsed().as_secs_f64()
        })
        .collect()
}

/// Builds one model and times it; the result as a JSON record.
fn bench_one(
    name: &str,
    bn: bool,
    channels_last: bool,
    batch: i64,
    warmup: usize,
    iters: usize,
) -> anyhow::Result<Value> {
    let layout = if channels_last {
        "channels-last"
    } else {
        "nchw"
    };
    let vs = VarStore::new(Device::Cpu);
    let model = Model::new(
        &vs.root(),
        &ModelConfig::new(name, bn, 10, 0).with_channels_last(channels_last),
    )?;
    let load_before = load_average();
    let steps = time_steps(&model, &vs, batch, warmup, iters);
    let load_after = load_average();
    let step = median(steps.clone());
    let images_per_s = batch as f64 / step;
    eprintln!(
        "{name:<12} bn={bn:<5} {layout:<13} {images_per_s:>7.1} images/s  (median step {:.0} ms)",
        step * 1e3
    );
    Ok(json!({
        "model": name,
        "bn": bn,
        "layout": layout,
        "parameters": trainable_parameter_count(&vs),
        "images_per_s": images_per_s,
        "median_step_ms": step * 1e3,
        "step_ms": steps.iter().map(|s| s * 1e3).collect::<Vec<_>>(),
        "load_average_1min": [load_before, load_after],
    }))
}

fn main() {
    support::exit_on_error(run);
}

fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let names = arg(&args, "--models").unwrap_or_else(|| DEFAULT_MODELS.into());
    let iters: usize = number(&args, "--iters", 3)?;
    let warmup: usize = number(&args, "--warmup", 1)?;
    let batch: i64 = number(&args, "--batch", 128)?;
    if iters == 0 || batch < 1 {
        bail!("--iters and --batch must be at least 1");
    }
    if let Some(threads) = arg(&args, "--threads") {
        tch::set_num_threads(
            threads
                .parse()
                .with_context(|| format!("--threads needs a number, got `{threads}`"))?,
        );
    }
    let threads = tch::get_num_threads();
    let out_dir = arg(&args, "--out");
    let layouts: &[bool] = match arg(&args, "--layout").as_deref() {
        None | Some("both") => &[false, true],
        Some("nchw") => &[false],
        Some("channels-last") => &[true],
        Some(other) => bail!("--layout is nchw, channels-last or both, not `{other}`"),
    };

    let mut results = Vec::new();
    for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        for bn in [true, false] {
            let mut pair: Vec<Value> = layouts
                .iter()
                .map(|&channels_last| bench_one(name, bn, channels_last, batch, warmup, iters))
                .collect::<anyhow::Result<_>>()?;
            // With both layouts timed back to back, the ratio is the number to read.
            if let [nchw, channels_last] = pair.as_mut_slice() {
                let ratio = channels_last["images_per_s"].as_f64().unwrap_or(f64::NAN)
                    / nchw["images_per_s"].as_f64().unwrap_or(f64::NAN);
                channels_last["ratio_to_nchw"] = json!(ratio);
                eprintln!("{name:<12} bn={bn:<5} channels-last / nchw = {ratio:.2}");
            }
            results.extend(pair);
        }
    }
    let report: Value = json!({
        "benchmark": "model forward + backward (training mode, cross-entropy), CPU, f32",
        "threads": threads,
        "batch": batch,
        "warmup": warmup,
        "iters": iters,
        "results": results,
    });
    support::emit_report(out_dir.as_deref(), "models", &report)?;
    Ok(())
}
