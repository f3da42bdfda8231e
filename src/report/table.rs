//! The summary table: per (model, BN), each optimizer's best setting and accuracy, the
//! AdamW − Adam-ℓ2 gap and the gradient scale spread at initialisation (the paper's
//! claim 4 in one table), as `summary.json` and `summary.md`.
use super::collect::{fmt_sci, Collection, Counts, Group, RunProgress, RunResult};
use super::factorial::natural_half::NaturalHalf;
use super::factorial::{self, Factorial};
use super::families::{self, Families};
use super::figure::Figure;
use super::natural_gap::{self, NaturalGap};
use super::section::{Section, Table};
use super::seeds::{self, Claim4Row};
use crate::config::FactorSpec;
use crate::optimizers::Method;
use crate::plot::display_name;
use crate::rundir::SpreadRow;
use crate::stats::Estimate;
use anyhow::Result;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub experiment: String,
    pub description: String,
    /// The experiment file the plan came from.
    pub source: PathBuf,
    pub counts: Counts,
    pub groups: Vec<GroupRow>,
    /// Planned runs without a final value: missing, started, interrupted.
    pub unfinished: Vec<RunListing>,
    pub diverged: Vec<RunListing>,
    /// Claim 4's verdict per intervention group (empty when the experiment has none).
    pub claim4: Vec<Claim4Row>,
    /// The factorial test of claim 4, per network that ran its four arms under doses.
    pub factorial: Vec<Factorial>,
    /// The factorial's natural half, per network that ran the four arms without any
    /// `spread:D` dose.
    pub natural_half: Vec<NaturalHalf>,
    /// Which optimizers are scale-free, by proof and in practice (when the experiment
    /// runs optimizers beyond the paper's three under factors).
    pub families: Option<Families>,
    /// AdamW − Adam-ℓ2 at each evaluated epoch, per network without factors whose runs
    /// evaluated at least twice (the budget search of the factorial's natural half).
    pub natural_gap: Vec<NaturalGap>,
    pub figures: Vec<Figure>,
}

#[derive(Clone, Debug, Serialize)]
pub struct GroupRow {
    pub label: String,
    pub model: String,
    pub bn: bool,
    pub loss_mult: f64,
    pub grad_factors: FactorSpec,
    pub optimizers: Vec<OptimizerRow>,
    /// Final test accuracy of AdamW's best setting minus Adam-ℓ2's (a fraction).
    pub adamw_minus_adam_l2: Option<f64>,
    /// The same gap paired by seed, with its 95 % CI (the seeds both settings ran).
    pub adamw_minus_adam_l2_paired: Option<Estimate>,
    pub adam_prox_minus_adamw: Option<f64>,
    pub grad_spread_at_init: Option<SpreadAtInit>,
    pub counts: Counts,
}

#[derive(Clone, Debug, Serialize)]
pub struct OptimizerRow {
    /// `adam-l2`, `adamw`, `adam-prox`.
    pub optimizer: String,
    pub best: Option<Best>,
    /// (η_0, λ) settings with a final value, and planned.
    pub settings_finished: usize,
    pub settings_planned: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Best {
    pub lr: f64,
    pub wd: f64,
    /// Mean over the setting's finished seeds of the final test accuracy.
    pub final_test_accuracy: f64,
    /// The same over the completed seeds, with its 95 % CI and the number of seeds.
    pub test_accuracy: Option<Estimate>,
    pub final_test_error: f64,
    /// The highest test accuracy over the epochs of the setting's first completed run.
    pub best_epoch_test_accuracy: Option<f64>,
    pub runs: Vec<String>,
}

/// `grad_spread` of a run's first `scales.jsonl` row: p99 − p1 of log2|g| over all non-BN
/// layers at step 1, i.e. at initialisation.
#[derive(Clone, Debug, Serialize)]
pub struct SpreadAtInit {
    /// `spread`, `p01`, `p50`, `p99`, `layer_median_range`.
    #[serde(flatten)]
    pub at_init: SpreadRow,
    pub step: u64,
    pub run: String,
    /// Which run it is: `AdamW best`, or `first run with scales` when no best run has them.
    pub from: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct RunListing {
    pub name: String,
    pub state: RunProgress,
    pub dir: PathBuf,
    /// Why a damaged or stale run is left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl RunListing {
    /// Its state, and why it is left out where it is.
    pub fn state_text(&self) -> String {
        match &self.note {
            Some(note) => format!("{}: {note}", self.state.label()),
            None => self.state.label().to_string(),
        }
    }
}

fn listing(run: &RunResult) -> RunListing {
    RunListing {
        name: run.name.clone(),
        state: run.progress,
        dir: run.dir.clone(),
        note: run.note.clone(),
    }
}

pub fn build(collection: &Collection, figures: Vec<Figure>) -> Result<Report> {
    let groups = collection
        .groups
        .iter()
        .map(|g| group_row(collection, g))
        .collect::<Result<_>>()?;
    let listed = |keep: &dyn Fn(RunProgress) -> bool| {
        let runs = collection.runs.iter().filter(|r| keep(r.progress));
        runs.map(listing).collect()
    };
    Ok(Report {
        experiment: collection.plan.experiment.clone(),
        description: collection.plan.description.clone(),
        source: collection.plan.source.clone(),
        counts: collection.counts,
        groups,
        unfinished: listed(&|state| !state.is_final()),
        diverged: listed(&|state| state == RunProgress::Diverged),
        claim4: seeds::claim4_rows(collection),
        factorial: factorial::factorials(collection),
        natural_half: factorial::natural_half::natural_halves(collection),
        families: families::families(collection)?,
        natural_gap: natural_gap::natural_gaps(collection)?,
        figures,
    })
}

fn group_row(collection: &Collection, group: &Group) -> Result<GroupRow> {
    let mut optimizers = Vec::new();
    for grid in &group.optimizers {
        let best = grid.best_cell().map(|cell| {
            let error = cell.error.unwrap_or(f64::NAN);
            let best_epoch = collection
                .representative(cell)
                .and_then(|r| r.summary.as_ref())
                .and_then(|s| s.best_test_accuracy);
            Best {
                lr: cell.lr,
                wd: cell.wd,
                final_test_accuracy: 1.0 - error,
                test_accuracy: seeds::cell_accuracy(collection, cell),
                final_test_error: error,
                best_epoch_test_accuracy: best_epoch,
                runs: collection.runs_of(cell).map(|r| r.name.clone()).collect(),
            }
        });
        optimizers.push(OptimizerRow {
            optimizer: grid.optimizer.to_string(),
            best,
            settings_finished: grid.cells.iter().filter(|c| c.error.is_some()).count(),
            settings_planned: grid.cells.iter().filter(|c| c.planned()).count(),
        });
    }
    let accuracy = |opt: Method| group.best_cell(opt)?.error.map(|e| 1.0 - e);
    let gap = |a: Method, b: Method| Some(accuracy(a)? - accuracy(b)?);
    Ok(GroupRow {
        label: group.key.label(),
        model: group.key.model.clone(),
        bn: group.key.bn,
        loss_mult: group.key.loss_mult,
        grad_factors: group.key.grad_factors.clone(),
        optimizers,
        adamw_minus_adam_l2: gap(Method::ADAMW, Method::ADAM_L2),
        adamw_minus_adam_l2_paired: seeds::paired_gap(collection, group),
        adam_prox_minus_adamw: gap(Method::ADAM_PROX, Method::ADAMW),
        grad_spread_at_init: spread_at_init(collection, group)?,
        counts: group.counts,
    })
}

/// From AdamW's best run when it logged scales (then Adam-ℓ2's, AdamProx's); otherwise
/// the group's first run in plan order that did. At step 1 the gradient does not depend
/// on the optimizer, so any run with the same seed would do.
fn spread_at_init(collection: &Collection, group: &Group) -> Result<Option<SpreadAtInit>> {
    let best = [Method::ADAMW, Method::ADAM_L2, Method::ADAM_PROX]
        .into_iter()
        .filter_map(|opt| {
            let run = collection.representative(group.best_cell(opt)?)?;
            Some((run, format!("{} best", display_name(opt))))
        });
    let cells = group.optimizers.iter().flat_map(|grid| &grid.cells);
    let any = cells.flat_map(|cell| collection.runs_of(cell));
    for (run, from) in best.chain(any.map(|run| (run, "first run with scales".to_string()))) {
        if run.progress == RunProgress::Missing {
            continue;
        }
        let rows = run.scale_rows()?;
        let Some(first) = rows.iter().min_by_key(|r| r.step) else {
            continue;
        };
        let Some(s) = &first.grad_spread else {
            continue;
        };
        return Ok(Some(SpreadAtInit {
            at_init: s.clone(),
            step: first.step,
            run: run.name.clone(),
            from,
        }));
    }
    Ok(None)
}

/// The optimizers that appear in any group, in the paper's order.
pub fn optimizer_columns(report: &Report) -> Vec<Method> {
    Method::all()
        .filter(|o| {
            report
                .groups
                .iter()
                .any(|g| g.optimizers.iter().any(|r| r.optimizer == o.to_string()))
        })
        .collect()
}

pub fn best_text(row: Option<&OptimizerRow>) -> String {
    match row {
        None => "—".into(),
        Some(OptimizerRow {
            best: None,
            settings_finished,
            settings_planned,
            ..
        }) => {
            format!("no result ({settings_finished}/{settings_planned} settings done)")
        }
        Some(OptimizerRow { best: Some(b), .. }) => {
            let (ci, seeds) = match b.test_accuracy {
                Some(Estimate {
                    n,
                    half_width: Some(h),
                    ..
                }) => (format!(" ± {:.2}", h * 100.0), format!("{n} seeds")),
                _ => (String::new(), "1 seed".into()),
            };
            format!(
                "{:.2}%{ci} (η₀ {}, λ {}), {seeds}",
                b.final_test_accuracy * 100.0,
                fmt_sci(b.lr),
                fmt_sci(b.wd)
            )
        }
    }
}

pub fn gap_text(gap: Option<f64>) -> String {
    gap.map_or("—".into(), |g| format!("{:+.2} pp", g * 100.0))
}

/// The paired gap with its CI where there are several seeds, else the plain gap.
fn paired_gap_text(group: &GroupRow) -> String {
    match group.adamw_minus_adam_l2_paired {
        Some(e) if e.half_width.is_some() => format!(
            "{:+.2} ± {:.2} pp (paired, {} seeds)",
            e.mean * 100.0,
            e.half_width.unwrap_or(0.0) * 100.0,
            e.n
        ),
        _ => gap_text(group.adamw_minus_adam_l2),
    }
}

pub fn spread_text(spread: &Option<SpreadAtInit>) -> String {
    spread.as_ref().map_or("—".into(), |s| {
        format!("{:.1} ({})", s.at_init.spread, s.from)
    })
}

pub fn counts_text(c: &Counts) -> String {
    let mut text = format!("{}/{} completed", c.completed, c.planned);
    for (n, what) in [
        (c.diverged, "diverged"),
        (c.interrupted, "interrupted"),
        (c.started, "unfinished"),
        (c.missing, "missing"),
        (c.stale, "stale (left out)"),
        (c.damaged, "damaged (left out)"),
    ] {
        if n > 0 {
            text.push_str(&format!(", {n} {what}"));
        }
    }
    text
}

pub fn row_for(group: &GroupRow, optimizer: Method) -> Option<&OptimizerRow> {
    group
        .optimizers
        .iter()
        .find(|r| r.optimizer == optimizer.to_string())
}

/// The header and cells of the summary table, shared by Markdown and HTML.
pub fn table_cells(report: &Report) -> (Vec<String>, Vec<Vec<String>>) {
    let columns = optimizer_columns(report);
    let show_loss_mult = report.groups.iter().any(|g| g.loss_mult != 1.0);
    let mut header = vec!["model".to_string(), "BN".to_string()];
    if show_loss_mult {
        header.push("loss ×".into());
    }
    let show_factors = report.groups.iter().any(|g| !g.grad_factors.is_none());
    if show_factors {
        header.push("gradient factors".into());
    }
    header.extend(
        columns
            .iter()
            .map(|&o| format!("{}: best final test accuracy", display_name(o))),
    );
    header.push("AdamW − Adam-ℓ2".into());
    if columns.contains(&Method::ADAM_PROX) {
        header.push("AdamProx − AdamW".into());
    }
    header.push("gradient spread at init (octaves)".into());
    header.push("runs".into());
    let rows = report
        .groups
        .iter()
        .map(|g| {
            let mut cells = vec![g.model.clone(), if g.bn { "yes" } else { "no" }.to_string()];
            if show_loss_mult {
                cells.push(format!("{}", g.loss_mult));
            }
            if show_factors {
                cells.push(g.grad_factors.to_string());
            }
            cells.extend(columns.iter().map(|&o| best_text(row_for(g, o))));
            cells.push(paired_gap_text(g));
            if columns.contains(&Method::ADAM_PROX) {
                cells.push(gap_text(g.adam_prox_minus_adamw));
            }
            cells.push(spread_text(&g.grad_spread_at_init));
            cells.push(counts_text(&g.counts));
            cells
        })
        .collect();
    (header, rows)
}

pub const TABLE_NOTE: &str = "Best = the (η₀, λ) with the lowest final test error (mean over seeds, ± the 95% CI \
    half-width where there are several; diverged runs count as 1.1 and are never best). The gap is in percentage \
    points of final test accuracy, paired by seed with its 95% CI where both settings ran several seeds. The spread is \
    p99 − p1 of log2|g| over all non-BN weights at step 1 (initialisation), from the run named in summary.json.";

pub const CLAIM4_NOTE: &str = "Each optimizer at its best setting without factors is compared with the same \
    setting under the intervention, seed by seed (same initialisation and data order). Verdict rule, fixed before \
    measuring: SUPPORTED when the 95% CI of Adam-ℓ2's change in final training loss lies above 0 while AdamW's \
    mean change is smaller than its seed-to-seed sd and than the low end of Adam-ℓ2's CI; NOT SUPPORTED when \
    Adam-ℓ2's CI lies at or below 0, or AdamW's CI lies above 0 with a change at least Adam-ℓ2's; INCONCLUSIVE \
    otherwise.";

/// The report's sections told the same way in summary.md, the page and the summary run:
/// the factorial, the families table, the natural gap over training.
pub fn sections(report: &Report) -> Vec<Section> {
    let mut out = factorial::sections::sections(report);
    out.extend(report.natural_gap.iter().map(natural_gap::section));
    out
}

pub fn markdown(report: &Report) -> String {
    let mut md = format!("# {}\n\n", report.experiment);
    if !report.description.is_empty() {
        md.push_str(&format!("{}\n\n", report.description));
    }
    md.push_str(&format!(
        "Experiment file: `{}`. Runs: {}.\n\n",
        report.source.display(),
        counts_text(&report.counts)
    ));
    if !report.claim4.is_empty() {
        md.push_str("## Claim 4: the gradient-factor intervention\n\n");
        for row in &report.claim4 {
            md.push_str(&format!("- {}\n", row.line));
        }
        md.push_str(&format!("\n{CLAIM4_NOTE}\n\n"));
    }
    for section in sections(report) {
        md.push_str(&section.markdown());
    }
    md.push_str("## Best settings\n\n");
    let (header, rows) = table_cells(report);
    md.push_str(&Table { header, rows }.markdown());
    md.push_str(&format!("\n{TABLE_NOTE}\n"));
    for group in &report.groups {
        if let Some(s) = &group.grad_spread_at_init {
            md.push_str(&format!(
                "\n- {}: spread from run `{}` ({}, step {})",
                group.label, s.run, s.from, s.step
            ));
        }
    }
    md.push('\n');
    if !report.unfinished.is_empty() {
        md.push_str("\n## Runs without a final result\n\n");
        for run in &report.unfinished {
            md.push_str(&format!("- `{}`: {}\n", run.name, run.state_text()));
        }
    }
    if !report.diverged.is_empty() {
        md.push_str("\n## Diverged runs (test error 1.1)\n\n");
        for run in &report.diverged {
            md.push_str(&format!("- `{}`\n", run.name));
        }
    }
    if !report.figures.is_empty() {
        md.push_str("\n## Figures\n\n");
        for f in &report.figures {
            md.push_str(&format!("- [{}]({}): {}\n", f.file, f.file, f.caption));
        }
    }
    md
}
