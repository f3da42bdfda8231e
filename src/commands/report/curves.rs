//! Training loss and test accuracy against epoch for each optimizer's best setting.
use super::collect::{fmt_sci, Collection, Group, RunResult};
use super::figure::{draw_png, font, optimizer_color, plot_error, Area, Figure};
use crate::plot::display_name;
use crate::plot::{extremes, header, legend, line};
use crate::rundir::MetricsRow;
use anyhow::Result;
use optim::DecayMode;
use plotters::chart::SeriesLabelPosition::{LowerRight, UpperRight};
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use std::path::Path;

pub const SIZE: (u32, u32) = (1200, 480);
const HEADER: u32 = 40;

/// One measure of a curve: (epoch, mean over the seeds), and over several seeds the band
/// (epoch, lowest, highest) between them.
#[derive(Default)]
struct Series {
    points: Vec<(f64, f64)>,
    band: Vec<(f64, f64, f64)>,
}

struct Curve<'a> {
    optimizer: DecayMode,
    runs: Vec<&'a RunResult>,
    label: String,
    /// Training loss (its positive values: the axis is logarithmic) and test accuracy.
    loss: Series,
    accuracy: Series,
}

/// How a y axis writes its values.
type AxisLabels<'l> = &'l dyn Fn(&f64) -> String;

/// Which measure of a curve.
type Select<'a> = for<'c> fn(&'c Curve<'a>) -> &'c Series;

/// Per evaluation step that every run reached: the runs' mean of `value`, and their
/// extremes when there are several runs.
fn over_seeds(all: &[Vec<MetricsRow>], value: fn(&MetricsRow) -> f64) -> Series {
    let mut series = Series::default();
    for row in &all[0] {
        let same: Vec<f64> = all
            .iter()
            .filter_map(|rows| rows.iter().find(|r| r.step == row.step))
            .map(value)
            .collect();
        if same.len() < all.len() {
            continue;
        }
        let (lo, hi) = extremes(same.iter().copied());
        let (epoch, mean) = (
            row.epoch as f64,
            same.iter().sum::<f64>() / same.len() as f64,
        );
        series.points.push((epoch, mean));
        if all.len() > 1 {
            series.band.push((epoch, lo, hi));
        }
    }
    series
}

/// `None` when no optimizer of the group has a best run with metrics yet.
pub fn draw(collection: &Collection, group: &Group, dir: &Path) -> Result<Option<Figure>> {
    let mut curves = Vec::new();
    for grid in &group.optimizers {
        let Some(cell) = grid.best_cell() else {
            continue;
        };
        let runs: Vec<&RunResult> = collection.completed(cell).collect();
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
        let mut loss = over_seeds(&all, |r| r.train_loss);
        loss.points.retain(|p| p.1 > 0.0);
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
            loss,
            accuracy: over_seeds(&all, |r| r.eval_accuracy),
        });
    }
    if curves.is_empty() {
        return Ok(None);
    }
    let file = format!("curves-{}.png", group.key.slug());
    let title = format!("Best setting of each optimizer — {}", group.key.label());
    draw_png(&dir.join(&file), SIZE, |root| {
        let body = header(root, HEADER, &title, 20)?;
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
    let epochs = || curves.iter().flat_map(|c| &c.accuracy.points).map(|p| p.0);
    let first = epochs().reduce(f64::min).unwrap_or(0.0);
    let last = epochs().reduce(f64::max).unwrap_or(1.0).max(first + 1.0);
    // Half an epoch of margin, so that the first and last evaluations are not on the axes.
    first - 0.5..last + 0.5
}

/// Whole epochs only: at most one label per epoch.
fn epoch_labels(curves: &[Curve]) -> usize {
    let range = epoch_range(curves);
    ((range.end - range.start) as usize + 1).min(11)
}

/// The lowest and highest value of one measure over the curves and their bands, of the
/// values that `keep` keeps.
fn extent<'a>(curves: &[Curve<'a>], series: Select<'a>, keep: fn(f64) -> bool) -> (f64, f64) {
    let values = curves.iter().map(series).flat_map(|s| {
        let band = s.band.iter().flat_map(|b| [b.1, b.2]);
        s.points.iter().map(|p| p.1).chain(band)
    });
    extremes(values.filter(|&v| keep(v)))
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
    let (lo, hi) = extent(curves, |c| &c.loss, |l| l > 0.0);
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
    let (log, label) = ((lo..hi).log_scale(), |v: &f64| loss_label(*v));
    let text = ("training loss (log scale)", "loss", UpperRight);
    draw_panel(area, curves, |c| &c.loss, text, (log, lo, &label))
}

fn draw_accuracy(area: &Area, curves: &[Curve]) -> Result<()> {
    let (lo, hi) = extent(curves, |c| &c.accuracy, |_| true);
    let pad = ((hi - lo) * 0.08).max(0.01);
    let (lo, hi) = ((lo - pad).max(0.0), (hi + pad).min(1.0));
    let text = ("test accuracy", "accuracy", LowerRight);
    let decimals = percent_decimals(&accuracy_ticks(lo, hi));
    let label = |v: &f64| percent_label(*v, decimals);
    draw_panel(area, curves, |c| &c.accuracy, text, (lo..hi, lo, &label))
}

/// The most labels on a y axis: plotters' default, which `draw_panel` keeps.
const Y_LABELS: usize = 11;

/// Where plotters puts the labelled ticks of an accuracy axis from `lo` to `hi`.
fn accuracy_ticks(lo: f64, hi: f64) -> Vec<f64> {
    use plotters::coord::{ranged1d::Ranged, types::RangedCoordf64};
    RangedCoordf64::from(lo..hi).key_points(Y_LABELS)
}

/// The fewest decimals of a percentage that tell every tick apart: a flat curve's axis
/// spans a percent or two, with ticks 0.2 % apart.
fn percent_decimals(ticks: &[f64]) -> usize {
    (0..4)
        .find(|&decimals| {
            let labels: Vec<String> = ticks.iter().map(|&t| percent_label(t, decimals)).collect();
            labels.windows(2).all(|pair| pair[0] != pair[1])
        })
        .unwrap_or(4)
}

/// An accuracy (a fraction) as a percentage with `decimals` decimals: `10.4%`.
fn percent_label(fraction: f64, decimals: usize) -> String {
    format!("{:.decimals$}%", fraction * 100.0)
}

/// A panel of one measure against epoch: its caption, axis name and legend position, and
/// its y axis, the axis' lower end (where the bands are cut) and the axis labels.
fn draw_panel<'a, Y>(
    area: &Area,
    curves: &[Curve<'a>],
    series: Select<'a>,
    (caption, y_desc, position): (&str, &str, SeriesLabelPosition),
    (y, y_lo, y_label): (Y, f64, AxisLabels),
) -> Result<()>
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(area)
        .caption(caption, font(16))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(epoch_range(curves), y)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(y_desc)
        .x_labels(epoch_labels(curves))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(y_label)
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(plot_error)?;
    for curve in curves {
        let color = optimizer_color(curve.optimizer);
        let s = series(curve);
        let cut: Vec<_> = s.band.iter().map(|b| (b.0, b.1.max(y_lo), b.2)).collect();
        // Markers too, so that a run evaluated once still shows.
        line(&mut chart, &s.points, &cut, color, 3, (&curve.label, 20))?;
    }
    legend(&mut chart, position, 13)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ticks_of_a_flat_accuracy_curve_have_distinct_labels() {
        // A flat curve near 10.5 %: the axis is padded to ±1 %, ticks are 0.2 % apart.
        let ticks = accuracy_ticks(0.095, 0.115);
        assert!(ticks.len() >= 5, "{ticks:?}");
        let labels: Vec<String> = ticks
            .iter()
            .map(|&t| percent_label(t, percent_decimals(&ticks)))
            .collect();
        let mut distinct = labels.clone();
        distinct.dedup();
        assert_eq!(distinct, labels, "{labels:?}");
        assert_eq!(labels[0], "9.6%");
    }

    #[test]
    fn a_wide_accuracy_axis_keeps_whole_percentages() {
        let ticks = accuracy_ticks(0.1, 0.9);
        assert_eq!(percent_decimals(&ticks), 0);
        assert_eq!(percent_label(ticks[0], 0), "10%");
    }
}
