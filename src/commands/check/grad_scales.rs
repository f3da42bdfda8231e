//! `scalefree check grad-scales` (claim 3): gradients of deep networks without BN span
//! more orders of magnitude than with BN, which is where a scale-free optimizer matters.
//!
//! Per model, with and without BN (same seed), the gradient of the loss on the first
//! batches (after `--steps` AdamW steps, 0 by default: at initialisation) is binned by
//! `log2|g|` over every weight outside BN layers, as in the paper's histograms, and its
//! spread is read off: the 1st, 50th and 99th percentiles, `p99 − p01`, and the range of
//! the per-layer medians.
use super::input::Input;
use super::options::{at_least_one, model_name, non_negative, InputArgs, OptimizerArgs};
use super::present::{device_label, fixed, CommonSettings, OutputArgs, Verdict};
use crate::distinct::distinct;
use crate::plot::{draw_png, octave_panel, plot_error, OctaveSeries};
use crate::scales::{
    log2_histograms, merge, spread, Log2Histogram, ScaleSpread, HIGH_OCTAVE, LOW_OCTAVE, MAX_ABS,
    MIN_ABS,
};
use crate::sinks::tensorboard::Board;
use crate::train::lockstep::{self, Flow, LaneObserver};
use crate::train::scale_probe::layers_of;
use crate::train::Session;
use anyhow::{bail, Result};
use clap::Args;
use optim::DecayMode;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub const CLAIM: &str = "claim 3 (gradients without BN span more octaves than with BN)";
/// λ of the AdamW steps: the paper's best for ResNet-20 without BN.
pub const DEFAULT_WD: f64 = 5e-5;
pub const DEFAULT_MODELS: &str = "resnet20,resnet56,resnet110,resnet218,densenet100";

#[derive(Args, Debug)]
pub struct GradScalesArgs {
    /// Comma-separated models, each measured with and without BN.
    #[arg(long, value_delimiter = ',', default_value = DEFAULT_MODELS, value_parser = model_name)]
    pub models: Vec<String>,
    /// AdamW steps before measuring (0: at initialisation).
    #[arg(long, default_value_t = 0)]
    pub steps: u64,
    /// Batches whose gradients are measured (their histograms are added up).
    #[arg(long, default_value_t = 1, value_parser = at_least_one::<usize>)]
    pub batches: usize,
    /// η_0 and λ of the AdamW steps.
    #[command(flatten)]
    pub optimizer: OptimizerArgs,
    #[arg(long, default_value_t = 1e-8, value_parser = non_negative)]
    pub eps: f64,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// The histograms as a PNG [default: the --json path with .png, else grad-scales.png].
    #[arg(long)]
    pub png: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
pub struct Settings {
    pub models: Vec<String>,
    pub batches: usize,
    pub steps: u64,
    pub eps: f64,
    #[serde(flatten)]
    pub common: CommonSettings,
}

/// One model, with or without BN.
#[derive(Debug, Serialize)]
pub struct Measurement {
    pub model: String,
    pub bn: bool,
    /// Gradient entries counted: every weight and bias outside BN layers.
    pub counted: i64,
    /// Conv and linear layers counted.
    pub layers: usize,
    /// Percentiles of `log2|g|` in octaves; `None` when every gradient entry is zero.
    pub spread: Option<ScaleSpread>,
    /// The histograms are of `|g| / 2^shift`, which centres the median in the paper's
    /// clamping range [1e-8, 1e4] so that no model's gradients are cut off; every number
    /// here is shifted back to `log2|g|`.
    pub shift: i64,
    /// Fraction of the non-zero entries that fell outside the shifted range anyway (and
    /// were clamped to its edges).
    pub clamped_fraction: f64,
    /// Proportion of the non-zero entries in each octave `floor(log2|g|)`, from `low_octave` up.
    pub low_octave: i64,
    pub proportions: Vec<f64>,
    /// Mean loss on the measured batches.
    pub loss: Option<f64>,
    pub wall_s: f64,
    /// As the paper and `scalefree train` log it: `log2|g|` clamped to [1e-8, 1e4], for TensorBoard.
    #[serde(skip)]
    pub paper_histogram: Log2Histogram,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub check: &'static str,
    pub verdict: Verdict,
    pub settings: Settings,
    pub measurements: Vec<Measurement>,
    pub png: PathBuf,
    pub wall_s: f64,
}

pub fn run(args: &GradScalesArgs) -> Result<Report> {
    let started = Instant::now();
    let input = Input::open(&args.input, 64, None)?;
    let (device, batch_size) = (input.device, input.batch_size);
    let models = distinct(args.models.iter().cloned());
    if models.is_empty() {
        bail!("--models: give at least one model");
    }
    let png = args.output.png(&args.png, "grad-scales.png")?;
    let mut board = args.output.create_outputs()?;
    println!(
        "check grad-scales: {} batch(es) of {batch_size} from {} ({}), after {} AdamW step(s); log2|g| over non-BN weights",
        args.batches,
        input.description,
        device_label(device),
        args.steps
    );
    println!(
        "{:<12} {:>3}  {:>10}  {:>7} {:>7} {:>7}  {:>7}  {:>22}  {:>8}  {:>6}",
        "model",
        "BN",
        "entries",
        "p01",
        "p50",
        "p99",
        "spread",
        "layer medians (range)",
        "loss",
        "time"
    );
    let mut measurements = Vec::new();
    for model in &models {
        for bn in [false, true] {
            let m = measure(args, &input, model, bn)?;
            let s = m.spread.as_ref();
            println!(
                "{:<12} {:>3}  {:>10}  {:>7} {:>7} {:>7}  {:>7}  {:>22}  {:>8}  {:>5.1}s",
                model,
                if bn { "yes" } else { "no" },
                m.counted,
                opt(s.map(|s| s.p01)),
                opt(s.map(|s| s.p50)),
                opt(s.map(|s| s.p99)),
                opt(s.map(|s| s.spread)),
                s.map_or("—".into(), |s| format!(
                    "{:.1} … {:.1} ({:.1})",
                    s.layer_median_min, s.layer_median_max, s.layer_median_range
                )),
                fixed(m.loss, 3),
                m.wall_s
            );
            if let Some(board) = board.as_mut() {
                log_measurement(board, &m, args.steps);
            }
            measurements.push(m);
        }
    }
    if let Some(board) = board.as_mut() {
        board.flush();
    }
    let verdict = verdict(&models, &measurements);
    draw(
        &png,
        &models,
        &measurements,
        &format!(
            "log2|g| over non-BN weights, {} batch {batch_size}, step {}",
            input.description, args.steps
        ),
    )?;
    println!("wrote {}", png.display());
    let report = Report {
        check: "grad-scales",
        verdict,
        settings: Settings {
            models: models.clone(),
            batches: args.batches,
            steps: args.steps,
            eps: args.eps,
            common: CommonSettings::new(
                &input,
                &args.optimizer,
                args.optimizer.wd.unwrap_or(DEFAULT_WD),
            ),
        },
        measurements,
        png,
        wall_s: started.elapsed().as_secs_f64(),
    };
    args.output
        .finish(&report.verdict, report.wall_s, &report)?;
    Ok(report)
}

/// The steps before the measurement stop at the first non-finite loss.
struct StopAtDivergence;

impl LaneObserver for StopAtDivergence {
    fn stepped(&mut self, _t: u64, lanes: &mut [Session]) -> Result<Flow> {
        Ok(match lanes[0].diverged_at() {
            Some(_) => Flow::Stop,
            None => Flow::Continue,
        })
    }
}

fn opt(v: Option<f64>) -> String {
    fixed(v, 1)
}

fn measure(args: &GradScalesArgs, input: &Input, model: &str, bn: bool) -> Result<Measurement> {
    let started = Instant::now();
    let wd = args.optimizer.wd.unwrap_or(DEFAULT_WD);
    let adamw = args
        .optimizer
        .adam(DecayMode::Decoupled, wd, args.eps, tch::Kind::Float);
    let trainer = input.trainer(&input.model(model, bn), adamw, tch::Kind::Float)?;
    let mut lane = [Session::lane(trainer, args.steps)];
    // Every model sees the same batches.
    let mut stream = input.stream();
    lockstep::run(
        &mut lane,
        args.steps,
        || stream.next_batch(),
        &mut StopAtDivergence,
    )?;
    let [mut lane] = lane;
    if let Some(t) = lane.diverged_at() {
        bail!(
            "{model} ({}) diverged at training step {t}; lower --lr or --steps",
            bn_label(bn)
        );
    }
    lane.take_window();

    // One histogram per conv/linear layer (a layer's weight and bias together), as
    // `scalefree train` logs them.
    let layers = layers_of(lane.trainer().optimizer());
    let mut segments = Vec::new();
    let mut layer_of = Vec::new();
    for (index, layer) in layers.iter().enumerate() {
        for &(_, offset, numel) in &layer.parts {
            segments.push((offset, numel));
            layer_of.push(index);
        }
    }
    let mut per_layer = vec![Log2Histogram::empty(); layers.len()];
    let mut paper = Log2Histogram::empty();
    let mut shift = None;
    let (mut clamped, mut nonzero) = (0.0, 0.0);
    for _ in 0..args.batches {
        let batch = stream.next_batch()?;
        lane.lane_backward(&batch)?;
        if lane.diverged_at().is_some() {
            bail!(
                "{model} ({}): the loss is not finite at the measured batch",
                bn_label(bn)
            );
        }
        let grads = lane.trainer().flat_grads();
        let counted = tch::Tensor::cat(
            &segments
                .iter()
                .map(|&(o, n)| grads.narrow(0, o, n))
                .collect::<Vec<_>>(),
            0,
        );
        let shift = *shift.get_or_insert_with(|| centring_shift(&counted));
        let scale = 2f64.powi(shift as i32);
        for (h, &layer) in log2_histograms(&grads, &segments, scale)
            .iter()
            .zip(&layer_of)
        {
            per_layer[layer].add(h);
        }
        paper.add(&log2_histograms(&counted, &[(0, counted.numel() as i64)], 1.0)[0]);
        let magnitude = counted.abs() / scale;
        let outside = magnitude
            .gt(0.0)
            .logical_and(&magnitude.lt(MIN_ABS).logical_or(&magnitude.gt(MAX_ABS)));
        clamped += outside.sum(tch::Kind::Double).double_value(&[]);
        nonzero += magnitude.gt(0.0).sum(tch::Kind::Double).double_value(&[]);
    }
    let shift = shift.unwrap_or(0);
    let merged = merge(&per_layer);
    let spread = spread(&per_layer).map(|s| {
        let octaves = shift as f64;
        ScaleSpread {
            p01: s.p01 + octaves,
            p50: s.p50 + octaves,
            p99: s.p99 + octaves,
            layer_median_min: s.layer_median_min + octaves,
            layer_median_max: s.layer_median_max + octaves,
            ..s
        }
    });
    Ok(Measurement {
        model: model.to_string(),
        bn,
        counted: segments.iter().map(|s| s.1).sum(),
        layers: layers.len(),
        spread,
        shift,
        clamped_fraction: clamped / nonzero.max(1.0),
        low_octave: LOW_OCTAVE + shift,
        proportions: merged
            .octaves()
            .iter()
            .map(|c| c / merged.nonzero().max(1.0))
            .collect(),
        loss: lane.take_window().mean_loss(),
        wall_s: started.elapsed().as_secs_f64(),
        paper_histogram: paper,
    })
}

/// The power of two that puts the median of `log2|g|` in the middle of the histograms'
/// range: the paper clamps |g| to [1e-8, 1e4], but a deep network without BN has gradients
/// far above 1e4 at initialisation, and clamping would cut its spread short.
fn centring_shift(counted: &tch::Tensor) -> i64 {
    let magnitude = counted.abs();
    let nonzero = magnitude.masked_select(&magnitude.gt(0.0));
    if nonzero.numel() == 0 {
        return 0;
    }
    let median = nonzero.log2().median().double_value(&[]);
    median.round() as i64 - (LOW_OCTAVE + HIGH_OCTAVE) / 2
}

fn bn_label(bn: bool) -> &'static str {
    if bn {
        "with BN"
    } else {
        "without BN"
    }
}

fn log_measurement(board: &mut Board, m: &Measurement, step: u64) {
    let bn = if m.bn { "bn" } else { "no_bn" };
    let tag = format!("grad_scales/{}/{bn}", m.model);
    board.log2_histogram(&tag, &m.paper_histogram, step);
    if let Some(s) = &m.spread {
        for (name, v) in [
            ("p01", s.p01),
            ("p50", s.p50),
            ("p99", s.p99),
            ("spread", s.spread),
            ("layer_median_range", s.layer_median_range),
        ] {
            board.scalar(&format!("{tag}/{name}"), v, step);
        }
    }
}

fn find<'a>(measurements: &'a [Measurement], model: &str, bn: bool) -> Option<&'a Measurement> {
    measurements.iter().find(|m| m.model == model && m.bn == bn)
}

fn verdict(models: &[String], measurements: &[Measurement]) -> Verdict {
    let mut supported = true;
    let mut parts = Vec::new();
    for model in models {
        let spread_of = |bn| {
            find(measurements, model, bn)
                .and_then(|m| m.spread.as_ref())
                .map(|s| s.spread)
        };
        match (spread_of(false), spread_of(true)) {
            (Some(without), Some(with)) => {
                supported &= without > with;
                parts.push(format!("{model} {without:.1} vs {with:.1}"));
            }
            _ => {
                supported = false;
                parts.push(format!("{model}: all-zero gradients"));
            }
        }
    }
    Verdict::new(
        CLAIM,
        supported,
        &format!(
            "spread p99 − p01 of log2|g| in octaves, without vs with BN: {}",
            parts.join(", ")
        ),
    )
}

/// Histograms side by side, one panel per model, BN and no BN overlaid (the 1st and
/// 99th percentiles marked); written atomically.
fn draw(path: &Path, models: &[String], measurements: &[Measurement], title: &str) -> Result<()> {
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
                            opt(m.spread.as_ref().map(|s| s.spread))
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
