//! The natural gap over training: AdamW − Adam-ℓ2 in training loss and in test accuracy
//! at each epoch both evaluated, paired by seed, per network without gradient factors,
//! and the first epoch at which the gap in training loss has a 95 % CI that excludes 0.
//! The budget search of the factorial's natural half reads it (docs/factorial.md): with a
//! constant step size the first k epochs of a run are the k-epoch run, so one sweep of long
//! runs evaluated every few epochs measures every shorter budget at once.
pub mod figure;

use super::collect::{fmt_sci, Cell, Collection, Group};
use super::section::{Section, Table};
use crate::config::ScheduleName;
use crate::optimizers::Method;
use crate::rundir::MetricsRow;
use crate::stats::{paired, Estimate};
use anyhow::Result;
use serde::Serialize;
use std::collections::BTreeMap;

/// The gap at one evaluated epoch.
#[derive(Clone, Debug, Serialize)]
pub struct GapAt {
    pub epoch: u32,
    pub step: u64,
    /// AdamW − Adam-ℓ2 mean training loss over the epoch's batches, paired by seed
    /// (below 0: AdamW's is lower).
    pub train_loss: Option<Estimate>,
    /// AdamW − Adam-ℓ2 test accuracy (a fraction), paired by seed.
    pub test_accuracy: Option<Estimate>,
    /// Wall-clock seconds a run had trained for at this epoch, mean over both arms' runs
    /// (as measured, under the sweep's placement and whatever else the machine ran).
    pub wall_s: f64,
}

/// The natural gap of one network over its evaluated epochs.
#[derive(Clone, Debug, Serialize)]
pub struct NaturalGap {
    pub label: String,
    pub slug: String,
    /// (η₀, λ) of each arm's best setting.
    pub adam_l2: (f64, f64),
    pub adamw: (f64, f64),
    pub rows: Vec<GapAt>,
    /// The first evaluated epoch whose gap in training loss has a 95 % CI excluding 0.
    pub first_separated: Option<u32>,
    /// Whether each row is also the run of that many epochs: the step size does not
    /// depend on the run's length (constant or step schedule), unlike a cosine.
    pub rows_are_budgets: bool,
    pub line: String,
}

/// Whether an estimate's 95 % CI excludes 0 (never without a CI).
fn separated(e: &Estimate) -> bool {
    e.low().is_some_and(|lo| lo > 0.0) || e.high().is_some_and(|hi| hi < 0.0)
}

/// Per evaluated epoch, (seed, row) of a cell's runs: every run the experiment counts,
/// finished or not (a run stopped at epoch 30 still measured epochs 5 to 30).
fn rows_by_epoch(
    collection: &Collection,
    cell: &Cell,
) -> Result<BTreeMap<u32, Vec<(u64, MetricsRow)>>> {
    let mut by_epoch: BTreeMap<u32, Vec<(u64, MetricsRow)>> = BTreeMap::new();
    for run in collection.runs_of(cell) {
        for row in run.metrics()? {
            by_epoch
                .entry(row.epoch)
                .or_default()
                .push((run.config.training.seed, row));
        }
    }
    Ok(by_epoch)
}

fn values(rows: &[(u64, MetricsRow)], value: fn(&MetricsRow) -> f64) -> Vec<(u64, f64)> {
    rows.iter().map(|(seed, row)| (*seed, value(row))).collect()
}

/// The paired gap at each epoch both cells' runs evaluated.
fn gaps_by_epoch(
    l2_rows: &BTreeMap<u32, Vec<(u64, MetricsRow)>>,
    w_rows: &BTreeMap<u32, Vec<(u64, MetricsRow)>>,
) -> Vec<GapAt> {
    let mut rows = Vec::new();
    for (epoch, w_at) in w_rows {
        let Some(l2_at) = l2_rows.get(epoch) else {
            continue;
        };
        let gap = |value: fn(&MetricsRow) -> f64| {
            Estimate::of(&paired(&values(w_at, value), &values(l2_at, value)))
        };
        let all = w_at.iter().chain(l2_at);
        let wall: Vec<f64> = all.clone().map(|(_, r)| r.wall_s).collect();
        rows.push(GapAt {
            epoch: *epoch,
            step: all.map(|(_, r)| r.step).max().unwrap_or(0),
            train_loss: gap(|r| r.train_loss),
            test_accuracy: gap(|r| r.eval_accuracy),
            wall_s: wall.iter().sum::<f64>() / wall.len() as f64,
        });
    }
    rows
}

/// The gap's line: where its CI first leaves 0 and whether the later epochs hold it.
fn line_of(
    label: &str,
    rows: &[GapAt],
    first_separated: Option<u32>,
    rows_are_budgets: bool,
) -> String {
    let last = rows.last().map_or(0, |r| r.epoch);
    let mut line = match first_separated {
        Some(epoch) => {
            // Each row is its own test: one CI of many that leaves 0 may be chance, so say
            // whether the later ones hold it.
            let later: Vec<&GapAt> = rows.iter().filter(|r| r.epoch > epoch).collect();
            let holding = later
                .iter()
                .filter(|r| r.train_loss.as_ref().is_some_and(separated))
                .count();
            format!(
                "natural gap ({label}): AdamW − Adam-ℓ2 final training loss first has a 95 % \
                 CI excluding 0 at epoch {epoch} of {last}; its CI excludes 0 at {holding} of \
                 the {} evaluated epochs after it",
                later.len()
            )
        }
        None => format!(
            "natural gap ({label}): AdamW − Adam-ℓ2 final training loss has no 95 % CI \
             excluding 0 at any of the {} evaluated epochs (up to epoch {last})",
            rows.len(),
        ),
    };
    if !rows_are_budgets {
        line.push_str(
            "; the step-size schedule depends on the run's length, so an earlier epoch is \
             not the run of that many epochs",
        );
    }
    line
}

fn gap_of(group: &Group, collection: &Collection) -> Result<Option<NaturalGap>> {
    let (Some(l2), Some(w)) = (
        group.best_cell(Method::ADAM_L2),
        group.best_cell(Method::ADAMW),
    ) else {
        return Ok(None);
    };
    let rows = gaps_by_epoch(
        &rows_by_epoch(collection, l2)?,
        &rows_by_epoch(collection, w)?,
    );
    // Two evaluations at least, and two seeds paired at one of them (a CI) at least.
    let any_ci = rows
        .iter()
        .any(|r| r.train_loss.is_some_and(|e| e.half_width.is_some()));
    if rows.len() < 2 || !any_ci {
        return Ok(None);
    }
    let first_separated = rows
        .iter()
        .find(|r| r.train_loss.as_ref().is_some_and(separated))
        .map(|r| r.epoch);
    let rows_are_budgets = collection
        .runs_of(l2)
        .chain(collection.runs_of(w))
        .all(|r| {
            matches!(
                r.config.schedule.kind,
                ScheduleName::Constant | ScheduleName::Step
            )
        });
    let label = group.key.label();
    Ok(Some(NaturalGap {
        slug: group.key.slug(),
        line: line_of(&label, &rows, first_separated, rows_are_budgets),
        label,
        adam_l2: (l2.lr, l2.wd),
        adamw: (w.lr, w.wd),
        rows,
        first_separated,
        rows_are_budgets,
    }))
}

/// The natural gap over training of every network without gradient factors whose
/// Adam-ℓ2 and AdamW runs share at least two evaluated epochs, with at least two seeds
/// paired at one of them.
pub fn natural_gaps(collection: &Collection) -> Result<Vec<NaturalGap>> {
    let mut out = Vec::new();
    for group in collection
        .groups
        .iter()
        .filter(|g| g.key.grad_factors.is_none())
    {
        out.extend(gap_of(group, collection)?);
    }
    Ok(out)
}

pub fn section(gap: &NaturalGap) -> Section {
    let estimate = |e: &Option<Estimate>, scale: f64, digits: usize| {
        e.map_or("—".into(), |e| e.scaled(scale).signed_text(digits))
    };
    let rows = gap
        .rows
        .iter()
        .map(|r| {
            vec![
                r.epoch.to_string(),
                r.step.to_string(),
                estimate(&r.train_loss, 1.0, 4),
                if r.train_loss.as_ref().is_some_and(separated) {
                    "yes"
                } else {
                    "no"
                }
                .into(),
                estimate(&r.test_accuracy, 100.0, 2),
                format!("{:.0}", r.wall_s),
            ]
        })
        .collect();
    Section {
        heading: format!("The natural gap over training: {}", gap.label),
        lines: vec![
            gap.line.clone(),
            format!(
                "Adam-ℓ2 at η₀ {}, λ {}; AdamW at η₀ {}, λ {} (each one's best setting)",
                fmt_sci(gap.adam_l2.0),
                fmt_sci(gap.adam_l2.1),
                fmt_sci(gap.adamw.0),
                fmt_sci(gap.adamw.1)
            ),
        ],
        tables: vec![Table {
            header: vec![
                "epoch".into(),
                "step".into(),
                "AdamW − Adam-ℓ2 training loss".into(),
                "CI excludes 0".into(),
                "AdamW − Adam-ℓ2 test accuracy (points)".into(),
                "wall s per run".into(),
            ],
            rows,
        }],
        note: NOTE.into(),
    }
}

pub const NOTE: &str = "Paired by seed at each epoch both optimizers evaluated, 95 % CI over \
    seeds; the training loss is the mean over the epoch's batches. With a constant (or step) \
    schedule a run's first k epochs are the k-epoch run, so each row is the gap of that \
    budget. Wall \
    seconds are as measured, under the sweep's placement and load.";
