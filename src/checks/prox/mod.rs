//! `check prox` (claim 1): AdamW is the first-order approximation of AdamProx, so from
//! one initialisation and one data order their trajectories should stay close.
//!
//! Two measurements:
//! - the trajectories: both optimizers train the same model on the same batches. Their gap
//!   `‖x_W − x_P‖` grows over the steps however small the per-step difference, because
//!   training amplifies any perturbation (Adam turns gradients near zero into full-size
//!   steps of either sign). So a third run, the control, is AdamW again from weights moved
//!   by one float32 ulp: its gap to AdamW is what float rounding alone produces, and
//!   "nearly the same trajectory" means an AdamW–AdamProx gap of that size;
//! - the per-step difference: at every step, from AdamW's state (parameters, gradient and
//!   moments), one step of each rule is taken in float64 and `‖x_W' − x_P'‖` is compared
//!   with the first-order prediction `a·‖η u‖` (`a = λ·s_t`; exactly
//!   `x_W' − x_P' = −(a·η u + a²·x)/(1 + a)`). Float64, because in float32 a difference of
//!   `a·η ≈ 5e-8` per coordinate is the size of the rounding of the parameters themselves.
mod shadow;
#[cfg(test)]
mod tests;
mod verdict;
mod watch;

pub use verdict::{verdict, CLAIM, CLOSE_TOLERANCE, CONTROL_FACTOR, PREDICTION_FACTOR};

use super::input::Input;
use super::setup::{CommonSettings, Setup};
use crate::optimizers::Method;
use crate::train::{lockstep, Session};
use anyhow::Result;
use serde::Serialize;
use shadow::{nudge_by_one_ulp, Shadow};
use std::time::Instant;
use tch::{Kind, Tensor};
use watch::ProxWatch;

/// λ: the paper's best AdamW setting for ResNet-20 without BN.
pub const DEFAULT_WD: f64 = 5e-5;
/// Images per batch unless the setup says otherwise.
pub const DEFAULT_BATCH_SIZE: usize = 64;

/// The check's settings: its lanes' run configuration (model, data, η_0, λ, β1, β2, ε,
/// seed, precision: fp32, or bf16, where the control runs in bfloat16 too and so
/// measures its rounding, hence the same rule), and how long it runs.
#[derive(Clone, Debug)]
pub struct ProxSettings {
    pub setup: Setup,
    /// Optimizer steps of each run.
    pub steps: u64,
    /// A table row every N steps [default: steps / 10].
    pub every: Option<u64>,
}

/// The settings the report repeats.
#[derive(Debug, Serialize)]
pub struct Settings {
    pub model: String,
    pub bn: bool,
    pub steps: u64,
    pub eps: f64,
    /// `fp32` or `bf16`: the dtype of the runs' convolutions and matrix products, which
    /// sets the verdict's noise (the control measures it).
    pub precision: &'static str,
    #[serde(flatten)]
    pub common: CommonSettings,
}

/// One table row: the state after `step`, and means over the steps since the last row.
#[derive(Debug, Serialize)]
pub struct Row {
    pub step: u64,
    /// `‖x_W − x_P‖ / ‖x_W‖`.
    pub relative_distance: f64,
    /// `‖x_W − x_C‖ / ‖x_W‖` for the control: AdamW from weights one float32 ulp away.
    pub control_distance: f64,
    pub loss_control: Option<f64>,
    /// `‖x_W − x_P‖ / ‖x_W − x_0‖`: the gap as a fraction of the distance travelled.
    pub gap_over_travelled: f64,
    pub loss_adamw: Option<f64>,
    pub loss_adam_prox: Option<f64>,
    pub accuracy_adamw: Option<f64>,
    pub accuracy_adam_prox: Option<f64>,
    /// Mean per-step `‖x_W' − x_P'‖` from the same state.
    pub step_difference: f64,
    /// Mean per-step `a·‖η u‖`.
    pub step_prediction: f64,
    /// `step_difference / step_prediction`; `None` when λ = 0.
    pub step_ratio: Option<f64>,
}

/// What `--json` writes.
#[derive(Debug, Serialize)]
pub struct Report {
    pub check: &'static str,
    pub verdict: super::verdict::Verdict,
    pub settings: Settings,
    pub rows: Vec<Row>,
    pub max_relative_distance: f64,
    pub final_relative_distance: f64,
    /// The control's final `‖x_W − x_C‖ / ‖x_W‖`, and the AdamW–AdamProx gap over it.
    pub final_control_distance: f64,
    pub distance_over_control: f64,
    pub final_gap_over_travelled: f64,
    pub final_loss_adamw: Option<f64>,
    pub final_loss_adam_prox: Option<f64>,
    /// Extremes of the per-step `‖x_W' − x_P'‖ / (a·‖η u‖)` over all steps.
    pub step_ratio_min: Option<f64>,
    pub step_ratio_max: Option<f64>,
    pub steps_done: u64,
    pub diverged: Option<String>,
    pub wall_s: f64,
}

/// What the check tells as it measures.
pub trait ProxProgress {
    /// The per-step difference of the rules from AdamW's state at step `t`, and its
    /// first-order prediction.
    fn step_difference(&mut self, _t: u64, _measured: f64, _predicted: f64) {}
    /// A row, when it is measured.
    fn row(&mut self, _row: &Row) {}
}

/// Tells nothing.
impl ProxProgress for () {}

/// The check's lanes, built and not run yet: AdamW, AdamProx and the control, with the
/// float64 shadows of the two rules.
pub struct ProxLanes {
    settings: ProxSettings,
    started: Instant,
    input: Input,
    lanes: Vec<Session>,
    x0: Tensor,
    shadows: [Shadow; 2],
}

impl ProxLanes {
    /// Opens the input and builds the lanes from one initialisation (the control's
    /// weights one ulp away).
    pub fn open(settings: &ProxSettings) -> Result<ProxLanes> {
        let started = Instant::now();
        let setup = &settings.setup;
        let input = Input::open(setup, None)?;
        setup.run.training.precision.check_device(input.device)?;
        let eps = setup.run.optimizer.adam_eps();
        let config = |mode| setup.lane(setup.optimizer(mode, eps, Kind::Float));
        let lane = |mode| input.lane(&config(mode), Kind::Float, settings.steps);
        let modes = [Method::ADAMW, Method::ADAM_PROX, Method::ADAMW];
        let lanes = modes.map(lane).into_iter().collect::<Result<Vec<_>>>()?;
        nudge_by_one_ulp(&lanes[2].trainer().flat_values());
        let x0 = lanes[0].trainer().flat_values().copy();
        let numel = x0.numel() as i64;
        let shadow = |mode| Shadow::new(numel, config(mode).optimizer.adam(), input.device);
        let shadows = [shadow(Method::ADAMW)?, shadow(Method::ADAM_PROX)?];
        Ok(ProxLanes {
            settings: settings.clone(),
            started,
            input,
            lanes,
            x0,
            shadows,
        })
    }

    pub fn input(&self) -> &Input {
        &self.input
    }

    /// Parameters of the model.
    pub fn numel(&self) -> i64 {
        self.x0.numel() as i64
    }

    /// Trains the lanes in lockstep, measuring after every backward and every row's step.
    pub fn run(self, progress: &mut dyn ProxProgress) -> Result<Report> {
        let ProxLanes {
            settings,
            started,
            input,
            mut lanes,
            x0,
            shadows,
        } = self;
        let steps = settings.steps;
        let mut watch = ProxWatch::new(
            shadows,
            settings.setup.run.optimizer.weight_decay,
            settings.every.unwrap_or((steps / 10).max(1)),
            steps,
            x0,
            progress,
        );
        let mut stream = input.stream();
        let steps_done = lockstep::run(&mut lanes, steps, || stream.next_batch(), &mut watch)?;
        Ok(report(&settings, &input, watch, steps_done, started))
    }
}

fn report(
    settings: &ProxSettings,
    input: &Input,
    watch: ProxWatch,
    steps_done: u64,
    started: Instant,
) -> Report {
    let a = watch.a;
    let (rows, ratios, diverged) = watch.finish();
    let max_relative_distance = rows.iter().map(|r| r.relative_distance).fold(0.0, f64::max);
    let last = rows.last();
    let (ratio_min, ratio_max) = ratios.unzip();
    let run = &settings.setup.run;
    Report {
        check: "prox",
        verdict: verdict(
            &rows,
            steps_done,
            diverged.as_deref(),
            ratio_min,
            ratio_max,
            a,
        ),
        settings: Settings {
            model: run.model.name.clone(),
            bn: run.model.bn,
            steps: settings.steps,
            eps: run.optimizer.adam_eps(),
            precision: run.training.precision.name(),
            common: CommonSettings::new(input, run),
        },
        max_relative_distance,
        final_relative_distance: last.map_or(0.0, |r| r.relative_distance),
        final_control_distance: last.map_or(0.0, |r| r.control_distance),
        distance_over_control: last.map_or(f64::NAN, |r| r.relative_distance / r.control_distance),
        final_gap_over_travelled: last.map_or(0.0, |r| r.gap_over_travelled),
        final_loss_adamw: last.and_then(|r| r.loss_adamw),
        final_loss_adam_prox: last.and_then(|r| r.loss_adam_prox),
        step_ratio_min: ratio_min,
        step_ratio_max: ratio_max,
        steps_done,
        diverged,
        wall_s: started.elapsed().as_secs_f64(),
        rows,
    }
}
