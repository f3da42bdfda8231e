//! Reading an experiment's run directories into one table of results: each planned run
//! with its state, grouped by (model, BN, loss multiplier) into (η_0, λ) grids per
//! optimizer, each with its best cell.
use crate::commands::sweep::experiment::Plan;
use crate::config::RunConfig;
use crate::rundir::{MetricsRow, RunDir, ScaleRow, Summary};
pub use crate::rundir::{RunState, DIVERGED_ERROR};
use anyhow::Result;
use optim::DecayMode;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct RunResult {
    pub name: String,
    pub dir: PathBuf,
    pub config: RunConfig,
    pub outcome: RunState,
    pub summary: Option<Summary>,
}

impl RunResult {
    /// Final test error, 1.1 when diverged; `None` while the run has no final value.
    pub fn heatmap_error(&self) -> Option<f64> {
        match (self.outcome, &self.summary) {
            (RunState::Diverged, _) => Some(DIVERGED_ERROR),
            (RunState::Completed, Some(s)) => s
                .final_test_accuracy
                .map(|a| 1.0 - a)
                .or(s.test_error_for_heatmap)
                .filter(|e| e.is_finite()),
            _ => None,
        }
    }

    pub fn metrics(&self) -> Result<Vec<MetricsRow>> {
        RunDir::new(&self.dir).read_metrics()
    }

    pub fn scale_rows(&self) -> Result<Vec<ScaleRow>> {
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
    pub grad_factors: String,
}

impl GroupKey {
    fn of(config: &RunConfig) -> Self {
        GroupKey {
            model: config.model.name.clone(),
            bn: config.model.bn,
            loss_mult: config.training.loss_mult,
            grad_factors: config.training.grad_factors.to_string(),
        }
    }

    fn factors_suffix(&self, separator: &str) -> String {
        if self.grad_factors == "none" {
            String::new()
        } else {
            format!("{separator}{}", self.grad_factors)
        }
    }

    pub fn label(&self) -> String {
        let mut label = format!("{}, {}", self.model, if self.bn { "BN" } else { "no BN" });
        if self.loss_mult != 1.0 {
            label.push_str(&format!(", loss × {}", self.loss_mult));
        }
        label + &self.factors_suffix(", factors ")
    }

    /// Label and file-name part of the model, loss multiplier and factors (BN aside).
    pub fn family(&self) -> (String, String) {
        let slug_factors = self.factors_suffix("-gf-").replace(':', "");
        if self.loss_mult == 1.0 {
            (
                self.model.clone() + &self.factors_suffix(", factors "),
                self.model.clone() + &slug_factors,
            )
        } else {
            (
                format!(
                    "{}, loss × {}{}",
                    self.model,
                    self.loss_mult,
                    self.factors_suffix(", factors ")
                ),
                format!("{}-lm{}{slug_factors}", self.model, self.loss_mult),
            )
        }
    }

    /// For file names: `resnet20-nobn`, `resnet110-nobn-lm10`.
    pub fn slug(&self) -> String {
        let mut slug = format!("{}-{}", self.model, if self.bn { "bn" } else { "nobn" });
        if self.loss_mult != 1.0 {
            slug.push_str(&format!("-lm{}", self.loss_mult));
        }
        slug + &self.factors_suffix("-gf-").replace(':', "")
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
}

impl Counts {
    fn add(&mut self, outcome: RunState) {
        self.planned += 1;
        match outcome {
            RunState::Missing => self.missing += 1,
            RunState::Started => self.started += 1,
            RunState::Interrupted => self.interrupted += 1,
            RunState::Completed => self.completed += 1,
            RunState::Diverged => self.diverged += 1,
        }
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
    pub optimizer: DecayMode,
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
    pub fn grid(&self, optimizer: DecayMode) -> Option<&OptimizerGrid> {
        self.optimizers.iter().find(|g| g.optimizer == optimizer)
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
    /// The run standing for a cell in curves and histograms: its first completed seed.
    pub fn representative(&self, cell: &Cell) -> Option<&RunResult> {
        cell.runs
            .iter()
            .map(|&i| &self.runs[i])
            .find(|r| r.outcome == RunState::Completed)
    }
}

fn read_run(name: &str, dir: &Path, config: &RunConfig) -> Result<RunResult> {
    let (outcome, summary) = RunDir::new(dir).state()?;
    Ok(RunResult {
        name: name.to_string(),
        dir: dir.to_path_buf(),
        config: config.clone(),
        outcome,
        summary,
    })
}

fn sorted_unique(values: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut out: Vec<f64> = Vec::new();
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out.sort_by(f64::total_cmp);
    out
}

/// Reads every planned run's directory. A summary that exists but cannot be read is an
/// error (naming the file); a run without one is merely unfinished.
pub fn collect(plan: Plan) -> Result<Collection> {
    let runs: Vec<RunResult> = plan
        .runs
        .iter()
        .map(|r| read_run(&r.name, &r.dir, &r.config))
        .collect::<Result<_>>()?;
    let mut counts = Counts::default();
    let mut keys: Vec<GroupKey> = Vec::new();
    for run in &runs {
        counts.add(run.outcome);
        let key = GroupKey::of(&run.config);
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
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
    let lrs = sorted_unique(members.iter().map(|&i| runs[i].config.optimizer.lr));
    let wds = sorted_unique(
        members
            .iter()
            .map(|&i| runs[i].config.optimizer.weight_decay),
    );
    let mut counts = Counts::default();
    for &i in &members {
        counts.add(runs[i].outcome);
    }
    let optimizers = DecayMode::ALL
        .into_iter()
        .filter(|&opt| {
            members
                .iter()
                .any(|&i| runs[i].config.optimizer.decay == opt)
        })
        .map(|optimizer| {
            let mut cells = Vec::with_capacity(lrs.len() * wds.len());
            for &lr in &lrs {
                for &wd in &wds {
                    let of_cell: Vec<usize> = members
                        .iter()
                        .copied()
                        .filter(|&i| {
                            let c = &runs[i].config;
                            c.optimizer.decay == optimizer
                                && c.optimizer.lr == lr
                                && c.optimizer.weight_decay == wd
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
                        .any(|&i| runs[i].outcome == RunState::Diverged);
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
            let mut best: Option<usize> = None;
            for (i, cell) in cells.iter().enumerate() {
                let Some(error) = cell.error.filter(|_| !cell.any_diverged) else {
                    continue;
                };
                if best.is_none_or(|b| error < cells[b].error.unwrap_or(f64::INFINITY)) {
                    best = Some(i);
                }
            }
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

/// Adam-ℓ2, AdamW, AdamProx: the names used in figures and tables.
pub fn display_name(optimizer: DecayMode) -> &'static str {
    match optimizer {
        DecayMode::L2 => "Adam-ℓ2",
        DecayMode::Decoupled => "AdamW",
        DecayMode::Proximal => "AdamProx",
    }
}
