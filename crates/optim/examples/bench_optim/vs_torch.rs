//! Each update rule against PyTorch's fastest CPU implementation of the same optimizer,
//! on ResNet-110's parameter shapes, with 1 and 2 threads (`vs_torch` in the report).
//!
//! PyTorch's side is `bench/pytorch/optim_step.py --serve`, one Python process for the
//! whole run: for each rule and thread count the two sides take turns, ours (its CPU
//! kernel on a rayon pool of that many threads, libtorch set to as many) then the
//! script's (`torch.set_num_threads`; each of torch.optim's CPU implementations of the
//! rule: the for-loop, `foreach=True`, and `fused=True` where torch accepts it on the
//! CPU), rep after rep; the first rep warms up and is left out. Each side reports the
//! mean seconds of `steps` consecutive steps; the report has their medians over the
//! reps, and `torch_over_scalefree`: PyTorch's fastest median over ours (above 1: ours
//! is faster).
use crate::shapes::resnet_shapes;
use crate::support::median;
use adamw_prox::{OptimConfig, Optimizer, ParamGroup};
use anyhow::{bail, Context};
use serde_json::{json, Map, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// The parameter shapes: ResNet-110 (CIFAR, with BN).
pub const DEPTH: i64 = 110;

/// One rule of the comparison.
struct Rule {
    /// The optimizer's name (`rules::names`).
    name: &'static str,
    /// `η_0`.
    lr: f64,
    /// `λ` in this crate's units (the script gets PyTorch's `weight_decay`).
    weight_decay: f64,
    /// Settings other than PyTorch's defaults.
    settings: &'static [(&'static str, f64)],
}

/// The rules compared, each with the placement PyTorch has (ℓ2 for SGD, RMSprop and
/// Adagrad, decoupled for AdamW and Lion) and a step size and decay usual for it.
const RULES: &[Rule] = &[
    Rule {
        name: "adamw",
        lr: 1e-3,
        weight_decay: 5e-5,
        settings: &[],
    },
    Rule {
        name: "sgd",
        lr: 0.1,
        weight_decay: 5e-4,
        settings: &[("momentum", 0.9)],
    },
    Rule {
        name: "lion",
        lr: 1e-4,
        weight_decay: 1e-5,
        settings: &[],
    },
    Rule {
        name: "rmsprop",
        lr: 1e-2,
        weight_decay: 5e-4,
        settings: &[],
    },
    Rule {
        name: "adagrad",
        lr: 1e-2,
        weight_decay: 5e-4,
        settings: &[],
    },
];

impl Rule {
    /// The rule as this crate builds it.
    fn config(&self) -> anyhow::Result<OptimConfig> {
        let mut config = OptimConfig::named(self.name, self.lr, self.weight_decay)?;
        for &(key, value) in self.settings {
            config = config.set(key, value)?;
        }
        Ok(config)
    }
}

/// The rule's settings by PyTorch's names, as the script reads them.
fn settings_json(config: &OptimConfig) -> anyhow::Result<Value> {
    let mut map = Map::new();
    for (key, value) in config.rule.settings() {
        map.insert(key.to_string(), serde_json::to_value(value)?);
    }
    Ok(Value::Object(map))
}

/// `bench/pytorch/optim_step.py`: `given`, else beside the executable as the bundle has
/// it (`bin/examples/` → `bench/pytorch/`), else in this repository.
pub fn script(given: Option<&str>) -> anyhow::Result<PathBuf> {
    if let Some(path) = given {
        return Ok(PathBuf::from(path));
    }
    let relative = Path::new("bench/pytorch/optim_step.py");
    let mut candidates = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        if let Some(root) = exe.parent().and_then(Path::parent).and_then(Path::parent) {
            candidates.push(root.join(relative));
        }
    }
    candidates.push(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(relative),
    );
    candidates
        .iter()
        .find(|p| p.exists())
        .cloned()
        .with_context(|| format!("cannot find {} (give --torch-script)", relative.display()))
}

/// The Python with torch: `given`, else the active virtual environment's, else `python3`.
pub fn python(given: Option<&str>) -> String {
    if let Some(python) = given {
        return python.to_string();
    }
    match std::env::var_os("VIRTUAL_ENV") {
        Some(venv) if Path::new(&venv).join("bin/python").exists() => {
            Path::new(&venv).join("bin/python").display().to_string()
        }
        _ => "python3".to_string(),
    }
}

/// The Python process answering timing requests.
struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    command: String,
}

impl Worker {
    fn start(python: &str, script: &Path) -> anyhow::Result<Self> {
        let command = format!("{python} {} --serve", script.display());
        let mut child = Command::new(python)
            .arg(script)
            .arg("--serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| {
                format!("cannot start `{command}` (give --python, or --only adam,tch)")
            })?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().context("no stdout")?);
        Ok(Worker {
            child,
            stdin,
            stdout,
            command,
        })
    }

    /// One request, its answer; an answer with `error` is an error.
    fn ask(&mut self, request: &Value) -> anyhow::Result<Value> {
        let stdin = self
            .stdin
            .as_mut()
            .context("the worker's input is closed")?;
        writeln!(stdin, "{request}")
            .and_then(|()| stdin.flush())
            .with_context(|| format!("`{}` stopped (see its error above)", self.command))?;
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            bail!(
                "`{}` stopped without an answer (see its error above)",
                self.command
            );
        }
        let answer: Value = serde_json::from_str(&line)
            .with_context(|| format!("`{}` answered `{}`", self.command, line.trim()))?;
        if let Some(error) = answer.get("error") {
            bail!("`{}`: {error}", self.command);
        }
        Ok(answer)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        drop(self.stdin.take()); // end of input: the worker exits
        let _ = self.child.wait();
    }
}

/// Float32 parameters of `shapes`, each holding a random gradient.
fn params(shapes: &[Vec<i64>]) -> Vec<Tensor> {
    tch::manual_seed(0);
    shapes
        .iter()
        .map(|s| {
            let p = Tensor::randn(s.as_slice(), (Kind::Float, Device::Cpu)).set_requires_grad(true);
            (&p * Tensor::randn(s.as_slice(), (Kind::Float, Device::Cpu)))
                .sum(Kind::Float)
                .backward();
            p
        })
        .collect()
}

fn seconds_per_step(steps: usize, opt: &mut Optimizer) -> f64 {
    let start = Instant::now();
    for _ in 0..steps {
        opt.step().expect("a step on valid parameters");
    }
    start.elapsed().as_secs_f64() / steps as f64
}

/// The comparison (see the module documentation), one entry per rule and thread count.
pub fn run(
    reps: usize,
    steps: usize,
    thread_counts: &[usize],
    python: &str,
    script: &Path,
) -> anyhow::Result<Vec<Value>> {
    let shapes = resnet_shapes(DEPTH);
    let numel: i64 = shapes.iter().map(|s| s.iter().product::<i64>()).sum();
    let mut worker = Worker::start(python, script)?;
    let mut results = Vec::new();
    eprintln!(
        "ResNet-{DEPTH}: {numel} parameters in {} tensors, each rule against PyTorch's ({})",
        shapes.len(),
        worker.command
    );
    for &threads in thread_counts {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()?;
        tch::set_num_threads(threads as i32);
        let mut ours = Vec::new();
        for rule in RULES {
            let config = rule.config()?;
            let request = json!({
                "optimizer": rule.name,
                "lr": rule.lr,
                "weight_decay": config.torch_weight_decay(),
                "settings": settings_json(&config)?,
                "shapes": shapes,
                "threads": threads,
                "steps": steps,
            });
            let group = ParamGroup::from_tensors("all", params(&shapes));
            let opt = config.build_groups(vec![group])?;
            ours.push((rule.name, opt, request, Vec::new(), Vec::new()));
        }
        for rep in 0..=reps {
            for (_, opt, request, our_times, answers) in ours.iter_mut() {
                let seconds = pool.install(|| seconds_per_step(steps, opt));
                let answer = worker.ask(request)?;
                if rep > 0 {
                    our_times.push(seconds);
                    answers.push(answer);
                }
            }
        }
        for (name, opt, request, our_times, answers) in ours {
            let entry = summarise(name, &opt, &request, our_times, &answers, threads, numel)?;
            results.push(entry);
        }
    }
    Ok(results)
}

/// One rule's entry: both sides' medians and the ratio.
fn summarise(
    name: &str,
    opt: &Optimizer,
    request: &Value,
    our_times: Vec<f64>,
    answers: &[Value],
    threads: usize,
    numel: i64,
) -> anyhow::Result<Value> {
    let ours = median(our_times);
    let first = answers.first().context("no counted rep (--reps 0?)")?;
    let mut torch_ms = Map::new();
    let mut fastest: Option<(String, f64)> = None;
    for implementation in ["forloop", "foreach", "fused"] {
        let samples: Vec<f64> = answers
            .iter()
            .filter_map(|a| a["seconds_per_step"][implementation].as_f64())
            .collect();
        if samples.len() != answers.len() {
            torch_ms.insert(implementation.into(), Value::Null);
            continue;
        }
        let m = median(samples);
        torch_ms.insert(implementation.into(), json!(m * 1e3));
        if fastest.as_ref().is_none_or(|(_, best)| m < *best) {
            fastest = Some((implementation.to_string(), m));
        }
    }
    let (fastest, theirs) = fastest.context("PyTorch timed no implementation")?;
    eprintln!(
        "  {threads} thread{} {name:<8} scalefree {:>8.3} ms  PyTorch {fastest:<7} {:>8.3} ms  PyTorch / scalefree {:>5.2}x",
        if threads == 1 { " " } else { "s" },
        ours * 1e3,
        theirs * 1e3,
        theirs / ours
    );
    Ok(json!({
        "rule": name,
        "threads": threads,
        "parameters": numel,
        "shapes": format!("resnet{DEPTH}"),
        "lr": opt.config().lr,
        "weight_decay": opt.config().weight_decay,
        "torch_weight_decay": request["weight_decay"],
        "settings": request["settings"],
        "scalefree_median_step_ms": ours * 1e3,
        "torch_median_step_ms": torch_ms,
        "torch_refused": first["refused"],
        "torch_fastest": fastest,
        "torch_fastest_median_step_ms": theirs * 1e3,
        "torch_over_scalefree": theirs / ours,
        "torch_source": first["source"],
        "torch_version": first["torch_version"],
    }))
}
