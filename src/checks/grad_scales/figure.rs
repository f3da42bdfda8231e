//! The check's figure: the histograms of `log2|g|` side by side, one panel per model,
//! BN and no BN overlaid.
use super::{find, Measurement};
use crate::checks::verdict::fixed;
use crate::plot::{draw_png, octave_panel, plot_error, OctaveSeries};
use crate::scales::{HIGH_OCTAVE, LOW_OCTAVE};
use anyhow::Result;
use std::path::Path;

/// Histograms side by side, one panel per model, BN and no BN overlaid (the 1st and
/// 99th percentiles marked); written atomically.
pub fn draw(
    path: &Path,
    models: &[String],
    measurements: &[Measurement],
    title: &str,
) -> Result<()> {
    use plotters::prelude::*;
    let cols = models.len().clamp(1, 3);
    let rows = models.len().div_ceil(cols).max(1);
    let (panel_w, panel_h, title_h) = (560u32, 380u32, 40u32);
    let size = (panel_w * cols as u32, panel_h * rows as u32 + title_h);
    draw_png(path, size, |root| {
        let (top, body) = root.split_vertically(title_h);
        top.titled(title, ("sans-serif", 22)).map_err(plot_error)?;
        for (panel, model) in body.split_evenly((rows, cols)).iter().zip(models) {
            let series: Vec<OctaveSeries> = [(false, RED, "no BN"), (true, BLUE, "BN")]
                .into_iter()
                .filter_map(|(bn, color, label)| {
                    let m = find(measurements, model, bn)?;
                    Some(OctaveSeries {
                        label: format!(
                            "{label}, spread {}",
                            fixed(m.spread.as_ref().map(|s| s.spread), 1)
                        ),
                        color,
                        points: m
                            .proportions
                            .iter()
                            .enumerate()
                            .filter(|(_, p)| **p > 0.0)
                            .map(|(i, p)| ((i as i64 + m.low_octave) as f64, *p))
                            .collect(),
                        marks: m.spread.as_ref().map_or(Vec::new(), |s| vec![s.p01, s.p99]),
                    })
                })
                .collect();
            // Octaves shown: where either variant has mass, plus a margin.
            let octaves = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
            let lo = octaves
                .clone()
                .reduce(f64::min)
                .unwrap_or(LOW_OCTAVE as f64)
                - 1.0;
            let hi = octaves.reduce(f64::max).unwrap_or(HIGH_OCTAVE as f64) + 2.0;
            let ymax = series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.1))
                .fold(0.0, f64::max)
                .max(1e-3)
                * 1.4;
            octave_panel(panel, model, &series, lo..hi, 0.0..ymax)?;
        }
        Ok(())
    })
}
