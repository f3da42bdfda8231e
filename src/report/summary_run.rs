//! The experiment as one TensorBoard run beside its runs (`<runs>/<experiment>/summary/`),
//! written anew by `scalefree report` and by a local sweep whenever a run ends:
//!
//! - the HParams experiment: each setting the runs take, with its values as its domain,
//!   and the metrics (so `tensorboard --logdir runs/<experiment>` shows the grid);
//! - per lane (a run's settings but its seed) the mean over its completed seeds of the
//!   test accuracy and the epoch's training loss at each evaluated step, and of the batch
//!   loss at each recorded step (`losses.jsonl`), with a 95 % CI
//!   (`lane/<lane>/<measure>`, `…/ci_low`, `…/ci_high`);
//! - for claim 4, the paired change (intervention − none, per seed) each optimizer sees at
//!   its best setting without factors, with its CI, step by step
//!   (`claim4/<group>/<optimizer>/<measure>_change`);
//! - the report's figures as images, its verdicts, claim 4's rule and its table as text;
//! - a custom-scalars layout: one chart per setting and measure with the optimizers side
//!   by side, and one per claim-4 comparison.
//!
//! TensorBoard never aggregates across runs; this run does, from the runs' own files.
use super::collect::{Cell, Collection, RunProgress, RunResult};
use super::seeds;
use super::table::{self, Report};
use crate::config::keys;
use crate::experiment::ExperimentDir;
use crate::observers::run_board::hparams_metrics;
use crate::plot::display_name;
use crate::rundir::MetricsRow;
use crate::sinks::hparams::{self, SettingDomain};
use crate::sinks::tensorboard::Board;
use crate::stats::{paired, Estimate, CLAIM4_RULE};
use anyhow::{Context, Result};
use optim::DecayMode;
use protobuf::RepeatedField;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};
use tensorboard_proto::layout::{
    Category, Chart, Layout, MarginChartContent, MarginChartContent_Series, MultilineChartContent,
};

/// Settings HParams shows first, in this order, whatever the experiment sweeps: the
/// paper's grid, then what else defines a run. Any other setting is shown when the
/// experiment's runs take more than one value of it.
const SHOWN_FIRST: [&str; 11] = [
    "optimizer",
    "lr",
    "wd",
    "model",
    "bn",
    "grad_factors",
    "seed",
    "eps",
    "batch_size",
    "epochs",
    "schedule",
];

/// A measure the summary run aggregates: its name in tags and titles, and its values by
/// step in a run's files.
#[derive(Clone, Copy)]
pub struct Measure {
    pub name: &'static str,
    pub title: &'static str,
    pub values: fn(&RunResult) -> Result<Series>,
}

/// `(step, value)` of one run.
pub type Series = Vec<(u64, f64)>;

fn from_metrics(run: &RunResult, value: fn(&MetricsRow) -> f64) -> Result<Series> {
    Ok(run.metrics()?.iter().map(|r| (r.step, value(r))).collect())
}

pub const MEASURES: [Measure; 3] = [
    Measure {
        name: "test_accuracy",
        title: "test accuracy",
        values: |run| from_metrics(run, |r| r.eval_accuracy),
    },
    Measure {
        name: "train_loss",
        title: "training loss (epoch mean)",
        values: |run| from_metrics(run, |r| r.train_loss),
    },
    Measure {
        name: "batch_loss",
        title: "batch loss",
        values: |run| Ok(run.losses()?.iter().map(|r| (r.step, r.loss)).collect()),
    },
];

/// The tags of an estimate's series: the mean and its interval's ends.
pub fn estimate_tags(base: &str) -> [String; 3] {
    [
        base.to_string(),
        format!("{base}/ci_low"),
        format!("{base}/ci_high"),
    ]
}

pub fn lane_tag(lane: &str, measure: &Measure) -> String {
    format!("lane/{lane}/{}", measure.name)
}

pub fn claim4_tag(group_slug: &str, optimizer: DecayMode, measure: &Measure) -> String {
    format!("claim4/{group_slug}/{optimizer}/{}_change", measure.name)
}

/// The runs of one lane: the same settings but the seed.
struct Lane<'a> {
    /// The runs' name without the seed.
    label: String,
    /// Without the optimizer too: the lanes charted side by side.
    pair: String,
    optimizer: DecayMode,
    runs: Vec<&'a RunResult>,
}

/// The lanes of the plan, in plan order.
fn lanes(collection: &Collection) -> Vec<Lane<'_>> {
    let mut lanes: Vec<(String, Lane)> = Vec::new();
    for run in &collection.runs {
        let key = run.config.lane();
        match lanes.iter_mut().find(|(k, _)| *k == key) {
            Some((_, lane)) => lane.runs.push(run),
            None => {
                let config = &run.config;
                let lane = Lane {
                    label: config.name_without(&run.name, &[crate::config::SEED]),
                    pair: config.name_without(&run.name, &[crate::config::SEED, "optimizer"]),
                    optimizer: config.optimizer.decay,
                    runs: vec![run],
                };
                lanes.push((key, lane));
            }
        }
    }
    // Lanes whose names coincide (a setting neither named nor swept) keep apart by key.
    let labels: Vec<String> = lanes.iter().map(|(_, l)| l.label.clone()).collect();
    lanes
        .into_iter()
        .map(|(key, mut lane)| {
            if labels.iter().filter(|l| **l == lane.label).count() > 1 {
                lane.label = key;
            }
            lane
        })
        .collect()
}

/// `measure` of the completed runs among `runs`, by seed.
fn completed_series<'a>(
    runs: impl Iterator<Item = &'a RunResult>,
    measure: &Measure,
) -> Result<Vec<(u64, Series)>> {
    runs.filter(|r| r.progress == RunProgress::Completed)
        .map(|r| Ok((r.config.training.seed, (measure.values)(r)?)))
        .collect()
}

/// `(seed, value)` at `step` of each run that has one there.
fn at_step(runs: &[(u64, Series)], step: u64) -> Vec<(u64, f64)> {
    runs.iter()
        .filter_map(|(seed, series)| {
            let (_, value) = series.iter().find(|(s, _)| *s == step)?;
            Some((*seed, *value))
        })
        .collect()
}

fn steps(runs: &[(u64, Series)]) -> BTreeSet<u64> {
    runs.iter()
        .flat_map(|(_, series)| series.iter().map(|(step, _)| *step))
        .collect()
}

/// The mean over seeds at each step some seed has, with its CI.
pub fn mean_over_seeds(runs: &[(u64, Series)]) -> Vec<(u64, Estimate)> {
    steps(runs)
        .into_iter()
        .filter_map(|step| Some((step, Estimate::of_seeds(&at_step(runs, step))?)))
        .collect()
}

/// The paired change `treated − natural` at each step both have, by seed.
pub fn paired_change(treated: &[(u64, Series)], natural: &[(u64, Series)]) -> Vec<(u64, Estimate)> {
    steps(treated)
        .into_iter()
        .filter_map(|step| {
            let changes = paired(&at_step(treated, step), &at_step(natural, step));
            Some((step, Estimate::of(&changes)?))
        })
        .collect()
}

fn log_estimates(board: &mut Board, base: &str, series: &[(u64, Estimate)]) {
    let [mean, low, high] = estimate_tags(base);
    for (step, estimate) in series {
        let (lo, hi) = estimate.bounds();
        board.scalar(&mean, estimate.mean, *step);
        board.scalar(&low, lo, *step);
        board.scalar(&high, hi, *step);
    }
}

fn margin_chart(title: String, series: Vec<(String, String)>) -> Chart {
    let series = series.into_iter().map(|(_, base)| {
        let [value, lower, upper] = estimate_tags(&base);
        let mut s = MarginChartContent_Series::new();
        s.set_value(value);
        s.set_lower(lower);
        s.set_upper(upper);
        s
    });
    let mut content = MarginChartContent::new();
    content.set_series(series.collect());
    let mut chart = Chart::new();
    chart.set_title(title);
    chart.set_margin(content);
    chart
}

fn multiline_chart(title: &str, tag_pattern: &str) -> Chart {
    let mut content = MultilineChartContent::new();
    content.set_tag(RepeatedField::from_vec(vec![tag_pattern.to_string()]));
    let mut chart = Chart::new();
    chart.set_title(title.into());
    chart.set_multiline(content);
    chart
}

fn category(title: String, charts: Vec<Chart>) -> Category {
    let mut category = Category::new();
    category.set_title(title);
    category.set_chart(RepeatedField::from_vec(charts));
    category
}

/// Each setting the runs take, shown first or because it varies, with its values.
pub fn setting_domains(collection: &Collection) -> Vec<SettingDomain> {
    let mut values: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for run in &collection.plan.runs {
        for (key, value) in run.config.defining_settings() {
            let seen = values.entry(key).or_default();
            if !seen.contains(&value) {
                seen.push(value);
            }
        }
    }
    let others = keys::SETTINGS
        .iter()
        .map(|s| s.key)
        .filter(|k| !SHOWN_FIRST.contains(k) && values.get(*k).is_some_and(|v| v.len() > 1));
    SHOWN_FIRST
        .into_iter()
        .chain(others)
        .filter_map(|key| {
            let mut values = values.get(key)?.clone();
            values.sort_by(|a, b| match (a.as_f64(), b.as_f64()) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                _ => a.to_string().cmp(&b.to_string()),
            });
            Some(SettingDomain {
                name: key.to_string(),
                values,
            })
        })
        .collect()
}

/// What the summary run holds, for the caller to say.
#[derive(Debug)]
pub struct Written {
    pub path: PathBuf,
    pub lanes: usize,
    pub comparisons: usize,
    pub images: usize,
}

/// The lanes' means, with one chart per pair of lanes and measure.
fn log_lanes(collection: &Collection, board: &mut Board) -> Result<(usize, Vec<Category>)> {
    let lanes = lanes(collection);
    let mut pairs: Vec<(String, Vec<(DecayMode, String)>)> = Vec::new();
    let mut logged = 0;
    for lane in &lanes {
        if !lane
            .runs
            .iter()
            .any(|r| r.progress == RunProgress::Completed)
        {
            continue;
        }
        logged += 1;
        for measure in &MEASURES {
            let series = completed_series(lane.runs.iter().copied(), measure)?;
            let tag = lane_tag(&lane.label, measure);
            log_estimates(board, &tag, &mean_over_seeds(&series));
        }
        let entry = (lane.optimizer, lane.label.clone());
        match pairs.iter_mut().find(|(p, _)| *p == lane.pair) {
            Some((_, members)) => members.push(entry),
            None => pairs.push((lane.pair.clone(), vec![entry])),
        }
    }
    let categories = MEASURES
        .iter()
        .map(|measure| {
            let charts = pairs
                .iter()
                .map(|(pair, members)| {
                    let mut members = members.clone();
                    members.sort_by_key(|(optimizer, _)| *optimizer as u8);
                    let names: Vec<&str> = members.iter().map(|(o, _)| display_name(*o)).collect();
                    let series = members
                        .iter()
                        .map(|(o, label)| (o.to_string(), lane_tag(label, measure)))
                        .collect();
                    let title = format!("{} — {pair} ({})", measure.title, names.join(" vs "));
                    margin_chart(title, series)
                })
                .collect();
            category(
                format!("{}: mean over seeds, 95 % CI", measure.title),
                charts,
            )
        })
        .collect();
    Ok((logged, categories))
}

fn cell_series(
    collection: &Collection,
    cell: &Cell,
    measure: &Measure,
) -> Result<Vec<(u64, Series)>> {
    completed_series(collection.runs_of(cell), measure)
}

/// Claim 4's paired changes over training, one chart per intervention and measure.
fn log_claim4(collection: &Collection, board: &mut Board) -> Result<(usize, Vec<Category>)> {
    let mut charts = Vec::new();
    for (group, none) in seeds::interventions(collection) {
        for measure in &MEASURES {
            let mut series = Vec::new();
            for optimizer in [DecayMode::L2, DecayMode::Decoupled] {
                let Some((treated, natural)) = seeds::compared_cells(group, none, optimizer) else {
                    continue;
                };
                let change = paired_change(
                    &cell_series(collection, treated, measure)?,
                    &cell_series(collection, natural, measure)?,
                );
                let tag = claim4_tag(&group.key.slug(), optimizer, measure);
                log_estimates(board, &tag, &change);
                series.push((optimizer.to_string(), tag));
            }
            if !series.is_empty() {
                let title = format!(
                    "{}: change in {} under factors {} (Adam-ℓ2 vs AdamW)",
                    none.key.label(),
                    measure.title,
                    group.key.grad_factors
                );
                charts.push(margin_chart(title, series));
            }
        }
    }
    let count = charts.len();
    let title = "claim 4: paired change (intervention − none), 95 % CI".to_string();
    Ok((count, vec![category(title, charts)]))
}

/// The verdicts, the rule, and the report's table, as text.
fn log_text(collection: &Collection, report: &Report, board: &mut Board) {
    let rows = seeds::claim4_rows(collection);
    let verdicts = if rows.is_empty() {
        "No gradient-factor intervention beside the same settings without one in this \
         experiment: claim 4 is not judged."
            .to_string()
    } else {
        rows.iter().map(|r| format!("- {}\n", r.line)).collect()
    };
    board.text("claim4/verdict", &verdicts, 0);
    board.text("claim4/rule", CLAIM4_RULE, 0);
    board.text("report/summary", &table::markdown(report), 0);
}

/// The report's figures, each as an image named after its file.
fn log_figures(report: &Report, dir: &Path, board: &mut Board) -> Result<usize> {
    for figure in &report.figures {
        let path = dir.join(&figure.file);
        let png =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let (width, height) = image::image_dimensions(&path)
            .with_context(|| format!("cannot read the size of {}", path.display()))?;
        let stem = figure.file.trim_end_matches(".png");
        board.png(&format!("figures/{stem}"), png, width, height, 0);
    }
    Ok(report.figures.len())
}

/// Writes the summary run of `collection` in `folder`, replacing the one there: `report`
/// is the report's tables of it, `figures` the folder its figures were drawn into (none:
/// a summary run without images).
pub fn write(
    collection: &Collection,
    folder: &ExperimentDir,
    report: &Report,
    figures: Option<&Path>,
) -> Result<Written> {
    let mut board = Board::replacing(&folder.summary_run_dir())?;
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let validation = collection
        .plan
        .runs
        .iter()
        .any(|r| r.config.data.val_fraction > 0.0);
    let experiment = hparams::experiment(
        &collection.plan.description,
        &setting_domains(collection),
        &hparams_metrics(validation),
        created,
    );
    board.add_summary(experiment, 0);
    let (lanes, mut categories) = log_lanes(collection, &mut board)?;
    let (comparisons, claim4) = log_claim4(collection, &mut board)?;
    categories.extend(claim4);
    categories.push(category(
        "every run".into(),
        vec![
            multiline_chart("test accuracy of every run", "test/accuracy"),
            multiline_chart("training loss of every run", "train/loss"),
        ],
    ));
    let mut layout = Layout::new();
    layout.set_category(RepeatedField::from_vec(categories));
    board.custom_scalars_layout(&layout, 0);
    log_text(collection, report, &mut board);
    let images = match figures {
        Some(dir) => log_figures(report, dir, &mut board)?,
        None => 0,
    };
    let path = board.publish()?;
    Ok(Written {
        path,
        lanes,
        comparisons,
        images,
    })
}
