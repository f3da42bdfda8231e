//! How every check presents itself: the verdict line, the wall time, `--json` and
//! `--tb`, and the number formats of the tables. A check's own code is its measurement
//! and its verdict rule.
use super::input::Input;
use super::options::OptimizerArgs;
use crate::sinks::atomic::{temporary_sibling, write_json_atomic};
use crate::sinks::tensorboard::Board;
use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Serialize;
use std::path::{Path, PathBuf};
use tch::Device;

/// The settings every check reports, beside its own.
#[derive(Debug, Serialize)]
pub struct CommonSettings {
    /// `cifar10` (with the subset, if any) or `random`.
    pub input: String,
    pub batch_size: usize,
    pub lr: f64,
    pub wd: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub seed: u64,
    pub device: String,
}

impl CommonSettings {
    pub fn new(input: &Input, optimizer: &OptimizerArgs, wd: f64) -> Self {
        CommonSettings {
            input: input.description.clone(),
            batch_size: input.batch_size,
            lr: optimizer.lr,
            wd,
            beta1: optimizer.beta1,
            beta2: optimizer.beta2,
            seed: input.seed,
            device: device_label(input.device),
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// Write the measurements and the verdict as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Log the measurements to TensorBoard event files in this directory.
    #[arg(long)]
    pub tb: Option<PathBuf>,
}

impl OutputArgs {
    /// Makes the places the outputs go (the JSON's folder, the TensorBoard folder) before
    /// any work, so that a bad path fails at once rather than after the check has run.
    pub fn create_outputs(&self) -> Result<Option<Board>> {
        if let Some(path) = &self.json {
            create_parent(path)
                .and_then(|()| check_writable(path))
                .with_context(|| format!("--json {}", path.display()))?;
        }
        self.tb
            .as_deref()
            .map(|dir| Board::open(dir, None))
            .transpose()
    }

    /// Where a check's figure goes: `png`, else the `--json` path with `.png`, else
    /// `default`; its folder is made now, as [`OutputArgs::create_outputs`] does.
    pub fn png(&self, png: &Option<PathBuf>, default: &str) -> Result<PathBuf> {
        let path = match (png, &self.json) {
            (Some(png), _) => png.clone(),
            (None, Some(json)) => json.with_extension("png"),
            (None, None) => PathBuf::from(default),
        };
        create_parent(&path).with_context(|| format!("--png {}", path.display()))?;
        Ok(path)
    }

    /// The last lines of every check: the verdict, the wall time, and the JSON report.
    pub fn finish<T: Serialize>(&self, verdict: &Verdict, wall_s: f64, report: &T) -> Result<()> {
        println!("{}", verdict.line);
        println!("wall time {wall_s:.1} s");
        if let Some(path) = &self.json {
            write_json_atomic(path, report)?;
            println!("wrote {}", path.display());
        }
        Ok(())
    }
}

/// Fails now if the file `path` could not be written at the end: a folder of that name,
/// or a folder where no file can be made (the write itself makes a temporary sibling).
fn check_writable(path: &Path) -> Result<()> {
    if path.is_dir() {
        bail!("is a folder; give the name of a file to write, such as report.json");
    }
    let probe = temporary_sibling(path);
    std::fs::File::create(&probe)
        .with_context(|| format!("cannot create a file beside it ({})", probe.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

fn create_parent(path: &Path) -> Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// The verdict of a check: which claim, whether the measurement supports it, and the
/// numbers that decided it.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub claim: String,
    pub supported: bool,
    pub line: String,
}

impl Verdict {
    pub fn new(claim: &str, supported: bool, detail: &str) -> Verdict {
        let word = if supported {
            "SUPPORTED"
        } else {
            "NOT SUPPORTED"
        };
        Verdict {
            claim: claim.to_string(),
            supported,
            line: format!("{claim}: {word} — {detail}"),
        }
    }
}

/// `1.23e-4`-style numbers for the tables; `—` for none.
pub fn sci(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_nan() => "NaN".into(),
        Some(v) => format!("{v:.2e}"),
        None => "—".into(),
    }
}

pub fn fixed(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(v) => format!("{v:.digits$}"),
        None => "—".into(),
    }
}

pub fn device_label(device: Device) -> String {
    match device {
        Device::Cpu => "cpu".into(),
        Device::Cuda(n) => format!("cuda:{n}"),
        other => format!("{other:?}").to_lowercase(),
    }
}
