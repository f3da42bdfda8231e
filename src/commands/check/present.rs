//! How every check presents itself: `--json` and `--tb` (their places made before any
//! work), the figure's path, and the last lines (the verdict, the wall time, the JSON).
use crate::checks::verdict::Verdict;
use crate::sinks::atomic::{temporary_sibling, write_json_atomic};
use crate::sinks::tensorboard::Board;
use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Serialize;
use std::path::{Path, PathBuf};

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
