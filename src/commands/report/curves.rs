//! Training loss and test accuracy against epoch for each optimizer's best setting.
use super::collect::{display_name, fmt_sci, Collection, Group, RunResult};
use super::figure::{centered, draw_png, optimizer_color, plot_error, Area, Figure};
use crate::rundir::MetricsRow;
use anyhow::Result;
use optim::DecayMode;
use plotters::prelude::*;
use std::path::Path;

pub const SIZE: (u32, u32) = (1200, 480);
const HEADER: u32 = 40;

/// (epoch, lowest and highest training loss, lowest and highest accuracy) over seeds.
type BandPoint = (f64, f64, f64, f64, f64);

struct Curve<'a> {
    optimizer: DecayMode,
    runs: Vec<&'a RunResult>,
    label: String,
    /// The mean over the seeds at each evaluation all of them reached.
    rows: Vec<MetricsRow>,
    /// (epoch, lowest and highest training loss, lowest and highest accuracy) over the
    /// seeds, drawn as a band when there are several.
    band: Vec<BandPoint>,
}

/// Per evaluation step that every run reached: the runs' mean, and their extremes.
fn over_seeds(all: &[Vec<MetricsRow>]) -> (Vec<MetricsRow>, Vec<BandPoint>) {
    let mut rows = Vec::new();
    let mut band = Vec::new();
    for row in &all[0] {
        let same: Vec<&MetricsRow> = all
            .iter()
            .filter_map(|rows| rows.iter().find(|r| r.step == row.step))
            .collect();
        if same.len() < all.len() {
            continue;
        }
        let n = same.len() as f64;
        let (loss, acc): (Vec<f64>, Vec<f64>) =
            same.iter().map(|r| (r.train_loss, r.eval_accuracy)).unzip();
        let extreme = |v: &[f64]| {
            v.iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
                    (lo.min(*x), hi.max(*x))
                })
        };
        let ((l_lo, l_hi), (a_lo, a_hi)) = (extreme(&loss), extreme(&acc));
        band.push((row.epoch as f64, l_lo, l_hi, a_lo, a_hi));
        rows.push(MetricsRow {
            train_loss: loss.iter().sum::<f64>() / n,
            eval_accuracy: acc.iter().sum::<f64>() / n,
            ..row.clone()
        });
    }
    (rows, band)
}

/// A band between `low` and `high` (as functions of the band entry) around a curve.
fn band_polygon(
    band: &[BandPoint],
    low: impl Fn(&BandPoint) -> f64,
    high: impl Fn(&BandPoint) -> f64,
) -> Vec<(f64, f64)> {
    band.iter()
        .map(|b| (b.0, high(b)))
        .chain(band.iter().rev().map(|b| (b.0, low(b))))
        .collect()
}

/// `None` when no optimizer of the group has a best run with metrics yet.
pub fn draw(collection: &Collection, group: &Group, dir: &Path) -> Result<Option<Figure>> {
    let mut curves = Vec::new();
    for grid in &group.optimizers {
        let Some(cell) = grid.best_cell() else {
            continue;
        };
        let runs = super::seeds::completed_runs(collection, cell);
        let mut all = Vec::new();
        for run in &runs {
            let rows: Vec<MetricsRow> = run
                .metrics()?
                .into_iter()
                .filter(|r| r.train_loss.is_finite() && r.eval_accuracy.is_finite())
                .collect();
            if !rows.is_empty() {
                all.push(rows);
            }
        }
        if all.is_empty() {
            continue;
        }
        let (rows, band) = over_seeds(&all);
        let seeds = if all.len() > 1 {
            format!(", mean of {} seeds, band: their range", all.len())
        } else {
            String::new()
        };
        let label = format!(
            "{} (η₀ = {}, λ = {}{seeds})",
            display_name(grid.optimizer),
            fmt_sci(cell.lr),
            fmt_sci(cell.wd)
        );
        curves.push(Curve {
            optimizer: grid.optimizer,
            runs,
            label,
            rows,
            band: if all.len() > 1 { band } else { Vec::new() },
        });
    }
    if curves.is_empty() {
        return Ok(None);
    }
    let file = format!("curves-{}.png", group.key.slug());
    draw_png(&dir.join(&file), SIZE, |root| {
        let (header, body) = root.split_vertically(HEADER);
        header
            .draw(&Text::new(
                format!("Best setting of each optimizer — {}", group.key.label()),
                (SIZE.0 as i32 / 2, HEADER as i32 / 2 + 2),
                centered(20),
            ))
            .map_err(plot_error)?;
        let panels = body.split_evenly((1, 2));
        draw_loss(&panels[0], &curves)?;
        draw_accuracy(&panels[1], &curves)
    })?;
    let runs: Vec<String> = curves
        .iter()
        .flat_map(|c| c.runs.iter().map(|r| r.name.clone()))
        .collect();
    Ok(Some(Figure {
        file,
        kind: "curves",
        caption: format!(
            "{}: training loss (log scale) and test accuracy against epoch, for each optimizer's best \
             (η₀, λ) from the heatmap: the mean over its completed seeds, with their range as a band \
             (runs {}).",
            group.key.label(),
            runs.join(", ")
        ),
        width: SIZE.0,
        height: SIZE.1,
    }))
}

fn epoch_range(curves: &[Curve]) -> std::ops::Range<f64> {
    let epochs = || curves.iter().flat_map(|c| c.rows.iter().map(|r| r.epoch));
    let first = epochs().min().unwrap_or(0);
    let last = epochs().max().unwrap_or(1).max(first + 1);
    // Half an epoch of margin, so that the first and last evaluations are not on the axes.
    first as f64 - 0.5..last as f64 + 0.5
}

/// Whole epochs only: at most one label per epoch.
fn epoch_labels(curves: &[Curve]) -> usize {
    let range = epoch_range(curves);
    ((range.end - range.start) as usize + 1).min(11)
}

/// `0.5`, `0.05`, `2e-4`: short labels for a loss axis.
fn loss_label(v: f64) -> String {
    if (0.01..1000.0).contains(&v) {
        let text = format!("{v:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{v:.1e}")
    }
}

fn draw_loss(area: &Area, curves: &[Curve]) -> Result<()> {
    let losses = curves
        .iter()
        .flat_map(|c| {
            c.rows
                .iter()
                .map(|r| r.train_loss)
                .chain(c.band.iter().flat_map(|b| [b.1, b.2]))
        })
        .filter(|&l| l > 0.0);
    let (lo, hi) = losses.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), l| {
        (lo.min(l), hi.max(l))
    });
    let (lo, hi) = if lo.is_finite() {
        (lo / 1.3, hi * 1.3)
    } else {
        (1e-3, 10.0)
    };
    // A log axis shows at most a tick or two over less than a decade or so.
    let (lo, hi) = if hi / lo < 20.0 {
        (
            (lo / 10f64.sqrt()).max(f64::MIN_POSITIVE),
            hi * 10f64.sqrt(),
        )
    } else {
        (lo, hi)
    };
    let mut chart = ChartBuilder::on(area)
        .caption("training loss (log scale)", ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(epoch_range(curves), (lo..hi).log_scale())
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("loss")
        .x_labels(epoch_labels(curves))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| loss_label(*v))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(plot_error)?;
    for curve in curves {
        let color = optimizer_color(curve.optimizer);
        if !curve.band.is_empty() {
            let band = band_polygon(&curve.band, |b| b.1.max(lo), |b| b.2);
            chart
                .draw_series(std::iter::once(Polygon::new(
                    band,
                    color.mix(0.15).filled(),
                )))
                .map_err(plot_error)?;
        }
        let points: Vec<(f64, f64)> = curve
            .rows
            .iter()
            .filter(|r| r.train_loss > 0.0)
            .map(|r| (r.epoch as f64, r.train_loss))
            .collect();
        // Markers too, so that a run evaluated once still shows.
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
            .map_err(plot_error)?;
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(plot_error)?
            .label(curve.label.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)
}

fn draw_accuracy(area: &Area, curves: &[Curve]) -> Result<()> {
    let accs = curves.iter().flat_map(|c| {
        c.rows
            .iter()
            .map(|r| r.eval_accuracy)
            .chain(c.band.iter().flat_map(|b| [b.3, b.4]))
    });
    let (lo, hi) = accs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), a| {
        (lo.min(a), hi.max(a))
    });
    let pad = ((hi - lo) * 0.08).max(0.01);
    let y = (lo - pad).max(0.0)..(hi + pad).min(1.0);
    let mut chart = ChartBuilder::on(area)
        .caption("test accuracy", ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(epoch_range(curves), y)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("accuracy")
        .x_labels(epoch_labels(curves))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(plot_error)?;
    for curve in curves {
        let color = optimizer_color(curve.optimizer);
        if !curve.band.is_empty() {
            let band = band_polygon(&curve.band, |b| b.3, |b| b.4);
            chart
                .draw_series(std::iter::once(Polygon::new(
                    band,
                    color.mix(0.15).filled(),
                )))
                .map_err(plot_error)?;
        }
        let points: Vec<(f64, f64)> = curve
            .rows
            .iter()
            .map(|r| (r.epoch as f64, r.eval_accuracy))
            .collect();
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
            .map_err(plot_error)?;
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(plot_error)?
            .label(curve.label.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    legend(&mut chart, SeriesLabelPosition::LowerRight)
}

fn legend<'a, X: plotters::coord::ranged1d::Ranged, Y: plotters::coord::ranged1d::Ranged>(
    chart: &mut ChartContext<'a, BitMapBackend<'a>, Cartesian2d<X, Y>>,
    position: SeriesLabelPosition,
) -> Result<()> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font(("sans-serif", 13))
        .draw()
        .map_err(plot_error)
}
