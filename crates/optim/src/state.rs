//! The optimizer's state as named tensors (each rule's state buffers by name, step
//! counts, step sizes and each group's `λ` and settings), so that a run resumes bit for
//! bit, alone or inside a larger checkpoint.
//!
//! The state of each group is flat tensors named `groupN.<buffer>` (Adam: `exp_avg`,
//! `exp_avg_sq`, `max_exp_avg_sq`; SGD: `momentum_buffer`; …); a JSON description of the
//! groups and settings is stored as a `u8` tensor named `meta`, checked against the live
//! optimizer before anything is overwritten.
use crate::error::{OptimError, Result};
use crate::master::state_kind;
use crate::optim_config::{settings_map, ConfigRecord, OptimConfig};
use crate::optimizer::Optimizer;
use crate::rule::Setting;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tch::{Device, Kind, Tensor};

const FORMAT: &str = "scalefree-optim-state";
/// 2: per-parameter step counts and per-group step sizes. 3: float32 moments and master
/// weights (`groupN.master`) for Half and BFloat16 groups. 4: any rule: the config names
/// the optimizer (`adamw`, `sgd`, …) with its rule's settings, and each group has its
/// own settings. Versions 1 (one step count and one step size for all), 2 (half-precision
/// moments, no master weights: they are taken from the parameters) and 3 (an Adam
/// configuration) are still read.
const VERSION: u32 = 4;

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct StateMeta {
    format: String,
    version: u32,
    /// Version 4: a [`ConfigRecord`]; before: an `AdamConfig` (read by [`OptimConfig`]'s
    /// deserializer, which takes both).
    config: serde_json::Value,
    /// Version 1: the step size of every group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lr: Option<f64>,
    step: u64,
    groups: Vec<GroupMeta>,
}

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct GroupMeta {
    name: String,
    weight_decay: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lr: Option<f64>,
    /// Version 4: the group's rule settings (the config's, with the group's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    settings: Option<BTreeMap<String, Setting>>,
    dtype: String,
    params: Vec<ParamMeta>,
}

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct ParamMeta {
    name: String,
    shape: Vec<i64>,
    /// The parameter's own step count (version 1: the optimizer's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    step: Option<u64>,
}

fn entry_name(prefix: &str, group: usize, buffer: &str) -> String {
    format!("{prefix}group{group}.{buffer}")
}

/// A copy on the CPU (`snapshot`), or the CPU tensor itself when it is already there.
fn on_cpu(t: &Tensor, snapshot: bool) -> Tensor {
    match (t.device(), snapshot) {
        (Device::Cpu, true) => t.copy(),
        (Device::Cpu, false) => t.shallow_clone(),
        _ => t.to_device(Device::Cpu),
    }
}

impl Optimizer {
    fn meta(&self) -> StateMeta {
        StateMeta {
            format: FORMAT.into(),
            version: VERSION,
            config: serde_json::to_value(ConfigRecord::from(&self.config))
                .expect("the configuration serialises"),
            lr: None,
            step: self.step,
            groups: self
                .groups
                .iter()
                .map(|g| GroupMeta {
                    name: g.name.clone(),
                    weight_decay: g.weight_decay,
                    lr: Some(g.lr),
                    settings: Some(settings_map(g.rule.as_ref())),
                    dtype: format!("{:?}", g.kind),
                    params: g
                        .params
                        .iter()
                        .map(|p| ParamMeta {
                            name: p.slot.name.clone(),
                            shape: p.slot.shape.clone(),
                            step: Some(p.steps),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// The state as named tensors on the CPU, each name starting with `prefix`, to be
    /// written with the model's tensors into one checkpoint (for example with
    /// `Tensor::write_safetensors`). They are copies: later steps do not change them.
    ///
    /// ```
    /// use adamw_prox::AdamConfig;
    /// use tch::{nn, Device, Kind};
    /// let vs = nn::VarStore::new(Device::Cpu);
    /// let w = vs.root().ones("w", &[4]);
    /// let mut opt = AdamConfig::adamw(1e-2, 0.0).build(&vs)?;
    /// opt.backward_step(&w.square().sum(Kind::Float))?;
    /// // One checkpoint: the model's variables and the optimizer's state.
    /// let mut checkpoint: Vec<(String, tch::Tensor)> = vs.variables().into_iter().collect();
    /// checkpoint.extend(opt.state_tensors("optimizer."));
    /// let path = std::env::temp_dir().join(format!("checkpoint-{}.safetensors", std::process::id()));
    /// tch::Tensor::write_safetensors(&checkpoint, &path)?;
    ///
    /// let mut resumed = AdamConfig::adamw(1e-2, 0.0).build(&vs)?;
    /// let loaded = tch::Tensor::read_safetensors(&path)?;
    /// resumed.load_state_tensors("optimizer.", &loaded)?;
    /// assert_eq!(resumed.step_count(), 1);
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn state_tensors(&self, prefix: &str) -> Vec<(String, Tensor)> {
        self.state_entries(prefix, true)
    }

    pub(crate) fn state_entries(&self, prefix: &str, snapshot: bool) -> Vec<(String, Tensor)> {
        let meta = serde_json::to_vec(&self.meta()).expect("the state description serialises");
        let mut tensors = vec![(format!("{prefix}meta"), Tensor::from_slice(&meta))];
        for (i, group) in self.groups.iter().enumerate() {
            for (name, buffer) in group.rule.state_names().into_iter().zip(&group.state) {
                tensors.push((entry_name(prefix, i, name), on_cpu(buffer, snapshot)));
            }
            if let Some(values) = &group.master {
                tensors.push((entry_name(prefix, i, "master"), on_cpu(values, snapshot)));
            }
        }
        tensors
    }

    /// Restores a state from named tensors written by [`Optimizer::state_tensors`] with the
    /// same `prefix`, for the same parameters and settings; entries without the prefix
    /// are ignored, so the whole checkpoint can be passed. Nothing is changed unless the
    /// whole state fits. See [`Optimizer::state_tensors`] for an example.
    pub fn load_state_tensors(&mut self, prefix: &str, tensors: &[(String, Tensor)]) -> Result<()> {
        self.load_entries(&format!("(prefix `{prefix}`)"), prefix, tensors)
    }

    pub(crate) fn load_entries(
        &mut self,
        origin: &str,
        prefix: &str,
        tensors: &[(String, Tensor)],
    ) -> Result<()> {
        let mismatch = |problem: String| OptimError::StateMismatch {
            origin: origin.to_string(),
            problem,
        };
        let find = |name: &str| tensors.iter().find(|(n, _)| n == name).map(|(_, t)| t);
        let meta_name = format!("{prefix}meta");
        let meta_bytes: Vec<u8> = find(&meta_name)
            .ok_or_else(|| {
                mismatch(format!(
                    "no `{meta_name}` entry; not written by this optimizer (or with another prefix)"
                ))
            })
            .and_then(|t| {
                Vec::<u8>::try_from(t)
                    .map_err(|e| mismatch(format!("unreadable `{meta_name}` entry ({e})")))
            })?;
        let saved: StateMeta = serde_json::from_slice(&meta_bytes).map_err(|e| {
            mismatch(format!(
                "`{meta_name}` is not a valid state description ({e})"
            ))
        })?;
        if saved.format != FORMAT || !(1..=VERSION).contains(&saved.version) {
            return Err(mismatch(format!(
                "format {} v{} is not {FORMAT} v1 to v{VERSION}",
                saved.format, saved.version
            )));
        }
        let saved_config = OptimConfig::deserialize(&saved.config).map_err(|e| {
            mismatch(format!(
                "its configuration is not one this version reads ({e})"
            ))
        })?;
        compare_config(&saved_config, &self.config).map_err(mismatch)?;
        let live = self.meta();
        compare_groups(&saved.groups, &live.groups).map_err(mismatch)?;
        let group_lr = |g: &GroupMeta| g.lr.or(saved.lr);
        if let Some(g) = saved.groups.iter().find(|g| group_lr(g).is_none()) {
            return Err(mismatch(format!("group `{}` has no step size", g.name)));
        }

        let mut restored = Vec::with_capacity(self.groups.len());
        for (i, group) in self.groups.iter().enumerate() {
            let n = group.numel();
            let state = state_kind(group.kind);
            // A version-2 state of a half-precision group has moments of its dtype.
            let readable = |kind: Kind| kind == state || (saved.version < 3 && kind == group.kind);
            let find_checked = |name: &str| -> Result<Option<&Tensor>> {
                let Some(t) = find(name) else { return Ok(None) };
                if t.size() != [n] || !readable(t.kind()) {
                    return Err(mismatch(format!(
                        "entry `{name}` is {:?} {:?}, expected [{n}] {state:?}",
                        t.size(),
                        t.kind(),
                    )));
                }
                Ok(Some(t))
            };
            let take = |name: &str| -> Result<&Tensor> {
                find_checked(name)?.ok_or_else(|| mismatch(format!("missing entry `{name}`")))
            };
            let buffers = group
                .rule
                .state_names()
                .into_iter()
                .map(|name| take(&entry_name(prefix, i, name)))
                .collect::<Result<Vec<_>>>()?;
            let master = match (&group.master, saved.version) {
                (Some(_), 3..) => Some(take(&entry_name(prefix, i, "master"))?),
                _ => None,
            };
            restored.push((buffers, master));
        }
        for ((group, (buffers, master)), saved_group) in
            self.groups.iter_mut().zip(restored).zip(&saved.groups)
        {
            for (dst, src) in group.state.iter_mut().zip(buffers) {
                dst.copy_(src);
            }
            if let Some(dst) = group.master.as_mut() {
                match master {
                    Some(src) => dst.copy_(src),
                    None => dst.copy_(&group.values),
                }
            }
            group.weight_decay = saved_group.weight_decay;
            group.lr = group_lr(saved_group).expect("checked above");
            for (param, saved_param) in group.params.iter_mut().zip(&saved_group.params) {
                param.steps = saved_param.step.unwrap_or(saved.step);
            }
        }
        self.step = saved.step;
        Ok(())
    }
}

fn compare_config(saved: &OptimConfig, live: &OptimConfig) -> std::result::Result<(), String> {
    if saved.rule.family() == live.rule.family() && saved.placement != live.placement {
        return Err(format!(
            "saved with decay = {}, but this optimizer has decay = {}",
            saved.name(),
            live.name()
        ));
    }
    if saved.name() != live.name() {
        return Err(format!(
            "saved by the optimizer `{}` (the {} rule), but this optimizer is `{}` (the {} rule)",
            saved.name(),
            saved.rule.family(),
            live.name(),
            live.rule.family()
        ));
    }
    if saved.lr.to_string() != live.lr.to_string() {
        return Err(format!(
            "saved with lr (η_0) = {}, but this optimizer has lr (η_0) = {}",
            saved.lr, live.lr
        ));
    }
    compare_settings(
        &settings_map(saved.rule.as_ref()),
        &settings_map(live.rule.as_ref()),
    )
}

fn compare_settings(
    saved: &BTreeMap<String, Setting>,
    live: &BTreeMap<String, Setting>,
) -> std::result::Result<(), String> {
    for (key, live_value) in live {
        let saved_value = saved
            .get(key)
            .map_or("nothing".to_string(), |v| v.to_string());
        if saved_value != live_value.to_string() {
            return Err(format!(
                "saved with {key} = {saved_value}, but this optimizer has {key} = {live_value}"
            ));
        }
    }
    Ok(())
}

fn compare_groups(saved: &[GroupMeta], live: &[GroupMeta]) -> std::result::Result<(), String> {
    if saved.len() != live.len() {
        return Err(format!(
            "it has {} parameter groups, this optimizer has {}",
            saved.len(),
            live.len()
        ));
    }
    for (i, (s, l)) in saved.iter().zip(live).enumerate() {
        let at = format!("group {i} (`{}`)", l.name);
        if s.name != l.name {
            return Err(format!("{at} is named `{}` in the state", s.name));
        }
        if s.dtype != l.dtype {
            return Err(format!(
                "{at} has dtype {} in the state, {} here",
                s.dtype, l.dtype
            ));
        }
        if s.params.len() != l.params.len() {
            return Err(format!(
                "{at} has {} parameters in the state, {} here",
                s.params.len(),
                l.params.len()
            ));
        }
        if let (Some(saved), Some(live)) = (&s.settings, &l.settings) {
            compare_settings(saved, live).map_err(|e| format!("{at}: {e}"))?;
        }
        for (j, (sp, lp)) in s.params.iter().zip(&l.params).enumerate() {
            if sp.name != lp.name || sp.shape != lp.shape {
                return Err(format!(
                    "{at}, parameter {j}: `{}` {:?} in the state, `{}` {:?} here",
                    sp.name, sp.shape, lp.name, lp.shape
                ));
            }
        }
    }
    Ok(())
}
