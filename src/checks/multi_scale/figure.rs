//! The check's figure: training loss and test accuracy per intervention, one line per
//! optimizer with its 95 % CI as a band.
use super::{Lane, Metric};
use crate::config::FactorSpec;
use crate::optimizers::Method;
use crate::plot::{
    display_name, draw_png, extremes, font, legend, line, optimizer_color, plot_error,
};
use crate::stats::Estimate;
use anyhow::Result;
use std::path::Path;

/// Training loss and test accuracy per intervention, one line per optimizer with its
/// 95 % CI as a band.
pub fn draw(path: &Path, lanes: &[Lane], factors: &[FactorSpec], title: &str) -> Result<()> {
    use plotters::prelude::*;
    let size = (1100, 460);
    let labels: Vec<String> = factors.iter().map(|f| f.to_string()).collect();
    draw_png(path, size, |root| {
        let (top, body) = root.split_vertically(40);
        top.titled(title, font(16)).map_err(plot_error)?;
        let panels = body.split_evenly((1, 2));
        for (panel, metric) in panels.iter().zip([Metric::Loss, Metric::Accuracy]) {
            let estimate = |l: &Lane| metric.of(l.train_loss, l.test_accuracy);
            let bounds: Vec<f64> = lanes
                .iter()
                .filter_map(estimate)
                .flat_map(|e| [e.bounds().0, e.bounds().1])
                .collect();
            if bounds.is_empty() {
                continue;
            }
            let (lo, hi) = extremes(bounds.iter().copied());
            let pad = ((hi - lo) * 0.15).max(1e-3);
            let caption = metric.of(
                "final training loss (mean, 95% CI)",
                "test accuracy (mean, 95% CI)",
            );
            let mut chart = ChartBuilder::on(panel)
                .caption(caption, font(14))
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(60)
                .build_cartesian_2d(-0.3..(labels.len() as f64 - 0.7), (lo - pad)..(hi + pad))
                .map_err(plot_error)?;
            chart
                .configure_mesh()
                .x_labels(labels.len())
                .x_label_formatter(&|x| {
                    let i = x.round() as usize;
                    if (x - i as f64).abs() < 1e-6 {
                        labels.get(i).cloned().unwrap_or_default()
                    } else {
                        String::new()
                    }
                })
                .x_desc("gradient factors")
                .label_style(font(11))
                .light_line_style(WHITE.mix(0.0))
                .draw()
                .map_err(plot_error)?;
            for mode in [Method::ADAM_L2, Method::ADAMW] {
                let color = optimizer_color(mode);
                let points: Vec<(f64, Estimate)> = factors
                    .iter()
                    .enumerate()
                    .filter_map(|(i, f)| {
                        lanes
                            .iter()
                            .find(|l| l.optimizer == mode && l.factors == *f)
                            .and_then(estimate)
                            .map(|e| (i as f64, e))
                    })
                    .collect();
                let ci = points.iter().map(|(x, e)| (*x, e.bounds().0, e.bounds().1));
                let means: Vec<_> = points.iter().map(|(x, e)| (*x, e.mean)).collect();
                let ci: Vec<_> = ci.collect();
                line(&mut chart, &means, &ci, color, 3, (display_name(mode), 18))?;
            }
            legend(&mut chart, SeriesLabelPosition::UpperLeft, 11)?;
        }
        Ok(())
    })
}
