//! `check scale-free` (claim 2): AdamW and AdamProx are scale-free, Adam-ℓ2 is not.
//!
//! Every run starts from the same initial weights and sees the same batches (same model
//! seed, same loader seed), so the only difference between a run and its reference
//! (loss × 1, same optimizer and ε) is the rescaling: the loss multiplied by a constant,
//! or each gradient coordinate multiplied by a fixed random factor `10^U(−D, D)`. With
//! ε = 0, `u_t` does not see the scale, so AdamW's and AdamProx's iterates differ from the
//! reference only by float rounding; Adam-ℓ2 adds `λ·x` to the rescaled gradient, so its
//! trajectory changes. All runs advance in lockstep, one batch at a time.
mod lanes;
mod precision;
#[cfg(test)]
mod tests;
mod verdict;
mod watch;

pub use precision::{
    Dtypes, Float64, Thresholds, BF16_RATIO, BF16_ROUNDING_TOLERANCE, RATIO_EPS, RATIO_EXACT,
    ROUNDING_TOLERANCE,
};
pub use verdict::{summarise, verdict, worst_deviation, CLAIM};

use super::input::Input;
use super::setup::{CommonSettings, Setup};
use crate::distinct::distinct;
use crate::optimizers::Method;
use crate::train::lockstep;
use anyhow::{bail, Result};
use serde::Serialize;
use std::time::Instant;
use watch::ScaleFreeWatch;

/// λ: the paper's best Adam-ℓ2 setting for ResNet-20 without BN.
pub const DEFAULT_WD: f64 = 5e-4;
/// Images per batch unless the setup says otherwise.
pub const DEFAULT_BATCH_SIZE: usize = 32;

/// The check's settings. The setup's run configuration gives the model, the data, η_0
/// and λ (> 0) shared by the three optimizers, β1, β2, the seed and the precision (fp32
/// or bf16, judged with its own rounding tolerance); its ε is not used: each run has
/// one of `eps`.
#[derive(Clone, Debug)]
pub struct ScaleFreeSettings {
    pub setup: Setup,
    /// Optimizer steps of each run.
    pub steps: u64,
    /// Measure the deviations every N steps [default: steps / 5].
    pub every: Option<u64>,
    /// Adam's ε: every setting runs once per value (0 runs as a stand-in, see
    /// `setup::zero_eps`).
    pub eps: Vec<f64>,
    /// Loss multipliers compared with loss × 1.
    pub mults: Vec<f64>,
    /// When the runs' weights and optimizer state are float64.
    pub float64: Float64,
    /// Per-coordinate gradient factors 10^U(−D, D) with this D (0 skips those runs).
    pub coord_decades: f64,
}

impl ScaleFreeSettings {
    pub fn dtypes(&self) -> Dtypes {
        Dtypes {
            precision: self.setup.run.training.precision,
            float64: self.float64,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scaling {
    /// The loss multiplied by `factor` (1 is the reference run).
    Loss { factor: f64 },
    /// Each gradient coordinate multiplied by a fixed factor `10^U(−decades, decades)`.
    Coordinates { decades: f64 },
}

impl Scaling {
    pub fn label(self) -> String {
        match self {
            Scaling::Loss { factor: 1.0 } => "loss ×1 (reference)".into(),
            Scaling::Loss { factor } => format!("loss ×{factor}"),
            Scaling::Coordinates { decades } => format!("coord 10^U(−{decades},{decades})"),
        }
    }

    pub fn is_reference(self) -> bool {
        self == Scaling::Loss { factor: 1.0 }
    }
}

#[derive(Debug, Serialize)]
pub struct Settings {
    pub model: String,
    pub bn: bool,
    pub steps: u64,
    pub eps: Vec<f64>,
    pub loss_multipliers: Vec<f64>,
    pub coord_decades: f64,
    /// `auto`, `f32`, `f64` or `bf16` ([`Dtypes::label`]); each run records the one it used.
    pub precision: String,
    #[serde(flatten)]
    pub common: CommonSettings,
}

#[derive(Debug, Serialize)]
pub struct Deviation {
    pub step: u64,
    /// `‖x_c − x_1‖ / ‖x_1‖`; `null` when a run diverged.
    pub deviation: f64,
}

/// One run: an optimizer, an ε and a rescaling.
#[derive(Debug, Serialize)]
pub struct Run {
    pub optimizer: Method,
    pub eps: f64,
    /// The ε the optimizer was given (a tiny stand-in for ε = 0, see `setup::zero_eps`).
    pub eps_used: f64,
    /// `f32` or `f64`: weights, activations, gradients and optimizer state.
    pub precision: &'static str,
    pub scaling: Scaling,
    pub label: String,
    pub reference: bool,
    pub deviations: Vec<Deviation>,
    pub final_deviation: Option<f64>,
    pub max_deviation: Option<f64>,
    /// Mean training loss (un-multiplied) and accuracy over the last measuring interval.
    pub train_loss: Option<f64>,
    pub train_accuracy: Option<f64>,
    pub diverged_at: Option<u64>,
}

/// The deciding numbers at one ε.
#[derive(Debug, Serialize)]
pub struct EpsSummary {
    pub eps: f64,
    /// Largest deviation of AdamW and AdamProx over all rescalings and measuring steps.
    pub scale_free_max: f64,
    /// Smallest final deviation of Adam-ℓ2 over all rescalings.
    pub adam_l2_min: f64,
    pub ratio: f64,
}

/// What `--json` writes.
#[derive(Debug, Serialize)]
pub struct Report {
    pub check: &'static str,
    pub verdict: super::verdict::Verdict,
    pub settings: Settings,
    pub summary: Vec<EpsSummary>,
    pub runs: Vec<Run>,
    pub wall_s: f64,
}

/// What the check tells as it measures.
pub trait ScaleFreeProgress {
    /// The runs after step `t`'s measurement: each run's loss and accuracy over the
    /// interval, and each rescaled run's deviation at `t` (its last).
    fn measured(&mut self, _t: u64, _runs: &[Run]) {}
}

/// Tells nothing.
impl ScaleFreeProgress for () {}

/// The check's runs, built and not run yet.
pub struct ScaleFreeLanes {
    settings: ScaleFreeSettings,
    started: Instant,
    input: Input,
    /// The ε values, each once, in the order given.
    pub eps_values: Vec<f64>,
    /// Loss × 1 (the reference), × each multiplier, and the coordinate factors.
    pub scalings: Vec<Scaling>,
    lanes: lanes::Lanes,
}

impl ScaleFreeLanes {
    /// Checks the settings, opens the input and builds every run from one initialisation.
    pub fn open(settings: &ScaleFreeSettings) -> Result<ScaleFreeLanes> {
        let started = Instant::now();
        if settings.setup.run.optimizer.weight_decay == 0.0 {
            bail!("--wd must be > 0: with λ = 0 the three optimizers are all plain Adam, with nothing to tell apart");
        }
        settings.dtypes().validate()?;
        let input = Input::open(&settings.setup, None)?;
        let eps_values = distinct(settings.eps.iter().copied());
        let loss_factors = [1.0].iter().chain(&settings.mults);
        let mut scalings = distinct(loss_factors.map(|&factor| Scaling::Loss { factor }));
        if settings.coord_decades > 0.0 {
            scalings.push(Scaling::Coordinates {
                decades: settings.coord_decades,
            });
        }
        let lanes = lanes::build(settings, &input, &eps_values, &scalings)?;
        Ok(ScaleFreeLanes {
            settings: settings.clone(),
            started,
            input,
            eps_values,
            scalings,
            lanes,
        })
    }

    pub fn input(&self) -> &Input {
        &self.input
    }

    /// Parameters of the model.
    pub fn numel(&self) -> i64 {
        self.lanes.sessions[0].trainer().flat_values().numel() as i64
    }

    /// How many runs step in lockstep.
    pub fn runs(&self) -> usize {
        self.lanes.runs.len()
    }

    /// Trains every run in lockstep, measuring the deviations every `every` steps.
    pub fn run(self, progress: &mut dyn ScaleFreeProgress) -> Result<Report> {
        let ScaleFreeLanes {
            settings,
            started,
            input,
            eps_values,
            lanes:
                lanes::Lanes {
                    runs,
                    references,
                    mut sessions,
                },
            ..
        } = self;
        let steps = settings.steps;
        let every = settings.every.unwrap_or((steps / 5).max(1));
        let mut watch = ScaleFreeWatch::new(runs, references, every, steps, progress);
        let mut stream = input.stream();
        lockstep::run(&mut sessions, steps, || stream.next_batch(), &mut watch)?;
        let runs = watch.runs;
        refuse_overflowing_multipliers(&runs)?;
        let summary: Vec<EpsSummary> = eps_values
            .iter()
            .map(|&eps| summarise(&runs, eps))
            .collect();
        let run = &settings.setup.run;
        Ok(Report {
            check: "scale-free",
            verdict: verdict(&summary, steps, settings.dtypes().thresholds()),
            settings: Settings {
                model: run.model.name.clone(),
                bn: run.model.bn,
                steps,
                eps: eps_values,
                loss_multipliers: settings.mults.clone(),
                coord_decades: settings.coord_decades,
                precision: settings.dtypes().label().to_string(),
                common: CommonSettings::new(&input, run),
            },
            summary,
            runs,
            wall_s: started.elapsed().as_secs_f64(),
        })
    }
}

/// Refuses a loss multiplier whose rescaled runs diverged where the same optimizer and ε
/// without it did not: the squared gradients overflowed the float range (Adam's second
/// moment became infinite, every update 0), which says nothing of scale-freeness, so no
/// verdict is given on it.
fn refuse_overflowing_multipliers(runs: &[Run]) -> Result<()> {
    for run in runs.iter().filter(|r| r.diverged_at.is_some()) {
        let Scaling::Loss { factor } = run.scaling else {
            continue;
        };
        let reference_trained = runs.iter().any(|r| {
            r.reference
                && r.optimizer == run.optimizer
                && r.eps == run.eps
                && r.diverged_at.is_none()
        });
        if factor > 1.0 && reference_trained {
            bail!(
                "--mults {factor:e}: {} at ε = {:e} with the loss multiplied by {factor:e} \
                 diverged at step {} while the same run without it trained: the squared \
                 gradients overflow the float range (Adam's second moment becomes infinite and \
                 every update 0), which says nothing of scale-freeness; give smaller multipliers",
                run.optimizer,
                run.eps,
                run.diverged_at.unwrap_or(0)
            );
        }
    }
    Ok(())
}
