//! [`OptimConfig`]: any update rule with a placement of the decay, a step size, `λ` and a
//! schedule.
use crate::config::{validate_weight_decay, AdamConfig, DecayMode, Kernel};
use crate::error::{invalid, OptimError, Result};
use crate::group::ParamGroup;
use crate::optimizer::Optimizer;
use crate::rule::{Placement, Setting, UpdateRule};
use crate::rules;
use crate::schedule::Schedule;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tch::nn::VarStore;

/// The settings of an [`Optimizer`]: an update rule with its own settings, where the
/// weight decay enters, `η_0`, `λ` and an optional schedule.
///
/// Build one by name ([`OptimConfig::named`]: `"adamw"`, `"sgd"`, `"lion"`, …, see
/// [`crate::rules::names`]), from a rule ([`OptimConfig::new`]), from an
/// [`AdamConfig`], or with a rule's PyTorch-equivalent constructor; change a rule's
/// settings by PyTorch's names with [`OptimConfig::set`].
///
/// `λ` is the paper's: the decoupled and proximal decays remove `λ·s_t·x` per step,
/// `s_t = η_t/η_0`. [`OptimConfig::torch_weight_decay`] and
/// [`ParamGroup::with_torch_weight_decay`] convert from and to PyTorch's `weight_decay`.
///
/// ```
/// use adamw_prox::{OptimConfig, Placement};
/// let config = OptimConfig::named("adam-prox", 1e-3, 5e-4)?.set("beta2", 0.99)?;
/// assert_eq!(config.placement, Placement::Proximal);
/// assert_eq!(config.name(), "adam-prox");
/// assert!(OptimConfig::named("adamw", 1e-3, 0.0)?.set("momentum", 0.9).is_err());
/// # Ok::<(), adamw_prox::OptimError>(())
/// ```
#[derive(Clone, Debug)]
pub struct OptimConfig {
    /// The update rule with its settings.
    pub rule: Box<dyn UpdateRule>,
    /// Where `λ` enters the update.
    pub placement: Placement,
    /// `η_0`: the step size that the schedule multiplies, and the one the decoupled and
    /// proximal decays are measured against.
    pub lr: f64,
    /// `λ` of the objective `f(x) + (λ/2)‖x‖²`.
    pub weight_decay: f64,
    /// The step-size schedule that the optimizer applies itself, if any.
    pub schedule: Option<Schedule>,
    #[doc(hidden)]
    pub kernel: Kernel,
}

impl PartialEq for OptimConfig {
    fn eq(&self, other: &Self) -> bool {
        self.rule.family() == other.rule.family()
            && self.rule.settings() == other.rule.settings()
            && (self.placement, self.lr, self.weight_decay)
                == (other.placement, other.lr, other.weight_decay)
            && self.schedule == other.schedule
            && self.kernel == other.kernel
    }
}

impl OptimConfig {
    /// `rule` with `placement`, `η_0 = lr` and `λ = weight_decay`.
    pub fn new(
        rule: impl UpdateRule + 'static,
        placement: Placement,
        lr: f64,
        weight_decay: f64,
    ) -> Self {
        OptimConfig {
            rule: Box::new(rule),
            placement,
            lr,
            weight_decay,
            schedule: None,
            kernel: Kernel::Auto,
        }
    }

    /// The optimizer called `name` (a rule at PyTorch's defaults with a placement), or an
    /// error listing every name.
    pub fn named(name: &str, lr: f64, weight_decay: f64) -> Result<Self> {
        let (family, named) = rules::find(name).ok_or_else(|| OptimError::UnknownOptimizer {
            name: name.to_string(),
            valid: rules::names()
                .map(|n| n.name)
                .collect::<Vec<_>>()
                .join(", "),
        })?;
        Ok(OptimConfig {
            rule: (family.new)(),
            placement: named.placement,
            lr,
            weight_decay,
            schedule: None,
            kernel: Kernel::Auto,
        })
    }

    /// The name of this rule and placement (`adamw`, `sgd`, …).
    pub fn name(&self) -> &'static str {
        rules::name_of(self.rule.family(), self.placement).unwrap_or("unnamed")
    }

    /// Sets one of the rule's settings by PyTorch's name (`beta1`, `momentum`, `nesterov`,
    /// …); a key the rule lacks is refused, listing the ones it has.
    pub fn set(mut self, key: &str, value: impl Into<Setting>) -> Result<Self> {
        self.rule.set(key, value.into())?;
        Ok(self)
    }

    /// The optimizer owns this schedule: before each step it sets `η_t` from it.
    pub fn schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = Some(schedule);
        self
    }

    #[doc(hidden)]
    pub fn kernel(mut self, kernel: Kernel) -> Self {
        self.kernel = kernel;
        self
    }

    /// What PyTorch's `weight_decay` of this optimizer would be: `λ/η_0` for the decoupled
    /// and proximal decays (PyTorch's decoupled decay is `lr_t·weight_decay`), `λ` itself
    /// otherwise.
    pub fn torch_weight_decay(&self) -> f64 {
        self.weight_decay / torch_units(self.placement, self.lr)
    }

    /// Refuses settings outside their valid ranges, naming the field.
    pub fn validate(&self) -> Result<()> {
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(invalid(
                "lr",
                self.lr,
                "a finite number > 0 (it is η_0, the decay is scaled by η_t/η_0)",
            ));
        }
        validate_weight_decay(self.weight_decay)?;
        if !self.rule.placements().contains(&self.placement) {
            return Err(OptimError::UnknownPlacement {
                rule: self.rule.family().to_string(),
                placement: format!("{:?}", self.placement),
                valid: self
                    .rule
                    .placements()
                    .iter()
                    .map(|p| format!("{p:?}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        // Each setting passes its own range check when set again.
        let mut probe = self.rule.clone();
        for (key, value) in self.rule.settings() {
            probe.set(key, value)?;
        }
        self.rule.check()?;
        match &self.schedule {
            Some(schedule) => schedule.validate(),
            None => Ok(()),
        }
    }

    /// The optimizer over every trainable variable of `vs`, in one group named `all`.
    pub fn build(self, vs: &VarStore) -> Result<Optimizer> {
        Optimizer::new(self, vec![ParamGroup::from_var_store("all", vs)])
    }

    /// The optimizer over the given parameter groups (at least one, with distinct names).
    pub fn build_groups(self, groups: Vec<ParamGroup>) -> Result<Optimizer> {
        Optimizer::new(self, groups)
    }
}

/// The factor from PyTorch's `weight_decay` to `λ`: `η_0` where PyTorch decays by
/// `lr_t·weight_decay` (decoupled, and the proximal map to first order), else 1.
pub(crate) fn torch_units(placement: Placement, lr0: f64) -> f64 {
    match placement {
        Placement::Decoupled | Placement::Proximal => lr0,
        _ => 1.0,
    }
}

impl From<AdamConfig> for OptimConfig {
    fn from(c: AdamConfig) -> Self {
        let rule = rules::Adam {
            beta1: c.beta1,
            beta2: c.beta2,
            eps: c.eps,
            amsgrad: c.amsgrad,
        };
        let placement = match c.decay {
            DecayMode::L2 => Placement::L2,
            DecayMode::Decoupled => Placement::Decoupled,
            DecayMode::Proximal => Placement::Proximal,
        };
        OptimConfig {
            rule: Box::new(rule),
            placement,
            lr: c.lr,
            weight_decay: c.weight_decay,
            schedule: c.schedule,
            kernel: c.kernel,
        }
    }
}

/// The configuration as written in files: the optimizer's name and its rule's settings.
#[derive(Serialize, Deserialize, PartialEq, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigRecord {
    pub optimizer: String,
    pub settings: BTreeMap<String, Setting>,
    pub lr: f64,
    pub weight_decay: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    /// The implementation override, read where a file has it (as `AdamConfig` reads it),
    /// never written.
    #[serde(default, skip_serializing)]
    pub kernel: Kernel,
}

impl From<&OptimConfig> for ConfigRecord {
    fn from(c: &OptimConfig) -> Self {
        ConfigRecord {
            optimizer: c.name().to_string(),
            settings: settings_map(c.rule.as_ref()),
            lr: c.lr,
            weight_decay: c.weight_decay,
            schedule: c.schedule.clone(),
            kernel: Kernel::Auto,
        }
    }
}

pub(crate) fn settings_map(rule: &dyn UpdateRule) -> BTreeMap<String, Setting> {
    rule.settings()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

impl TryFrom<ConfigRecord> for OptimConfig {
    type Error = OptimError;
    fn try_from(record: ConfigRecord) -> Result<Self> {
        let mut config = OptimConfig::named(&record.optimizer, record.lr, record.weight_decay)?;
        for (key, value) in record.settings {
            config.rule.set(&key, value)?;
        }
        config.schedule = record.schedule;
        config.kernel = record.kernel;
        Ok(config)
    }
}

impl Serialize for OptimConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        ConfigRecord::from(self).serialize(s)
    }
}

impl<'de> Deserialize<'de> for OptimConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        // Files written before the seam hold an `AdamConfig`.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Record(ConfigRecord),
            Adam(AdamConfig),
        }
        match Either::deserialize(d)? {
            Either::Record(record) => {
                OptimConfig::try_from(record).map_err(serde::de::Error::custom)
            }
            Either::Adam(adam) => Ok(adam.into()),
        }
    }
}
