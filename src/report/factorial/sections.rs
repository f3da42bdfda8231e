//! The factorial and the families table as report sections (summary.md, the page, the
//! summary run's text).
use super::natural_half::NaturalHalf;
use super::{Factorial, Natural};
use crate::optimizers::Method;
use crate::report::collect::fmt_sci;
use crate::report::families::{exact_text, Families, FAMILIES_NOTE};
use crate::report::section::{Section, Table};
use crate::stats::Estimate;

fn estimate(e: &Option<Estimate>) -> String {
    e.map_or("—".into(), |e| e.signed_text(4))
}

fn points(e: &Option<Estimate>) -> String {
    e.map_or("—".into(), |e| e.scaled(100.0).signed_text(2))
}

/// The arms' damage per dose, slope and runs.
fn arms_table(f: &Factorial) -> Table {
    let doses: Vec<f64> = f.arms[0]
        .doses
        .iter()
        .map(|d| d.dose)
        .filter(|&d| d > 0.0)
        .collect();
    let mut header = vec![
        "arm".to_string(),
        "decay".into(),
        "scale-free".into(),
        "η₀, λ".into(),
    ];
    header.extend(doses.iter().map(|d| format!("damage at spread:{d}")));
    header.push(format!(
        "test accuracy change at spread:{} (points)",
        f.largest_dose
    ));
    header.push("slope (loss per decade)".into());
    header.push("runs: completed / diverged / planned".into());
    let rows = f
        .arms
        .iter()
        .map(|arm| {
            let mut row = vec![
                arm.optimizer.display_name().to_string(),
                decay_word(arm.decoupled),
                yes_no(arm.scale_free),
                format!("{}, {}", fmt_sci(arm.lr), fmt_sci(arm.wd)),
            ];
            let treated = arm.doses.iter().filter(|d| d.dose > 0.0);
            row.extend(treated.clone().map(|d| estimate(&d.train_loss_damage)));
            row.push(points(
                &arm.doses.last().and_then(|d| d.test_accuracy_change),
            ));
            row.push(estimate(&arm.slope));
            let (c, dv, p) = arm.doses.iter().fold((0, 0, 0), |(c, dv, p), d| {
                (c + d.completed, dv + d.diverged, p + d.planned)
            });
            row.push(format!("{c} / {dv} / {p}"));
            row
        })
        .collect();
    Table { header, rows }
}

/// The 2×2 of damages at the largest dose.
fn square_table(f: &Factorial) -> Table {
    square(
        format!("damage at spread:{}", f.largest_dose),
        |decoupled, scale_free| {
            let arm = f
                .arms
                .iter()
                .find(|a| a.decoupled == decoupled && a.scale_free == scale_free);
            arm.map_or("—".into(), |a| {
                format!(
                    "{}: {}",
                    a.optimizer.display_name(),
                    estimate(&a.doses.last().and_then(|d| d.train_loss_damage))
                )
            })
        },
    )
}

/// Which factor carries the natural gap, by the rule.
fn natural_verdict(n: &Natural) -> String {
    format!(
        "which factor carries the natural gap: {} — {}",
        n.verdict.outcome.word(),
        n.verdict.why
    )
}

/// Each arm's change under `equalize` and the main effects on it, where it ran.
fn equalize_line(n: &Natural, arms: impl Iterator<Item = Method>) -> Option<String> {
    let eq = n.equalize.as_ref()?;
    let changes: Vec<String> = arms
        .zip(&eq.changes)
        .map(|(arm, c)| format!("{} {}", arm.display_name(), estimate(c)))
        .collect();
    Some(format!(
        "under equalize (most of the natural spread removed), the paired change in final \
         training loss: {}; main effects on it: scale-freeness {}, decoupling {}",
        changes.join(", "),
        estimate(&eq.effects.scale_freeness),
        estimate(&eq.effects.decoupling)
    ))
}

/// The 2×2 of `cell(decoupled, scale_free)`, titled `title`.
fn square(title: String, cell: impl Fn(bool, bool) -> String) -> Table {
    Table {
        header: vec![title, "not scale-free".into(), "scale-free".into()],
        rows: vec![
            vec![
                "through the moments".into(),
                cell(false, false),
                cell(false, true),
            ],
            vec!["decoupled".into(), cell(true, false), cell(true, true)],
        ],
    }
}

fn decay_word(decoupled: bool) -> String {
    if decoupled {
        "decoupled"
    } else {
        "through the moments"
    }
    .into()
}

fn yes_no(yes: bool) -> String {
    if yes { "yes" } else { "no" }.into()
}

pub fn factorial_section(f: &Factorial) -> Section {
    let e = &f.effects;
    let n = &f.natural;
    let mut lines = vec![
        format!("verdict: {} — {}", f.verdict.outcome.word(), f.verdict.why),
        format!(
            "main effects on the damage at spread:{} (below 0: the factor lowers it): \
             scale-freeness {}, decoupling {}, interaction {}",
            f.largest_dose,
            estimate(&e.scale_freeness),
            estimate(&e.decoupling),
            estimate(&e.interaction)
        ),
        format!(
            "the same on the change in test accuracy (points; above 0: the factor spares \
             accuracy): scale-freeness {}, decoupling {}",
            points(&f.accuracy_effects.scale_freeness),
            points(&f.accuracy_effects.decoupling)
        ),
        format!("precision: {}", f.precision),
        format!(
            "without factors (the natural half at this budget): AdamW − Adam-ℓ2 final \
             training loss {}; main effects on the loss: scale-freeness {}, decoupling {}",
            estimate(&n.adamw_minus_adam_l2),
            estimate(&n.effects.scale_freeness),
            estimate(&n.effects.decoupling)
        ),
    ];
    lines.push(natural_verdict(n));
    lines.extend(equalize_line(n, f.arms.iter().map(|a| a.optimizer)));
    Section {
        heading: format!("The factorial test of claim 4: {}", f.label),
        lines,
        tables: vec![square_table(f), arms_table(f)],
        note: format!(
            "Damage: the paired change (spread:D − none, per seed) in final training loss, \
             95 % CI over seeds. {}",
            f.rule_text
        ),
    }
}

pub fn families_section(families: &Families) -> Section {
    let rows = families
        .rows
        .iter()
        .map(|r| {
            vec![
                format!("`{}`", r.optimizer.name()),
                r.optimizer.display_name().to_string(),
                exact_text(r.exact),
                r.in_practice(),
            ]
        })
        .collect();
    Section {
        heading: "Which optimizers are scale-free, by proof and in practice".into(),
        lines: vec![format!(
            "in practice: {}, {} against none",
            families.label, families.factors
        )],
        tables: vec![Table {
            header: vec![
                "optimizer".into(),
                "shown as".into(),
                "exact: per coordinate / per tensor / changing every step".into(),
                format!("in practice: damage under {}", families.factors),
            ],
            rows,
        }],
        note: FAMILIES_NOTE.into(),
    }
}

pub fn natural_half_section(h: &NaturalHalf) -> Section {
    let n = &h.natural;
    let mut lines = vec![
        natural_verdict(n),
        format!(
            "AdamW − Adam-ℓ2 final training loss {}; main effects on the loss (below 0: the \
             factor lowers it): scale-freeness {}, decoupling {}, interaction {}",
            estimate(&n.adamw_minus_adam_l2),
            estimate(&n.effects.scale_freeness),
            estimate(&n.effects.decoupling),
            estimate(&n.effects.interaction)
        ),
    ];
    lines.extend(equalize_line(n, h.arms.iter().map(|a| a.optimizer)));
    let loss = square("final training loss".into(), |decoupled, scale_free| {
        let arm = h
            .arms
            .iter()
            .find(|a| a.decoupled == decoupled && a.scale_free == scale_free);
        arm.map_or("—".into(), |a| {
            let text = a.train_loss.map_or("—".into(), |e| e.text(4));
            format!("{}: {text}", a.optimizer.display_name())
        })
    });
    let rows = h
        .arms
        .iter()
        .zip(
            n.equalize
                .as_ref()
                .map(|e| e.changes.clone())
                .unwrap_or_else(|| vec![None; h.arms.len()]),
        )
        .map(|(a, equalize)| {
            vec![
                a.optimizer.display_name().to_string(),
                decay_word(a.decoupled),
                yes_no(a.scale_free),
                format!("{}, {}", fmt_sci(a.lr), fmt_sci(a.wd)),
                a.train_loss.map_or("—".into(), |e| e.text(4)),
                a.test_accuracy
                    .map_or("—".into(), |e| e.scaled(100.0).text(2)),
                estimate(&equalize),
                format!("{} / {} / {}", a.completed, a.diverged, a.planned),
            ]
        })
        .collect();
    Section {
        heading: format!("The factorial's natural half: {}", h.label),
        lines,
        tables: vec![
            loss,
            Table {
                header: vec![
                    "arm".into(),
                    "decay".into(),
                    "scale-free".into(),
                    "η₀, λ".into(),
                    "final training loss".into(),
                    "test accuracy (%)".into(),
                    "change under equalize".into(),
                    "runs: completed / diverged / planned".into(),
                ],
                rows,
            },
        ],
        note: format!(
            "Without gradient factors; means with 95 % CIs over seeds, the natural gap and \
             the changes paired by seed. {}",
            h.rule_text
        ),
    }
}

/// The report's factorial and families sections, in order.
pub fn sections(report: &crate::report::table::Report) -> Vec<Section> {
    let mut out: Vec<Section> = report.factorial.iter().map(factorial_section).collect();
    out.extend(report.natural_half.iter().map(natural_half_section));
    out.extend(report.families.as_ref().map(families_section));
    out
}
