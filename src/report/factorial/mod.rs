//! The factorial test of claim 4 from an experiment's runs: the four Adam arms (decay
//! through the moments or decoupled × scale-free or not) at their settings without
//! factors, under `spread:D` doses. Per arm and dose the paired damage (factors − none,
//! per seed) in final training loss and in test accuracy; per arm the dose-response slope;
//! at the largest dose the two main effects and their interaction, and the verdict by the
//! rule the experiment file fixed ([`crate::stats::factorial`]); without factors, the
//! natural gap and the same effects on the loss itself. Diverged runs are counted per arm
//! and dose, never averaged in silently.
pub mod figure;
pub mod natural_half;
pub mod sections;

use super::collect::{Cell, Collection, Group, RunProgress};
use super::seeds::{accuracy, compared_cells, per_seed, train_loss};
use crate::config::FactorSpec;
use crate::optimizers::Method;
use crate::rundir::Summary;
use crate::stats::factorial::{slope, Effects, FactorialRule, Square, Target, Verdict};
use crate::stats::{paired, Estimate};
use serde::Serialize;
use std::collections::BTreeMap;

/// The four arms, in the order of [`Square`]'s fields: (optimizer, decoupled, scale-free).
pub const ARMS: [(Method, bool, bool); 4] = [
    (Method::ADAM_L2, false, false),
    (Method::ADAMW, true, true),
    (Method::ADAMW_NOT_SCALEFREE, true, false),
    (Method::ADAM_L2_SCALEFREE, false, true),
];

/// One arm at one dose.
#[derive(Clone, Debug, Serialize)]
pub struct DoseRow {
    /// D of `spread:D`; 0 without factors.
    pub dose: f64,
    pub factors: FactorSpec,
    /// Paired change (this dose − none) in final training loss; larger is worse.
    pub train_loss_damage: Option<Estimate>,
    /// Paired change in final test accuracy (a fraction; below 0 is worse).
    pub test_accuracy_change: Option<Estimate>,
    pub planned: usize,
    pub completed: usize,
    pub diverged: usize,
}

/// One arm: its setting and its doses.
#[derive(Clone, Debug, Serialize)]
pub struct ArmRow {
    pub optimizer: Method,
    pub decoupled: bool,
    pub scale_free: bool,
    pub lr: f64,
    pub wd: f64,
    pub doses: Vec<DoseRow>,
    /// Least-squares slope of the final training loss on the dose, per seed with every
    /// dose completed (loss per decade of spread).
    pub slope: Option<Estimate>,
}

/// Without factors: which factor carries AdamW's natural advantage, if it has one.
#[derive(Clone, Debug, Serialize)]
pub struct Natural {
    /// AdamW − Adam-ℓ2 final training loss, paired by seed (below 0: AdamW lower).
    pub adamw_minus_adam_l2: Option<Estimate>,
    /// The main effects on the final training loss itself.
    pub effects: Effects,
    /// Under `equalize` (most of the natural spread removed), where the experiment ran
    /// it: each arm's paired change in final training loss, in [`ARMS`] order, and the
    /// main effects on it.
    pub equalize: Option<Equalized>,
    /// The rule on Adam-ℓ2's natural disadvantage: which factor carries the natural gap.
    pub verdict: Verdict,
}

#[derive(Clone, Debug, Serialize)]
pub struct Equalized {
    pub changes: Vec<Option<Estimate>>,
    pub effects: Effects,
}

/// The factorial of one network (model, BN).
#[derive(Clone, Debug, Serialize)]
pub struct Factorial {
    pub label: String,
    pub slug: String,
    pub rule: FactorialRule,
    pub rule_text: String,
    pub arms: Vec<ArmRow>,
    pub largest_dose: f64,
    /// The main effects on the damage in final training loss at the largest dose.
    pub effects: Effects,
    /// The same on the paired change in test accuracy (above 0: the factor spares
    /// accuracy).
    pub accuracy_effects: Effects,
    /// Whether each main effect's CI is at most half of Adam-ℓ2's damage (the precision
    /// the seeds were chosen for), in words.
    pub precision: String,
    pub natural: Natural,
    pub verdict: Verdict,
    pub line: String,
}

/// The dose of a factor spec: `spread:D` → D, none → 0; others are not doses.
fn dose_of(factors: &FactorSpec) -> Option<f64> {
    match factors {
        FactorSpec::None => Some(0.0),
        FactorSpec::Spread { decades } => Some(*decades),
        _ => None,
    }
}

/// Whether two groups differ in their factors only.
fn same_network(a: &Group, b: &Group) -> bool {
    a.key.model == b.key.model && a.key.bn == b.key.bn && a.key.loss_mult == b.key.loss_mult
}

/// The seeds' values of `cell`, by seed.
fn by_seed(
    collection: &Collection,
    cell: &Cell,
    value: fn(&Summary) -> Option<f64>,
) -> BTreeMap<u64, f64> {
    per_seed(collection, cell, value).into_iter().collect()
}

/// Whether a group ran all four arms.
fn has_every_arm(group: &Group) -> bool {
    ARMS.iter().all(|(m, ..)| group.best_cell(*m).is_some())
}

/// The `spread:D` groups of `none`'s network with their doses (`none` itself as 0), by dose.
fn doses_of<'a>(collection: &'a Collection, none: &Group) -> Vec<(f64, &'a Group)> {
    let mut doses: Vec<(f64, &Group)> = collection
        .groups
        .iter()
        .filter(|g| same_network(g, none))
        .filter_map(|g| Some((dose_of(&g.key.grad_factors)?, g)))
        .collect();
    doses.sort_by(|a, b| a.0.total_cmp(&b.0));
    doses
}

/// Every factorial of `collection`: each group without factors that has all four arms
/// and at least one `spread:D` group beside it; none without a rule.
pub fn factorials(collection: &Collection) -> Vec<Factorial> {
    let Some(rule) = collection.plan.factorial else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for none in collection
        .groups
        .iter()
        .filter(|g| g.key.grad_factors.is_none())
    {
        if !has_every_arm(none) {
            continue;
        }
        let doses = doses_of(collection, none);
        if doses.len() >= 2 {
            out.push(factorial(collection, rule, none, &doses));
        }
    }
    out
}

fn factorial(
    collection: &Collection,
    rule: FactorialRule,
    none: &Group,
    doses: &[(f64, &Group)],
) -> Factorial {
    let arms: Vec<ArmRow> = ARMS
        .iter()
        .map(|&(optimizer, decoupled, scale_free)| {
            arm_row(collection, none, doses, optimizer, decoupled, scale_free)
        })
        .collect();
    let (largest_dose, largest) = *doses.last().expect("at least two doses");
    let squares =
        |value: fn(&Summary) -> Option<f64>, of: &Group| changes(collection, none, of, value);
    let effects = Effects::of(&squares(train_loss, largest));
    let equalize = equalized(collection, none);
    let accuracy_effects = Effects::of(&squares(accuracy, largest));
    let diverged: usize = arms
        .iter()
        .map(|a| a.doses.last().map_or(0, |d| d.diverged))
        .sum();
    let adam_l2_damage = arms[0].doses.last().and_then(|d| d.train_loss_damage);
    let verdict = rule.judge(adam_l2_damage.as_ref(), &effects, diverged);
    let label = none.key.label();
    let line = format!(
        "factorial ({label}, spread:{largest_dose} vs none): {} — {}",
        verdict.outcome.word(),
        verdict.why
    );
    Factorial {
        slug: none.key.slug(),
        label,
        rule,
        rule_text: format!("{} {}", rule.text(), rule.natural_text()),
        precision: precision(adam_l2_damage.as_ref(), &effects),
        natural: natural(collection, rule, none, equalize),
        arms,
        largest_dose,
        effects,
        accuracy_effects,
        verdict,
        line,
    }
}

/// Each arm's change under `equalize` beside `none`, where the experiment ran it.
fn equalized(collection: &Collection, none: &Group) -> Option<Equalized> {
    let group = collection
        .groups
        .iter()
        .find(|g| g.key.grad_factors == FactorSpec::Equalize && same_network(g, none))?;
    Some(Equalized::of(&changes(collection, none, group, train_loss)))
}

/// Per seed with all four arms, each arm's paired change (`of` − `none`) in `value` at
/// its setting without factors.
fn changes(
    collection: &Collection,
    none: &Group,
    of: &Group,
    value: fn(&Summary) -> Option<f64>,
) -> Vec<Square> {
    let per_arm: Vec<BTreeMap<u64, f64>> = ARMS
        .iter()
        .map(|&(optimizer, ..)| {
            let Some((treated, natural)) = compared_cells(of, none, optimizer) else {
                return BTreeMap::new();
            };
            let natural = by_seed(collection, natural, value);
            by_seed(collection, treated, value)
                .into_iter()
                .filter_map(|(seed, v)| Some((seed, v - natural.get(&seed)?)))
                .collect()
        })
        .collect();
    squares_of(&per_arm)
}

impl Equalized {
    fn of(squares: &[Square]) -> Equalized {
        let arm = |f: fn(&Square) -> f64| Estimate::of(&squares.iter().map(f).collect::<Vec<_>>());
        Equalized {
            changes: vec![
                arm(|s| s.adam_l2),
                arm(|s| s.adamw),
                arm(|s| s.adamw_not_scalefree),
                arm(|s| s.adam_l2_scalefree),
            ],
            effects: Effects::of(squares),
        }
    }
}

/// Per seed with all four arms, the arms' values as a [`Square`].
fn squares_of(per_arm: &[BTreeMap<u64, f64>]) -> Vec<Square> {
    per_arm[0]
        .iter()
        .filter_map(|(seed, &adam_l2)| {
            Some(Square {
                adam_l2,
                adamw: *per_arm[1].get(seed)?,
                adamw_not_scalefree: *per_arm[2].get(seed)?,
                adam_l2_scalefree: *per_arm[3].get(seed)?,
            })
        })
        .collect()
}

fn arm_row(
    collection: &Collection,
    none: &Group,
    doses: &[(f64, &Group)],
    optimizer: Method,
    decoupled: bool,
    scale_free: bool,
) -> ArmRow {
    let natural = none
        .best_cell(optimizer)
        .expect("factorials() checked every arm");
    let mut rows = Vec::new();
    // Per seed, (dose, final training loss) at each dose where it completed.
    let mut losses: BTreeMap<u64, Vec<(f64, f64)>> = BTreeMap::new();
    for &(dose, group) in doses {
        let cell = if dose == 0.0 {
            Some(natural)
        } else {
            compared_cells(group, none, optimizer).map(|(treated, _)| treated)
        };
        let change = |value: fn(&Summary) -> Option<f64>| {
            let cell = cell?;
            Estimate::of(&paired(
                &per_seed(collection, cell, value),
                &per_seed(collection, natural, value),
            ))
        };
        let runs: Vec<_> = cell
            .map(|c| collection.runs_of(c).collect())
            .unwrap_or_default();
        if let Some(cell) = cell {
            for (seed, loss) in per_seed(collection, cell, train_loss) {
                losses.entry(seed).or_default().push((dose, loss));
            }
        }
        rows.push(DoseRow {
            dose,
            factors: group.key.grad_factors.clone(),
            train_loss_damage: if dose == 0.0 {
                None
            } else {
                change(train_loss)
            },
            test_accuracy_change: if dose == 0.0 { None } else { change(accuracy) },
            planned: runs.len(),
            completed: runs
                .iter()
                .filter(|r| r.progress == RunProgress::Completed)
                .count(),
            diverged: runs
                .iter()
                .filter(|r| r.progress == RunProgress::Diverged)
                .count(),
        });
    }
    let slopes: Vec<f64> = losses
        .values()
        .filter(|points| points.len() == doses.len())
        .filter_map(|points| slope(points))
        .collect();
    ArmRow {
        optimizer,
        decoupled,
        scale_free,
        lr: natural.lr,
        wd: natural.wd,
        doses: rows,
        slope: Estimate::of(&slopes),
    }
}

/// The natural half of `none`'s network: the four arms without factors (and their
/// changes under `equalize`), judged by `rule` on Adam-ℓ2's natural disadvantage.
fn natural(
    collection: &Collection,
    rule: FactorialRule,
    none: &Group,
    equalize: Option<Equalized>,
) -> Natural {
    let cells: Vec<&Cell> = ARMS
        .iter()
        .map(|&(optimizer, ..)| {
            none.best_cell(optimizer)
                .expect("the caller checked every arm")
        })
        .collect();
    let per_arm: Vec<BTreeMap<u64, f64>> = cells
        .iter()
        .map(|cell| by_seed(collection, cell, train_loss))
        .collect();
    let diverged = cells
        .iter()
        .flat_map(|cell| collection.runs_of(cell))
        .filter(|r| r.progress == RunProgress::Diverged)
        .count();
    let squares = squares_of(&per_arm);
    let gap: Vec<f64> = squares.iter().map(|s| s.adamw - s.adam_l2).collect();
    let adamw_minus_adam_l2 = Estimate::of(&gap);
    let effects = Effects::of(&squares);
    let disadvantage = adamw_minus_adam_l2.map(|g| g.negated());
    Natural {
        verdict: rule.judge_target(
            Target::NaturalGap,
            disadvantage.as_ref(),
            &effects,
            diverged,
        ),
        adamw_minus_adam_l2,
        effects,
        equalize,
    }
}

/// Whether the main effects' CIs are at most half of Adam-ℓ2's damage.
fn precision(adam_l2: Option<&Estimate>, effects: &Effects) -> String {
    let widths: Vec<f64> = [effects.scale_freeness, effects.decoupling]
        .iter()
        .filter_map(|e| e.and_then(|e| e.half_width))
        .collect();
    match (adam_l2, widths.len()) {
        (Some(damage), 2) => {
            let widest = widths.iter().cloned().fold(0.0, f64::max);
            let target = damage.mean / 2.0;
            format!(
                "the main effects' 95 % CIs are ±{widest:.4} at most, {} half of Adam-ℓ2's damage ({target:.4})",
                if widest <= target { "within" } else { "wider than" }
            )
        }
        _ => "too few seeds with all four arms for a CI of the main effects".into(),
    }
}
