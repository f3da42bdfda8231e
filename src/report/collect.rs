//! Reading an experiment's run directories into one table of results: each planned run
//! with its state, grouped by (model, BN, loss multiplier) into (η_0, λ) grids per
//! optimizer, each with its best cell.
use crate::config::{FactorSpec, RunConfig};
use crate::distinct::distinct;
use crate::experiment::stale;
use crate::experiment::Plan;
use crate::optimizers::Method;
use crate::rundir::{LossRow, MetricsRow, RunDir, ScaleRow, Summary};
pub use crate::rundir::{RunProgress, DIVERGED_ERROR};
use anyhow::Result;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct RunResult {
    pub name: String,
    pub dir: PathBuf,
    pub config: RunConfig,
    pub progress: RunProgress,
    pub summary: Option<Summary>,
    /// Why a damaged or stale run is left out (the file and its error; the settings that
    /// differ from the plan's).
    pub note: Option<String>,
}

impl RunResult {
    /// Final test error, 1.1 when diverged; `None` while the run has no final value.
    pub fn heatmap_error(&self) -> Option<f64> {
        self.summary.as_ref()?.heatmap_error()
    }

    /// Its evaluations; none for a run left out (damaged or stale), whose files are
    /// not reported.
    pub fn metrics(&self) -> Result<Vec<MetricsRow>> {
        if self.note.is_some() {
            return Ok(Vec::new());
        }
        RunDir::new(&self.dir).read_metrics()
    }

    /// Its recorded batch losses; none for a run left out (damaged or stale), or made
    /// before runs recorded them.
    pub fn losses(&self) -> Result<Vec<LossRow>> {
        if self.note.is_some() {
            return Ok(Vec::new());
        }
        RunDir::new(&self.dir).read_losses()
    }

    /// Its scale snapshots; none for a run left out (damaged or stale).
    pub fn scale_rows(&self) -> Result<Vec<ScaleRow>> {
        if self.note.is_some() {
            return Ok(Vec::new());
        }
        RunDir::new(&self.dir).read_scales()
    }
}

/// What a figure or table row is about: runs that differ only in optimizer, η_0, λ, seed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroupKey {
    pub model: String,
    pub bn: bool,
    pub loss_mult: f64,
    /// The gradient-factor intervention (`none`, `spread:3`, …).
    pub grad_factors: FactorSpec,
}

impl GroupKey {
    fn of(config: &RunConfig) -> Self {
        GroupKey {
            model: config.model.name.clone(),
            bn: config.model.bn,
            loss_mult: config.training.loss_mult,
            grad_factors: config.training.grad_factors.clone(),
        }
    }

    /// Label and file-name part of the group, or of its family (BN aside).
    fn names(&self, with_bn: bool) -> (String, String) {
        let (mut label, mut slug) = (self.model.clone(), self.model.clone());
        if with_bn {
            label.push_str(if self.bn { ", BN" } else { ", no BN" });
            slug.push_str(if self.bn { "-bn" } else { "-nobn" });
        }
        if self.loss_mult != 1.0 {
            label.push_str(&format!(", loss × {}", self.loss_mult));
            slug.push_str(&format!("-lm{}", self.loss_mult));
        }
        if !self.grad_factors.is_none() {
            label.push_str(&format!(", factors {}", self.grad_factors));
            slug.push_str(&format!(
                "-gf-{}",
                self.grad_factors.to_string().replace(':', "")
            ));
        }
        (label, slug)
    }

    pub fn label(&self) -> String {
        self.names(true).0
    }

    /// Label and file-name part of the model, loss multiplier and factors (BN aside).
    pub fn family(&self) -> (String, String) {
        self.names(false)
    }

    /// For file names: `resnet20-nobn`, `resnet110-nobn-lm10`.
    pub fn slug(&self) -> String {
        self.names(true).1
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub planned: usize,
    pub completed: usize,
    pub diverged: usize,
    pub interrupted: usize,
    pub started: usize,
    pub missing: usize,
    pub damaged: usize,
    pub stale: usize,
}

impl Counts {
    fn of<'a>(runs: impl Iterator<Item = &'a RunResult>) -> Counts {
        let mut counts = Counts::default();
        for run in runs {
            counts.planned += 1;
            match run.progress {
                RunProgress::Missing => counts.missing += 1,
                RunProgress::Started => counts.started += 1,
                RunProgress::Interrupted => counts.interrupted += 1,
                RunProgress::Completed => counts.completed += 1,
                RunProgress::Diverged => counts.diverged += 1,
                RunProgress::Damaged => counts.damaged += 1,
                RunProgress::Stale => counts.stale += 1,
            }
        }
        counts
    }

    /// Planned runs without a final value.
    pub fn unfinished(&self) -> usize {
        self.missing + self.started + self.interrupted
    }
}

/// One (η_0, λ) setting of one optimizer: its runs (seeds) and their mean error.
#[derive(Clone, Debug)]
pub struct Cell {
    pub lr: f64,
    pub wd: f64,
    /// Indices into [`Collection::runs`], in plan order.
    pub runs: Vec<usize>,
    /// Mean heatmap error over the finished runs.
    pub error: Option<f64>,
    pub any_diverged: bool,
    pub finished: usize,
}

impl Cell {
    pub fn planned(&self) -> bool {
        !self.runs.is_empty()
    }
}

#[derive(Clone, Debug)]
pub struct OptimizerGrid {
    pub optimizer: Method,
    /// Row-major over the group's `lrs` × `wds`.
    pub cells: Vec<Cell>,
    /// Index into `cells` of the lowest error among cells with no diverged run.
    pub best: Option<usize>,
}

impl OptimizerGrid {
    pub fn best_cell(&self) -> Option<&Cell> {
        self.best.map(|i| &self.cells[i])
    }
}

#[derive(Clone, Debug)]
pub struct Group {
    pub key: GroupKey,
    /// Ascending; shared by all the optimizers' grids so their panels line up.
    pub lrs: Vec<f64>,
    pub wds: Vec<f64>,
    /// In the order Adam-ℓ2, AdamW, AdamProx (those present).
    pub optimizers: Vec<OptimizerGrid>,
    pub counts: Counts,
}

impl Group {
    pub fn grid(&self, optimizer: Method) -> Option<&OptimizerGrid> {
        self.optimizers.iter().find(|g| g.optimizer == optimizer)
    }

    /// The optimizer's best cell, if it has one.
    pub fn best_cell(&self, optimizer: Method) -> Option<&Cell> {
        self.grid(optimizer)?.best_cell()
    }
}

pub struct Collection {
    pub plan: Plan,
    pub runs: Vec<RunResult>,
    /// In order of first appearance in the plan.
    pub groups: Vec<Group>,
    pub counts: Counts,
}

impl Collection {
    /// A cell's runs (its seeds), in plan order.
    pub fn runs_of<'a>(&'a self, cell: &'a Cell) -> impl Iterator<Item = &'a RunResult> + Clone {
        cell.runs.iter().map(|&i| &self.runs[i])
    }

    /// A cell's completed runs, for results over seeds.
    pub fn completed<'a>(&'a self, cell: &'a Cell) -> impl Iterator<Item = &'a RunResult> {
        self.runs_of(cell)
            .filter(|r| r.progress == RunProgress::Completed)
    }

    /// The run standing for a cell in curves and histograms: its first completed seed.
    pub fn representative<'a>(&'a self, cell: &'a Cell) -> Option<&'a RunResult> {
        self.completed(cell).next()
    }
}

/// A planned run as its directory holds it. One that is damaged (as [`RunDir::examine`]
/// judges it for every reader) or made with other settings than the plan's (stale, as
/// `sweep` says) is left out, with why, and the report goes on with the rest.
fn read_run(name: &str, dir: &Path, config: &RunConfig) -> RunResult {
    let run_dir = RunDir::new(dir);
    let examined = run_dir.examine();
    let (progress, summary, note) = match (examined.damage, examined.progress) {
        (Some(why), progress) => (progress, None, Some(why)),
        (None, progress) => match stale::check(&run_dir, config, progress) {
            stale::Match::Stale(what) => (
                RunProgress::Stale,
                None,
                Some(format!("{} with other settings: {what}", progress.label())),
            ),
            _ => (progress, examined.summary, None),
        },
    };
    RunResult {
        name: name.to_string(),
        dir: dir.to_path_buf(),
        config: config.clone(),
        progress,
        summary,
        note,
    }
}

fn sorted_unique(values: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut out = distinct(values);
    out.sort_by(f64::total_cmp);
    out
}

/// Reads every planned run's directory: a run without a summary is unfinished, a damaged
/// or stale one is left out (see [`read_run`]).
pub fn collect(plan: Plan) -> Result<Collection> {
    let runs: Vec<RunResult> = plan
        .runs
        .iter()
        .map(|r| read_run(&r.name, r.dir(), &r.config))
        .collect();
    let counts = Counts::of(runs.iter());
    let keys = distinct(runs.iter().map(|run| GroupKey::of(&run.config)));
    let groups = keys
        .into_iter()
        .map(|key| build_group(key, &runs))
        .collect();
    Ok(Collection {
        plan,
        runs,
        groups,
        counts,
    })
}

fn build_group(key: GroupKey, runs: &[RunResult]) -> Group {
    let members: Vec<usize> = (0..runs.len())
        .filter(|&i| GroupKey::of(&runs[i].config) == key)
        .collect();
    let adam = |i: usize| &runs[i].config.optimizer;
    let lrs = sorted_unique(members.iter().map(|&i| adam(i).lr));
    let wds = sorted_unique(members.iter().map(|&i| adam(i).weight_decay));
    let counts = Counts::of(members.iter().map(|&i| &runs[i]));
    let optimizers = Method::all()
        .filter(|&opt| members.iter().any(|&i| adam(i).method == opt))
        .map(|optimizer| {
            let mut cells = Vec::with_capacity(lrs.len() * wds.len());
            for &lr in &lrs {
                for &wd in &wds {
                    let of_cell: Vec<usize> = members
                        .iter()
                        .copied()
                        .filter(|&i| {
                            let c = adam(i);
                            c.method == optimizer && c.lr == lr && c.weight_decay == wd
                        })
                        .collect();
                    let errors: Vec<f64> = of_cell
                        .iter()
                        .filter_map(|&i| runs[i].heatmap_error())
                        .collect();
                    let error = (!errors.is_empty())
                        .then(|| errors.iter().sum::<f64>() / errors.len() as f64);
                    let any_diverged = of_cell
                        .iter()
                        .any(|&i| runs[i].progress == RunProgress::Diverged);
                    cells.push(Cell {
                        lr,
                        wd,
                        runs: of_cell,
                        error,
                        any_diverged,
                        finished: errors.len(),
                    });
                }
            }
            // The first of the lowest, among the cells without a diverged run.
            let best = cells
                .iter()
                .enumerate()
                .filter_map(|(i, c)| Some((i, c.error.filter(|_| !c.any_diverged)?)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(i, _)| i);
            OptimizerGrid {
                optimizer,
                cells,
                best,
            }
        })
        .collect();
    Group {
        key,
        lrs,
        wds,
        optimizers,
        counts,
    }
}

/// `5e-4`, `1e-3`, `0`: the paper's way of writing η_0 and λ.
pub fn fmt_sci(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else {
        format!("{x:e}")
    }
}
