//! "Which optimizers are scale-free, by proof and in practice": for every optimizer name,
//! the optim crate's exact test (ε = 0, float64: iterates unchanged under fixed
//! per-coordinate and per-tensor gradient factors, and under factors that change every
//! step) beside the damage the experiment measured under its largest `spread:D`: the
//! paired change in final training loss at the optimizer's best setting without factors.
use super::collect::{Collection, RunProgress};
use super::seeds::{compared_cells, per_seed, train_loss};
use crate::config::FactorSpec;
use crate::optimizers::Method;
use crate::stats::{paired, Estimate};
use anyhow::Result;
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct FamilyRow {
    pub optimizer: Method,
    pub family: &'static str,
    /// The exact test: per coordinate, per tensor, factors changing every step.
    pub exact: [bool; 3],
    /// Paired change in final training loss under the factors (none where not run).
    pub damage: Option<Estimate>,
    /// Whether the experiment ran it without factors, and how many of those runs diverged.
    pub ran: bool,
    pub diverged_without: usize,
    /// Runs under the factors: planned, and how many diverged.
    pub planned: usize,
    pub diverged: usize,
}

impl FamilyRow {
    /// Whether the damage's 95 % CI lies above 0.
    pub fn damaged(&self) -> bool {
        self.damage
            .and_then(|d| d.low())
            .is_some_and(|low| low > 0.0)
    }

    /// The damage in words: its estimate, whether it is one, and the diverged runs.
    pub fn in_practice(&self) -> String {
        let diverged = if self.diverged > 0 {
            format!("; {} of {} diverged", self.diverged, self.planned)
        } else {
            String::new()
        };
        match self.damage {
            _ if !self.ran => "not run here".into(),
            _ if self.planned == 0 && self.diverged_without > 0 => format!(
                "diverged without factors ({} run(s)); not measured",
                self.diverged_without
            ),
            _ if self.planned == 0 => "no setting finished without factors".into(),
            None => format!("no completed pair{diverged}"),
            Some(e) => {
                let word = match e.low() {
                    None => "one seed, no CI",
                    Some(_) if self.damaged() => "damaged",
                    Some(_) if e.high().is_some_and(|h| h < 0.0) => "improved",
                    Some(_) => "no damage detected",
                };
                format!("{} {word}{diverged}", e.signed_text(4))
            }
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Families {
    /// The network and the intervention the damage is measured under.
    pub label: String,
    pub factors: FactorSpec,
    pub rows: Vec<FamilyRow>,
}

pub const FAMILIES_NOTE: &str = "Exact: the optim crate's test (adamw_prox::invariance), each \
optimizer in float64 with ε = 0 for 50 steps on a small problem, once with plain gradients and \
once with the data loss's gradients multiplied by fixed factors per coordinate (1e-3…1e3), per \
tensor, or per coordinate changing every step; yes where the iterates agree to float64 \
rounding. In practice: the paired change (factors − none, per seed) in final training loss at \
the optimizer's best setting without factors, with its 95 % CI; damaged where the CI lies \
above 0.";

/// The table, when the experiment runs an optimizer beyond the paper's three under a
/// `spread:D` intervention beside the same network without factors (the largest dose).
pub fn families(collection: &Collection) -> Result<Option<Families>> {
    let beyond_paper = collection
        .groups
        .iter()
        .flat_map(|g| &g.optimizers)
        .any(|grid| !Method::PAPER.contains(&grid.optimizer));
    let spread = |f: &FactorSpec| match f {
        FactorSpec::Spread { decades } => Some(*decades),
        _ => None,
    };
    let treated = collection
        .groups
        .iter()
        .filter_map(|g| Some((spread(&g.key.grad_factors)?, g)))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, g)| g);
    let (true, Some(treated)) = (beyond_paper, treated) else {
        return Ok(None);
    };
    let Some(none) = collection.groups.iter().find(|g| {
        g.key.grad_factors.is_none()
            && g.key.model == treated.key.model
            && g.key.bn == treated.key.bn
    }) else {
        return Ok(None);
    };
    let mut rows = Vec::new();
    for optimizer in Method::all() {
        let exact = optim::invariance::measure(optimizer.name())?.verdicts();
        let cells = compared_cells(treated, none, optimizer);
        let (damage, planned, diverged) = match cells {
            Some((with, without)) => {
                let runs: Vec<_> = collection.runs_of(with).collect();
                let damage = Estimate::of(&paired(
                    &per_seed(collection, with, train_loss),
                    &per_seed(collection, without, train_loss),
                ));
                let diverged = runs
                    .iter()
                    .filter(|r| r.progress == RunProgress::Diverged)
                    .count();
                (damage, runs.len(), diverged)
            }
            None => (None, 0, 0),
        };
        rows.push(FamilyRow {
            optimizer,
            family: optimizer.family(),
            exact,
            damage,
            ran: none.grid(optimizer).is_some(),
            diverged_without: none.grid(optimizer).map_or(0, |grid| {
                let runs = grid.cells.iter().flat_map(|c| collection.runs_of(c));
                runs.filter(|r| r.progress == RunProgress::Diverged).count()
            }),
            planned,
            diverged,
        });
    }
    Ok(Some(Families {
        label: none.key.label(),
        factors: treated.key.grad_factors.clone(),
        rows,
    }))
}

/// `yes / yes / no`.
pub fn exact_text(exact: [bool; 3]) -> String {
    exact.map(|b| if b { "yes" } else { "no" }).join(" / ")
}
