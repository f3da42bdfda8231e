//! The factorial and the families table as report sections (summary.md, the page, the
//! summary run's text).
use super::Factorial;
use crate::report::collect::fmt_sci;
use crate::report::families::{exact_text, Families, FAMILIES_NOTE};
use crate::report::section::{Section, Table};
use crate::stats::Estimate;

fn estimate(e: &Option<Estimate>) -> String {
    e.map_or("—".into(), |e| e.signed_text(4))
}

fn points(e: &Option<Estimate>) -> String {
    e.map_or("—".into(), |e| {
        let scaled = Estimate {
            mean: e.mean * 100.0,
            sd: e.sd * 100.0,
            half_width: e.half_width.map(|h| h * 100.0),
            ..e
        };
        scaled.signed_text(2)
    })
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
                if arm.decoupled {
                    "decoupled"
                } else {
                    "through the moments"
                }
                .into(),
                if arm.scale_free { "yes" } else { "no" }.into(),
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
    let damage = |decoupled: bool, scale_free: bool| {
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
    };
    Table {
        header: vec![
            format!("damage at spread:{}", f.largest_dose),
            "not scale-free".into(),
            "scale-free".into(),
        ],
        rows: vec![
            vec![
                "through the moments".into(),
                damage(false, false),
                damage(false, true),
            ],
            vec!["decoupled".into(), damage(true, false), damage(true, true)],
        ],
    }
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
    if let Some(eq) = &n.equalize {
        let changes: Vec<String> = f
            .arms
            .iter()
            .zip(&eq.changes)
            .map(|(arm, c)| format!("{} {}", arm.optimizer.display_name(), estimate(c)))
            .collect();
        lines.push(format!(
            "under equalize (most of the natural spread removed), the paired change in final \
             training loss: {}; main effects on it: scale-freeness {}, decoupling {}",
            changes.join(", "),
            estimate(&eq.effects.scale_freeness),
            estimate(&eq.effects.decoupling)
        ));
    }
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

/// The report's factorial and families sections, in order.
pub fn sections(report: &crate::report::table::Report) -> Vec<Section> {
    let mut out: Vec<Section> = report.factorial.iter().map(factorial_section).collect();
    out.extend(report.families.as_ref().map(families_section));
    out
}
