//! Results over seeds: a cell's final test accuracy as a mean with its 95 % CI, the
//! AdamW − Adam-ℓ2 gap paired by seed, and claim 4's verdict wherever the experiment ran
//! a gradient-factor intervention beside the same settings without one.
use super::collect::{Cell, Collection, Group};
use crate::config::FactorSpec;
use crate::optimizers::Method;
use crate::rundir::Summary;
use crate::stats::{paired, Claim4, Estimate, Finding};
use serde::Serialize;

/// (seed, value) of a cell's completed runs.
pub(crate) fn per_seed(
    collection: &Collection,
    cell: &Cell,
    value: impl Fn(&Summary) -> Option<f64>,
) -> Vec<(u64, f64)> {
    let runs = collection.completed(cell);
    runs.filter_map(|r| Some((r.config.training.seed, value(r.summary.as_ref()?)?)))
        .collect()
}

pub(crate) fn accuracy(s: &Summary) -> Option<f64> {
    s.final_test_accuracy
}

pub(crate) fn train_loss(s: &Summary) -> Option<f64> {
    s.final_train_loss
}

/// Final test accuracy of a cell over its completed seeds.
pub fn cell_accuracy(collection: &Collection, cell: &Cell) -> Option<Estimate> {
    Estimate::of_seeds(&per_seed(collection, cell, accuracy))
}

/// AdamW's best cell minus Adam-ℓ2's, in final test accuracy, over the seeds both ran.
pub fn paired_gap(collection: &Collection, group: &Group) -> Option<Estimate> {
    let w = per_seed(collection, group.best_cell(Method::ADAMW)?, accuracy);
    let l2 = per_seed(collection, group.best_cell(Method::ADAM_L2)?, accuracy);
    Estimate::of(&paired(&w, &l2))
}

/// Claim 4 for one intervention group against its group without factors.
#[derive(Clone, Debug, Serialize)]
pub struct Claim4Row {
    pub model: String,
    pub bn: bool,
    pub loss_mult: f64,
    pub factors: FactorSpec,
    /// Paired changes (intervention − none) of each optimizer at its best setting without
    /// factors: final training loss and final test accuracy.
    pub adam_l2_train_loss: Option<Estimate>,
    pub adamw_train_loss: Option<Estimate>,
    pub adam_l2_test_accuracy: Option<Estimate>,
    pub adamw_test_accuracy: Option<Estimate>,
    /// Judged on the training loss (the measure the experiments fix in advance).
    pub outcome: Finding,
    pub line: String,
}

/// The run of `intervention` at the same settings (and seed) as `natural` without factors.
fn counterpart<'a>(intervention: &'a Group, optimizer: Method, natural: &Cell) -> Option<&'a Cell> {
    intervention
        .grid(optimizer)?
        .cells
        .iter()
        .find(|c| c.lr == natural.lr && c.wd == natural.wd && c.planned())
}

/// Each gradient-factor intervention group with the group of the same settings without
/// factors: the pairs claim 4 compares.
pub fn interventions(collection: &Collection) -> Vec<(&Group, &Group)> {
    let mut pairs = Vec::new();
    for group in collection
        .groups
        .iter()
        .filter(|g| !g.key.grad_factors.is_none())
    {
        let none = collection.groups.iter().find(|g| {
            g.key.grad_factors.is_none()
                && g.key.model == group.key.model
                && g.key.bn == group.key.bn
                && g.key.loss_mult == group.key.loss_mult
        });
        if let Some(none) = none {
            pairs.push((group, none));
        }
    }
    pairs
}

/// The cells claim 4 compares for `optimizer`: its best setting without factors, and the
/// same setting under the intervention.
pub fn compared_cells<'a>(
    intervention: &'a Group,
    none: &'a Group,
    optimizer: Method,
) -> Option<(&'a Cell, &'a Cell)> {
    let natural = none.best_cell(optimizer)?;
    Some((counterpart(intervention, optimizer, natural)?, natural))
}

pub fn claim4_rows(collection: &Collection) -> Vec<Claim4Row> {
    let mut rows = Vec::new();
    for (group, none) in interventions(collection) {
        let change = |optimizer: Method, value: fn(&Summary) -> Option<f64>| {
            let (treated, natural) = compared_cells(group, none, optimizer)?;
            Estimate::of(&paired(
                &per_seed(collection, treated, value),
                &per_seed(collection, natural, value),
            ))
        };
        let adamw_without = none
            .best_cell(Method::ADAMW)
            .and_then(|c| Estimate::of_seeds(&per_seed(collection, c, train_loss)));
        let judged = Claim4::judge(
            change(Method::ADAM_L2, train_loss),
            change(Method::ADAMW, train_loss),
            adamw_without,
        );
        let (l2_accuracy, w_accuracy) = (
            change(Method::ADAM_L2, accuracy),
            change(Method::ADAMW, accuracy),
        );
        let text = |e: &Option<Estimate>| e.map_or("—".into(), |e| e.signed_text(4));
        let line = format!(
            "claim 4 ({}): {} — {}; in test accuracy: Adam-ℓ2 {}, AdamW {}",
            none.key.label(),
            judged.outcome.word(),
            judged.detail(&group.key.grad_factors.to_string(), "final training loss"),
            text(&l2_accuracy),
            text(&w_accuracy),
        );
        rows.push(Claim4Row {
            model: group.key.model.clone(),
            bn: group.key.bn,
            loss_mult: group.key.loss_mult,
            factors: group.key.grad_factors.clone(),
            adam_l2_train_loss: judged.adam_l2,
            adamw_train_loss: judged.adamw,
            adam_l2_test_accuracy: l2_accuracy,
            adamw_test_accuracy: w_accuracy,
            outcome: judged.outcome,
            line,
        });
    }
    rows
}
