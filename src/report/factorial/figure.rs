//! The factorial's dose-response figure: each arm's damage (paired change in final
//! training loss, factors − none) against the dose `D` of `spread:D`, one line per arm
//! with its 95 % CI band.
use super::Factorial;
use crate::plot::{extremes, legend, line, optimizer_color, text, zero_line_chart};
use crate::report::figure::{centered, draw_png, Figure};
use anyhow::Result;
use plotters::prelude::*;
use std::path::Path;

const SIZE: (u32, u32) = (900, 600);

pub fn draw(factorial: &Factorial, dir: &Path) -> Result<Figure> {
    let file = format!("factorial-dose-response-{}.png", factorial.slug);
    // (dose, mean, low, high) per arm; the dose without factors is 0 by construction.
    let series: Vec<Vec<(f64, f64, f64, f64)>> = factorial
        .arms
        .iter()
        .map(|arm| {
            arm.doses
                .iter()
                .filter_map(|d| {
                    if d.dose == 0.0 {
                        return Some((0.0, 0.0, 0.0, 0.0));
                    }
                    let e = d.train_loss_damage?;
                    let (low, high) = e.bounds();
                    Some((d.dose, e.mean, low, high))
                })
                .collect()
        })
        .collect();
    let all = series.iter().flatten();
    let (y_min, y_max) = extremes(all.clone().flat_map(|p| [p.2, p.3, 0.0]));
    let pad = 0.08 * (y_max - y_min).max(1e-3);
    let x_max = factorial.largest_dose.max(1.0);
    draw_png(&dir.join(&file), SIZE, |root| {
        let mut chart = zero_line_chart(
            root,
            &format!("Damage against dose, {}", factorial.label),
            (-0.1..x_max + 0.1, (y_min - pad)..(y_max + pad)),
            (
                "dose D of spread:D (per-layer gradient factors 10^(D·u), u ~ U(−1, 1))",
                "change in final training loss (factors − none)",
            ),
            72,
        )?;
        for (arm, points) in factorial.arms.iter().zip(&series) {
            let means: Vec<(f64, f64)> = points.iter().map(|p| (p.0, p.1)).collect();
            let band: Vec<(f64, f64, f64)> = points.iter().map(|p| (p.0, p.2, p.3)).collect();
            let label = format!(
                "{} ({}, {})",
                arm.optimizer.display_name(),
                if arm.decoupled {
                    "decoupled"
                } else {
                    "through the moments"
                },
                if arm.scale_free {
                    "scale-free"
                } else {
                    "not scale-free"
                }
            );
            line(
                &mut chart,
                &means,
                &band,
                optimizer_color(arm.optimizer),
                4,
                (&label, 20),
            )?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft, 12)?;
        text(
            root,
            "paired by seed; bands: 95% CI over seeds",
            (SIZE.0 as i32 / 2, SIZE.1 as i32 - 10),
            centered(12),
        )
    })?;
    Ok(Figure {
        file,
        kind: "factorial",
        caption: format!(
            "{}: each arm's paired change in final training loss under spread:D against D, with 95% CIs \
             over seeds. Verdict: {}.",
            factorial.label,
            factorial.verdict.outcome.word()
        ),
        width: SIZE.0,
        height: SIZE.1,
    })
}
