//! The run directory: the one module that knows its file names and schemas and what
//! they say about the run. `scalefree train` writes it; `sweep`, `sweep status`,
//! `report` and `train --resume` read it through here.
//!
//! | file | written |
//! |---|---|
//! | `config.json` | at the start: the effective [`RunConfig`], one key per setting |
//! | `environment.json` | at the start: code version, libtorch, threads, CUDA |
//! | `metrics.jsonl` | a [`MetricsRow`] per evaluation |
//! | `losses.jsonl` | a [`LossRow`] (a batch's loss) at step 1 and every k-th step (k ≤ 20) |
//! | `scales.jsonl` | a [`ScaleRow`] per histogram step |
//! | `pace.json` | while training, about once a second: the step of the total ([`PaceRow`]); removed when the run ends |
//! | `summary.json` | at the end: the [`Summary`] |
//! | `grad_factors.json` | once known: the per-layer gradient factors of an intervention |
//! | `checkpoint/` | weights, optimizer state, the loop's position, their checksums ([`checkpoint`]) |
//! | `checkpoint.old/` | while training: the checkpoint before the last |
//! | `tb/` | TensorBoard events ([`crate::sinks::tensorboard`]), the run's HParams session ([`crate::observers::run_board`]) |
//! | `run.lock` | held by the one process writing the run ([`lock`]) |
//! | `train.log` | a sweep's run: the output of its `scalefree train` |
//!
//! [`RunDir::claim`] is how a writer starts: it refuses a folder that holds anything but
//! a run, and takes the lock. A summary's [`RunStatus`] is how one training process
//! ended; a directory's [`RunProgress`] is how far its run has got, from what it holds.
pub mod checkpoint;
mod files;
pub mod lock;
mod recorder;

pub use recorder::RunRecorder;

pub use crate::train::RunStatus;
pub use files::{
    LossRow, MetricsRow, PaceRow, Recorded, ScaleRow, SpreadRow, Summary, DIVERGED_ERROR,
};

use crate::config::keys::{self, Role};
use crate::config::RunConfig;
use crate::sinks::{atomic::write_json_atomic, jsonl};
use crate::train::factors::LayerFactors;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Its configuration, the file every run writes first.
pub const CONFIG_FILE: &str = "config.json";
/// A sweep's run: the output of its `scalefree train`.
pub const TRAIN_LOG: &str = "train.log";
const LOCK_FILE: &str = "run.lock";

/// How far a run has got, from what its directory holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunProgress {
    /// No run directory, or nothing written yet.
    Missing,
    /// Started, no summary: running now, or stopped without one (killed, crashed).
    Started,
    Interrupted,
    Completed,
    Diverged,
    /// Its summary or records cannot be read, or have lost rows since it ended: what it
    /// holds is not reported ([`RunDir::examine`], for the readers of many runs, which go
    /// on with the rest).
    Damaged,
    /// Made with other settings than its plan's (see `sweep`'s staleness): set by `report`,
    /// which reports the plan's runs only.
    Stale,
}

impl RunProgress {
    pub fn label(self) -> &'static str {
        match self {
            RunProgress::Missing => "not started",
            RunProgress::Started => "started, unfinished",
            RunProgress::Interrupted => "interrupted",
            RunProgress::Completed => "completed",
            RunProgress::Diverged => "diverged",
            RunProgress::Damaged => "damaged",
            RunProgress::Stale => "stale (made with other settings than the plan's)",
        }
    }

    /// Completed and diverged runs are final: a sweep skips them and a report has their
    /// value.
    pub fn is_final(self) -> bool {
        matches!(self, RunProgress::Completed | RunProgress::Diverged)
    }
}

/// A run directory as every reader of many runs takes it (`report`, the summary run,
/// `sweep`, `sweep status`): how far its run has got, its summary, and why it is damaged
/// when it is ([`RunDir::examine`]).
#[derive(Clone, Debug)]
pub struct Examined {
    pub progress: RunProgress,
    /// `None` for a damaged run: what it holds is not reported.
    pub summary: Option<Summary>,
    /// Why a damaged run is damaged: the file and what is wrong with it.
    pub damage: Option<String>,
}

/// One layer's gradient factor, as `grad_factors.json` lists it.
#[derive(Serialize, Deserialize)]
struct FactorRow {
    layer: String,
    factor: f64,
}

/// One run's directory.
#[derive(Clone, Debug, PartialEq)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    pub fn new(path: impl Into<PathBuf>) -> RunDir {
        RunDir { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn config_path(&self) -> PathBuf {
        self.path.join(CONFIG_FILE)
    }

    pub fn environment_path(&self) -> PathBuf {
        self.path.join("environment.json")
    }

    pub fn metrics_path(&self) -> PathBuf {
        self.path.join("metrics.jsonl")
    }

    pub fn losses_path(&self) -> PathBuf {
        self.path.join("losses.jsonl")
    }

    pub fn scales_path(&self) -> PathBuf {
        self.path.join("scales.jsonl")
    }

    pub fn pace_path(&self) -> PathBuf {
        self.path.join("pace.json")
    }

    /// How far the process training the run has got, if it has said (`None` before its
    /// first report, or if the file cannot be read: it is advisory).
    pub fn read_pace(&self) -> Option<PaceRow> {
        let text = std::fs::read_to_string(self.pace_path()).ok()?;
        serde_json::from_str(&text).ok()
    }

    pub fn write_pace(&self, row: &PaceRow) -> Result<()> {
        write_json_atomic(&self.pace_path(), row)
    }

    /// Removes `pace.json`: it is of a process training the run, and goes when it ends.
    pub fn remove_pace(&self) -> Result<()> {
        remove_if_present(&self.pace_path())
    }

    pub fn summary_path(&self) -> PathBuf {
        self.path.join("summary.json")
    }

    pub fn factors_path(&self) -> PathBuf {
        self.path.join("grad_factors.json")
    }

    /// The factors an intervention fixed (written once, read on resume so that
    /// `equalize` keeps the factors it measured on the first batch).
    pub fn read_factors(&self) -> Result<Option<LayerFactors>> {
        let path = self.factors_path();
        if !path.exists() {
            return Ok(None);
        }
        let rows: Vec<FactorRow> = jsonl::read_json(&path, "a list of layer factors")?;
        Ok(Some(
            rows.into_iter().map(|r| (r.layer, r.factor)).collect(),
        ))
    }

    pub fn write_factors(&self, factors: &LayerFactors) -> Result<()> {
        let rows: Vec<FactorRow> = factors
            .iter()
            .map(|(layer, factor)| FactorRow {
                layer: layer.clone(),
                factor: *factor,
            })
            .collect();
        write_json_atomic(&self.factors_path(), &rows)
    }

    pub fn tensorboard_dir(&self) -> PathBuf {
        self.path.join("tb")
    }

    pub fn lock_path(&self) -> PathBuf {
        self.path.join(LOCK_FILE)
    }

    pub fn train_log_path(&self) -> PathBuf {
        self.path.join(TRAIN_LOG)
    }

    /// Whether a run was started here (its configuration is written first).
    pub fn has_run(&self) -> bool {
        self.config_path().exists()
    }

    /// What the folder holds that scalefree did not write, if it is not a run: a folder
    /// with a run's `config.json` is a run; one without may hold only what a sweep or a
    /// stopped start leaves (`train.log`, `run.lock`, files of an unfinished first write).
    pub fn foreign_entries(&self) -> Result<Vec<String>> {
        if self.has_run() || !self.path.exists() {
            return Ok(Vec::new());
        }
        let entries = std::fs::read_dir(&self.path)
            .with_context(|| format!("cannot list {}", self.path.display()))?;
        let mut foreign = Vec::new();
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot list {}", self.path.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let ours = [TRAIN_LOG, LOCK_FILE].contains(&name.as_str())
                || (name.starts_with(&format!("{CONFIG_FILE}.tmp"))
                    || name.starts_with("environment.json.tmp"));
            if !ours {
                let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
                foreign.push(if is_dir { format!("{name}/") } else { name });
            }
        }
        foreign.sort();
        Ok(foreign)
    }

    /// Takes the run directory for writing by `what` (`scalefree train`): creates it,
    /// refuses a folder that holds files but no run (naming them; nothing is written), and
    /// locks it, refusing it while another process writes it (naming that process).
    pub fn claim(&self, what: &str) -> Result<lock::Lock> {
        if self.path.exists() && !self.path.is_dir() {
            bail!(
                "{} is a file, not a run directory (--out)",
                self.path.display()
            );
        }
        let foreign = self.foreign_entries()?;
        if !foreign.is_empty() {
            let shown: Vec<&str> = foreign.iter().take(8).map(String::as_str).collect();
            bail!(
                "{} is not empty and is not a scalefree run (it has no config.json): it holds {}{}; \
                 nothing was written there. Give --out a new or empty folder",
                self.path.display(),
                shown.join(", "),
                if foreign.len() > shown.len() {
                    format!(" and {} more", foreign.len() - shown.len())
                } else {
                    String::new()
                }
            );
        }
        std::fs::create_dir_all(&self.path)
            .with_context(|| format!("cannot create {}", self.path.display()))?;
        lock::Lock::acquire(&self.path, &self.lock_path(), what)
    }

    /// Who is writing the run now, if anyone.
    pub fn writer(&self) -> Result<Option<lock::Holder>> {
        lock::Lock::holder(&self.lock_path())
    }

    /// How far the run has got, and its summary when there is one. A summary that exists but cannot be
    /// read is an error naming it (summaries are written atomically, so it was damaged).
    pub fn progress(&self) -> Result<(RunProgress, Option<Summary>)> {
        let path = self.summary_path();
        if path.exists() {
            let summary = Summary::read(&path)?;
            let state = match summary.status {
                RunStatus::Completed => RunProgress::Completed,
                RunStatus::Diverged => RunProgress::Diverged,
                RunStatus::Interrupted => RunProgress::Interrupted,
            };
            return Ok((state, Some(summary)));
        }
        let state = if self.has_run() {
            RunProgress::Started
        } else {
            RunProgress::Missing
        };
        Ok((state, None))
    }

    /// The one judgement of a run's records that `report`, the summary run, `sweep` and
    /// `sweep status` share: the run is damaged when its summary, metrics, batch losses or
    /// scales cannot be read, or when a record file no longer holds the rows it held when
    /// the run ended (deleted, truncated or replaced since: its summary says how many).
    pub fn examine(&self) -> Examined {
        match self.checked_progress() {
            Ok((progress, summary)) => Examined {
                progress,
                summary,
                damage: None,
            },
            Err(e) => Examined {
                progress: RunProgress::Damaged,
                summary: None,
                damage: Some(format!("{e:#}")),
            },
        }
    }

    fn checked_progress(&self) -> Result<(RunProgress, Option<Summary>)> {
        let (progress, summary) = self.progress()?;
        let held = Recorded {
            evaluations: self.read_metrics()?.len(),
            scale_snapshots: self.read_scales()?.len(),
            batch_losses: self.read_losses()?.len(),
        };
        // Summaries written before they recorded the rows are taken as they are.
        if let Some(recorded) = summary.as_ref().and_then(|s| s.records) {
            self.refuse_lost_rows(recorded, held)?;
        }
        Ok((progress, summary))
    }

    /// An error naming the first record file that holds other rows than `recorded`.
    fn refuse_lost_rows(&self, recorded: Recorded, held: Recorded) -> Result<()> {
        let files = [
            (
                self.metrics_path(),
                "evaluations",
                recorded.evaluations,
                held.evaluations,
            ),
            (
                self.scales_path(),
                "gradient-scale snapshots",
                recorded.scale_snapshots,
                held.scale_snapshots,
            ),
            (
                self.losses_path(),
                "batch losses",
                recorded.batch_losses,
                held.batch_losses,
            ),
        ];
        for (path, what, expected, held) in files {
            if held == expected {
                continue;
            }
            let holds = match path.exists() {
                true => format!("holds {held} {what}"),
                false => format!("is missing ({what})"),
            };
            bail!(
                "{} {holds}, but {expected} when the run ended ({}): it was deleted, truncated \
                 or replaced since; restore it to have the run counted",
                path.display(),
                self.summary_path().display()
            );
        }
        Ok(())
    }

    pub fn read_config(&self) -> Result<RunConfig> {
        RunConfig::from_file(&self.config_path())
    }

    /// The settings the run was made with, its runtime settings left at their defaults:
    /// those never say what a run is, and the device it ran on may not exist where it is
    /// read (a login node without the GPUs).
    pub fn read_config_without_runtime(&self) -> Result<RunConfig> {
        let path = self.config_path();
        let value: serde_json::Value = jsonl::read_json(&path, "a run configuration")?;
        let Some(map) = value.as_object() else {
            bail!("{} is not a run configuration", path.display());
        };
        let mut flat = keys::flatten(map).with_context(|| format!("{}", path.display()))?;
        flat.retain(|key, _| keys::role(key) != Role::Runtime);
        RunConfig::from_settings(&flat).with_context(|| format!("{}", path.display()))
    }

    pub fn write_config(&self, config: &RunConfig) -> Result<()> {
        write_json_atomic(&self.config_path(), config)
    }

    pub fn write_environment<T: Serialize>(&self, environment: &T) -> Result<()> {
        write_json_atomic(&self.environment_path(), environment)
    }

    pub fn read_metrics(&self) -> Result<Vec<MetricsRow>> {
        jsonl::read_jsonl(&self.metrics_path(), "metrics row")
    }

    pub fn write_metrics(&self, rows: &[MetricsRow]) -> Result<()> {
        jsonl::write_jsonl(&self.metrics_path(), rows)
    }

    pub fn read_losses(&self) -> Result<Vec<LossRow>> {
        jsonl::read_jsonl(&self.losses_path(), "batch-loss row")
    }

    pub fn write_losses(&self, rows: &[LossRow]) -> Result<()> {
        jsonl::write_jsonl(&self.losses_path(), rows)
    }

    pub fn read_scales(&self) -> Result<Vec<ScaleRow>> {
        jsonl::read_jsonl(&self.scales_path(), "scales row")
    }

    pub fn write_scales(&self, rows: &[ScaleRow]) -> Result<()> {
        jsonl::write_jsonl(&self.scales_path(), rows)
    }

    pub fn write_summary(&self, summary: &Summary) -> Result<()> {
        write_json_atomic(&self.summary_path(), summary)
    }

    /// Removes the summary of an earlier process: while a run trains it has none, so that
    /// one stopped before its end never reads as finished.
    pub fn remove_summary(&self) -> Result<()> {
        remove_if_present(&self.summary_path())
    }
}

fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", path.display()))
        }
        _ => Ok(()),
    }
}
