//! Every optimizer's invariance to rescaled gradients, decided by computation
//! (`adamw_prox::invariance`): the whole table, and that it covers every name.
use adamw_prox::invariance::{self, Invariance, Scaling, TOLERANCE};
use adamw_prox::rules;

/// (name, per coordinate, per tensor, time-varying per coordinate).
///
/// Time-varying factors make every rule with a memory of past gradients non-invariant:
/// Adam's, RMSprop's and Adagrad's moments add up gradients of different scales, so the
/// normalised step changes. Lion is no exception at its default `β1 = 0.9`, `β2 = 0.99`:
/// its update `sign(β1·m + (1 − β1)·g)` is the sign of a sum of past and present
/// gradients weighted by their (now different) factors, which flips wherever the
/// gradient changed sign (here, every few steps: the target moves). Only at `β1 = 0`
/// (`sign(g)`) would the update ignore time-varying factors; `lion_with_beta1_zero` below
/// checks that case.
const EXPECTED: &[(&str, bool, bool, bool)] = &[
    ("adam-l2", false, false, false),
    ("adamw", true, true, false),
    ("adam-prox", true, true, false),
    ("adam-l2-scalefree", false, true, false),
    ("adamw-not-scalefree", false, false, false),
    ("sgd", false, false, false),
    ("sgdw", false, false, false),
    ("sgd-prox", false, false, false),
    ("lion", true, true, false),
    ("lion-l2", false, false, false),
    ("lion-prox", true, true, false),
    ("rmsprop", false, false, false),
    ("rmspropw", true, true, false),
    ("rmsprop-prox", true, true, false),
    ("adagrad", false, false, false),
    ("adagradw", true, true, false),
    ("adagrad-prox", true, true, false),
];

fn show(row: &Invariance) -> String {
    let cells: Vec<String> = Scaling::ALL
        .iter()
        .map(|&s| {
            let m = row.get(s);
            let verdict = if m.invariant { "yes" } else { "no" };
            format!(
                "{}: {verdict} ({:.1e})",
                s.name(),
                m.max_relative_difference
            )
        })
        .collect();
    format!("{:<20} {}", row.name, cells.join("  "))
}

#[test]
fn every_optimizer_has_its_expected_invariances() {
    let table = invariance::table().unwrap();
    let text: Vec<String> = table.iter().map(show).collect();
    eprintln!("{}", text.join("\n"));
    let names: Vec<&str> = rules::names().map(|n| n.name).collect();
    let expected: Vec<&str> = EXPECTED.iter().map(|e| e.0).collect();
    assert_eq!(
        names, expected,
        "a name without an expectation, or one gone"
    );
    let mut wrong = Vec::new();
    for (row, &(name, coordinate, tensor, varying)) in table.iter().zip(EXPECTED) {
        assert_eq!(row.name, name);
        if row.verdicts() != [coordinate, tensor, varying] {
            wrong.push(format!(
                "{}\n  expected per-coordinate {coordinate}, per-tensor {tensor}, time-varying {varying}",
                show(row)
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_verdicts_are_far_from_the_tolerance() {
    // Rounding stays orders of magnitude below the tolerance, and a rule that is not
    // invariant misses it by orders of magnitude: the verdicts do not hang on its value.
    for row in invariance::table().unwrap() {
        for s in Scaling::ALL {
            let d = row.get(s).max_relative_difference;
            assert!(
                !(TOLERANCE * 1e-3..=TOLERANCE * 1e3).contains(&d),
                "{} {}: {d:e} is near the tolerance {TOLERANCE:e}",
                row.name,
                s.name()
            );
        }
    }
}

#[test]
fn centered_rmsprop_with_momentum_is_still_scale_free() {
    for name in ["rmspropw", "rmsprop-prox"] {
        let config = invariance::exact_config(name)
            .unwrap()
            .set("centered", true)
            .unwrap()
            .set("momentum", 0.9)
            .unwrap();
        let row = invariance::measure_config(&config).unwrap();
        assert_eq!(row.verdicts(), [true, true, false], "{}", show(&row));
    }
}

#[test]
fn lion_with_beta1_zero() {
    // sign(g): positive factors never change it, even one per step.
    let config = invariance::exact_config("lion")
        .unwrap()
        .set("beta1", 0.0)
        .unwrap();
    let row = invariance::measure_config(&config).unwrap();
    assert_eq!(row.verdicts(), [true, true, true], "{}", show(&row));
}

#[test]
fn pytorchs_default_eps_breaks_exact_invariance() {
    // AdamW at ε = 1e-8: a factor of 1e-3 brings √v̂ to about 1e-3, where ε shows.
    let config =
        adamw_prox::OptimConfig::named("adamw", invariance::LR, invariance::WEIGHT_DECAY).unwrap();
    let row = invariance::measure_config(&config).unwrap();
    assert!(!row.per_coordinate.invariant, "{}", show(&row));
    assert!(
        row.per_coordinate.max_relative_difference < 1e-3,
        "{}",
        show(&row)
    );
}
