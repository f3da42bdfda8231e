//! The run's optimizer section: which optimizer ([`Method`]), `η_0`, `λ`, and the rule's
//! own settings by PyTorch's names. A setting not given takes the rule's default, and is
//! recorded with that value (so a run file written when Adam's were the only settings,
//! `beta1: 0.9`, …, and a run that leaves them out are the same run); the other rules'
//! settings are null.
use crate::optimizers::{Method, RULE_SETTINGS};
use anyhow::{anyhow, bail, Result};
use optim::{Kernel, OptimConfig, OptimError, Setting};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The optimizer section of a run's configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerSettings {
    /// Which optimizer: a rule with a placement of the decay (flat key `optimizer`).
    pub method: Method,
    /// The paper's η_0.
    pub lr: f64,
    /// The paper's λ (flat key `wd`).
    pub weight_decay: f64,
    /// The implementation override (tests and benchmarks).
    pub kernel: Kernel,
    /// The rule's settings, given or default (and any given that the rule lacks, which
    /// [`OptimizerSettings::optim_config`] refuses).
    pub rule: BTreeMap<String, Setting>,
}

/// The section as files hold it: `decay` is the optimizer's name (its historical field).
#[derive(Serialize, Deserialize)]
struct Section {
    decay: Method,
    lr: f64,
    weight_decay: f64,
    #[serde(default)]
    kernel: Kernel,
    #[serde(flatten)]
    rule: Map<String, Value>,
}

impl Serialize for OptimizerSettings {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Every rule setting has a key: null where the rule's default applies.
        let rule = RULE_SETTINGS
            .iter()
            .map(|r| {
                let value = self.rule.get(r.key).map_or(Value::Null, |v| match v {
                    Setting::Number(x) => serde_json::json!(x),
                    Setting::Flag(b) => Value::Bool(*b),
                });
                (r.key.to_string(), value)
            })
            .collect();
        Section {
            decay: self.method,
            lr: self.lr,
            weight_decay: self.weight_decay,
            kernel: self.kernel,
            rule,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for OptimizerSettings {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let section = Section::deserialize(d)?;
        let mut rule = BTreeMap::new();
        for (key, value) in section.rule {
            let setting = match value {
                Value::Null => continue,
                Value::Bool(b) => Setting::Flag(b),
                Value::Number(n) => Setting::Number(n.as_f64().unwrap_or(f64::NAN)),
                other => {
                    return Err(serde::de::Error::custom(format!(
                        "`{key}` = {other}: a number or true/false"
                    )))
                }
            };
            rule.insert(key, setting);
        }
        let mut settings = OptimizerSettings {
            method: section.decay,
            lr: section.lr,
            weight_decay: section.weight_decay,
            kernel: section.kernel,
            rule,
        };
        settings.fill_defaults();
        Ok(settings)
    }
}

fn flag(key: &str) -> String {
    format!("--{}", key.replace('_', "-"))
}

impl OptimizerSettings {
    /// The rule's defaults where no value was given.
    fn fill_defaults(&mut self) {
        for (key, value) in self
            .method
            .config(self.lr, self.weight_decay)
            .rule
            .settings()
        {
            self.rule.entry(key.to_string()).or_insert(value);
        }
    }

    /// Sets to null, in `flat` settings, the rule settings that hold this rule's default:
    /// before another optimizer is laid over them, so that it gets its own defaults (Lion
    /// its β2 = 0.99, not Adam's 0.999) while values given on purpose stay (and are
    /// refused where the new rule lacks them).
    pub fn unset_defaults(&self, flat: &mut Map<String, Value>) {
        for (key, value) in self
            .method
            .config(self.lr, self.weight_decay)
            .rule
            .settings()
        {
            if self.rule.get(key) == Some(&value) {
                flat.insert(key.to_string(), Value::Null);
            }
        }
    }

    /// The crate's configuration (without schedule), refusing a setting that the rule
    /// does not have or a value out of range, naming the flag.
    pub fn optim_config(&self) -> Result<OptimConfig> {
        let mut config = self.method.config(self.lr, self.weight_decay);
        config.kernel = self.kernel;
        for (key, value) in &self.rule {
            if !self.method.setting_keys().any(|k| k == key) {
                let valid: Vec<String> = self.method.setting_keys().map(flag).collect();
                bail!(
                    "{} is not a setting of --optimizer {} (the {} rule); its settings are {}",
                    flag(key),
                    self.method,
                    self.method.family(),
                    if valid.is_empty() {
                        "none".to_string()
                    } else {
                        valid.join(", ")
                    }
                );
            }
            config.rule.set(key, *value).map_err(named_by_flag)?;
        }
        config.validate().map_err(named_by_flag)?;
        Ok(config)
    }

    /// The rule's value of `key` (given or default), if the rule has it.
    pub fn rule_setting(&self, key: &str) -> Option<Setting> {
        let config = self.optim_config().ok()?;
        let value = config.rule.settings().into_iter().find(|(k, _)| *k == key);
        value.map(|(_, v)| v)
    }

    /// ε of the rule, where it has one.
    pub fn eps(&self) -> Option<f64> {
        match self.rule_setting("eps")? {
            Setting::Number(eps) => Some(eps),
            Setting::Flag(_) => None,
        }
    }

    /// ε of the rule, or Adam's default where the rule has none: the ε of the checks,
    /// which study Adam's placements.
    pub fn adam_eps(&self) -> f64 {
        self.eps().unwrap_or(optim::AdamConfig::default().eps)
    }

    /// This section as an Adam configuration (the checks, which study Adam's
    /// placements): the paper's placement of the method (AdamW for any other), and
    /// the Adam settings given, else Adam's defaults.
    pub fn adam(&self) -> optim::AdamConfig {
        let defaults = optim::AdamConfig::default();
        let number = |key: &str, default: f64| match self.rule.get(key) {
            Some(Setting::Number(x)) => *x,
            _ => default,
        };
        optim::AdamConfig {
            decay: self
                .method
                .decay_mode()
                .unwrap_or(optim::DecayMode::Decoupled),
            lr: self.lr,
            weight_decay: self.weight_decay,
            beta1: number("beta1", defaults.beta1),
            beta2: number("beta2", defaults.beta2),
            eps: number("eps", defaults.eps),
            amsgrad: matches!(self.rule.get("amsgrad"), Some(Setting::Flag(true))),
            kernel: self.kernel,
            schedule: None,
        }
    }

    /// The section of an Adam configuration (the checks' lanes).
    pub fn from_adam(adam: &optim::AdamConfig) -> OptimizerSettings {
        let mut settings = OptimizerSettings {
            method: adam.decay.into(),
            lr: adam.lr,
            weight_decay: adam.weight_decay,
            kernel: adam.kernel,
            rule: [
                ("beta1", Setting::Number(adam.beta1)),
                ("beta2", Setting::Number(adam.beta2)),
                ("eps", Setting::Number(adam.eps)),
                ("amsgrad", Setting::Flag(adam.amsgrad)),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        };
        settings.fill_defaults();
        settings
    }

    /// The number of the rule's state buffers per parameter (Adam 2, with AMSGrad 3).
    pub fn state_buffers(&self) -> usize {
        self.optim_config()
            .map(|c| c.rule.state_names().len())
            .unwrap_or(2)
    }
}

/// The crate's error, with the setting named as its flag.
fn named_by_flag(e: OptimError) -> anyhow::Error {
    match e {
        OptimError::InvalidSetting {
            field,
            value,
            expected,
        } => {
            let key = super::keys::canonical(&format!("optimizer.{field}")).unwrap_or(field);
            anyhow!("invalid `{key}` = {value}: must be {expected}")
        }
        other => anyhow!("{other}"),
    }
}
