//! The experiment as TensorBoard runs beside its runs, written anew by `scalefree report`,
//! `sweep status`, a local sweep whenever a run ends and a Slurm array task when its runs
//! end: the summary run `<runs>/<experiment>/summary/` and, beside it, one run per
//! optimizer, `summary/<optimizer>/` (TensorBoard's charts colour by run, so each
//! optimizer's series is a colour of its own).
//!
//! - the summary run: the HParams experiment (each setting the runs take, with its values
//!   as its domain, and the metrics, so `tensorboard --logdir runs/<experiment>` shows the
//!   grid); the report's figures as images, its verdicts, claim 4's rule and its table as
//!   text; the final values of the measures evaluated once as a bar chart and a table
//!   ([`super::final_values`]); and the custom-scalars layout;
//! - each optimizer's run, for every measure with a curve (evaluated more than once; the
//!   batch loss at each step `losses.jsonl` holds): the mean over the completed seeds with
//!   a 95 % CI (`…`, `…/ci_low`, `…/ci_high`) of its best setting per group
//!   (`best/<group>/<measure>`, as the report compares the optimizers), of every setting
//!   (`lane/<setting>/<measure>`), and claim 4's paired change (intervention − none, per
//!   seed) at its best setting without factors (`claim4/<group>/<measure>_change`);
//! - the layout: one chart per group and measure with each optimizer at its best setting,
//!   one per claim-4 comparison and measure, one per setting both optimizers ran, each of
//!   one series that every optimizer's run holds (so no run lacks part of a chart's tags),
//!   and every run's own curves.
//!
//! HParams lists the runs the experiment counts: a damaged run's session, and every run's
//! moved aside to `stale/`, is withdrawn ([`crate::observers::run_board`]).
//!
//! TensorBoard never aggregates across runs; these runs do, from the runs' own files.
use super::collect::{fmt_sci, Cell, Collection, Group, RunProgress, RunResult};
use super::factorial::sections::{factorial_section, families_section, natural_half_section};
use super::final_values::{self, Bar, Panel};
use super::natural_gap;
use super::seeds;
use super::table::{self, Report};
use crate::config::keys;
use crate::experiment::ExperimentDir;
use crate::observers::run_board::{
    hparams_metrics, reinstate_session, session_withdrawn, withdraw_session,
};
use crate::optimizers::Method;
use crate::plot::display_name;
use crate::rundir::lock::Lock;
use crate::rundir::{MetricsRow, RunDir};
use crate::sinks::hparams::{self, SettingDomain};
use crate::sinks::tensorboard::Board;
use crate::stats::{paired, Estimate, CLAIM4_RULE};
use anyhow::{Context, Result};
use protobuf::RepeatedField;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
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

/// `best/<group>/<measure>`: an optimizer's best setting in a group, in its own run.
pub fn best_tag(group_slug: &str, measure: &Measure) -> String {
    format!("best/{group_slug}/{}", measure.name)
}

/// `lane/<setting>/<measure>`: a setting (the runs' name without seed and optimizer).
pub fn lane_tag(setting: &str, measure: &Measure) -> String {
    format!("lane/{setting}/{}", measure.name)
}

/// `claim4/<intervention group>/<measure>_change`.
pub fn claim4_tag(group_slug: &str, measure: &Measure) -> String {
    format!("claim4/{group_slug}/{}_change", measure.name)
}

/// The folder of `optimizer`'s TensorBoard run inside the summary run's
/// (`summary/adam-l2`): TensorBoard names the run after it.
pub fn optimizer_run(summary: &Path, optimizer: Method) -> PathBuf {
    summary.join(optimizer.to_string())
}

/// Each completed run's values of each measure ([`MEASURES`] order), read once.
struct RunSeries {
    by_run: HashMap<String, Vec<Series>>,
}

impl RunSeries {
    fn read(collection: &Collection) -> Result<RunSeries> {
        let mut by_run = HashMap::new();
        for run in &collection.runs {
            if run.progress == RunProgress::Completed {
                let series = MEASURES.iter().map(|m| (m.values)(run));
                by_run.insert(run.name.clone(), series.collect::<Result<_>>()?);
            }
        }
        Ok(RunSeries { by_run })
    }

    /// `(seed, values of measure m)` of the completed runs among `runs`.
    fn of<'a>(&self, runs: impl Iterator<Item = &'a RunResult>, m: usize) -> Vec<(u64, Series)> {
        runs.filter_map(|r| Some((r.config.training.seed, self.by_run.get(&r.name)?[m].clone())))
            .filter(|(_, series)| !series.is_empty())
            .collect()
    }

    /// The most values of measure `m` a run has: 2 or more make a curve, 1 a final value.
    fn points(&self, m: usize) -> usize {
        self.by_run.values().map(|s| s[m].len()).max().unwrap_or(0)
    }
}

/// `(step, value)` at `step` of each run that has one there.
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

/// `(seed, last value)` of each run: its final value.
fn finals(runs: &[(u64, Series)]) -> Vec<(u64, f64)> {
    runs.iter()
        .filter_map(|(seed, series)| Some((*seed, series.last()?.1)))
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

/// The optimizers' runs beside the summary run, each opened when its first series comes.
struct OptimizerBoards {
    summary: PathBuf,
    boards: BTreeMap<Method, (Method, Board)>,
}

impl OptimizerBoards {
    fn board(&mut self, optimizer: Method) -> Result<&mut Board> {
        let key = optimizer;
        if !self.boards.contains_key(&key) {
            let board = Board::replacing(&optimizer_run(&self.summary, optimizer))?;
            self.boards.insert(key, (optimizer, board));
        }
        Ok(&mut self.boards.get_mut(&key).expect("inserted").1)
    }

    fn log(&mut self, optimizer: Method, base: &str, series: &[(u64, Estimate)]) -> Result<bool> {
        if series.is_empty() {
            return Ok(false);
        }
        log_estimates(self.board(optimizer)?, base, series);
        Ok(true)
    }

    /// Puts every board in place, and removes the runs of optimizers with none.
    fn publish(self) -> Result<()> {
        let mut kept = Vec::new();
        for (_, (optimizer, board)) in self.boards {
            board.publish()?;
            kept.push(optimizer);
        }
        for optimizer in Method::all().filter(|o| !kept.contains(o)) {
            let dir = optimizer_run(&self.summary, optimizer);
            if dir.is_dir() {
                std::fs::remove_dir_all(&dir)
                    .with_context(|| format!("cannot remove {}", dir.display()))?;
            }
        }
        Ok(())
    }
}

/// A chart of one series, `base` with its CI: every optimizer's run that holds it draws it,
/// in its colour; a run that holds none of its three tags is not listed as missing any.
fn margin_chart(title: String, base: &str) -> Chart {
    let [value, lower, upper] = estimate_tags(base);
    let mut series = MarginChartContent_Series::new();
    series.set_value(value);
    series.set_lower(lower);
    series.set_upper(upper);
    let mut content = MarginChartContent::new();
    content.set_series(RepeatedField::from_vec(vec![series]));
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

/// Categories of `charts`, those with none left out.
fn categories(titled: Vec<Titled>) -> Vec<Category> {
    titled
        .into_iter()
        .filter(|(_, charts)| !charts.is_empty())
        .map(|(title, charts)| {
            let mut category = Category::new();
            category.set_title(title);
            category.set_chart(RepeatedField::from_vec(charts));
            category
        })
        .collect()
}

/// `Adam-ℓ2 (η₀ 1e-3, λ 5e-4, 4 seeds) vs AdamW (…)`.
fn versus(shown: &[(Method, String)]) -> String {
    let named = shown.iter().map(|(o, detail)| match detail.is_empty() {
        true => display_name(*o).to_string(),
        false => format!("{} ({detail})", display_name(*o)),
    });
    named.collect::<Vec<_>>().join(" vs ")
}

/// `η₀ 1e-3, λ 5e-4` of a cell, with its seeds when given.
fn setting_text(cell: &Cell, seeds: Option<usize>) -> String {
    let setting = format!("η₀ {}, λ {}", fmt_sci(cell.lr), fmt_sci(cell.wd));
    match seeds {
        Some(1) => format!("{setting}, 1 seed"),
        Some(n) => format!("{setting}, {n} seeds"),
        None => setting,
    }
}

/// The runs of one lane: the same settings but the seed.
struct Lane<'a> {
    /// The runs' name without seed and optimizer: the setting the optimizers share.
    setting: String,
    optimizer: Method,
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
                    setting: config.name_without(&run.name, &[crate::config::SEED, "optimizer"]),
                    optimizer: config.optimizer.method,
                    runs: vec![run],
                };
                lanes.push((key, lane));
            }
        }
    }
    // Lanes of one optimizer whose names coincide (a setting neither named nor swept)
    // keep apart by key.
    let named: Vec<(Method, String)> = lanes
        .iter()
        .map(|(_, l)| (l.optimizer, l.setting.clone()))
        .collect();
    lanes
        .into_iter()
        .map(|(key, mut lane)| {
            let same = |(o, s): &&(Method, String)| *o == lane.optimizer && *s == lane.setting;
            if named.iter().filter(same).count() > 1 {
                lane.setting = key;
            }
            lane
        })
        .collect()
}

/// A category of the custom-scalars layout: its title and charts.
type Titled = (String, Vec<Chart>);

/// Each optimizer at its best setting per group, one chart per group and measure with a
/// curve.
fn log_best(
    c: &Collection,
    series: &RunSeries,
    curves: &[usize],
    boards: &mut OptimizerBoards,
) -> Result<Vec<Titled>> {
    let mut out = Vec::new();
    for &m in curves {
        let measure = &MEASURES[m];
        let mut charts = Vec::new();
        for group in &c.groups {
            let tag = best_tag(&group.key.slug(), measure);
            let mut shown = Vec::new();
            for grid in &group.optimizers {
                let Some(cell) = grid.best_cell() else {
                    continue;
                };
                let seeds = series.of(c.runs_of(cell), m);
                if boards.log(grid.optimizer, &tag, &mean_over_seeds(&seeds))? {
                    shown.push((grid.optimizer, setting_text(cell, Some(seeds.len()))));
                }
            }
            if !shown.is_empty() {
                let title = format!(
                    "{} — {}: {}",
                    measure.title,
                    group.key.label(),
                    versus(&shown)
                );
                charts.push(margin_chart(title, &tag));
            }
        }
        let title = format!(
            "{}: each optimizer at its best setting (mean over seeds, 95 % CI)",
            measure.title
        );
        out.push((title, charts));
    }
    Ok(out)
}

/// Every lane's means (in its optimizer's run), one chart per setting that more than one
/// optimizer ran and measure with a curve; the lanes with a completed run.
fn log_lanes(
    c: &Collection,
    series: &RunSeries,
    curves: &[usize],
    boards: &mut OptimizerBoards,
) -> Result<(usize, Vec<Titled>)> {
    let mut logged = 0;
    let mut settings: Vec<(String, Vec<Method>)> = Vec::new();
    for lane in lanes(c) {
        if !lane
            .runs
            .iter()
            .any(|r| r.progress == RunProgress::Completed)
        {
            continue;
        }
        logged += 1;
        for &m in curves {
            let means = mean_over_seeds(&series.of(lane.runs.iter().copied(), m));
            boards.log(
                lane.optimizer,
                &lane_tag(&lane.setting, &MEASURES[m]),
                &means,
            )?;
        }
        match settings.iter_mut().find(|(s, _)| *s == lane.setting) {
            Some((_, optimizers)) => optimizers.push(lane.optimizer),
            None => settings.push((lane.setting, vec![lane.optimizer])),
        }
    }
    let shared: Vec<&(String, Vec<Method>)> =
        settings.iter().filter(|(_, o)| o.len() > 1).collect();
    let mut out = Vec::new();
    for &m in curves {
        let measure = &MEASURES[m];
        let charts = shared
            .iter()
            .map(|(setting, optimizers)| {
                let mut shown: Vec<(Method, String)> =
                    optimizers.iter().map(|o| (*o, String::new())).collect();
                shown.sort_by_key(|(o, _)| *o);
                let title = format!("{} — {setting}: {}", measure.title, versus(&shown));
                margin_chart(title, &lane_tag(setting, measure))
            })
            .collect();
        let title = format!(
            "{}: every setting both optimizers ran (mean over seeds, 95 % CI)",
            measure.title
        );
        out.push((title, charts));
    }
    Ok((logged, out))
}

/// Claim 4's paired changes over training, one chart per intervention and measure with a
/// curve.
fn log_claim4(
    c: &Collection,
    series: &RunSeries,
    curves: &[usize],
    boards: &mut OptimizerBoards,
) -> Result<(usize, Vec<Chart>)> {
    let mut charts = Vec::new();
    for (group, none) in seeds::interventions(c) {
        for &m in curves {
            let measure = &MEASURES[m];
            let tag = claim4_tag(&group.key.slug(), measure);
            let mut shown = Vec::new();
            for optimizer in [Method::ADAM_L2, Method::ADAMW] {
                let Some((treated, natural)) = seeds::compared_cells(group, none, optimizer) else {
                    continue;
                };
                let change = paired_change(
                    &series.of(c.runs_of(treated), m),
                    &series.of(c.runs_of(natural), m),
                );
                if boards.log(optimizer, &tag, &change)? {
                    shown.push((optimizer, String::new()));
                }
            }
            if !shown.is_empty() {
                let title = format!(
                    "{}: change in {} under factors {} ({})",
                    none.key.label(),
                    measure.title,
                    group.key.grad_factors,
                    versus(&shown)
                );
                charts.push(margin_chart(title, &tag));
            }
        }
    }
    Ok((charts.len(), charts))
}

/// The panels of the measures `once` (evaluated once): each optimizer's best setting per
/// group, and claim 4's paired change of the final values.
fn final_panels(c: &Collection, series: &RunSeries, once: &[usize]) -> Vec<Panel> {
    let optimizers: Vec<Method> = Method::all()
        .filter(|o| c.groups.iter().any(|g| g.grid(*o).is_some()))
        .collect();
    let estimate =
        |cell: &Cell, m: usize| Estimate::of_seeds(&finals(&series.of(c.runs_of(cell), m)));
    let mut panels = Vec::new();
    for &m in once {
        let measure = &MEASURES[m];
        let bars = c.groups.iter().map(|group| {
            let bar = |o: &Method| {
                let cell = group.best_cell(*o)?;
                let detail = setting_text(cell, None);
                Some(Bar {
                    estimate: estimate(cell, m)?,
                    detail,
                })
            };
            optimizers.iter().map(bar).collect()
        });
        panels.push(Panel {
            title: format!(
                "final {}: each optimizer at its best setting",
                measure.title
            ),
            categories: c.groups.iter().map(|g| g.key.label()).collect(),
            optimizers: optimizers.clone(),
            bars: bars.collect(),
            percent: measure.name == "test_accuracy",
            change: false,
        });
    }
    let interventions = seeds::interventions(c);
    if interventions.is_empty() {
        return panels;
    }
    let compared = [Method::ADAM_L2, Method::ADAMW];
    for &m in once {
        let measure = &MEASURES[m];
        let change = |group: &Group, none: &Group, o: &Method| {
            let (treated, natural) = seeds::compared_cells(group, none, *o)?;
            let [t, n] = [treated, natural].map(|cell| finals(&series.of(c.runs_of(cell), m)));
            let estimate = Estimate::of(&paired(&t, &n))?;
            Some(Bar {
                estimate,
                detail: String::new(),
            })
        };
        let bars = interventions
            .iter()
            .map(|(group, none)| compared.iter().map(|o| change(group, none, o)).collect());
        let categories = interventions.iter().map(|(group, none)| {
            format!("{}: {} − none", none.key.label(), group.key.grad_factors)
        });
        panels.push(Panel {
            title: format!("claim 4: change in final {}", measure.title),
            categories: categories.collect(),
            optimizers: compared.to_vec(),
            bars: bars.collect(),
            percent: measure.name == "test_accuracy",
            change: true,
        });
    }
    panels
}

/// The final values of the measures evaluated once, as a table and a bar chart; how many
/// panels.
fn log_final_values(
    c: &Collection,
    series: &RunSeries,
    once: &[usize],
    board: &mut Board,
) -> Result<usize> {
    let panels = final_panels(c, series, once);
    if panels.is_empty() {
        return Ok(0);
    }
    board.text("final/table", &final_values::markdown(&panels), 0);
    let (png, width, height) = final_values::png(&panels, once.len())?;
    board.png("final/values", png, width, height, 0);
    Ok(panels.len())
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
    /// Lanes (settings but the seed) with a completed run.
    pub lanes: usize,
    /// Claim-4 charts.
    pub comparisons: usize,
    /// The report's figures.
    pub images: usize,
    /// Panels of the final values' bar chart and table (measures evaluated once).
    pub final_panels: usize,
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
    for f in &report.factorial {
        let section = factorial_section(f);
        board.text(&format!("factorial/{}", f.slug), &section.markdown(), 0);
    }
    if let Some(families) = &report.families {
        board.text("families/table", &families_section(families).markdown(), 0);
    }
    for half in &report.natural_half {
        let section = natural_half_section(half);
        board.text(
            &format!("natural_half/{}", half.slug),
            &section.markdown(),
            0,
        );
    }
    for gap in &report.natural_gap {
        let section = natural_gap::section(gap);
        board.text(&format!("natural_gap/{}", gap.slug), &section.markdown(), 0);
    }
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

/// HParams lists the runs the experiment counts: a damaged run's session is withdrawn,
/// and put back once the run is no longer damaged; so is the session of every run moved
/// aside to `stale/` by `sweep --redo-stale`. A run another process writes is left to it.
fn sync_sessions(collection: &Collection, folder: &ExperimentDir) -> Result<()> {
    for run in &collection.runs {
        let dir = RunDir::new(&run.dir);
        match (
            run.progress == RunProgress::Damaged,
            session_withdrawn(&dir),
        ) {
            (true, false) => {
                withdraw_session(&dir, run.note.as_deref().unwrap_or("damaged"))?;
            }
            (false, true) => {
                reinstate_session(&dir)?;
            }
            _ => {}
        }
    }
    let stale = folder.stale_dir();
    if !stale.is_dir() {
        return Ok(());
    }
    let entries =
        std::fs::read_dir(&stale).with_context(|| format!("cannot list {}", stale.display()))?;
    for entry in entries.flatten().filter(|e| e.path().is_dir()) {
        let dir = RunDir::new(entry.path());
        if !session_withdrawn(&dir) {
            let why =
                "moved aside by `sweep --redo-stale`: made with other settings than the plan's";
            withdraw_session(&dir, why)?;
        }
    }
    Ok(())
}

/// The HParams experiment of `collection`.
fn experiment_summary(collection: &Collection) -> tensorboard_proto::summary::Summary {
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let validation = collection
        .plan
        .runs
        .iter()
        .any(|r| r.config.data.val_fraction > 0.0);
    hparams::experiment(
        &collection.plan.description,
        &setting_domains(collection),
        &hparams_metrics(validation),
        created,
    )
}

/// Writes the summary run of `collection` in `folder`, replacing the one there: `report`
/// is the report's tables of it, `figures` the folder its figures were drawn into (none:
/// a summary run without the report's images). One writer at a time: another waits.
pub fn write(
    collection: &Collection,
    folder: &ExperimentDir,
    report: &Report,
    figures: Option<&Path>,
) -> Result<Written> {
    let _turn = Lock::wait(&folder.summary_lock_path(), "scalefree (the summary run)")?;
    let series = RunSeries::read(collection)?;
    let (curves, once): (Vec<usize>, Vec<usize>) = (0..MEASURES.len())
        .filter(|&m| series.points(m) > 0)
        .partition(|&m| series.points(m) > 1);
    let summary_dir = folder.summary_run_dir();
    let mut board = Board::replacing(&summary_dir)?;
    board.add_summary(experiment_summary(collection), 0);
    let mut boards = OptimizerBoards {
        summary: summary_dir,
        boards: BTreeMap::new(),
    };
    let mut charted = log_best(collection, &series, &curves, &mut boards)?;
    let (comparisons, claim4) = log_claim4(collection, &series, &curves, &mut boards)?;
    let title = "claim 4: paired change (intervention − none), 95 % CI";
    charted.push((title.to_string(), claim4));
    let (lanes, lane_charts) = log_lanes(collection, &series, &curves, &mut boards)?;
    charted.extend(lane_charts);
    let every_run = [
        (
            0,
            "test accuracy of every run",
            "^(test|validation)/accuracy$",
        ),
        (1, "training loss (epoch mean) of every run", "^train/loss$"),
        (2, "batch loss of every run", "^train/batch_loss$"),
    ];
    let every_run = every_run
        .into_iter()
        .filter(|(m, _, _)| curves.contains(m))
        .map(|(_, title, pattern)| multiline_chart(title, pattern));
    charted.push(("every run".into(), every_run.collect()));
    let mut layout = Layout::new();
    layout.set_category(RepeatedField::from_vec(categories(charted)));
    board.custom_scalars_layout(&layout, 0);
    log_text(collection, report, &mut board);
    let final_panels = log_final_values(collection, &series, &once, &mut board)?;
    let images = match figures {
        Some(dir) => log_figures(report, dir, &mut board)?,
        None => 0,
    };
    boards.publish()?;
    let path = board.publish()?;
    sync_sessions(collection, folder)?;
    Ok(Written {
        path,
        lanes,
        comparisons,
        images,
        final_panels,
    })
}
