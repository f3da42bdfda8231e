//! `scalefree report EXPERIMENT`: figures and tables of an experiment from its run
//! directories (which it only reads), written to `report/<experiment>/`: heatmaps, curves,
//! histograms, `summary.md`, `summary.json` and an `index.html` showing them all; and the
//! experiment's summary run for TensorBoard beside the runs, `<runs>/<experiment>/summary/`
//! ([`summary_run`]; a report of a folder it cannot write still gets its page).
pub mod collect;
pub mod curves;
pub mod figure;
pub mod gap_spread;
pub mod heatmap;
pub mod histograms;
pub mod html;
mod out_dir;
pub mod seeds;
pub mod summary_run;
pub mod table;

use crate::experiment::{Experiment, ExperimentDir, Plan};
use crate::sinks::atomic::{write_atomic, write_json_atomic};
use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// Experiment name (cifar10-quick) or its file (experiments/cifar10-quick.json).
    pub experiment: String,
    /// Where the run directories are: <runs>/<experiment>/<run>.
    #[arg(long, default_value = "runs")]
    pub runs: PathBuf,
    /// Where the report goes: <out>/<experiment>/index.html.
    #[arg(long, default_value = "report")]
    pub out: PathBuf,
}

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

/// What `report` wrote.
pub struct Written {
    pub dir: PathBuf,
    pub report: table::Report,
    /// The summary run beside the runs, or why it could not be written (a read-only
    /// copy of the runs still gets its report).
    pub summary_run: Result<summary_run::Written>,
}

/// Reads the plan and the runs, writes every figure, the tables and the page.
pub fn generate(args: &ReportArgs) -> Result<Written> {
    let name = experiment_name(&args.experiment)?;
    let folder = ExperimentDir::new(&args.runs, &name);
    let plan_path = folder.plan_path();
    if !plan_path.exists() {
        bail!(
            "no plan at {}: run `scalefree sweep {}` first (or pass --runs where the runs are)",
            plan_path.display(),
            args.experiment
        );
    }
    let plan = folder.read_plan()?;
    let collection = collect::collect(plan)?;
    let dir = args.out.join(&name);
    out_dir::claim(&dir, &name)?;
    let report = draw(&collection, &dir)?;
    write_json_atomic(&dir.join("summary.json"), &report)?;
    write_atomic(&dir.join("summary.md"), table::markdown(&report).as_bytes())?;
    write_atomic(&dir.join("index.html"), html::render(&report).as_bytes())?;
    let summary_run = summary_run::write(&collection, &folder, Some((&report, &dir)));
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
    if let Some(figure) = gap_spread::draw(&report.groups, dir)? {
        report.figures.push(figure);
    }
    Ok(report)
}

/// The summary run of the experiment `plan` in `folder`, from what its runs hold now,
/// with the report's figures drawn into a temporary folder (a running sweep's view).
pub fn refresh_summary_run(plan: &Plan, folder: &ExperimentDir) -> Result<summary_run::Written> {
    let collection = collect::collect(plan.clone())?;
    let figures = tempfile::tempdir().context("cannot create a temporary folder for figures")?;
    let report = draw(&collection, figures.path())?;
    summary_run::write(&collection, folder, Some((&report, figures.path())))
}

pub fn run(args: &ReportArgs) -> Result<i32> {
    let Written {
        dir,
        report,
        summary_run,
    } = generate(args)?;
    let c = &report.counts;
    println!(
        "{}: {} figures and the summary table from {} planned runs ({}).",
        report.experiment,
        report.figures.len(),
        c.planned,
        table::counts_text(c)
    );
    for run in report.unfinished.iter().filter(|run| run.note.is_some()) {
        println!("  left out: {}: {}", run.name, run.state_text());
    }
    if c.unfinished() > 0 {
        println!("  {} runs have no final result yet; they are grey in the heatmaps and listed in the report.", c.unfinished());
    }
    for row in &report.claim4 {
        println!("{}", row.line);
    }
    let index = dir.join("index.html");
    println!("Report: {}", index.display());
    match summary_run {
        Ok(written) => println!(
            "  in TensorBoard: make tensorboard EXPERIMENT={} (HParams; the summary run {}: {} \
             lanes, {} claim-4 charts, {} figures)",
            report.experiment,
            written.path.parent().unwrap_or(&written.path).display(),
            written.lanes,
            written.comparisons,
            written.images
        ),
        Err(e) => println!("  the summary run for TensorBoard was not written: {e:#}"),
    }
    // The server in the hint listens on this machine only: `-d` alone would serve the
    // report to the whole network.
    println!("  open it in a browser: xdg-open {}  (or: python3 -m http.server --bind 127.0.0.1 -d {} and visit http://127.0.0.1:8000)", index.display(), dir.display());
    println!("  table as text: {}", dir.join("summary.md").display());
    Ok(0)
}
