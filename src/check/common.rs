//! What every check shares: the flags for data, model and outputs, the stream of batches,
//! one model with its optimizer ("lane") and how a training step is taken, and the
//! verdict, JSON and TensorBoard plumbing.
use crate::config::{parse_device, DatasetName};
use crate::data::{self, shuffled_order, Batch, Batches, Loader, LoaderConfig};
use crate::run::atomic::write_json_atomic;
use crate::run::tensorboard::Board;
use anyhow::{bail, Context, Result};
use clap::Args;
use models::{Model, ModelConfig};
use optim::{Adam, AdamConfig, DecayMode};
use serde::Serialize;
use std::path::{Path, PathBuf};
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

// ---- flag parsers: clap names the flag in the error, these say what is expected ----

pub fn positive(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err("must be a finite number > 0".into()),
    }
}

pub fn non_negative(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err("must be a finite number >= 0".into()),
    }
}

pub fn beta(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..1.0).contains(&v) => Ok(v),
        _ => Err("must be a number in [0, 1)".into()),
    }
}

pub fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(v) if v >= 1 => Ok(v),
        _ => Err("must be a whole number >= 1".into()),
    }
}

pub fn steps_at_least_one(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(v) if v >= 1 => Ok(v),
        _ => Err("must be a whole number >= 1".into()),
    }
}

pub fn model_name(s: &str) -> Result<String, String> {
    models::parse_name(s)
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

fn device_name(s: &str) -> Result<String, String> {
    parse_device(s)
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

/// The data (or random input) and where the work runs; the same flags as `scalefree train`.
#[derive(Args, Debug, Clone)]
pub struct InputArgs {
    #[arg(long, value_enum, default_value = "cifar10")]
    pub dataset: DatasetName,
    /// Dataset location: official directory or .tar.gz, or image-folder directory or .tar.gz
    /// [default: data/<dataset>, where `make data` puts it].
    #[arg(long, conflicts_with = "random_input")]
    pub data: Option<PathBuf>,
    /// Standard-normal images and uniformly random labels instead of the training set
    /// (also used, with a note, when no --data is given and data/<dataset> is missing).
    #[arg(long)]
    pub random_input: bool,
    /// Train on the first N training images after a seeded shuffle.
    #[arg(long, value_parser = at_least_one)]
    pub train_subset: Option<usize>,
    /// Images per batch [default: prox 64, scale-free 32, grad-scales 64].
    #[arg(long, value_parser = at_least_one)]
    pub batch_size: Option<usize>,
    /// Seed of the initial weights, the data order and augmentation, and the random input.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto", value_parser = device_name)]
    pub device: String,
    /// CPU threads (libtorch and the data pipeline).
    #[arg(long, value_parser = at_least_one)]
    pub threads: Option<usize>,
}

/// One model, as `scalefree train` names it.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// resnet20, resnet32, resnet44, resnet56, resnet110, resnet218, densenet100, … (any
    /// resnet<6n+2> or densenet<6n+4>).
    #[arg(long, default_value = "resnet20", value_parser = model_name)]
    pub model: String,
    /// With batch norm.
    #[arg(long, conflicts_with = "no_bn")]
    pub bn: bool,
    /// Without batch norm (the default).
    #[arg(long)]
    pub no_bn: bool,
}

/// Adam's moment settings (the paper's defaults).
#[derive(Args, Debug, Clone)]
pub struct BetaArgs {
    #[arg(long, default_value_t = 0.9, value_parser = beta)]
    pub beta1: f64,
    #[arg(long, default_value_t = 0.999, value_parser = beta)]
    pub beta2: f64,
}

#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// Write the measurements and the verdict as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Log the measurements to TensorBoard event files in this directory.
    #[arg(long)]
    pub tb: Option<PathBuf>,
}

impl OutputArgs {
    /// Makes the places the outputs go (the JSON's folder, the TensorBoard folder) before
    /// any work, so that a bad path fails at once rather than after the check has run.
    pub fn prepare(&self) -> Result<Option<Board>> {
        if let Some(path) = &self.json {
            create_parent(path).with_context(|| format!("--json {}", path.display()))?;
        }
        self.tb
            .as_deref()
            .map(|dir| Board::open(dir, None))
            .transpose()
    }

    /// The last lines of every check: the verdict, the wall time, and the JSON report.
    pub fn finish<T: Serialize>(&self, verdict: &Verdict, wall_s: f64, report: &T) -> Result<()> {
        println!("{}", verdict.line);
        println!("wall time {wall_s:.1} s");
        self.write_json(report)
    }

    fn write_json<T: Serialize>(&self, value: &T) -> Result<()> {
        if let Some(path) = &self.json {
            write_json_atomic(path, value)?;
            println!("wrote {}", path.display());
        }
        Ok(())
    }
}

pub fn create_parent(path: &Path) -> Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// Applies `--threads` and resolves `--device`.
pub fn prepare(args: &InputArgs) -> Result<Device> {
    if let Some(n) = args.threads {
        tch::set_num_threads(n as i32);
        // Only the first call in a process can size rayon's global pool.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    }
    parse_device(&args.device)
}

enum Source {
    Data(Box<Loader>),
    Random {
        batch_size: usize,
        seed: u64,
        device: Device,
    },
}

/// Where the batches come from: the (augmented, shuffled) training set, or random input.
pub struct Input {
    source: Source,
    pub classes: i64,
    /// `cifar10` (with the subset, if any) or `random`, for the printout and the JSON.
    pub description: String,
}

impl Input {
    pub fn open(args: &InputArgs, batch_size: usize, device: Device) -> Result<Input> {
        let kind = args.dataset.kind();
        let classes = kind.num_classes() as i64;
        let random = || Input {
            source: Source::Random {
                batch_size,
                seed: args.seed,
                device,
            },
            classes,
            description: "random".into(),
        };
        if args.random_input {
            return Ok(random());
        }
        let source = args
            .data
            .clone()
            .unwrap_or_else(|| data::default_source(kind));
        if !source.exists() {
            if args.data.is_some() {
                bail!("--data {}: no such file or directory", source.display());
            }
            eprintln!(
                "note: no {} at {} (run `make data` or pass --data); using random input as with --random-input",
                kind.name(),
                source.display()
            );
            return Ok(random());
        }
        let cache_dir = std::env::var_os("SCALEFREE_CACHE_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(data::default_cache_dir);
        let dataset = data::load(kind, &source, Some(&cache_dir)).with_context(|| {
            format!("--data: loading {} from {}", kind.name(), source.display())
        })?;
        let mut train = dataset.train.clone();
        let mut description = kind.name().to_string();
        if let Some(n) = args.train_subset {
            // The same subset `scalefree train --train-subset` uses.
            let order = shuffled_order(train.len(), args.seed, u64::MAX);
            train = train.subset(&order[..n.min(train.len())]);
            description = format!("{description} (subset of {})", train.len());
        }
        if train.is_empty() {
            bail!("--data {}: the training set is empty", source.display());
        }
        let config = LoaderConfig {
            batch_size,
            device,
            ..LoaderConfig::train(args.seed)
        };
        Ok(Input {
            source: Source::Data(Box::new(Loader::new(train, kind, config)?)),
            classes: dataset.classes.len() as i64,
            description,
        })
    }

    /// The batches from the first one on; every stream of an input yields the same batches.
    pub fn stream(&self) -> BatchStream<'_> {
        BatchStream {
            input: self,
            epoch: 0,
            batches: None,
            drawn: 0,
        }
    }
}

pub struct BatchStream<'a> {
    input: &'a Input,
    epoch: u64,
    batches: Option<Batches>,
    drawn: u64,
}

impl BatchStream<'_> {
    pub fn next_batch(&mut self) -> Result<Batch> {
        let index = self.drawn;
        self.drawn += 1;
        match &self.input.source {
            Source::Random {
                batch_size,
                seed,
                device,
            } => Ok(random_batch(
                *batch_size,
                self.input.classes,
                *seed,
                index,
                *device,
            )),
            Source::Data(loader) => loop {
                let batches = self.batches.get_or_insert_with(|| loader.epoch(self.epoch));
                match batches.next() {
                    Some(batch) => return Ok(batch?),
                    None => {
                        self.batches = None;
                        self.epoch += 1;
                    }
                }
            },
        }
    }
}

/// Batch `index` of the random input: drawn on the CPU from a generator seeded by
/// (seed, index), so it is the same on every device.
fn random_batch(batch_size: usize, classes: i64, seed: u64, index: u64, device: Device) -> Batch {
    let mixed =
        seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03);
    tch::manual_seed((mixed >> 1) as i64);
    let b = batch_size as i64;
    let images = Tensor::randn([b, 3, 32, 32], (Kind::Float, Device::Cpu)).to_device(device);
    let labels = Tensor::randint(classes, [b], (Kind::Int64, Device::Cpu)).to_device(device);
    Batch {
        images,
        labels,
        epoch: 0,
        index: index as usize,
    }
}

/// Mean training loss (of the un-multiplied loss) and accuracy over some steps.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tally {
    loss_sum: f64,
    correct: f64,
    seen: f64,
}

impl Tally {
    pub fn add(&mut self, stats: &StepStats) {
        self.loss_sum += stats.loss * stats.seen;
        self.correct += stats.correct;
        self.seen += stats.seen;
    }
    pub fn mean_loss(&self) -> Option<f64> {
        (self.seen > 0.0).then(|| self.loss_sum / self.seen)
    }
    pub fn accuracy(&self) -> Option<f64> {
        (self.seen > 0.0).then(|| self.correct / self.seen)
    }
}

/// What one forward/backward saw.
#[derive(Clone, Copy, Debug)]
pub struct StepStats {
    pub loss: f64,
    pub correct: f64,
    pub seen: f64,
}

/// The flat buffers of an optimizer's only parameter group (shallow clones: writing to
/// them writes the optimizer's state).
pub struct Buffers {
    pub values: Tensor,
    pub grads: Tensor,
    pub exp_avg: Tensor,
    pub exp_avg_sq: Tensor,
}

pub fn buffers(opt: &Adam) -> Buffers {
    let mut groups = opt.groups();
    let group = groups.next().expect("the optimizer has a parameter group");
    assert!(
        groups.next().is_none(),
        "the checks build one parameter group per optimizer"
    );
    Buffers {
        values: group.values().shallow_clone(),
        grads: group.grads().shallow_clone(),
        exp_avg: group.exp_avg().shallow_clone(),
        exp_avg_sq: group.exp_avg_sq().shallow_clone(),
    }
}

/// The model as `scalefree train` builds it by default (layout `auto`: channels-last on the
/// CPU, which only changes speed; every run of a check uses the same layout).
pub fn model_config(name: &str, bn: bool, classes: i64, seed: u64, device: Device) -> ModelConfig {
    ModelConfig::new(name, bn, classes, seed)
        .with_channels_last(crate::config::Layout::Auto.channels_last_on(device))
}

/// The ε that stands in for ε = 0. A literal 0 turns every coordinate whose gradient has
/// been exactly 0 so far (a dead ReLU channel) into `0/0 = NaN`; a tiny ε makes those
/// `0/ε = 0` and is far below `√v̂` of any other coordinate: 1e-300 in float64, 1e-30 in
/// float32 (where, with ε that small, a gradient below ~1e-22 whose square underflows to 0
/// gets a huge step: ε = 0 is not a float32 setting).
pub fn zero_eps(kind: Kind) -> f64 {
    if kind == Kind::Double {
        1e-300
    } else {
        1e-30
    }
}

/// The ε the optimizer is given for a requested ε.
pub fn effective_eps(eps: f64, kind: Kind) -> f64 {
    if eps == 0.0 {
        zero_eps(kind)
    } else {
        eps
    }
}

/// Adam for a check, in `kind`; ε = 0 is given as [`zero_eps`].
pub fn adam_config(
    mode: DecayMode,
    lr: f64,
    wd: f64,
    eps: f64,
    betas: &BetaArgs,
    kind: Kind,
) -> AdamConfig {
    AdamConfig::new(mode, lr, wd)
        .eps(effective_eps(eps, kind))
        .betas(betas.beta1, betas.beta2)
}

/// One model with its optimizer, trained the way `scalefree train` trains: forward in
/// training mode, cross-entropy, backward of `loss × multiplier`, step. The paper decays
/// every parameter, so there is one group with the config's λ.
pub struct Lane {
    _vs: VarStore,
    pub model: Model,
    pub opt: Adam,
    /// Float (as `scalefree train`) or Double: weights, activations, gradients and moments.
    pub kind: Kind,
    /// The step at which the loss stopped being finite.
    pub diverged_at: Option<u64>,
}

impl Lane {
    pub fn new(model: &ModelConfig, adam: AdamConfig, device: Device) -> Result<Lane> {
        Lane::with_kind(model, adam, device, Kind::Float)
    }

    pub fn with_kind(
        model: &ModelConfig,
        adam: AdamConfig,
        device: Device,
        kind: Kind,
    ) -> Result<Lane> {
        let mut vs = VarStore::new(device);
        let net = Model::new(&vs.root(), model)?;
        if kind == Kind::Double {
            vs.double();
        }
        let opt = Adam::from_var_store(adam, &vs)?;
        Ok(Lane {
            _vs: vs,
            model: net,
            opt,
            kind,
            diverged_at: None,
        })
    }

    /// Forward and backward of `loss × loss_mult` on `batch` for step `t`; the gradient is
    /// then in the optimizer's flat buffer. `None` (and the lane marked diverged) when the
    /// loss is not finite.
    pub fn backward(&mut self, batch: &Batch, loss_mult: f64, t: u64) -> Result<Option<StepStats>> {
        if self.diverged_at.is_some() {
            return Ok(None);
        }
        let logits = if batch.images.kind() == self.kind {
            self.model.forward_t(&batch.images, true)
        } else {
            self.model.forward_t(&batch.images.to_kind(self.kind), true)
        };
        let loss = logits.cross_entropy_for_logits(&batch.labels);
        let value = loss.double_value(&[]);
        if !value.is_finite() {
            self.diverged_at = Some(t);
            return Ok(None);
        }
        self.opt.zero_grad();
        if loss_mult == 1.0 {
            loss.backward()
        } else {
            (&loss * loss_mult).backward()
        }
        // Moves freshly created gradients into the flat buffer, so that it can be read or
        // rescaled before the step.
        self.opt.sync_buffers()?;
        let correct = tch::no_grad(|| {
            logits
                .argmax(-1, false)
                .eq_tensor(&batch.labels)
                .sum(Kind::Float)
                .double_value(&[])
        });
        Ok(Some(StepStats {
            loss: value,
            correct,
            seen: batch.len() as f64,
        }))
    }

    /// Multiplies every coordinate of the gradient by its factor, in place.
    pub fn scale_grads(&mut self, factors: &Tensor) {
        tch::no_grad(|| {
            let _ = buffers(&self.opt).grads.g_mul_(factors);
        });
    }

    pub fn step(&mut self) -> Result<()> {
        if self.diverged_at.is_none() {
            self.opt.step()?;
        }
        Ok(())
    }

    pub fn values(&self) -> Tensor {
        buffers(&self.opt).values
    }
}

pub fn norm(t: &Tensor) -> f64 {
    t.to_kind(Kind::Double).norm().double_value(&[])
}

/// `‖a − b‖` computed in float64.
pub fn distance(a: &Tensor, b: &Tensor) -> f64 {
    (a.to_kind(Kind::Double) - b.to_kind(Kind::Double))
        .norm()
        .double_value(&[])
}

/// The verdict of a check: which claim, whether the measurement supports it, and the
/// numbers that decided it.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub claim: String,
    pub supported: bool,
    pub line: String,
}

impl Verdict {
    pub fn new(claim: &str, supported: bool, detail: &str) -> Verdict {
        let word = if supported {
            "SUPPORTED"
        } else {
            "NOT SUPPORTED"
        };
        Verdict {
            claim: claim.to_string(),
            supported,
            line: format!("{claim}: {word} — {detail}"),
        }
    }
}

/// `1.23e-4`-style numbers for the tables; `—` for none.
pub fn sci(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_nan() => "NaN".into(),
        Some(v) => format!("{v:.2e}"),
        None => "—".into(),
    }
}

pub fn fixed(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(v) => format!("{v:.digits$}"),
        None => "—".into(),
    }
}

pub fn device_label(device: Device) -> String {
    match device {
        Device::Cpu => "cpu".into(),
        Device::Cuda(n) => format!("cuda:{n}"),
        other => format!("{other:?}").to_lowercase(),
    }
}
