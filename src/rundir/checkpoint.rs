//! Checkpoints: model weights and buffers, optimizer state and the trainer's position,
//! saved as one directory that replaces the previous one only once complete.
//!
//! `checkpoint.new/` is written first; then `checkpoint/` becomes `checkpoint.old/`,
//! `checkpoint.new/` becomes `checkpoint/`, and the old one is deleted. A crash at any
//! point leaves a complete checkpoint under one of the two names.
use crate::train::{Position, Trainer};
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tch::{Device, Tensor};

const MODEL: &str = "model.safetensors";
const OPTIMIZER: &str = "optimizer.safetensors";
const TRAINER: &str = "trainer.json";

fn dirs(run_dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    (
        run_dir.join("checkpoint"),
        run_dir.join("checkpoint.new"),
        run_dir.join("checkpoint.old"),
    )
}

/// Saves the trainer's weights, buffers and optimizer state with the loop's position.
pub fn save(run_dir: &Path, trainer: &Trainer, position: &Position) -> Result<()> {
    let (current, new, old) = dirs(run_dir);
    if new.exists() {
        std::fs::remove_dir_all(&new)
            .with_context(|| format!("cannot remove {}", new.display()))?;
    }
    std::fs::create_dir_all(&new).with_context(|| format!("cannot create {}", new.display()))?;
    let mut named: Vec<(String, Tensor)> = trainer
        .var_store()
        .variables()
        .into_iter()
        .map(|(name, t)| (name, t.detach().to_device(Device::Cpu).copy()))
        .collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    Tensor::write_safetensors(&named, new.join(MODEL))
        .context("cannot write the model checkpoint")?;
    trainer
        .optimizer()
        .save_state(new.join(OPTIMIZER))
        .context("cannot write the optimizer state")?;
    std::fs::write(new.join(TRAINER), serde_json::to_string_pretty(position)?)?;
    if current.exists() {
        if old.exists() {
            std::fs::remove_dir_all(&old)?;
        }
        std::fs::rename(&current, &old)?;
    }
    std::fs::rename(&new, &current)?;
    if old.exists() {
        std::fs::remove_dir_all(&old)?;
    }
    Ok(())
}

/// The directory of the newest complete checkpoint, if any.
pub fn latest(run_dir: &Path) -> Option<PathBuf> {
    let (current, _, old) = dirs(run_dir);
    [current, old]
        .into_iter()
        .find(|d| d.join(TRAINER).exists())
}

/// Restores weights, buffers and optimizer state in place; returns the loop's position.
pub fn load(dir: &Path, trainer: &mut Trainer) -> Result<Position> {
    let model_path = dir.join(MODEL);
    let saved: HashMap<String, Tensor> = Tensor::read_safetensors(&model_path)
        .with_context(|| format!("cannot read {}", model_path.display()))?
        .into_iter()
        .collect();
    let live = trainer.var_store().variables();
    if let Some(missing) = live.keys().find(|k| !saved.contains_key(*k)) {
        bail!("{} does not fit this model: it has no `{missing}` (was the run started with another model?)", model_path.display());
    }
    if let Some(extra) = saved.keys().find(|k| !live.contains_key(*k)) {
        bail!(
            "{} does not fit this model: it has `{extra}`, which this model lacks",
            model_path.display()
        );
    }
    for (name, var) in &live {
        let value = &saved[name];
        if value.size() != var.size() || value.kind() != var.kind() {
            bail!(
                "{}: `{name}` is {:?} {:?} in the checkpoint, {:?} {:?} in this model",
                model_path.display(),
                value.size(),
                value.kind(),
                var.size(),
                var.kind()
            );
        }
        tch::no_grad(|| var.shallow_clone().copy_(value));
    }
    trainer.optimizer_mut().load_state(dir.join(OPTIMIZER))?;
    let trainer_path = dir.join(TRAINER);
    let text = std::fs::read_to_string(&trainer_path)
        .with_context(|| format!("cannot read {}", trainer_path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a trainer state", trainer_path.display()))
}
