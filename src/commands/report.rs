//! `scalefree report EXPERIMENT`: figures and tables of an experiment from its run
//! directories (which it only reads), written to `report/<experiment>/`: heatmaps, curves,
//! histograms, `summary.md`, `summary.json` and an `index.html` showing them all; and the
//! experiment's summary run for TensorBoard beside the runs, `<runs>/<experiment>/summary/`
//! ([`summary_run`]; a report of a folder it cannot write still gets its page).
//!
//! The report itself is [`crate::report`]; this command reads its arguments and prints.
use crate::report::{generate, table, Written};
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

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

pub fn run(args: &ReportArgs) -> Result<i32> {
    let Written {
        dir,
        report,
        summary_run,
    } = generate(&args.experiment, &args.runs, &args.out)?;
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
    for half in &report.natural_half {
        println!("{}", half.line);
    }
    for factorial in &report.factorial {
        println!("{}", factorial.line);
    }
    if let Some(families) = &report.families {
        let damaged: Vec<&str> = families
            .rows
            .iter()
            .filter(|r| r.damaged())
            .map(|r| r.optimizer.name())
            .collect();
        println!(
            "scale-free in practice ({}, {}): damaged: {}; the table with the exact test is in the report",
            families.label,
            families.factors,
            if damaged.is_empty() { "none".to_string() } else { damaged.join(", ") }
        );
    }
    let index = dir.join("index.html");
    println!("Report: {}", index.display());
    match summary_run {
        Ok(written) => println!(
            "  in TensorBoard: make tensorboard {}EXPERIMENT={} (HParams; the summary run {}: {} \
             lanes, {} claim-4 charts, {} figures)",
            // The Makefile serves runs/ unless told where the runs are.
            match args.runs == std::path::Path::new("runs") {
                true => String::new(),
                false => format!("RUNS={} ", args.runs.display()),
            },
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
