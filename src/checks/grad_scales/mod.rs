//! `check grad-scales` (claim 3): gradients of deep networks without BN span more orders
//! of magnitude than with BN, which is where a scale-free optimizer matters.
//!
//! Per model, with and without BN (same seed), the gradient of the loss on the first
//! batches (after `steps` AdamW steps, 0 by default: at initialisation) is binned by
//! `log2|g|` over every weight outside BN layers, as in the paper's histograms, and its
//! spread is read off: the 1st, 50th and 99th percentiles, `p99 − p01`, and the range of
//! the per-layer medians.
mod figure;
mod measure;
#[cfg(test)]
mod tests;
mod verdict;

pub use verdict::{verdict, CLAIM};

use super::input::Input;
use super::setup::{CommonSettings, Setup};
use crate::distinct::distinct;
use crate::scales::{Log2Histogram, ScaleSpread};
use anyhow::{bail, Result};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

/// λ of the AdamW steps: the paper's best for ResNet-20 without BN.
pub const DEFAULT_WD: f64 = 5e-5;
pub const DEFAULT_MODELS: &str = "resnet20,resnet56,resnet110,resnet218,densenet100";
/// Images per batch unless the setup says otherwise.
pub const DEFAULT_BATCH_SIZE: usize = 64;

/// The check's settings. The setup's run configuration gives the data, the AdamW steps'
/// η_0, λ, β1, β2 and ε, and the seed; its model is not used: each of `models` is
/// measured with and without BN.
#[derive(Clone, Debug)]
pub struct GradScalesSettings {
    pub setup: Setup,
    pub models: Vec<String>,
    /// AdamW steps before measuring (0: at initialisation).
    pub steps: u64,
    /// Batches whose gradients are measured (their histograms are added up).
    pub batches: usize,
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

/// What `--json` writes.
#[derive(Debug, Serialize)]
pub struct Report {
    pub check: &'static str,
    pub verdict: super::verdict::Verdict,
    pub settings: Settings,
    pub measurements: Vec<Measurement>,
    pub png: PathBuf,
    pub wall_s: f64,
}

/// What the check tells as it measures.
pub trait GradScalesProgress {
    /// A model (with or without BN), when it is measured.
    fn measured(&mut self, _m: &Measurement) {}
}

/// Tells nothing.
impl GradScalesProgress for () {}

/// The check with its input open, before it measures.
pub struct GradScales {
    settings: GradScalesSettings,
    started: Instant,
    input: Input,
    /// Each model once, in the order given.
    pub models: Vec<String>,
}

impl GradScales {
    pub fn open(settings: &GradScalesSettings) -> Result<GradScales> {
        let started = Instant::now();
        let input = Input::open(&settings.setup, None)?;
        let models = distinct(settings.models.iter().cloned());
        if models.is_empty() {
            bail!("--models: give at least one model");
        }
        Ok(GradScales {
            settings: settings.clone(),
            started,
            input,
            models,
        })
    }

    pub fn input(&self) -> &Input {
        &self.input
    }

    /// Measures every model without and with BN, judges, and draws the histograms to `png`.
    pub fn run(self, png: PathBuf, progress: &mut dyn GradScalesProgress) -> Result<Report> {
        let GradScales {
            settings,
            started,
            input,
            models,
        } = self;
        let mut measurements = Vec::new();
        for model in &models {
            for bn in [false, true] {
                let m = measure::measure(&settings, &input, model, bn)?;
                progress.measured(&m);
                measurements.push(m);
            }
        }
        let verdict = verdict(&models, &measurements);
        let title = format!(
            "log2|g| over non-BN weights, {} batch {}, step {}",
            input.description, input.batch_size, settings.steps
        );
        figure::draw(&png, &models, &measurements, &title)?;
        let run = &settings.setup.run;
        Ok(Report {
            check: "grad-scales",
            verdict,
            settings: Settings {
                models: models.clone(),
                batches: settings.batches,
                steps: settings.steps,
                eps: run.optimizer.adam_eps(),
                common: CommonSettings::new(&input, run),
            },
            measurements,
            png,
            wall_s: started.elapsed().as_secs_f64(),
        })
    }
}

/// `with BN` or `without BN`.
pub fn bn_label(bn: bool) -> &'static str {
    if bn {
        "with BN"
    } else {
        "without BN"
    }
}

fn find<'a>(measurements: &'a [Measurement], model: &str, bn: bool) -> Option<&'a Measurement> {
    measurements.iter().find(|m| m.model == model && m.bn == bn)
}
