//! The natural gap over training as a figure: AdamW − Adam-ℓ2 training loss against
//! the epoch, one line per network with its 95 % CI band; where the band leaves 0 is the
//! smallest budget that shows the gap.
use super::NaturalGap;
use crate::plot::{extremes, legend, line, text, zero_line_chart};
use crate::report::figure::{centered, draw_png, Figure};
use anyhow::Result;
use plotters::prelude::*;
use std::path::Path;

const SIZE: (u32, u32) = (900, 600);
const FILE: &str = "natural-gap-over-training.png";

/// One figure for all networks; none without any.
pub fn draw(gaps: &[NaturalGap], dir: &Path) -> Result<Option<Figure>> {
    if gaps.is_empty() {
        return Ok(None);
    }
    // (epoch, mean, low, high) per network, at the epochs with a paired gap.
    let series: Vec<Vec<(f64, f64, f64, f64)>> = gaps
        .iter()
        .map(|g| {
            g.rows
                .iter()
                .filter_map(|r| {
                    let e = r.train_loss?;
                    let (low, high) = e.bounds();
                    Some((f64::from(r.epoch), e.mean, low, high))
                })
                .collect()
        })
        .collect();
    let all = series.iter().flatten();
    let (y_min, y_max) = extremes(all.clone().flat_map(|p| [p.2, p.3, 0.0]));
    let pad = 0.08 * (y_max - y_min).max(1e-3);
    let x_max = all.map(|p| p.0).fold(1.0, f64::max);
    draw_png(&dir.join(FILE), SIZE, |root| {
        let mut chart = zero_line_chart(
            root,
            "The natural gap over training",
            (0.0..x_max * 1.03, (y_min - pad)..(y_max + pad)),
            (
                "epoch (with a constant step size: the budget of a run that long)",
                "AdamW − Adam-ℓ2 training loss",
            ),
            72,
        )?;
        for (i, (gap, points)) in gaps.iter().zip(&series).enumerate() {
            let means: Vec<(f64, f64)> = points.iter().map(|p| (p.0, p.1)).collect();
            let band: Vec<(f64, f64, f64)> = points.iter().map(|p| (p.0, p.2, p.3)).collect();
            let color = Palette99::pick(i).to_rgba();
            let color = RGBColor(color.0, color.1, color.2);
            line(&mut chart, &means, &band, color, 4, (&gap.label, 20))?;
        }
        legend(&mut chart, SeriesLabelPosition::LowerLeft, 12)?;
        text(
            root,
            "paired by seed; bands: 95% CI over seeds; below 0: AdamW trains lower",
            (SIZE.0 as i32 / 2, SIZE.1 as i32 - 10),
            centered(12),
        )
    })?;
    let found: Vec<String> = gaps
        .iter()
        .map(|g| match g.first_separated {
            Some(epoch) => format!("{}: from epoch {epoch}", g.label),
            None => format!("{}: at no evaluated epoch", g.label),
        })
        .collect();
    Ok(Some(Figure {
        file: FILE.into(),
        kind: "natural-gap",
        caption: format!(
            "AdamW − Adam-ℓ2 training loss at each evaluated epoch, paired by seed, with 95% \
             CIs. The CI excludes 0 {}.",
            found.join("; ")
        ),
        width: SIZE.0,
        height: SIZE.1,
    }))
}
