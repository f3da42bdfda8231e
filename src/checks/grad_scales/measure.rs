//! Measuring one model: the AdamW steps before, then the histograms of `log2|g|` over
//! its conv and linear layers on the measured batches.
use super::{bn_label, GradScalesSettings, Measurement};
use crate::checks::input::{BatchStream, Input};
use crate::config::{ModelChoice, RunConfig};
use crate::optimizers::Method;
use crate::scales::{
    log2_histograms, merge, spread, Log2Histogram, ScaleSpread, HIGH_OCTAVE, LOW_OCTAVE, MAX_ABS,
    MIN_ABS,
};
use crate::train::lockstep::{self, Flow, LaneObserver};
use crate::train::scale_probe::layers_of;
use crate::train::Session;
use anyhow::{bail, Result};
use std::time::Instant;
use tch::{Kind, Tensor};

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

pub fn measure(
    settings: &GradScalesSettings,
    input: &Input,
    model: &str,
    bn: bool,
) -> Result<Measurement> {
    let started = Instant::now();
    let setup = &settings.setup;
    let config = RunConfig {
        model: ModelChoice {
            name: model.to_string(),
            bn,
        },
        ..setup.lane(setup.optimizer(Method::ADAMW, setup.run.optimizer.adam_eps(), Kind::Float))
    };
    let mut lane = [input.lane(&config, Kind::Float, settings.steps)?];
    // Every model sees the same batches.
    let mut stream = input.stream();
    lockstep::run(
        &mut lane,
        settings.steps,
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
    let mut histograms = Histograms::new(&lane);
    for _ in 0..settings.batches {
        histograms.add_batch(&mut lane, &mut stream, model, bn)?;
    }
    Ok(histograms.measurement(model, bn, &mut lane, started))
}

/// One histogram per conv/linear layer (a layer's weight and bias together), as
/// `scalefree train` logs them, added up over the measured batches.
struct Histograms {
    /// The layers' parts in the flat gradient (offset, length), and the layer of each.
    segments: Vec<(i64, i64)>,
    layer_of: Vec<usize>,
    per_layer: Vec<Log2Histogram>,
    paper: Log2Histogram,
    /// See [`Measurement::shift`]: set on the first batch.
    shift: Option<i64>,
    clamped: f64,
    nonzero: f64,
}

impl Histograms {
    fn new(lane: &Session) -> Histograms {
        let layers = layers_of(lane.trainer().optimizer());
        let mut segments = Vec::new();
        let mut layer_of = Vec::new();
        for (index, layer) in layers.iter().enumerate() {
            for &(_, offset, numel) in &layer.parts {
                segments.push((offset, numel));
                layer_of.push(index);
            }
        }
        Histograms {
            segments,
            layer_of,
            per_layer: vec![Log2Histogram::empty(); layers.len()],
            paper: Log2Histogram::empty(),
            shift: None,
            clamped: 0.0,
            nonzero: 0.0,
        }
    }

    /// The gradient of the next batch, added to the histograms.
    fn add_batch(
        &mut self,
        lane: &mut Session,
        stream: &mut BatchStream,
        model: &str,
        bn: bool,
    ) -> Result<()> {
        let batch = stream.next_batch()?;
        lane.lane_backward(&batch)?;
        if lane.diverged_at().is_some() {
            bail!(
                "{model} ({}): the loss is not finite at the measured batch",
                bn_label(bn)
            );
        }
        let grads = lane.trainer().flat_grads();
        let counted = Tensor::cat(
            &self
                .segments
                .iter()
                .map(|&(o, n)| grads.narrow(0, o, n))
                .collect::<Vec<_>>(),
            0,
        );
        let shift = *self.shift.get_or_insert_with(|| centring_shift(&counted));
        let scale = 2f64.powi(shift as i32);
        for (h, &layer) in log2_histograms(&grads, &self.segments, scale)
            .iter()
            .zip(&self.layer_of)
        {
            self.per_layer[layer].add(h);
        }
        let whole = [(0, counted.numel() as i64)];
        self.paper.add(&log2_histograms(&counted, &whole, 1.0)[0]);
        let magnitude = counted.abs() / scale;
        let outside = magnitude
            .gt(0.0)
            .logical_and(&magnitude.lt(MIN_ABS).logical_or(&magnitude.gt(MAX_ABS)));
        self.clamped += outside.sum(Kind::Double).double_value(&[]);
        self.nonzero += magnitude.gt(0.0).sum(Kind::Double).double_value(&[]);
        Ok(())
    }

    fn measurement(
        self,
        model: &str,
        bn: bool,
        lane: &mut Session,
        started: Instant,
    ) -> Measurement {
        let shift = self.shift.unwrap_or(0);
        let merged = merge(&self.per_layer);
        let spread = spread(&self.per_layer).map(|s| {
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
        Measurement {
            model: model.to_string(),
            bn,
            counted: self.segments.iter().map(|s| s.1).sum(),
            layers: self.per_layer.len(),
            spread,
            shift,
            clamped_fraction: self.clamped / self.nonzero.max(1.0),
            low_octave: LOW_OCTAVE + shift,
            proportions: merged
                .octaves()
                .iter()
                .map(|c| c / merged.nonzero().max(1.0))
                .collect(),
            loss: lane.take_window().mean_loss(),
            wall_s: started.elapsed().as_secs_f64(),
            paper_histogram: self.paper,
        }
    }
}

/// The power of two that puts the median of `log2|g|` in the middle of the histograms'
/// range: the paper clamps |g| to [1e-8, 1e4], but a deep network without BN has gradients
/// far above 1e4 at initialisation, and clamping would cut its spread short.
fn centring_shift(counted: &Tensor) -> i64 {
    let magnitude = counted.abs();
    let nonzero = magnitude.masked_select(&magnitude.gt(0.0));
    if nonzero.numel() == 0 {
        return 0;
    }
    let median = nonzero.log2().median().double_value(&[]);
    median.round() as i64 - (LOW_OCTAVE + HIGH_OCTAVE) / 2
}
