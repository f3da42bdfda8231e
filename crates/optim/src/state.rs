//! The optimizer's state as named tensors (moments, step counts, step sizes and each
//! group's `λ`), so that a run resumes bit for bit, alone or inside a larger checkpoint.
//!
//! The moments of each group are flat tensors; a JSON description of the groups and
//! settings is stored as a `u8` tensor named `meta`, checked against the live optimizer
//! before anything is overwritten.
use crate::adam::Adam;
use crate::config::AdamConfig;
use crate::error::{OptimError, Result};
use crate::master::state_kind;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

const FORMAT: &str = "scalefree-optim-state";
/// 2: per-parameter step counts and per-group step sizes. 3: float32 moments and master
/// weights (`groupN.master`) for Half and BFloat16 groups. Versions 1 (one step count and
/// one step size for all) and 2 (half-precision moments, no master weights: they are
/// taken from the parameters) are still read.
const VERSION: u32 = 3;

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct StateMeta {
    format: String,
    version: u32,
    config: AdamConfig,
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

fn moment_names(prefix: &str, group: usize) -> [String; 4] {
    [
        format!("{prefix}group{group}.exp_avg"),
        format!("{prefix}group{group}.exp_avg_sq"),
        format!("{prefix}group{group}.max_exp_avg_sq"),
        format!("{prefix}group{group}.master"),
    ]
}

/// A copy on the CPU (`snapshot`), or the CPU tensor itself when it is already there.
fn on_cpu(t: &Tensor, snapshot: bool) -> Tensor {
    match (t.device(), snapshot) {
        (Device::Cpu, true) => t.copy(),
        (Device::Cpu, false) => t.shallow_clone(),
        _ => t.to_device(Device::Cpu),
    }
}

impl Adam {
    fn meta(&self) -> StateMeta {
        StateMeta {
            format: FORMAT.into(),
            version: VERSION,
            config: self.config.clone(),
            lr: None,
            step: self.step,
            groups: self
                .groups
                .iter()
                .map(|g| GroupMeta {
                    name: g.name.clone(),
                    weight_decay: g.weight_decay,
                    lr: Some(g.lr),
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
            let [m, v, vmax, master] = moment_names(prefix, i);
            tensors.push((m, on_cpu(&group.exp_avg, snapshot)));
            tensors.push((v, on_cpu(&group.exp_avg_sq, snapshot)));
            if let Some(max) = &group.max_exp_avg_sq {
                tensors.push((vmax, on_cpu(max, snapshot)));
            }
            if let Some(values) = &group.master {
                tensors.push((master, on_cpu(values, snapshot)));
            }
        }
        tensors
    }

    /// Restores a state from named tensors written by [`Adam::state_tensors`] with the
    /// same `prefix`, for the same parameters and settings; entries without the prefix
    /// are ignored, so the whole checkpoint can be passed. Nothing is changed unless the
    /// whole state fits. See [`Adam::state_tensors`] for an example.
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
        let live = self.meta();
        compare_config(&saved.config, &live.config).map_err(mismatch)?;
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
            let [m, v, vmax, master] = moment_names(prefix, i);
            let max = match group.max_exp_avg_sq {
                Some(_) => Some(take(&vmax)?),
                None => None,
            };
            let master = match (&group.master, saved.version) {
                (Some(_), 3..) => Some(take(&master)?),
                _ => None,
            };
            restored.push((take(&m)?, take(&v)?, max, master));
        }
        for ((group, (m, v, max, master)), saved_group) in
            self.groups.iter_mut().zip(restored).zip(&saved.groups)
        {
            group.exp_avg.copy_(m);
            group.exp_avg_sq.copy_(v);
            if let (Some(dst), Some(src)) = (group.max_exp_avg_sq.as_mut(), max) {
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

fn compare_config(saved: &AdamConfig, live: &AdamConfig) -> std::result::Result<(), String> {
    let fields: [(&str, String, String); 5] = [
        ("decay", saved.decay.to_string(), live.decay.to_string()),
        ("lr (η_0)", saved.lr.to_string(), live.lr.to_string()),
        ("beta1", saved.beta1.to_string(), live.beta1.to_string()),
        ("beta2", saved.beta2.to_string(), live.beta2.to_string()),
        ("eps", saved.eps.to_string(), live.eps.to_string()),
    ];
    for (field, s, l) in fields {
        if s != l {
            return Err(format!(
                "saved with {field} = {s}, but this optimizer has {field} = {l}"
            ));
        }
    }
    if saved.amsgrad != live.amsgrad {
        return Err(format!(
            "saved with amsgrad = {}, but this optimizer has amsgrad = {}",
            saved.amsgrad, live.amsgrad
        ));
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
