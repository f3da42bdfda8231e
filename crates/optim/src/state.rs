//! Saving and restoring the optimizer's state (moments, step count, step size and each
//! group's `λ`), so that a run resumes bit for bit.
//!
//! One safetensors file: the moments of each group as flat tensors, and a JSON
//! description of the groups and settings stored as a `u8` tensor named `meta`, checked
//! against the live optimizer before anything is overwritten.
use crate::adam::Adam;
use crate::config::AdamConfig;
use crate::error::{OptimError, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tch::{Device, Tensor};

const FORMAT: &str = "scalefree-optim-state";
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct StateMeta {
    format: String,
    version: u32,
    config: AdamConfig,
    lr: f64,
    step: u64,
    groups: Vec<GroupMeta>,
}

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct GroupMeta {
    name: String,
    weight_decay: f64,
    dtype: String,
    params: Vec<ParamMeta>,
}

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct ParamMeta {
    name: String,
    shape: Vec<i64>,
}

fn moment_names(group: usize) -> [String; 3] {
    [
        format!("group{group}.exp_avg"),
        format!("group{group}.exp_avg_sq"),
        format!("group{group}.max_exp_avg_sq"),
    ]
}

impl Adam {
    fn meta(&self) -> StateMeta {
        StateMeta {
            format: FORMAT.into(),
            version: VERSION,
            config: self.config.clone(),
            lr: self.lr,
            step: self.step,
            groups: self
                .groups
                .iter()
                .map(|g| GroupMeta {
                    name: g.name.clone(),
                    weight_decay: g.weight_decay,
                    dtype: format!("{:?}", g.kind),
                    params: g
                        .slots()
                        .map(|s| ParamMeta {
                            name: s.name.clone(),
                            shape: s.shape.clone(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// Writes the state to `path` atomically (a temporary file, then a rename).
    pub fn save_state(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let meta = serde_json::to_vec(&self.meta()).expect("the state description serialises");
        let mut tensors = vec![("meta".to_string(), Tensor::from_slice(&meta))];
        for (i, group) in self.groups.iter().enumerate() {
            let [m, v, vmax] = moment_names(i);
            tensors.push((m, group.exp_avg.to_device(Device::Cpu)));
            tensors.push((v, group.exp_avg_sq.to_device(Device::Cpu)));
            if let Some(max) = &group.max_exp_avg_sq {
                tensors.push((vmax, max.to_device(Device::Cpu)));
            }
        }
        let tmp = temporary_path(path);
        Tensor::write_safetensors(&tensors, &tmp)?;
        std::fs::rename(&tmp, path).map_err(|source| OptimError::Io {
            context: format!("moving {} to {}", tmp.display(), path.display()),
            source,
        })
    }

    /// Restores a state written by [`Adam::save_state`] for the same parameters and
    /// settings. Nothing is changed unless the whole file matches.
    pub fn load_state(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let mismatch = |problem: String| OptimError::StateMismatch {
            path: path.to_path_buf(),
            problem,
        };
        if !path.exists() {
            return Err(mismatch("no such file".into()));
        }
        let mut tensors: HashMap<String, Tensor> = Tensor::read_safetensors(path)
            .map_err(|e| mismatch(format!("not a readable optimizer state file ({e})")))?
            .into_iter()
            .collect();
        let meta_bytes: Vec<u8> = tensors
            .remove("meta")
            .ok_or_else(|| mismatch("no `meta` entry; not written by this optimizer".into()))
            .and_then(|t| {
                Vec::<u8>::try_from(&t)
                    .map_err(|e| mismatch(format!("unreadable `meta` entry ({e})")))
            })?;
        let saved: StateMeta = serde_json::from_slice(&meta_bytes)
            .map_err(|e| mismatch(format!("`meta` is not a valid state description ({e})")))?;
        let live = self.meta();
        if saved.format != FORMAT || saved.version != VERSION {
            return Err(mismatch(format!(
                "format {} v{} is not {FORMAT} v{VERSION}",
                saved.format, saved.version
            )));
        }
        compare_config(&saved.config, &live.config).map_err(mismatch)?;
        compare_groups(&saved.groups, &live.groups).map_err(mismatch)?;

        let mut restored = Vec::new();
        for (i, group) in self.groups.iter().enumerate() {
            let n = group.values.numel() as i64;
            let mut take = |name: &str| -> Result<Tensor> {
                let t = tensors
                    .remove(name)
                    .ok_or_else(|| mismatch(format!("missing entry `{name}`")))?;
                if t.size() != [n] || t.kind() != group.kind {
                    return Err(mismatch(format!(
                        "entry `{name}` is {:?} {:?}, expected [{n}] {:?}",
                        t.size(),
                        t.kind(),
                        group.kind
                    )));
                }
                Ok(t)
            };
            let [m, v, vmax] = moment_names(i);
            let max = if group.max_exp_avg_sq.is_some() {
                Some(take(&vmax)?)
            } else {
                None
            };
            restored.push((take(&m)?, take(&v)?, max));
        }
        for ((group, (m, v, max)), saved_group) in
            self.groups.iter_mut().zip(restored).zip(&saved.groups)
        {
            group.exp_avg.copy_(&m);
            group.exp_avg_sq.copy_(&v);
            if let (Some(dst), Some(src)) = (group.max_exp_avg_sq.as_mut(), max) {
                dst.copy_(&src);
            }
            group.weight_decay = saved_group.weight_decay;
        }
        self.step = saved.step;
        self.lr = saved.lr;
        Ok(())
    }
}

fn temporary_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".tmp{}", std::process::id()));
    path.with_file_name(name)
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
            return Err(format!("{at} is named `{}` in the file", s.name));
        }
        if s.dtype != l.dtype {
            return Err(format!(
                "{at} has dtype {} in the file, {} here",
                s.dtype, l.dtype
            ));
        }
        if s.params.len() != l.params.len() {
            return Err(format!(
                "{at} has {} parameters in the file, {} here",
                s.params.len(),
                l.params.len()
            ));
        }
        for (j, (sp, lp)) in s.params.iter().zip(&l.params).enumerate() {
            if sp != lp {
                return Err(format!(
                    "{at}, parameter {j}: `{}` {:?} in the file, `{}` {:?} here",
                    sp.name, sp.shape, lp.name, lp.shape
                ));
            }
        }
    }
    Ok(())
}
