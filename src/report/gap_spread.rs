//! The paper's correlation figure, with the intervention on it: AdamW − Adam-ℓ2 final
//! test accuracy (paired over seeds, 95 % CI) against the measured spread of log2|g| at
//! initialisation, one point per (model, BN, factors) group. Without factors the points
//! are the paper's correlation; with factors they are the causal test: moving a network's
//! spread should move its gap.
use super::figure::{centered, draw_png, font, plot_error, Figure};
use super::table::GroupRow;
use crate::plot::{extremes, text, zero_line_chart};
use anyhow::Result;
use plotters::prelude::*;
use std::path::Path;

const SIZE: (u32, u32) = (900, 600);

/// `None` unless there is something to see: an intervention group beside another group,
/// or a correlation of at least three groups, each with a spread and a gap.
pub fn draw(groups: &[GroupRow], dir: &Path) -> Result<Option<Figure>> {
    let points: Vec<(&GroupRow, f64, f64, f64)> = groups
        .iter()
        .filter_map(|g| {
            let spread = g.grad_spread_at_init.as_ref()?.at_init.spread;
            let (gap, half) = match g.adamw_minus_adam_l2_paired {
                Some(e) => (e.mean, e.half_width.unwrap_or(0.0)),
                None => (g.adamw_minus_adam_l2?, 0.0),
            };
            Some((g, spread, gap * 100.0, half * 100.0))
        })
        .collect();
    let intervention = points.iter().any(|p| !p.0.grad_factors.is_none());
    if points.len() < 2 || (points.len() < 3 && !intervention) {
        return Ok(None);
    }
    let (x_min, x_max) = extremes(points.iter().map(|p| p.1));
    // Room on the right for the last point's label.
    let x_lo = x_min - 1.0;
    let x_hi = x_max + 1.0 + 0.25 * (x_max - x_min).max(4.0);
    let y_lo = points.iter().map(|p| p.2 - p.3).fold(0.0, f64::min) - 0.5;
    let y_hi = points.iter().map(|p| p.2 + p.3).fold(0.0, f64::max) + 0.5;
    let file = "gap-vs-spread.png".to_string();
    draw_png(&dir.join(&file), SIZE, |root| {
        let mut chart = zero_line_chart(
            root,
            "AdamW − Adam-ℓ2 against the gradient spread",
            (x_lo..x_hi, y_lo..y_hi),
            (
                "spread of log2|g| at initialisation, p99 − p01 (octaves)",
                "final test accuracy gap (points)",
            ),
            64,
        )?;
        for &(group, x, y, half) in &points {
            let color = if group.bn { BLUE } else { RED };
            let stroke = color.mix(0.6).stroke_width(2);
            let bar = PathElement::new(vec![(x, y - half), (x, y + half)], stroke);
            chart.draw_series([bar]).map_err(plot_error)?;
            let natural = group.grad_factors.is_none();
            if natural {
                let dot = Circle::new((x, y), 6, color.filled());
                chart.draw_series([dot]).map_err(plot_error)?;
            } else {
                let triangle = TriangleMarker::new((x, y), 8, color.filled());
                chart.draw_series([triangle]).map_err(plot_error)?;
            }
            let label = format!(
                "{}{}{}",
                group.model,
                if group.bn { " BN" } else { "" },
                if natural {
                    String::new()
                } else {
                    format!(" {}", group.grad_factors)
                }
            );
            let label = Text::new(label, (x, y), font(11));
            chart.draw_series([label]).map_err(plot_error)?;
        }
        text(
            root,
            "circles: no factors (the correlation); triangles: gradient factors (the intervention); red: no BN, blue: BN",
            (SIZE.0 as i32 / 2, SIZE.1 as i32 - 10),
            centered(12),
        )
    })?;
    Ok(Some(Figure {
        file,
        kind: "gap-vs-spread",
        caption: "AdamW − Adam-ℓ2 final test accuracy (best settings, paired over seeds with the 95% CI where \
                  there are several) against the spread of log2|g| at initialisation per group: circles without \
                  gradient factors (the paper's correlation), triangles with them (the intervention)."
            .into(),
        width: SIZE.0,
        height: SIZE.1,
    }))
}
