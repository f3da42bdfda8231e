//! `check multi-scale` (claim 4): AdamW's advantage over Adam-ℓ2 comes from gradients of
//! many scales, because AdamW's update is scale-free. The paper shows a correlation; this
//! check intervenes. Fixed per-layer factors on the gradients (`spread:D`, `equalize`, a
//! file) act on Adam-ℓ2 exactly as a per-layer weight decay `λ/c_l` and cannot act on
//! AdamW (with ε far below the scaled gradients), so if the mechanism is right the spread
//! hurts Adam-ℓ2 and leaves AdamW where it was.
//!
//! Per seed, every lane (each optimizer without and with each intervention) starts from
//! the same initial weights and sees the same batches, in lockstep; the lanes' final
//! training loss (mean over the last epoch) and test accuracy are compared seed by seed,
//! and the paired changes judged by [`crate::stats::Claim4`].
mod figure;
mod judge;
#[cfg(test)]
mod tests;
mod train;

pub use judge::{judge, verdict, CLAIM};

use super::input::Input;
use super::setup::Setup;
use super::verdict::device_label;
use crate::config::FactorSpec;
use crate::distinct::distinct;
use crate::optimizers::Method;
use crate::stats::{paired, Estimate, Finding};
use anyhow::{bail, Result};
use serde::Serialize;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Instant;

/// Training images per lane unless the setup's training subset says otherwise.
pub const DEFAULT_SUBSET: usize = 5000;
/// Images per batch unless the setup says otherwise.
pub const DEFAULT_BATCH_SIZE: usize = 128;

/// The measure the verdict is taken on (chosen before measuring).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Final training loss (mean over the last epoch): the direct effect on optimisation.
    Loss,
    /// Final test accuracy.
    Accuracy,
}

impl Metric {
    /// Of a lane's, a seed's or a change's pair of measures, the one this metric is.
    pub fn of<T>(self, train_loss: T, test_accuracy: T) -> T {
        match self {
            Metric::Loss => train_loss,
            Metric::Accuracy => test_accuracy,
        }
    }
}

impl FromStr for Metric {
    type Err = String;

    fn from_str(s: &str) -> Result<Metric, String> {
        match s {
            "loss" => Ok(Metric::Loss),
            "accuracy" => Ok(Metric::Accuracy),
            other => Err(format!("`{other}`: must be loss or accuracy")),
        }
    }
}

/// The check's settings. The setup's run configuration gives the model, the data (a
/// training subset of [`DEFAULT_SUBSET`] images unless it names one), ε (far below the
/// smallest scaled gradients so that ε does not break AdamW's scale-freeness) and the
/// seed of `spread:D`'s draw (`factor_seed`); its seed and optimizer are not used: the
/// seeds are 0 … `seeds` − 1, and each optimizer has its own η_0, λ.
#[derive(Clone, Debug)]
pub struct MultiScaleSettings {
    pub setup: Setup,
    /// Interventions compared with no factors.
    pub factors: Vec<FactorSpec>,
    /// Seeds 0 … N−1 (initial weights and data order; every lane of a seed shares them).
    pub seeds: usize,
    /// Epochs over the training subset of every lane.
    pub epochs: usize,
    /// Adam-ℓ2's and AdamW's (η_0, λ).
    pub l2: (f64, f64),
    pub adamw: (f64, f64),
    pub metric: Metric,
}

/// One lane's result for one seed.
#[derive(Clone, Debug, Serialize)]
pub struct SeedResult {
    pub seed: u64,
    pub train_loss: Option<f64>,
    pub test_accuracy: Option<f64>,
    pub diverged_at: Option<u64>,
}

/// An optimizer with or without an intervention, over the seeds.
#[derive(Clone, Debug, Serialize)]
pub struct Lane {
    pub optimizer: Method,
    pub factors: FactorSpec,
    pub lr: f64,
    pub wd: f64,
    pub seeds: Vec<SeedResult>,
    pub train_loss: Option<Estimate>,
    pub test_accuracy: Option<Estimate>,
}

/// One optimizer's paired change under one intervention (intervention − none).
#[derive(Clone, Debug, Serialize)]
pub struct Change {
    pub optimizer: Method,
    pub factors: FactorSpec,
    pub train_loss: Option<Estimate>,
    pub test_accuracy: Option<Estimate>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Judgement {
    pub factors: FactorSpec,
    pub outcome: Finding,
    pub detail: String,
}

/// What `--json` writes.
#[derive(Debug, Serialize)]
pub struct Report {
    pub check: &'static str,
    pub verdict: super::verdict::Verdict,
    pub outcome: Finding,
    pub metric: Metric,
    pub budget: String,
    pub model: String,
    pub bn: bool,
    pub input: String,
    pub eps: f64,
    pub lanes: Vec<Lane>,
    pub changes: Vec<Change>,
    /// AdamW − Adam-ℓ2 without factors, paired by seed: the natural comparison.
    pub natural_gap_accuracy: Option<Estimate>,
    pub natural_gap_train_loss: Option<Estimate>,
    pub judgements: Vec<Judgement>,
    pub png: PathBuf,
    pub wall_s: f64,
}

/// What the check tells as it measures.
pub trait MultiScaleProgress {
    /// The first seed's lanes are built (`factors`: none first, then each intervention)
    /// and about to train on `input`.
    fn starting(&mut self, _input: &Input, _lanes: &[Lane], _factors: &[FactorSpec]) {}
    /// A lane's result for a seed.
    fn seed_done(&mut self, _lane: &Lane, _result: &SeedResult) {}
}

/// Tells nothing.
impl MultiScaleProgress for () {}

/// (seed, value) of a lane's seeds that have the measure.
fn values(lane: &Lane, metric: Metric) -> Vec<(u64, f64)> {
    lane.seeds
        .iter()
        .filter_map(|s| Some((s.seed, metric.of(s.train_loss, s.test_accuracy)?)))
        .collect()
}

/// Every lane without its seeds: each optimizer without and with each intervention.
fn lanes(settings: &MultiScaleSettings, factors: &[FactorSpec]) -> Vec<Lane> {
    let optimizers = [
        (Method::ADAM_L2, settings.l2.0, settings.l2.1),
        (Method::ADAMW, settings.adamw.0, settings.adamw.1),
    ];
    optimizers
        .iter()
        .flat_map(|&(optimizer, lr, wd)| {
            factors.iter().map(move |f| Lane {
                optimizer,
                factors: f.clone(),
                lr,
                wd,
                seeds: Vec::new(),
                train_loss: None,
                test_accuracy: None,
            })
        })
        .collect()
}

/// The lane of `mode` with `factors`.
fn find<'a>(lanes: &'a [Lane], mode: Method, factors: &FactorSpec) -> Option<&'a Lane> {
    lanes
        .iter()
        .find(|l| l.optimizer == mode && l.factors == *factors)
}

/// `a − b`, paired by seed.
fn gap(a: &Lane, b: &Lane, metric: Metric) -> Option<Estimate> {
    Estimate::of(&paired(&values(a, metric), &values(b, metric)))
}

/// Each optimizer's paired change under each intervention.
fn changes(lanes: &[Lane], factors: &[FactorSpec]) -> Vec<Change> {
    let lane = |mode, f: &FactorSpec| find(lanes, mode, f).expect("every lane exists");
    let change =
        |mode, f: &FactorSpec, metric| gap(lane(mode, f), lane(mode, &FactorSpec::None), metric);
    let mut changes = Vec::new();
    for f in factors.iter().skip(1) {
        for mode in [Method::ADAM_L2, Method::ADAMW] {
            changes.push(Change {
                optimizer: mode,
                factors: f.clone(),
                train_loss: change(mode, f, Metric::Loss),
                test_accuracy: change(mode, f, Metric::Accuracy),
            });
        }
    }
    changes
}

/// Trains every lane for every seed, judges each intervention, and draws the figure to
/// `png`.
pub fn run(
    settings: &MultiScaleSettings,
    png: PathBuf,
    progress: &mut dyn MultiScaleProgress,
) -> Result<Report> {
    let started = Instant::now();
    let run = &settings.setup.run;
    crate::train::device::refuse_more_threads_than_cpus(run.runtime.threads)?;
    crate::train::device::set_threads(run.runtime.threads);
    let device = crate::config::parse_device(&run.runtime.device)?;
    let factors = distinct(
        [FactorSpec::None]
            .into_iter()
            .chain(settings.factors.clone()),
    );
    if factors.len() < 2 {
        bail!("--factors: give at least one intervention besides none (spread:3, equalize, …)");
    }
    let mut lanes = lanes(settings, &factors);
    let mut description = String::new();
    for seed in 0..settings.seeds as u64 {
        description = train::train_seed(settings, seed, &mut lanes, &factors, progress)?;
    }
    for lane in &mut lanes {
        lane.train_loss = Estimate::of_seeds(&values(lane, Metric::Loss));
        lane.test_accuracy = Estimate::of_seeds(&values(lane, Metric::Accuracy));
    }
    let changes = changes(&lanes, &factors);
    let judgements: Vec<Judgement> = factors[1..]
        .iter()
        .map(|f| judge(f, &changes, &lanes, settings.metric))
        .collect();
    let none = |mode| find(&lanes, mode, &FactorSpec::None).expect("every lane exists");
    let natural = |metric| gap(none(Method::ADAMW), none(Method::ADAM_L2), metric);
    let (model, bn) = (&run.model.name, run.model.bn);
    let budget = format!(
        "{} seeds × {} epochs of {} (batch {}), {model} on {}",
        settings.seeds,
        settings.epochs,
        description,
        run.data.batch_size,
        device_label(device)
    );
    let first = &judgements[0];
    let with = if bn { "with" } else { "without" };
    figure::draw(
        &png,
        &lanes,
        &factors,
        &format!("{model} {with} BN — {budget}"),
    )?;
    Ok(Report {
        check: "multi-scale",
        outcome: first.outcome,
        verdict: verdict(first, &budget),
        metric: settings.metric,
        budget,
        model: model.clone(),
        bn,
        input: description,
        eps: run.optimizer.adam_eps(),
        natural_gap_accuracy: natural(Metric::Accuracy),
        natural_gap_train_loss: natural(Metric::Loss),
        lanes,
        changes,
        judgements,
        png,
        wall_s: started.elapsed().as_secs_f64(),
    })
}
