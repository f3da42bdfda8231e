//! The run configuration: every setting of a training run, grouped by concern (data,
//! model, optimizer, schedule, training, runtime), validated once, before any work.
//!
//! It is built the same way from every source: defaults, then a run file (flat, as
//! `config.json` and `--print-config` write it, or in sections), then experiment-grid
//! values or flags, each a flat key of [`keys::SETTINGS`]. The optimizer section
//! ([`OptimizerSettings`]) names the optimizer and its rule's settings. [`compare`] says how two configurations of a run
//! differ, by the settings' roles.
pub mod compare;
pub mod factors;
pub mod flag_values;
pub mod keys;
mod lane;
mod optimizer;
pub use lane::SEED;
pub use optimizer::OptimizerSettings;

use anyhow::{anyhow, bail, Context, Result};
pub use factors::FactorSpec;
use optim::Schedule;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetName {
    Cifar10,
    Cifar100,
}

impl DatasetName {
    pub fn kind(self) -> crate::data::DatasetKind {
        match self {
            DatasetName::Cifar10 => crate::data::DatasetKind::Cifar10,
            DatasetName::Cifar100 => crate::data::DatasetKind::Cifar100,
        }
    }
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

/// The dtype of a run's convolutions and matrix products. The weights, the optimizer's
/// state, the loss, batch norm's statistics and everything logged stay float32 (as with
/// PyTorch's autocast). `f16` needs CUDA and trains with dynamic loss scaling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Precision {
    Fp32,
    Bf16,
    F16,
}

impl Precision {
    pub const ALL: [Precision; 3] = [Precision::Fp32, Precision::Bf16, Precision::F16];

    /// The flag's and files' spelling: `fp32`, `bf16`, `f16`.
    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Bf16 => "bf16",
            Precision::F16 => "f16",
        }
    }

    /// The dtype convolutions and matrix products run in, when not float32.
    pub fn compute_kind(self) -> Option<tch::Kind> {
        match self {
            Precision::Fp32 => None,
            Precision::Bf16 => Some(tch::Kind::BFloat16),
            Precision::F16 => Some(tch::Kind::Half),
        }
    }

    /// Refuses a precision the device cannot train in: float16 without loss scaling's
    /// device (CUDA) is refused on the CPU, where libtorch's float16 kernels are slow
    /// and nothing needs them.
    pub fn check_device(self, device: tch::Device) -> Result<()> {
        if self == Precision::F16 && !device.is_cuda() {
            bail!(
                "--precision f16 needs a CUDA device, and this run trains on {}; there use \
                 --precision bf16 (or fp32)",
                match device {
                    tch::Device::Cpu => "the CPU".to_string(),
                    other => format!("{other:?}"),
                }
            );
        }
        Ok(())
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

/// What is trained on and how it is batched. Each field's meaning, default and role is
/// its row in [`keys::SETTINGS`] (as in the sections below).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    pub dataset: DatasetName,
    pub path: Option<PathBuf>,
    pub train_subset: Option<usize>,
    pub val_fraction: f64,
    pub batch_size: usize,
}

/// Which network: any `resnet<6n+2>` or `densenet<6n+4>`, with or without batch norm.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelChoice {
    pub name: String,
    pub bn: bool,
}

/// The step-size schedule, in epochs; [`RunConfig::schedule`] turns it into the optim
/// crate's [`Schedule`] in steps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    pub kind: ScheduleName,
    pub step_every: u32,
    pub step_gamma: f64,
    pub warmup_epochs: u32,
}

/// How long and how the loop runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingConfig {
    pub epochs: u32,
    pub max_steps: Option<u64>,
    pub loss_mult: f64,
    pub seed: u64,
    pub eval_every: u32,
    pub hist_every: u64,
    pub grad_factors: FactorSpec,
    pub factor_seed: u64,
    pub precision: Precision,
}

/// Where and how fast it runs, and where it writes: nothing here changes the numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    pub device: String,
    pub threads: Option<usize>,
    pub layout: Layout,
    pub out: Option<PathBuf>,
    pub name: Option<String>,
}

/// Everything that defines a training run. Written (as the run's `config.json`, and by
/// `--print-config`) in the flat form, one key per setting as its flag is named, which
/// every run file and experiment grid uses; read from the flat or the sectioned form.
#[derive(Clone, Debug, PartialEq)]
pub struct RunConfig {
    pub data: DataConfig,
    pub model: ModelChoice,
    /// The optimizer, the paper's η_0 (`lr`) and λ (`weight_decay`, flag `--wd`), and its
    /// rule's settings (β1, β2, ε, AMSGrad, momentum, …).
    pub optimizer: OptimizerSettings,
    pub schedule: ScheduleConfig,
    pub training: TrainingConfig,
    pub runtime: RuntimeConfig,
}

/// The defaults of every setting, from the table of settings ([`keys::SETTINGS`]).
impl Default for RunConfig {
    fn default() -> Self {
        let flat: Map<String, Value> = keys::SETTINGS
            .iter()
            .map(|s| (s.key.to_string(), s.default_value()))
            .collect();
        RunConfig::from_sections(&keys::nest(&flat))
            .expect("the table's defaults make a configuration")
    }
}

impl Serialize for RunConfig {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.settings().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RunConfig {
    /// Accepts every form a run file has had (see [`RunConfig::from_value`]).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        RunConfig::from_value(&value).map_err(|e| serde::de::Error::custom(format!("{e:#}")))
    }
}

fn refuse(field: &str, value: impl std::fmt::Display, expected: &str) -> anyhow::Error {
    anyhow!("invalid `{field}` = {value}: must be {expected}")
}

/// Refuses `value` of `field` unless `ok`.
fn ensure(ok: bool, field: &str, value: impl std::fmt::Display, expected: &str) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(refuse(field, value, expected))
    }
}

/// One section of the nested settings, with errors naming the flat key (`field `lr``).
fn section<T: DeserializeOwned>(nested: &Map<String, Value>, name: &str) -> Result<T> {
    let value = nested.get(name).cloned().unwrap_or(Value::Null);
    serde_path_to_error::deserialize(value).map_err(|e| {
        let nested_name = format!("{name}.{}", e.path());
        let field = keys::canonical(&nested_name).unwrap_or(&nested_name);
        anyhow!("field `{field}`: {}", e.into_inner())
    })
}

impl RunConfig {
    /// The defaults with `settings` (flat keys, any accepted spelling) laid over them,
    /// validated.
    pub fn from_settings(settings: &Map<String, Value>) -> Result<Self> {
        RunConfig::default().with_settings(settings)
    }

    /// This configuration with `settings` laid over it, validated.
    pub fn with_settings(&self, settings: &Map<String, Value>) -> Result<Self> {
        let mut flat = self.settings();
        let overlay = keys::flatten(settings)?;
        if overlay
            .get("optimizer")
            .is_some_and(|o| Some(o) != flat.get("optimizer"))
        {
            self.optimizer.unset_defaults(&mut flat);
        }
        for (key, value) in overlay {
            flat.insert(key, value);
        }
        let config = RunConfig::from_sections(&keys::nest(&flat))?;
        config.validate()?;
        Ok(config)
    }

    /// Every section read from `nested` (not yet validated).
    fn from_sections(nested: &Map<String, Value>) -> Result<Self> {
        Ok(RunConfig {
            data: section(nested, "data")?,
            model: section(nested, "model")?,
            optimizer: section(nested, "optimizer")?,
            schedule: section(nested, "schedule")?,
            training: section(nested, "training")?,
            runtime: section(nested, "runtime")?,
        })
    }

    /// Every setting under its flat key.
    pub fn settings(&self) -> Map<String, Value> {
        keys::flatten(&self.sections()).expect("its own keys are known")
    }

    /// Every setting in its section.
    pub fn sections(&self) -> Map<String, Value> {
        let value = serde_json::json!({
            "data": self.data, "model": self.model, "optimizer": self.optimizer,
            "schedule": self.schedule, "training": self.training, "runtime": self.runtime,
        });
        let Value::Object(map) = value else {
            unreachable!("sections serialise to an object")
        };
        map
    }

    /// A run file's contents: flat (`config.json`, `--print-config`, experiment files and
    /// most users' run files) or in sections; missing settings keep their defaults.
    pub fn from_value(value: &Value) -> Result<Self> {
        let Some(map) = value.as_object() else {
            bail!("a run file is a JSON object of settings");
        };
        RunConfig::from_settings(map)
    }

    /// Reads a JSON run file; unknown fields and wrong types are refused naming the field.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = crate::user_file::read_text(path)
            .with_context(|| format!("cannot read run file {}", path.display()))?;
        Self::from_json(&text).with_context(|| format!("run file {}", path.display()))
    }

    pub fn from_json(text: &str) -> Result<Self> {
        // Tracking the path names the setting of a number JSON cannot hold as a float
        // (`1e309`: "number out of range"), which would otherwise be only a line and column.
        let value: Value =
            serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(text))
                .map_err(|e| {
                    let path = e.path().to_string();
                    let cause = e.into_inner();
                    if path == "." {
                        anyhow!("{cause}")
                    } else {
                        anyhow!("field `{path}`: {cause}")
                    }
                })?;
        Self::from_value(&value)
    }

    pub fn data_source(&self) -> PathBuf {
        self.data
            .path
            .clone()
            .unwrap_or_else(|| crate::data::default_source(self.data.dataset.kind()))
    }

    /// Refuses values outside their valid ranges, naming the field by its flag's name.
    pub fn validate(&self) -> Result<()> {
        self.optimizer.optim_config()?;
        let (data, training, schedule) = (&self.data, &self.training, &self.schedule);
        let finite = |v: f64| v.is_finite() && v > 0.0;
        let (loss_mult, gamma) = (training.loss_mult, schedule.step_gamma);
        let positive = "a finite number > 0";
        ensure(finite(loss_mult), "loss_mult", loss_mult, positive)?;
        ensure(finite(gamma), "step_gamma", gamma, positive)?;
        ensure(training.epochs > 0, "epochs", training.epochs, "at least 1")?;
        let every = schedule.step_every;
        ensure(every > 0, "step_every", every, "at least 1")?;
        ensure(data.batch_size > 0, "batch_size", 0, "at least 1")?;
        let no_limit = "at least 1 (or absent for no limit)";
        ensure(training.max_steps != Some(0), "max_steps", 0, no_limit)?;
        let whole = "at least 1 (or absent for the whole training set)";
        ensure(data.train_subset != Some(0), "train_subset", 0, whole)?;
        ensure(self.runtime.threads != Some(0), "threads", 0, "at least 1")?;
        let fraction = data.val_fraction;
        let ok = (0.0..1.0).contains(&fraction);
        ensure(ok, "val_fraction", fraction, "in [0, 1)")?;
        parse_device(&self.runtime.device)?;
        if let Some(name) = &self.runtime.name {
            let ok = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-+=".contains(c))
                && !name.starts_with('.');
            let expected = "letters, digits and . _ - + = (it names a directory)";
            ensure(ok, "name", format!("{name:?}"), expected)?;
        }
        models::parse_name(&self.model.name).map_err(|e| anyhow!("invalid `model`: {e}"))?;
        Ok(())
    }

    /// What a valid configuration may still not train: ε = 0 (the checks' ε = 0 mode runs
    /// in float64 with a stand-in; a training run would divide 0 by 0).
    pub fn check_trainable(&self) -> Result<()> {
        let Some(eps) = self.optimizer.eps() else {
            return Ok(());
        };
        if eps <= 0.0 {
            bail!(
                "invalid `eps` = {eps}: must be > 0 to train (with ε = 0 a coordinate whose gradient \
                 stays 0, such as a dead ReLU channel, gets 0/0 = NaN and the run diverges at once; \
                 `scalefree check scale-free` is where ε = 0 is studied); the default is 1e-8"
            );
        }
        Ok(())
    }

    /// The schedule over the run's total number of optimizer steps.
    pub fn schedule(&self, steps_per_epoch: u64, total_steps: u64) -> Schedule {
        let total_steps = total_steps.max(1);
        let s = &self.schedule;
        match s.kind {
            ScheduleName::Constant => Schedule::Constant,
            ScheduleName::Cosine => Schedule::cosine(total_steps),
            ScheduleName::Step => Schedule::Step {
                every: (s.step_every as u64 * steps_per_epoch).max(1),
                gamma: s.step_gamma,
            },
            ScheduleName::WarmupCosine => Schedule::warmup_cosine(
                (s.warmup_epochs as u64 * steps_per_epoch).clamp(1, total_steps),
                total_steps,
            ),
        }
    }

    /// A stable name from the settings that distinguish the runs of the paper's grids
    /// (the rows of [`keys::SETTINGS`] with a name part, in their order).
    pub fn derived_name(&self) -> String {
        keys::SETTINGS
            .iter()
            .filter_map(|s| s.name_part?(self))
            .collect()
    }

    pub fn run_dir(&self) -> PathBuf {
        self.runtime.out.clone().unwrap_or_else(|| {
            PathBuf::from("runs").join(
                self.runtime
                    .name
                    .clone()
                    .unwrap_or_else(|| self.derived_name()),
            )
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
            // No GPU for libtorch where nvidia-smi lists some: say why (driver vs wheel).
            if let Some(why) = crate::cuda_driver::unusable_gpus() {
                bail!("invalid `device` = {spec:?}: {why}");
            }
            bail!("invalid `device` = {spec:?}: {available} CUDA device(s) available (use cpu or auto)");
        }
    }
    Ok(device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The defaults as they were written out before the table held them.
    #[test]
    fn the_defaults_built_from_the_table_are_the_defaults_as_before() {
        let before = RunConfig {
            data: DataConfig {
                dataset: DatasetName::Cifar10,
                path: None,
                train_subset: None,
                val_fraction: 0.0,
                batch_size: 128,
            },
            model: ModelChoice {
                name: "resnet20".into(),
                bn: false,
            },
            optimizer: OptimizerSettings::from_adam(&optim::AdamConfig::adamw(1e-3, 5e-5)),
            schedule: ScheduleConfig {
                kind: ScheduleName::Constant,
                step_every: 100,
                step_gamma: 0.1,
                warmup_epochs: 5,
            },
            training: TrainingConfig {
                epochs: 300,
                max_steps: None,
                loss_mult: 1.0,
                seed: 0,
                eval_every: 1,
                hist_every: 1000,
                grad_factors: FactorSpec::None,
                factor_seed: 0,
                precision: Precision::Fp32,
            },
            runtime: RuntimeConfig {
                device: "auto".into(),
                threads: None,
                layout: Layout::Auto,
                out: None,
                name: None,
            },
        };
        assert_eq!(RunConfig::default(), before);
        before.validate().unwrap();
    }

    #[test]
    fn every_default_reads_back_as_the_value_the_configuration_writes() {
        let written = RunConfig::default().settings();
        for setting in keys::SETTINGS.iter() {
            assert_eq!(
                written[setting.key],
                setting.default_value(),
                "{}",
                setting.key
            );
            assert!(
                setting.default_words.is_some() || !setting.default_value().is_null(),
                "`{}` has no default in words for its null default",
                setting.key
            );
        }
    }

    #[test]
    fn precision_names_a_run_except_at_the_default_float32() {
        let name = |settings: Value| RunConfig::from_value(&settings).unwrap().derived_name();
        assert_eq!(name(json!({})), "resnet20-nobn_adamw_lr0.001_wd0.00005_s0");
        assert_eq!(name(json!({"precision": "fp32"})), name(json!({})));
        assert_eq!(
            name(json!({"precision": "bf16"})),
            "resnet20-nobn_adamw_lr0.001_wd0.00005_s0_bf16"
        );
        assert_eq!(keys::role("precision"), keys::Role::Result);
        let err = RunConfig::from_value(&json!({"precision": "half"}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("precision") && err.contains("bf16"), "{err}");
    }

    #[test]
    fn the_flat_and_the_sectioned_forms_give_the_same_configuration() {
        let flat = json!({"model": "resnet32", "bn": true, "lr": 5e-4, "wd": 1e-4, "epochs": 7,
                          "schedule": "cosine", "device": "cpu", "batch_size": 64});
        let config = RunConfig::from_value(&flat).unwrap();
        assert_eq!(config.model.name, "resnet32");
        assert_eq!(config.optimizer.weight_decay, 1e-4);
        assert_eq!(config.schedule.kind, ScheduleName::Cosine);
        let written = serde_json::to_value(&config).unwrap();
        assert_eq!(written["lr"], 5e-4);
        assert_eq!(RunConfig::from_value(&written).unwrap(), config);
        let sectioned = Value::Object(config.sections());
        assert!(keys::is_sectioned(sectioned.as_object().unwrap()));
        assert_eq!(RunConfig::from_value(&sectioned).unwrap(), config);
    }

    #[test]
    fn run_names_are_made_from_the_naming_rows_as_before_the_table() {
        assert_eq!(
            RunConfig::default().derived_name(),
            "resnet20-nobn_adamw_lr0.001_wd0.00005_s0"
        );
        let config = RunConfig::from_value(&json!({"model": "resnet56", "bn": true,
            "optimizer": "adam-l2", "lr": 5e-4, "wd": 0, "seed": 2, "loss_mult": 10,
            "grad_factors": "spread:3", "eps": 1e-10, "epochs": 7}))
        .unwrap();
        assert_eq!(
            config.derived_name(),
            "resnet56-bn_adam-l2_lr0.0005_wd0_s2_lm10_gf-spread3"
        );
    }

    #[test]
    fn errors_name_the_flat_field() {
        let err = RunConfig::from_value(&json!({"lr": "fast"})).unwrap_err();
        assert!(format!("{err:#}").contains("field `lr`"), "{err:#}");
        let err = RunConfig::from_value(&json!({"wd": -1.0})).unwrap_err();
        assert!(format!("{err:#}").contains("invalid `wd` = -1"), "{err:#}");
        let err =
            RunConfig::from_value(&json!({"optimizer": {"lr": 1e-3, "nope": 1}})).unwrap_err();
        assert!(format!("{err:#}").contains("`optimizer.nope`"), "{err:#}");
    }
}
