//! The factorial's natural half on its own: an experiment that runs the four Adam arms
//! without factors (and under `equalize`) but no `spread:D` dose, as at the budget where
//! the natural gap first shows (docs/factorial.md). Each arm's final training loss and test
//! accuracy, the natural gap, the main effects on the loss, each arm's change under
//! `equalize`, and the rule's verdict on which factor carries the gap.
use super::{doses_of, equalized, has_every_arm, natural, Natural, ARMS};
use crate::optimizers::Method;
use crate::report::collect::{Collection, RunProgress};
use crate::report::seeds::{accuracy, per_seed, train_loss};
use crate::stats::Estimate;
use serde::Serialize;

/// One arm without factors.
#[derive(Clone, Debug, Serialize)]
pub struct NaturalArm {
    pub optimizer: Method,
    pub decoupled: bool,
    pub scale_free: bool,
    pub lr: f64,
    pub wd: f64,
    pub train_loss: Option<Estimate>,
    pub test_accuracy: Option<Estimate>,
    pub planned: usize,
    pub completed: usize,
    pub diverged: usize,
}

/// The natural half of one network.
#[derive(Clone, Debug, Serialize)]
pub struct NaturalHalf {
    pub label: String,
    pub slug: String,
    pub rule_text: String,
    /// In [`ARMS`] order.
    pub arms: Vec<NaturalArm>,
    pub natural: Natural,
    pub line: String,
}

/// Every network without factors that ran the four arms and no `spread:D` dose beside
/// them (those with doses are full factorials, [`super::factorials`]); none without a rule.
pub fn natural_halves(collection: &Collection) -> Vec<NaturalHalf> {
    let Some(rule) = collection.plan.factorial else {
        return Vec::new();
    };
    collection
        .groups
        .iter()
        .filter(|g| g.key.grad_factors.is_none() && has_every_arm(g))
        .filter(|g| doses_of(collection, g).len() < 2)
        .map(|none| {
            let arms = ARMS
                .iter()
                .map(|&(optimizer, decoupled, scale_free)| {
                    let cell = none.best_cell(optimizer).expect("has_every_arm");
                    let runs: Vec<_> = collection.runs_of(cell).collect();
                    let count =
                        |state: RunProgress| runs.iter().filter(|r| r.progress == state).count();
                    NaturalArm {
                        optimizer,
                        decoupled,
                        scale_free,
                        lr: cell.lr,
                        wd: cell.wd,
                        train_loss: Estimate::of_seeds(&per_seed(collection, cell, train_loss)),
                        test_accuracy: Estimate::of_seeds(&per_seed(collection, cell, accuracy)),
                        planned: runs.len(),
                        completed: count(RunProgress::Completed),
                        diverged: count(RunProgress::Diverged),
                    }
                })
                .collect();
            let natural = natural(collection, rule, none, equalized(collection, none));
            let label = none.key.label();
            let line = format!(
                "natural half ({label}, without factors): {} — {}",
                natural.verdict.outcome.word(),
                natural.verdict.why
            );
            NaturalHalf {
                slug: none.key.slug(),
                label,
                rule_text: format!("{} {}", rule.text(), rule.natural_text()),
                arms,
                natural,
                line,
            }
        })
        .collect()
}
