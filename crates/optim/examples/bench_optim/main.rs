//! `make bench-optim`: step time of each decay mode on the parameter shapes of
//! ResNet-110 and ResNet-1202 (CIFAR-10, with BN), against libtorch's built-in AdamW
//! (through tch) and the memory floor, measured side by side in one run.
//!
//! The floor is the time to move 7 floats per parameter (read x, g, m, v; write x, m, v),
//! measured as a copy of 3.5 floats per parameter (each element copied is one read and
//! one write), so that it works on the same amount of memory as the optimizer.
//!
//! Then, on one `VarStore` of ResNet-110's shapes and one of a transformer's (150 small
//! tensors), AdamW in PyTorch's convention against tch's `nn::AdamW` on the same
//! variables, alternating (`vs_tch` in the report, with the ratio tch / scalefree).
//!
//! Then each update rule (AdamW, SGD with momentum 0.9, Lion, RMSprop, Adagrad) on
//! ResNet-110's shapes with 1 and 2 threads against PyTorch's fastest CPU implementation
//! of the same optimizer (torch.optim's for-loop, `foreach=True` or `fused=True`;
//! `bench/pytorch/optim_step.py`, run by the venv's Python), alternating (`vs_torch` in
//! the report, with the ratio `torch_over_scalefree`; see `vs_torch.rs`).
//!
//! Usage: bench_optim [--reps N] [--steps N] [--depths 110,1202] [--out DIR]
//!        [--only adam,tch,torch] [--rule-threads 1,2] [--python PATH] [--torch-script PATH]
//!
//! `--only` picks the parts (default all three): `adam` the decay modes against
//! libtorch's AdamW and the floor, `tch` the `VarStore` comparison, `torch` the rules
//! against PyTorch. `--python` is the Python with torch (default `$VIRTUAL_ENV/bin/python`,
//! else `python3`).
//!
//! With `--trial scalefree|scalefree-tensor-ops|floor --depth D [--mode M] [--steps N]
//! [--device cpu|cuda]`, or `--trial var-store|tch-adamw --shapes resnet110|transformer`,
//! it times one candidate alone and prints one JSON line (the median seconds of N steps
//! after 3 warm-up steps): `bench/compare.py` alternates such trials with PyTorch's.
mod shapes;
mod support;
mod vs_tch;
mod vs_torch;
use adamw_prox::{Adam, AdamConfig, DecayMode, Kernel, ParamGroup};
use serde_json::{json, Value};
use shapes::resnet_shapes;
use std::time::Instant;
use support::{arg, load_average, median, number};
use tch::nn::OptimizerConfig;
use tch::{Device, Kind, Tensor};

fn make_params(shapes: &[Vec<i64>], device: Device) -> Vec<Tensor> {
    shapes
        .iter()
        .map(|s| {
            let p = Tensor::randn(s.as_slice(), (Kind::Float, device)).set_requires_grad(true);
            // Leave a gradient in place: the benchmark times the step alone.
            (&p * Tensor::randn(s.as_slice(), (Kind::Float, device)))
                .sum(Kind::Float)
                .backward();
            p
        })
        .collect()
}

fn seconds_per_call(steps: usize, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..steps {
        f();
    }
    start.elapsed().as_secs_f64() / steps as f64
}

/// Median seconds of `steps` calls after 3 warm-up calls (waiting for the GPU's queue).
fn median_seconds(steps: usize, device: Device, mut f: impl FnMut()) -> f64 {
    let sync = || {
        if let Device::Cuda(index) = device {
            tch::Cuda::synchronize(index as i64);
        }
    };
    for _ in 0..3 {
        f();
    }
    sync();
    let times = (0..steps)
        .map(|_| {
            let start = Instant::now();
            f();
            sync();
            start.elapsed().as_secs_f64()
        })
        .collect();
    median(times)
}

/// One candidate alone, for a side-by-side run with another process.
fn trial(args: &[String], candidate: &str) -> anyhow::Result<()> {
    let depth: i64 = number(args, "--depth", 110)?;
    let steps: usize = number(args, "--steps", 20)?;
    let device = match arg(args, "--device").as_deref() {
        None | Some("cpu") => Device::Cpu,
        Some("cuda") if tch::Cuda::is_available() => Device::Cuda(0),
        Some(other) => anyhow::bail!("--device must be cpu or cuda (with a GPU), not `{other}`"),
    };
    if let Some(set) = arg(args, "--shapes") {
        return trial_var_store(candidate, &set, steps, device);
    }
    let shapes = resnet_shapes(depth);
    let numel: i64 = shapes.iter().map(|s| s.iter().product::<i64>()).sum();
    let seconds = match candidate {
        "floor" => {
            let src = Tensor::randn([numel * 7 / 2], (Kind::Float, device));
            let mut dst = Tensor::zeros([numel * 7 / 2], (Kind::Float, device));
            median_seconds(steps, device, || {
                dst.copy_(&src);
            })
        }
        "scalefree" | "scalefree-tensor-ops" => {
            let mode: DecayMode = arg(args, "--mode")
                .unwrap_or_else(|| "adamw".into())
                .parse()
                .map_err(|e| anyhow::anyhow!("--mode: {e}"))?;
            let kernel = if candidate == "scalefree" {
                Kernel::Auto
            } else {
                Kernel::TensorOps
            };
            let config = AdamConfig::new(mode, 1e-3, 5e-5).kernel(kernel);
            let params = ParamGroup::from_tensors("all", make_params(&shapes, device));
            let mut opt = config.build_groups(vec![params])?;
            median_seconds(steps, device, || opt.step().unwrap())
        }
        other => {
            anyhow::bail!("--trial must be scalefree, scalefree-tensor-ops or floor, not `{other}`")
        }
    };
    println!(
        "{}",
        json!({
            "seconds_per_step": seconds,
            "steps": steps,
            "parameters": numel,
            "threads": tch::get_num_threads(),
        })
    );
    Ok(())
}

/// `--trial var-store|tch-adamw --shapes S`: one optimizer over a `VarStore` of the set.
fn trial_var_store(candidate: &str, set: &str, steps: usize, device: Device) -> anyhow::Result<()> {
    let named = shapes::named(set)?;
    let vs = vs_tch::var_store(&named, device);
    let seconds = match candidate {
        "var-store" => {
            let mut opt = vs_tch::ours(&vs)?;
            median_seconds(steps, device, || opt.step().unwrap())
        }
        "tch-adamw" => {
            let mut opt = vs_tch::theirs(&vs)?;
            median_seconds(steps, device, || opt.step())
        }
        other => {
            anyhow::bail!("with --shapes, --trial must be var-store or tch-adamw, not `{other}`")
        }
    };
    println!(
        "{}",
        json!({
            "seconds_per_step": seconds,
            "steps": steps,
            "shapes": set,
            "tensors": named.len(),
            "parameters": vs.trainable_variables().iter().map(|t| t.numel()).sum::<usize>(),
            "threads": tch::get_num_threads(),
        })
    );
    Ok(())
}

/// Both optimizers on one `VarStore` (tch's holds the same variables that this crate's
/// moves into its flat buffers, so both step the same memory), alternating per rep.
fn against_tch(reps: usize, steps: usize) -> anyhow::Result<Vec<Value>> {
    let mut results = Vec::new();
    for set in ["resnet110", "transformer"] {
        let named = shapes::named(set)?;
        let vs = vs_tch::var_store(&named, Device::Cpu);
        let numel: usize = vs.trainable_variables().iter().map(|t| t.numel()).sum();
        let mut theirs = vs_tch::theirs(&vs)?;
        let mut ours = vs_tch::ours(&vs)?;
        eprintln!(
            "{set}: {numel} parameters in {} tensors, one VarStore",
            named.len()
        );
        let (mut ours_s, mut theirs_s) = (Vec::new(), Vec::new());
        for rep in 0..=reps {
            let a = seconds_per_call(steps, || ours.step().unwrap());
            let b = seconds_per_call(steps, || theirs.step());
            if rep > 0 {
                ours_s.push(a);
                theirs_s.push(b);
            }
        }
        let (a, b) = (median(ours_s), median(theirs_s));
        eprintln!(
            "  scalefree AdamW {:>8.3} ms  tch nn::AdamW {:>8.3} ms  tch / scalefree {:>5.2}x",
            a * 1e3,
            b * 1e3,
            b / a
        );
        results.push(json!({
            "shapes": set,
            "parameters": numel,
            "tensors": named.len(),
            "scalefree_adamw_median_step_ms": a * 1e3,
            "tch_nn_adamw_median_step_ms": b * 1e3,
            "speedup_over_tch": b / a,
        }));
    }
    Ok(results)
}

/// The comma-separated numbers after `flag`, or `default`'s.
fn list<T: std::str::FromStr>(
    args: &[String],
    flag: &str,
    default: &str,
) -> anyhow::Result<Vec<T>> {
    let text = arg(args, flag).unwrap_or_else(|| default.into());
    text.split(',')
        .map(|d| d.parse())
        .collect::<Result<_, _>>()
        .map_err(|_| anyhow::anyhow!("{flag} needs comma-separated numbers, got `{text}`"))
}

fn main() {
    support::exit_on_error(run);
}

fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(threads) = arg(&args, "--threads") {
        let threads: i32 = threads
            .parse()
            .map_err(|_| anyhow::anyhow!("--threads needs a number, got `{threads}`"))?;
        tch::set_num_threads(threads);
    }
    let reps: usize = number(&args, "--reps", 7)?;
    if reps == 0 && arg(&args, "--trial").is_none() {
        anyhow::bail!("--reps needs at least 1 (the first, warm-up, round is not counted)");
    }
    let steps: usize = number(&args, "--steps", 10)?;
    let out_dir = arg(&args, "--out");
    let threads = tch::get_num_threads();
    // One thread count for both sides: libtorch's intra-op pool and our rayon pool.
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads as usize)
        .build_global()?;
    if let Some(candidate) = arg(&args, "--trial") {
        return trial(&args, &candidate);
    }

    let depths: Vec<i64> = list(&args, "--depths", "110,1202")?;
    let rule_threads: Vec<usize> = list(&args, "--rule-threads", "1,2")?;
    if rule_threads.contains(&0) {
        anyhow::bail!("--rule-threads needs thread counts of at least 1");
    }
    let only = arg(&args, "--only").unwrap_or_else(|| "adam,tch,torch".into());
    let parts: Vec<&str> = only.split(',').collect();
    if let Some(bad) = parts.iter().find(|p| !["adam", "tch", "torch"].contains(p)) {
        anyhow::bail!("--only takes adam, tch and torch, comma-separated, not `{bad}`");
    }
    // Found before the long parts run, so that a missing script fails at once.
    let torch_script = if parts.contains(&"torch") {
        Some(vs_torch::script(arg(&args, "--torch-script").as_deref())?)
    } else {
        None
    };
    let mut results = Vec::new();
    let adam_depths = if parts.contains(&"adam") {
        depths
    } else {
        Vec::new()
    };
    for depth in adam_depths {
        let shapes = resnet_shapes(depth);
        let numel: i64 = shapes.iter().map(|s| s.iter().product::<i64>()).sum();
        eprintln!(
            "ResNet-{depth}: {numel} parameters in {} tensors",
            shapes.len()
        );

        let mut ours: Vec<(String, Adam)> = Vec::new();
        for mode in DecayMode::ALL {
            for (kernel, label) in [
                (Kernel::Auto, "cpu-kernel"),
                (Kernel::TensorOps, "tensor-ops"),
            ] {
                let params = make_params(&shapes, Device::Cpu);
                let config = AdamConfig::new(mode, 1e-3, 5e-5).kernel(kernel);
                let opt = config.build_groups(vec![ParamGroup::from_tensors("all", params)])?;
                ours.push((format!("scalefree {mode} ({label})"), opt));
            }
        }
        let vs = tch::nn::VarStore::new(Device::Cpu);
        for (i, s) in shapes.iter().enumerate() {
            let _ = vs.root().randn(&format!("p{i}"), s, 0.0, 1.0);
        }
        let mut libtorch = tch::nn::AdamW {
            wd: 5e-5 / 1e-3,
            ..Default::default()
        }
        .build(&vs, 1e-3)?;
        for v in vs.trainable_variables() {
            (&v * Tensor::randn(v.size(), (Kind::Float, Device::Cpu)))
                .sum(Kind::Float)
                .backward();
        }
        let src = Tensor::randn([numel * 7 / 2], (Kind::Float, Device::Cpu));
        let mut dst = Tensor::zeros([numel * 7 / 2], (Kind::Float, Device::Cpu));

        // Warm-up, then alternate the candidates within each repetition (A B A B …).
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); ours.len() + 2];
        for rep in 0..=reps {
            let mut timings = Vec::new();
            for (_, opt) in ours.iter_mut() {
                timings.push(seconds_per_call(steps, || opt.step().unwrap()));
            }
            timings.push(seconds_per_call(steps, || libtorch.step()));
            timings.push(seconds_per_call(steps, || dst.copy_(&src)));
            if rep > 0 {
                for (s, t) in samples.iter_mut().zip(timings) {
                    s.push(t);
                }
            }
        }
        let medians: Vec<f64> = samples.into_iter().map(median).collect();
        let floor = medians[medians.len() - 1];
        let builtin = medians[medians.len() - 2];
        let mut names: Vec<String> = ours.iter().map(|(n, _)| n.clone()).collect();
        names.push("libtorch AdamW (tch nn::AdamW)".into());
        names.push("memory floor (7 floats/param)".into());
        for (name, t) in names.iter().zip(&medians) {
            results.push(json!({
                "model_shapes": format!("resnet{depth}"),
                "parameters": numel,
                "tensors": shapes.len(),
                "implementation": name,
                "median_step_ms": t * 1e3,
                "ratio_to_floor": t / floor,
                "ratio_to_libtorch_adamw": t / builtin,
            }));
            eprintln!(
                "  {name:<42} {:>8.3} ms  {:>5.2}x floor  {:>5.2}x libtorch",
                t * 1e3,
                t / floor,
                t / builtin
            );
        }
    }
    let vs_tch = if parts.contains(&"tch") {
        against_tch(reps, steps)?
    } else {
        Vec::new()
    };
    let vs_torch = match &torch_script {
        Some(script) => {
            let python = vs_torch::python(arg(&args, "--python").as_deref());
            vs_torch::run(reps, steps, &rule_threads, &python, script)?
        }
        None => Vec::new(),
    };
    let report: Value = json!({
        "benchmark": "optimizer step",
        "vs_tch": vs_tch,
        "vs_torch": vs_torch,
        "threads": threads,
        "load_average_1min_at_end": load_average(),
        "reps": reps,
        "steps_per_rep": steps,
        "results": results,
    });
    support::emit_report(out_dir.as_deref(), "optim", &report)?;
    Ok(())
}
