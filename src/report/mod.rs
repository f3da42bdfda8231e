//! The experiment's results as a library: what its run directories hold ([`collect`]),
//! results over seeds and claim 4 ([`seeds`]), the tables ([`table`]), the figures
//! ([`heatmap`], [`curves`], [`histograms`], [`gap_spread`]), the factorial test of claim 4
//! ([`factorial`]), which optimizers are scale-free ([`families`]), the AdamW − Adam-ℓ2
//! gap over training ([`natural_gap`]), the page ([`html`]) and the
//! experiment's summary runs for TensorBoard ([`summary_run`], with the [`final_values`] of
//! measures evaluated once). It reads run directories, and writes in them only to withdraw
//! from HParams the session of a run the experiment no longer counts (damaged, or moved
//! aside as stale) and to put it back; `scalefree report` writes a report with it, a
//! sweep and `sweep status` refresh the summary run with it.
pub mod collect;
pub mod curves;
pub mod factorial;
pub mod families;
pub mod figure;
pub mod final_values;
pub mod gap_spread;
pub mod heatmap;
pub mod histograms;
pub mod html;
pub mod natural_gap;
mod out_dir;
pub mod section;
pub mod seeds;
pub mod summary_run;
pub mod table;

use crate::experiment::{Experiment, ExperimentDir, Plan};
use crate::sinks::atomic::{write_atomic, write_json_atomic};
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

/// The experiment's name: given as is, or read from the experiment file given.
pub fn experiment_name(spec: &str) -> Result<String> {
    let path = Path::new(spec);
    let looks_like_file = spec.ends_with(".json") || spec.contains('/') || path.is_file();
    if !looks_like_file {
        return Ok(spec.to_string());
    }
    if path.is_file() {
        return Ok(Experiment::read(path)?.name);
    }
    match path.file_stem() {
        Some(stem) => Ok(stem.to_string_lossy().into_owned()),
        None => bail!(
            "cannot tell the experiment's name from {spec:?}; give its name, e.g. cifar10-quick"
        ),
    }
}

/// What a report wrote.
pub struct Written {
    pub dir: PathBuf,
    pub report: table::Report,
    /// The summary run beside the runs, or why it could not be written (a read-only
    /// copy of the runs still gets its report).
    pub summary_run: Result<summary_run::Written>,
}

/// The report of `experiment` (its name or file) whose runs are under `runs`, written to
/// `<out>/<experiment>/`: every figure, the tables, the page, and the summary run.
pub fn generate(experiment: &str, runs: &Path, out: &Path) -> Result<Written> {
    let name = experiment_name(experiment)?;
    let folder = ExperimentDir::new(runs, &name);
    let plan_path = folder.plan_path();
    if !plan_path.exists() {
        bail!(
            "no plan at {}: run `scalefree sweep {experiment}` first (or pass --runs where the \
             runs are)",
            plan_path.display(),
        );
    }
    let plan = folder.read_plan()?;
    let collection = collect::collect(plan)?;
    let dir = out.join(&name);
    out_dir::claim(&dir, &name)?;
    let report = draw(&collection, &dir)?;
    write_json_atomic(&dir.join("summary.json"), &report)?;
    write_atomic(&dir.join("summary.md"), table::markdown(&report).as_bytes())?;
    write_atomic(&dir.join("index.html"), html::render(&report).as_bytes())?;
    let summary_run = summary_run::write(&collection, &folder, &report, Some(&dir));
    Ok(Written {
        dir,
        report,
        summary_run,
    })
}

/// Every figure of `collection`, drawn into `dir`, and the tables.
fn draw(collection: &collect::Collection, dir: &Path) -> Result<table::Report> {
    let mut figures = Vec::new();
    for group in &collection.groups {
        figures.push(heatmap::draw(collection, group, dir)?);
    }
    for group in &collection.groups {
        if let Some(f) = curves::draw(collection, group, dir)? {
            figures.push(f);
        }
    }
    figures.extend(histograms::draw_all(collection, dir)?);
    let mut report = table::build(collection, figures)?;
    for f in &report.factorial {
        report.figures.push(factorial::figure::draw(f, dir)?);
    }
    if let Some(figure) = natural_gap::figure::draw(&report.natural_gap, dir)? {
        report.figures.push(figure);
    }
    if let Some(figure) = gap_spread::draw(&report.groups, dir)? {
        report.figures.push(figure);
    }
    Ok(report)
}

/// The summary run of the experiment `plan` in `folder`, from what its runs' files hold
/// now, without the report's figures (a running sweep's view: drawing every PNG of a large
/// grid takes seconds; `scalefree report` adds them).
pub fn refresh_summary_run(plan: &Plan, folder: &ExperimentDir) -> Result<summary_run::Written> {
    let collection = collect::collect(plan.clone())?;
    let report = table::build(&collection, Vec::new())?;
    summary_run::write(&collection, folder, &report, None)
}
