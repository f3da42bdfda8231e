//! The run configuration: every setting of `scalefree train`, from a JSON run file
//! and/or flags (flags win), validated before any work starts.
use anyhow::{bail, Context, Result};
use optim::{AdamConfig, DecayMode, Schedule};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetName {
    Cifar10,
    Cifar100,
}

/// Memory layout of the activations. `auto` is channels-last on the CPU, where libtorch's
/// convolutions train 1.0–2.4× as fast that way (`make bench-models`), and NCHW on CUDA.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    Auto,
    Nchw,
    ChannelsLast,
}

impl Layout {
    pub fn channels_last_on(self, device: tch::Device) -> bool {
        match self {
            Layout::Auto => device == tch::Device::Cpu,
            Layout::Nchw => false,
            Layout::ChannelsLast => true,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ScheduleName {
    Constant,
    Cosine,
    Step,
    WarmupCosine,
}

/// Everything that defines a training run. Serialised as the run's `config.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    pub dataset: DatasetName,
    /// Official directory or archive, or image-folder directory or archive
    /// (default: where `make data` puts the dataset, `data/<dataset>`).
    pub data: Option<PathBuf>,
    pub model: String,
    pub bn: bool,
    pub optimizer: DecayMode,
    /// η_0.
    pub lr: f64,
    /// The paper's λ.
    pub wd: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub amsgrad: bool,
    pub schedule: ScheduleName,
    /// Step decay: multiply η by `step_gamma` every `step_every` epochs.
    pub step_every: u32,
    pub step_gamma: f64,
    /// Warm-up length for `warmup-cosine`, in epochs.
    pub warmup_epochs: u32,
    pub epochs: u32,
    pub max_steps: Option<u64>,
    pub train_subset: Option<usize>,
    pub batch_size: usize,
    pub loss_mult: f64,
    pub seed: u64,
    pub val_fraction: f64,
    pub eval_every: u32,
    pub hist_every: u64,
    pub device: String,
    pub layout: Layout,
    pub threads: Option<usize>,
    pub out: Option<PathBuf>,
    pub name: Option<String>,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            dataset: DatasetName::Cifar10,
            data: None,
            model: "resnet20".into(),
            bn: false,
            optimizer: DecayMode::Decoupled,
            lr: 1e-3,
            wd: 5e-5,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            amsgrad: false,
            schedule: ScheduleName::Constant,
            step_every: 100,
            step_gamma: 0.1,
            warmup_epochs: 5,
            epochs: 300,
            max_steps: None,
            train_subset: None,
            batch_size: 128,
            loss_mult: 1.0,
            seed: 0,
            val_fraction: 0.0,
            eval_every: 1,
            hist_every: 1000,
            device: "auto".into(),
            layout: Layout::Auto,
            threads: None,
            out: None,
            name: None,
        }
    }
}

fn refuse(field: &str, value: impl std::fmt::Display, expected: &str) -> anyhow::Error {
    anyhow::anyhow!("invalid `{field}` = {value}: must be {expected}")
}

impl DatasetName {
    pub fn kind(self) -> crate::data::DatasetKind {
        match self {
            DatasetName::Cifar10 => crate::data::DatasetKind::Cifar10,
            DatasetName::Cifar100 => crate::data::DatasetKind::Cifar100,
        }
    }
}

impl RunConfig {
    pub fn data_source(&self) -> PathBuf {
        self.data
            .clone()
            .unwrap_or_else(|| crate::data::default_source(self.dataset.kind()))
    }

    /// Reads a JSON run file; unknown fields and wrong types are refused naming the field.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read run file {}", path.display()))?;
        Self::from_json(&text).with_context(|| format!("run file {}", path.display()))
    }

    pub fn from_json(text: &str) -> Result<Self> {
        let mut de = serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if path == "." || path.is_empty() {
                anyhow::anyhow!("{inner}")
            } else {
                anyhow::anyhow!("field `{path}`: {inner}")
            }
        })
    }

    /// Refuses values outside their valid ranges, naming the field (as spelled in the
    /// run file; the flag is the same with `--` and dashes).
    pub fn validate(&self) -> Result<()> {
        let positive = |field: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(refuse(field, v, "a finite number > 0"))
            }
        };
        positive("lr", self.lr)?;
        positive("loss_mult", self.loss_mult)?;
        if !(self.wd.is_finite() && self.wd >= 0.0) {
            return Err(refuse("wd", self.wd, "a finite number >= 0"));
        }
        for (field, beta) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&beta) {
                return Err(refuse(field, beta, "in [0, 1)"));
            }
        }
        if !(self.eps.is_finite() && self.eps >= 0.0) {
            return Err(refuse("eps", self.eps, "a finite number >= 0"));
        }
        if !(self.step_gamma.is_finite() && self.step_gamma > 0.0) {
            return Err(refuse("step_gamma", self.step_gamma, "a finite number > 0"));
        }
        for (field, v) in [("epochs", self.epochs), ("step_every", self.step_every)] {
            if v == 0 {
                return Err(refuse(field, v, "at least 1"));
            }
        }
        if self.batch_size == 0 {
            return Err(refuse("batch_size", 0, "at least 1"));
        }
        if self.max_steps == Some(0) {
            return Err(refuse(
                "max_steps",
                0,
                "at least 1 (or absent for no limit)",
            ));
        }
        if self.train_subset == Some(0) {
            return Err(refuse(
                "train_subset",
                0,
                "at least 1 (or absent for the whole training set)",
            ));
        }
        if self.threads == Some(0) {
            return Err(refuse("threads", 0, "at least 1"));
        }
        if !(0.0..1.0).contains(&self.val_fraction) {
            return Err(refuse("val_fraction", self.val_fraction, "in [0, 1)"));
        }
        parse_device(&self.device)?;
        if let Some(name) = &self.name {
            let ok = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-+=".contains(c))
                && !name.starts_with('.');
            if !ok {
                return Err(refuse(
                    "name",
                    format!("{name:?}"),
                    "letters, digits and . _ - + = (it names a directory)",
                ));
            }
        }
        models::parse_name(&self.model).map_err(|e| anyhow::anyhow!("invalid `model`: {e}"))?;
        self.adam_config()
            .validate()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(())
    }

    pub fn adam_config(&self) -> AdamConfig {
        AdamConfig::new(self.optimizer, self.lr, self.wd)
            .betas(self.beta1, self.beta2)
            .eps(self.eps)
            .amsgrad(self.amsgrad)
    }

    /// The schedule over the run's total number of optimizer steps.
    pub fn schedule(&self, steps_per_epoch: u64, total_steps: u64) -> Schedule {
        let total_steps = total_steps.max(1);
        match self.schedule {
            ScheduleName::Constant => Schedule::Constant,
            ScheduleName::Cosine => Schedule::Cosine { total_steps },
            ScheduleName::Step => Schedule::Step {
                every: (self.step_every as u64 * steps_per_epoch).max(1),
                gamma: self.step_gamma,
            },
            ScheduleName::WarmupCosine => Schedule::warmup_cosine(
                (self.warmup_epochs as u64 * steps_per_epoch).clamp(1, total_steps),
                total_steps,
            ),
        }
    }

    /// A stable name from the settings that distinguish runs of a sweep.
    pub fn derived_name(&self) -> String {
        let mut name = format!(
            "{}-{}_{}_lr{}_wd{}_s{}",
            self.model,
            if self.bn { "bn" } else { "nobn" },
            self.optimizer,
            self.lr,
            self.wd,
            self.seed
        );
        if self.loss_mult != 1.0 {
            name.push_str(&format!("_lm{}", self.loss_mult));
        }
        name
    }

    pub fn run_dir(&self) -> PathBuf {
        self.out.clone().unwrap_or_else(|| {
            PathBuf::from("runs").join(self.name.clone().unwrap_or_else(|| self.derived_name()))
        })
    }
}

/// `cpu`, `cuda`, `cuda:N` or `auto` (CUDA when available).
pub fn parse_device(spec: &str) -> Result<tch::Device> {
    let device = match spec {
        "cpu" => tch::Device::Cpu,
        "auto" => tch::Device::cuda_if_available(),
        "cuda" => tch::Device::Cuda(0),
        other => match other.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(n)) => tch::Device::Cuda(n),
            _ => bail!("invalid `device` = {other:?}: must be cpu, cuda, cuda:N or auto"),
        },
    };
    if let tch::Device::Cuda(n) = device {
        let available = tch::Cuda::device_count() as usize;
        if n >= available {
            bail!("invalid `device` = {spec:?}: {available} CUDA device(s) available (use cpu or auto)");
        }
    }
    Ok(device)
}
