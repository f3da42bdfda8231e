//! Checkpoints: model weights and buffers, optimizer state and the trainer's position,
//! saved as one directory that replaces the previous one only once complete, with a
//! manifest of each file's size and SHA-256 that resume verifies.
//!
//! `checkpoint.new/` is written first, its files and `manifest.json` (last) flushed to
//! the disk; then the previous `checkpoint.old/` is deleted, `checkpoint/` becomes
//! `checkpoint.old/` and `checkpoint.new/` becomes `checkpoint/`. A crash at any point leaves
//! a complete checkpoint under one of the two names, and while a run trains the one before
//! the last is kept as `checkpoint.old/`: if `checkpoint/` is damaged, resume says so, names
//! the file, and says how to resume from `checkpoint.old/` instead. [`discard_previous`]
//! drops it once the run has finished.
use crate::train::{Position, Trainer};
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use tch::{Device, Tensor};

const MODEL: &str = "model.safetensors";
const OPTIMIZER: &str = "optimizer.safetensors";
const TRAINER: &str = "trainer.json";
const MANIFEST: &str = "manifest.json";
const FILES: [&str; 3] = [MODEL, OPTIMIZER, TRAINER];

/// `manifest.json`: what each file of the checkpoint held when it was written.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    files: BTreeMap<String, FileDigest>,
}

/// How many rows the record files held when a checkpoint was written, so that resume
/// notices a file that has lost rows since (truncated, replaced by an older copy) instead
/// of going on with a gap. Absent from older checkpoints.
pub use super::files::Recorded;

/// `trainer.json`: the loop's position (the whole file, in older checkpoints) and what
/// the record files held.
#[derive(Serialize, Deserialize)]
struct TrainerFile {
    #[serde(flatten)]
    position: Position,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recorded: Option<Recorded>,
    /// libtorch's CPU threads, for a run on the CPU: the thread count changes how sums are
    /// split, so the last bits of a run's weights depend on it, and a resume that should
    /// be the same run keeps it. Absent from older checkpoints and GPU runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cpu_threads: Option<usize>,
}

/// What resuming from a checkpoint starts from.
#[derive(Clone, Debug)]
pub struct Resume {
    pub position: Position,
    /// `None` for a checkpoint written before it was kept.
    pub recorded: Option<Recorded>,
    /// The CPU threads the run trained with (a CPU run; absent from older checkpoints).
    pub cpu_threads: Option<usize>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct FileDigest {
    bytes: u64,
    sha256: String,
}

fn dirs(run_dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    (
        run_dir.join("checkpoint"),
        run_dir.join("checkpoint.new"),
        run_dir.join("checkpoint.old"),
    )
}

fn digest_of(path: &Path) -> std::io::Result<FileDigest> {
    let mut hasher = Sha256::new();
    let bytes = std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
    let sha256 = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(FileDigest { bytes, sha256 })
}

/// Removes the directory `dir` if it is there.
fn remove_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    Ok(())
}

fn sync(path: &Path) -> Result<()> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot flush {} to the disk", path.display()))
}

/// Saves the trainer's weights, buffers and optimizer state with the loop's position and
/// what the record files hold.
pub fn save(
    run_dir: &Path,
    trainer: &Trainer,
    position: &Position,
    recorded: Recorded,
) -> Result<()> {
    let (current, new, old) = dirs(run_dir);
    remove_dir(&new)?;
    // A write that fails (a full disk, most often) would leave its partial files taking
    // the space that the next attempt and the rest of the run need.
    if let Err(e) = write_new(&new, trainer, position, recorded) {
        let _ = std::fs::remove_dir_all(&new);
        return Err(e);
    }
    if current.exists() {
        remove_dir(&old)?;
        std::fs::rename(&current, &old)
            .with_context(|| format!("cannot move {} aside", current.display()))?;
        crate::fault::point("checkpoint:swap");
    }
    std::fs::rename(&new, &current)
        .with_context(|| format!("cannot move {} into place", new.display()))?;
    sync(run_dir)?;
    crate::fault::point("checkpoint:done");
    Ok(())
}

/// Writes every file of the checkpoint into `new`, the manifest last, flushed to the disk.
fn write_new(new: &Path, trainer: &Trainer, position: &Position, recorded: Recorded) -> Result<()> {
    std::fs::create_dir_all(new).with_context(|| format!("cannot create {}", new.display()))?;
    let mut named: Vec<(String, Tensor)> = trainer
        .var_store()
        .variables()
        .into_iter()
        .map(|(name, t)| (name, t.detach().to_device(Device::Cpu).copy()))
        .collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let cannot_write = |name: &str| format!("cannot write {}", new.join(name).display());
    Tensor::write_safetensors(&named, new.join(MODEL)).with_context(|| cannot_write(MODEL))?;
    crate::fault::point("checkpoint:model");
    trainer
        .optimizer()
        .save_state(new.join(OPTIMIZER))
        .with_context(|| cannot_write(OPTIMIZER))?;
    crate::fault::point("checkpoint:optimizer");
    let trainer_path = new.join(TRAINER);
    let file = TrainerFile {
        position: position.clone(),
        recorded: Some(recorded),
        cpu_threads: (trainer.var_store().device() == Device::Cpu)
            .then(|| tch::get_num_threads() as usize),
    };
    std::fs::write(&trainer_path, serde_json::to_string_pretty(&file)?)
        .with_context(|| format!("cannot write {}", trainer_path.display()))?;
    crate::fault::point("checkpoint:trainer");
    let mut files = BTreeMap::new();
    for name in FILES {
        let path = new.join(name);
        sync(&path)?;
        let digest = digest_of(&path).with_context(|| format!("cannot read {}", path.display()))?;
        files.insert(name.to_string(), digest);
    }
    let manifest_path = new.join(MANIFEST);
    std::fs::write(
        &manifest_path,
        serde_json::to_string_pretty(&Manifest { files })? + "\n",
    )
    .with_context(|| format!("cannot write {}", manifest_path.display()))?;
    sync(&manifest_path)?;
    sync(new)?;
    crate::fault::point("checkpoint:manifest");
    Ok(())
}

/// Deletes the checkpoint before the last (kept while the run trains, as a fallback).
pub fn discard_previous(run_dir: &Path) -> Result<()> {
    remove_dir(&dirs(run_dir).2)
}

/// Checks every file of the checkpoint `dir` against its manifest. A checkpoint written
/// before checkpoints had manifests is accepted with a warning when its files are there.
pub fn verify(dir: &Path) -> Result<()> {
    let manifest_path = dir.join(MANIFEST);
    if !manifest_path.exists() {
        if let Some(missing) = FILES.iter().find(|f| !dir.join(f).is_file()) {
            bail!(
                "{} is incomplete: {missing} is missing (and there is no {MANIFEST})",
                dir.display()
            );
        }
        eprintln!(
            "warning: {} has no {MANIFEST} (written by a scalefree without checkpoint checksums); \
             its files cannot be verified",
            dir.display()
        );
        return Ok(());
    }
    let text = std::fs::read_to_string(&manifest_path)
        .with_context(|| format!("cannot read {}", manifest_path.display()))?;
    let manifest: Manifest = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is damaged (not a checkpoint manifest)",
            manifest_path.display()
        )
    })?;
    for name in FILES {
        let path = dir.join(name);
        let Some(expected) = manifest.files.get(name) else {
            bail!("{} does not list {name}", manifest_path.display());
        };
        if !path.is_file() {
            bail!("{} is missing from the checkpoint", path.display());
        }
        let found = digest_of(&path).with_context(|| format!("cannot read {}", path.display()))?;
        if found.bytes != expected.bytes {
            bail!(
                "{} is damaged: {} bytes, but {} when the checkpoint was written",
                path.display(),
                found.bytes,
                expected.bytes
            );
        }
        if found.sha256 != expected.sha256 {
            bail!(
                "{} is damaged: its SHA-256 differs from the one in {MANIFEST} (its bytes changed after the checkpoint was written)",
                path.display()
            );
        }
    }
    Ok(())
}

/// Where a checkpoint stands, in words: `2 epochs done`, `epoch 3, batch 17`.
pub fn describe(position: &Position) -> String {
    if position.batch == 0 {
        let plural = if position.epoch == 1 { "" } else { "s" };
        format!("{} epoch{plural} done", position.epoch)
    } else {
        format!("epoch {}, batch {}", position.epoch + 1, position.batch)
    }
}

/// The CPU threads the run in `run_dir` trained with, from its newest checkpoint: what a
/// sweep gives a run it resumes, so that it stays the same run.
pub fn cpu_threads_of(run_dir: &Path) -> Option<usize> {
    let (current, _, _) = dirs(run_dir);
    let text = std::fs::read_to_string(current.join(TRAINER)).ok()?;
    serde_json::from_str::<TrainerFile>(&text).ok()?.cpu_threads
}

fn position_of(dir: &Path) -> Option<Position> {
    let text = std::fs::read_to_string(dir.join(TRAINER)).ok()?;
    serde_json::from_str(&text).ok()
}

/// The directory of the newest complete checkpoint, verified; `None` if there is none.
/// A damaged checkpoint is an error naming the bad file, and saying how to resume from
/// `checkpoint.old/` when that one is intact.
pub fn latest(run_dir: &Path) -> Result<Option<PathBuf>> {
    let (current, _, old) = dirs(run_dir);
    if current.exists() {
        let Err(damage) = verify(&current) else {
            return Ok(Some(current));
        };
        let advice = match old.exists().then(|| verify(&old)) {
            Some(Ok(())) => {
                let at = position_of(&old)
                    .map(|p| format!(" (step {}, {})", p.step, describe(&p)))
                    .unwrap_or_default();
                format!(
                    "the previous checkpoint, {old}{at}, is intact: to resume from it, move the \
                     damaged one aside (`mv {cur} {cur}.damaged && mv {old} {cur}`) and run \
                     with --resume again; the steps after it are trained again",
                    old = old.display(),
                    cur = current.display()
                )
            }
            Some(Err(e)) => format!(
                "the previous checkpoint, {}, is damaged too ({e:#}); start the run again \
                 (a new --out, or delete {})",
                old.display(),
                run_dir.display()
            ),
            None => format!(
                "there is no earlier checkpoint to fall back on; start the run again (a new \
                 --out, or delete {})",
                run_dir.display()
            ),
        };
        return Err(anyhow!("cannot resume: {damage:#}; {advice}"));
    }
    if old.exists() {
        // Stopped between moving `checkpoint/` aside and putting the new one in place.
        verify(&old).map_err(|e| anyhow!("cannot resume: {e:#}"))?;
        return Ok(Some(old));
    }
    Ok(None)
}

/// Restores weights, buffers and optimizer state in place; returns the loop's position
/// and what the record files held.
pub fn load(dir: &Path, trainer: &mut Trainer) -> Result<Resume> {
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
    let optimizer_path = dir.join(OPTIMIZER);
    trainer
        .optimizer_mut()
        .load_state(&optimizer_path)
        .with_context(|| format!("cannot restore {}", optimizer_path.display()))?;
    let file: TrainerFile = crate::sinks::jsonl::read_json(&dir.join(TRAINER), "a trainer state")?;
    Ok(Resume {
        position: file.position,
        recorded: file.recorded,
        cpu_threads: file.cpu_threads,
    })
}
