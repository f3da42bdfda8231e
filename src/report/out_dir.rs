//! The report's folder, `<out>/<experiment>/`, taken for writing only when it is new,
//! empty or a report of this experiment: a report replaces its own files (`index.html`
//! among them), so a folder of someone else's files is refused, naming them, and nothing
//! is written there.
use anyhow::{bail, Context, Result};
use std::path::Path;

/// Creates `dir` for the report of `experiment`, or refuses it when it holds files but
/// is not such a report.
pub fn claim(dir: &Path, experiment: &str) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        bail!(
            "{} is a file, not a report folder (--out {})",
            dir.display(),
            dir.parent().unwrap_or(dir).display()
        );
    }
    let foreign = foreign_entries(dir, experiment)?;
    if !foreign.is_empty() {
        let shown: Vec<&str> = foreign.iter().take(8).map(String::as_str).collect();
        let more = foreign.len() - shown.len();
        bail!(
            "{} is not empty and is not a scalefree report of `{experiment}` (it has no \
             summary.json of that experiment): it holds {}{}; nothing was written there. \
             Give --out a folder whose `{experiment}/` is new, empty or an earlier report",
            dir.display(),
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

/// What `dir` holds that a report did not write: nothing when it is missing or a report
/// of `experiment`; otherwise every entry except the figures and temporary files a report
/// stopped before its `summary.json` leaves.
fn foreign_entries(dir: &Path, experiment: &str) -> Result<Vec<String>> {
    if !dir.exists() || is_report_of(dir, experiment) {
        return Ok(Vec::new());
    }
    let listing_error = || format!("cannot list {}", dir.display());
    let mut foreign = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(listing_error)? {
        let entry = entry.with_context(listing_error)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        let left_by_a_report = !is_dir && (name.ends_with(".png") || name.contains(".tmp"));
        if !left_by_a_report {
            foreign.push(if is_dir { format!("{name}/") } else { name });
        }
    }
    foreign.sort();
    Ok(foreign)
}

/// Whether `dir/summary.json` is the summary a report of `experiment` writes (written
/// last, atomically, so a folder with it is a complete report).
fn is_report_of(dir: &Path, experiment: &str) -> bool {
    let Ok(text) = std::fs::read_to_string(dir.join("summary.json")) else {
        return false;
    };
    let Ok(summary) = serde_json::from_str::<serde_json::Value>(&text) else {
        return false;
    };
    summary["experiment"] == experiment && summary.get("counts").is_some()
}
