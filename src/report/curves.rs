//! Training loss and test accuracy against epoch for each optimizer's best setting.
use super::collect::{fmt_sci, Collection, Group, RunResult};
use super::figure::{draw_png, font, optimizer_color, plot_error, Area, Figure};
use crate::optimizers::Method;
use crate::plot::display_name;
use crate::plot::{extremes, header, legend, line};
use crate::rundir::MetricsRow;
use anyhow::Result;
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
    optimizer: Method,
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

/// One measure of one run: (step, epoch, value), in step order.
type Points = Vec<(u64, f64, f64)>;

/// Per step that every run reached: the runs' mean, and their extremes when there are
/// several runs.
fn over_seeds(all: &[Points]) -> Series {
    let mut series = Series::default();
    for &(step, epoch, _) in &all[0] {
        let same: Vec<f64> = all
            .iter()
            .filter_map(|points| {
                let at = points.binary_search_by_key(&step, |p| p.0).ok()?;
                Some(points[at].2)
            })
            .collect();
        if same.len() < all.len() {
            continue;
        }
        let (lo, hi) = extremes(same.iter().copied());
        series
            .points
            .push((epoch, same.iter().sum::<f64>() / same.len() as f64));
        if all.len() > 1 {
            series.band.push((epoch, lo, hi));
        }
    }
    series
}

/// Batch losses are noisy and many (up to 2,000 a run): the curve shows the means of
/// consecutive runs of them, at most this many points.
const LOSS_POINTS: usize = 200;

/// `series` with each run of consecutive points (and band values) replaced by its mean,
/// so that at most `most` points are left.
fn thinned(series: Series, most: usize) -> Series {
    let per = series.points.len().div_ceil(most.max(1)).max(1);
    if per == 1 {
        return series;
    }
    let mean = |values: &mut dyn Iterator<Item = f64>| {
        let (sum, n) = values.fold((0.0, 0.0), |(s, n), v| (s + v, n + 1.0));
        sum / n
    };
    let points = (series.points.chunks(per))
        .map(|c| {
            (
                mean(&mut c.iter().map(|p| p.0)),
                mean(&mut c.iter().map(|p| p.1)),
            )
        })
        .collect();
    let band = (series.band.chunks(per))
        .map(|c| {
            let x = mean(&mut c.iter().map(|b| b.0));
            (
                x,
                mean(&mut c.iter().map(|b| b.1)),
                mean(&mut c.iter().map(|b| b.2)),
            )
        })
        .collect();
    Series { points, band }
}

/// What a run's training-loss curve is drawn from.
#[derive(Clone, Copy, PartialEq)]
enum LossSource {
    /// `losses.jsonl`: batch losses as the run trained.
    BatchLosses,
    /// `metrics.jsonl`: the mean over the batches of each evaluated epoch (runs made
    /// before batch losses were recorded).
    Evaluations,
}

/// A cell's curves over its seeds.
struct Measures {
    loss: Series,
    accuracy: Series,
    source: LossSource,
    /// The runs (seeds) the curves are the mean of.
    seeds: usize,
}

/// The training loss and test accuracy of a cell's completed runs (those with finite
/// values), each run's loss from its batch losses when every run has them.
fn measures(runs: &[&RunResult]) -> Result<Option<Measures>> {
    let (mut accuracy, mut evaluated_loss, mut batch_loss) = (Vec::new(), Vec::new(), Vec::new());
    for run in runs {
        let rows: Vec<MetricsRow> = run
            .metrics()?
            .into_iter()
            .filter(|r| r.train_loss.is_finite() && r.eval_accuracy.is_finite())
            .collect();
        if rows.is_empty() {
            continue;
        }
        let points = |value: fn(&MetricsRow) -> f64| -> Points {
            rows.iter()
                .map(|r| (r.step, r.epoch as f64, value(r)))
                .collect()
        };
        accuracy.push(points(|r| r.eval_accuracy));
        evaluated_loss.push(points(|r| r.train_loss));
        batch_loss.push(
            run.losses()?
                .iter()
                .map(|r| (r.step, r.epoch, r.loss))
                .collect(),
        );
    }
    if accuracy.is_empty() {
        return Ok(None);
    }
    let (mut loss, source) = if batch_loss.iter().all(|p: &Points| !p.is_empty()) {
        (
            thinned(over_seeds(&batch_loss), LOSS_POINTS),
            LossSource::BatchLosses,
        )
    } else {
        (over_seeds(&evaluated_loss), LossSource::Evaluations)
    };
    loss.points.retain(|p| p.1 > 0.0);
    Ok(Some(Measures {
        loss,
        seeds: accuracy.len(),
        accuracy: over_seeds(&accuracy),
        source,
    }))
}

/// `None` when no optimizer of the group has a best run with metrics yet.
pub fn draw(collection: &Collection, group: &Group, dir: &Path) -> Result<Option<Figure>> {
    let (mut curves, mut sources) = (Vec::new(), Vec::new());
    for grid in &group.optimizers {
        let Some(cell) = grid.best_cell() else {
            continue;
        };
        let runs: Vec<&RunResult> = collection.completed(cell).collect();
        let Some(Measures {
            loss,
            accuracy,
            source,
            seeds,
        }) = measures(&runs)?
        else {
            continue;
        };
        sources.push(source);
        let seeds = if seeds > 1 {
            format!(", mean of {seeds} seeds, band: their range")
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
            accuracy,
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
            "{}: training loss (log scale; {}) and test accuracy against epoch, for each \
             optimizer's best (η₀, λ) from the heatmap: the mean over its completed seeds, with \
             their range as a band (runs {}).",
            group.key.label(),
            loss_caption(&sources),
            runs.join(", ")
        ),
        width: SIZE.0,
        height: SIZE.1,
    }))
}

fn loss_caption(sources: &[LossSource]) -> String {
    if sources.iter().all(|s| *s == LossSource::BatchLosses) {
        format!(
            "the batch losses recorded as the runs trained, each point the mean of consecutive \
             ones, at most {LOSS_POINTS} per curve"
        )
    } else {
        "each evaluated epoch's mean batch loss: some runs were made before batch losses were \
         recorded"
            .to_string()
    }
}

/// From the start of training to half an epoch past the last point, so that a run
/// evaluated once is drawn where it stands in its training, not alone on a one-epoch axis.
fn epoch_range(curves: &[Curve]) -> std::ops::Range<f64> {
    let points = curves
        .iter()
        .flat_map(|c| c.accuracy.points.iter().chain(&c.loss.points));
    let last = points.map(|p| p.0).reduce(f64::max).unwrap_or(0.0);
    0.0..(last + 0.5).max(1.0)
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
    // Plotters labels a log axis from the first power of ten in it up: starting the axis on
    // one labels the values below the data's first decade too (2.3 is not left unlabelled
    // under 10, 20, 30).
    let lo = 10f64.powf(lo.log10().floor()).max(f64::MIN_POSITIVE);
    // Plotters gives a log axis' decade points twice when it fills a decade with 9 light
    // points (2 … 10, then 10): the repeat is left unlabelled.
    let last = std::cell::RefCell::new(String::new());
    let label = |v: &f64| {
        let text = loss_label(*v);
        match last.replace(text.clone()) == text {
            true => String::new(),
            false => text,
        }
    };
    let log = (lo..hi).log_scale();
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

/// A curve of more points than this is drawn without a marker at each.
const MARKED_POINTS: usize = 40;

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
        // Markers where points are few, so that a run evaluated once still shows; a dense
        // batch-loss curve is a line.
        let radius = if s.points.len() > MARKED_POINTS { 0 } else { 3 };
        line(
            &mut chart,
            &s.points,
            &cut,
            color,
            radius,
            (&curve.label, 20),
        )?;
    }
    legend(&mut chart, position, 13)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RunConfig;
    use crate::rundir::{LossRow, RunDir, RunProgress};

    /// A completed run in `dir` of 600 steps (100 per epoch) evaluated once, at its end,
    /// with its batch losses when `losses` is given (loss `offset + 1/step`).
    fn run_evaluated_once(dir: &Path, offset: f64, losses: bool) -> RunResult {
        let run = RunDir::new(dir);
        std::fs::create_dir_all(dir).unwrap();
        let row = MetricsRow {
            epoch: 6,
            step: 600,
            train_loss: 0.5 + offset,
            train_accuracy: 0.8,
            eval_split: "test".into(),
            eval_loss: 0.6,
            eval_accuracy: 0.7 + offset,
            lr: 1e-3,
            wall_s: 1.0,
            images_per_s: 1.0,
        };
        run.write_metrics(&[row]).unwrap();
        if losses {
            let rows: Vec<LossRow> = (1..=600)
                .filter(|&s| s == 1 || s % 20 == 0)
                .map(|step| LossRow {
                    step,
                    epoch: step as f64 / 100.0,
                    loss: offset + 1.0 / step as f64,
                })
                .collect();
            run.write_losses(&rows).unwrap();
        }
        RunResult {
            name: dir.display().to_string(),
            dir: dir.to_path_buf(),
            config: RunConfig::default(),
            progress: RunProgress::Completed,
            summary: None,
            note: None,
        }
    }

    #[test]
    fn the_training_curve_of_runs_evaluated_once_comes_from_their_batch_losses() {
        let tmp = tempfile::tempdir().unwrap();
        let a = run_evaluated_once(&tmp.path().join("s0"), 0.0, true);
        let b = run_evaluated_once(&tmp.path().join("s1"), 0.5, true);
        let m = measures(&[&a, &b]).unwrap().unwrap();
        assert!(m.source == LossSource::BatchLosses);
        assert_eq!(m.seeds, 2);
        // Steps 1, 20, 40, …, 600: 31 points, each the mean of the two seeds.
        assert_eq!(m.loss.points.len(), 31);
        assert_eq!(m.loss.points[0], (0.01, 0.25 + 1.0));
        assert_eq!(m.loss.band[0], (0.01, 1.0, 1.5));
        let last = m.loss.points[30];
        assert_eq!(last.0, 6.0);
        assert!((last.1 - (0.25 + 1.0 / 600.0)).abs() < 1e-12, "{last:?}");
        assert_eq!(m.accuracy.points.len(), 1);
        assert_eq!(m.accuracy.points[0].0, 6.0);
        assert!((m.accuracy.points[0].1 - 0.95).abs() < 1e-12);
        // The axis runs from the start of training, not from epoch 5.5 around the one
        // evaluation.
        let curve = Curve {
            optimizer: Method::ADAMW,
            runs: vec![&a, &b],
            label: String::new(),
            loss: m.loss,
            accuracy: m.accuracy,
        };
        assert_eq!(epoch_range(&[curve]), 0.0..6.5);
    }

    #[test]
    fn runs_without_batch_losses_draw_their_evaluations() {
        let tmp = tempfile::tempdir().unwrap();
        let a = run_evaluated_once(&tmp.path().join("s0"), 0.0, true);
        let old = run_evaluated_once(&tmp.path().join("s1"), 0.5, false);
        let m = measures(&[&a, &old]).unwrap().unwrap();
        assert!(m.source == LossSource::Evaluations);
        assert_eq!(m.loss.points, vec![(6.0, 0.75)]);
    }

    #[test]
    fn a_long_batch_loss_curve_is_thinned_to_means_of_consecutive_points() {
        let points: Vec<(f64, f64)> = (0..1000).map(|i| (i as f64, (i % 2) as f64)).collect();
        let band = points.iter().map(|p| (p.0, p.1 - 1.0, p.1 + 1.0)).collect();
        let thin = thinned(Series { points, band }, LOSS_POINTS);
        assert_eq!(thin.points.len(), LOSS_POINTS);
        assert_eq!(thin.points[0], (2.0, 0.4));
        assert_eq!(thin.band[0], (2.0, -0.6, 1.4));
    }

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
