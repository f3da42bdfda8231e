//! `scalefree check prox` (claim 1): AdamW is the first-order approximation of AdamProx,
//! so from one initialisation and one data order their trajectories should stay close.
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
use super::input::Input;
use super::options::{at_least_one, non_negative, zero_eps, InputArgs, ModelArgs, OptimizerArgs};
use super::present::{device_label, fixed, sci, CommonSettings, OutputArgs, Verdict};
use super::{distance, norm};
use crate::sinks::tensorboard::Board;
use crate::train::lockstep::{self, Flow, LaneObserver};
use crate::train::Session;
use anyhow::Result;
use clap::Args;
use optim::{Adam, AdamConfig, DecayMode, ParamGroup};
use serde::Serialize;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

pub const CLAIM: &str = "claim 1 (AdamW ≈ AdamProx)";
/// λ: the paper's best AdamW setting for ResNet-20 without BN.
pub const DEFAULT_WD: f64 = 5e-5;
/// "Nearly the same trajectory": at the end, the AdamW–AdamProx gap is within this
/// fraction of ‖x_W‖ …
pub const CLOSE_TOLERANCE: f64 = 1e-2;
/// … or at most this many times the control's gap (long runs, where training amplifies
/// even float rounding beyond 1%). The same rule at `--precision bf16`, where the control
/// runs in bfloat16 too and so measures its rounding: measured on ResNet-20 without BN,
/// batch 64, 2,000 CIFAR-10 images, 60 steps, the AdamW–AdamProx gap was 1.12e-2 and the
/// control's 1.12e-2 (SUPPORTED, allowed 3.4e-2), per-step difference / a·η‖u‖ 0.999–1.002.
pub const CONTROL_FACTOR: f64 = 3.0;
/// The per-step difference must be within this factor of the first-order prediction.
pub const PREDICTION_FACTOR: f64 = 10.0;

#[derive(Args, Debug)]
pub struct ProxArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Optimizer steps of each run.
    #[arg(long, default_value_t = 200, value_parser = at_least_one::<u64>)]
    pub steps: u64,
    /// A table row every N steps [default: steps / 10].
    #[arg(long, value_parser = at_least_one::<u64>)]
    pub every: Option<u64>,
    #[command(flatten)]
    pub optimizer: OptimizerArgs,
    #[arg(long, default_value_t = 1e-8, value_parser = non_negative)]
    pub eps: f64,
    /// As `train --precision`: fp32, or bf16 (bfloat16 convolutions and matrix products on
    /// float32 weights; the control run then measures bfloat16's rounding, so the verdict's
    /// rule is the same), f16 on CUDA.
    #[arg(long, value_enum, default_value = "fp32")]
    pub precision: crate::config::Precision,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Serialize)]
pub struct Settings {
    pub model: String,
    pub bn: bool,
    pub steps: u64,
    pub eps: f64,
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

#[derive(Debug, Serialize)]
pub struct Report {
    pub check: &'static str,
    pub verdict: Verdict,
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

/// The flat buffers of an optimizer's only parameter group (shallow clones: writing to
/// them writes the optimizer's state).
struct Buffers {
    values: Tensor,
    grads: Tensor,
    exp_avg: Tensor,
    exp_avg_sq: Tensor,
}

fn buffers(opt: &Adam) -> Buffers {
    let group = opt.groups().next().expect("one parameter group");
    Buffers {
        values: group.values().shallow_clone(),
        grads: group.grads().shallow_clone(),
        exp_avg: group.exp_avg().shallow_clone(),
        exp_avg_sq: group.exp_avg_sq().shallow_clone(),
    }
}

/// A float64 copy of an optimizer state, stepped with one rule.
struct Shadow {
    _param: Tensor,
    opt: Adam,
}

impl Shadow {
    fn new(numel: i64, config: AdamConfig, device: Device) -> Result<Shadow> {
        let param = Tensor::zeros([numel], (Kind::Double, device)).set_requires_grad(true);
        // A defined gradient, so that the optimizer links it to its flat buffer and keeps
        // what is written there instead of zeroing it before the step.
        param.sum(Kind::Double).backward();
        let opt = config.build_groups(vec![ParamGroup::from_tensors(
            "shadow",
            [param.shallow_clone()],
        )])?;
        Ok(Shadow { _param: param, opt })
    }

    /// Loads `state` (values, gradient, moments) and takes one step; returns the new values.
    /// Stepping every step keeps the step count, hence the bias correction, in line.
    fn step_from(&mut self, state: &Buffers) -> Result<Tensor> {
        let mine = buffers(&self.opt);
        tch::no_grad(|| {
            mine.values.shallow_clone().copy_(&state.values);
            mine.grads.shallow_clone().copy_(&state.grads);
            mine.exp_avg.shallow_clone().copy_(&state.exp_avg);
            mine.exp_avg_sq.shallow_clone().copy_(&state.exp_avg_sq);
        });
        self.opt.step()?;
        Ok(mine.values.copy())
    }
}

/// Moves every weight one float32 ulp, up and down in turn: a perturbation the size of
/// float rounding, whose effect on the trajectory is the floor below which no two
/// runs can be told apart.
fn nudge_by_one_ulp(values: &Tensor) {
    tch::no_grad(|| {
        let n = values.numel() as i64;
        let up = Tensor::arange(n, (Kind::Int64, values.device()))
            .remainder(2)
            .eq(0);
        let inf = Tensor::full_like(values, f64::INFINITY);
        let target = inf.where_self(&up, &(-&inf));
        values.shallow_clone().copy_(&values.nextafter(&target));
    });
}

/// The check as its lanes' observer: AdamW (lane 0), AdamProx (lane 1) and the control
/// (lane 2), with the float64 shadows that take one step of each rule from AdamW's state.
struct ProxWatch<'a> {
    shadow_w: Shadow,
    shadow_p: Shadow,
    /// λ·s_t with a constant schedule.
    a: f64,
    every: u64,
    steps: u64,
    x0: Tensor,
    board: Option<&'a mut Board>,
    rows: Vec<Row>,
    diff_sum: f64,
    pred_sum: f64,
    ratio_min: f64,
    ratio_max: f64,
    diverged: Option<String>,
}

impl LaneObserver for ProxWatch<'_> {
    fn gradients_ready(&mut self, t: u64, lanes: &[Session]) -> Result<Flow> {
        if let Some(which) = ["AdamW", "AdamProx"]
            .iter()
            .zip(lanes)
            .find_map(|(name, lane)| lane.diverged_at().map(|_| name))
        {
            self.diverged = Some(format!("{which}'s loss stopped being finite at step {t}"));
            return Ok(Flow::Stop);
        }
        let state = buffers(lanes[0].trainer().optimizer());
        let next_w = self.shadow_w.step_from(&state)?;
        let next_p = self.shadow_p.step_from(&state)?;
        let measured = distance(&next_w, &next_p);
        let eta_u = state.values.to_kind(Kind::Double) - &next_p * (1.0 + self.a);
        let predicted = self.a * norm(&eta_u);
        self.diff_sum += measured;
        self.pred_sum += predicted;
        if predicted > 0.0 {
            self.ratio_min = self.ratio_min.min(measured / predicted);
            self.ratio_max = self.ratio_max.max(measured / predicted);
        }
        if let Some(board) = self.board.as_deref_mut() {
            board.scalar("prox/step_difference/measured", measured, t);
            board.scalar("prox/step_difference/predicted", predicted, t);
        }
        Ok(Flow::Continue)
    }

    fn stepped(&mut self, t: u64, lanes: &mut [Session]) -> Result<Flow> {
        if t.is_multiple_of(self.every) || t == self.steps {
            let row = self.row(t, lanes);
            print_row(&row);
            if let Some(board) = self.board.as_deref_mut() {
                log_row(board, &row);
            }
            self.rows.push(row);
            (self.diff_sum, self.pred_sum) = (0.0, 0.0);
        }
        Ok(Flow::Continue)
    }
}

impl ProxWatch<'_> {
    /// The row after step `t`, from the lanes' weights and their statistics since the
    /// last row.
    fn row(&self, t: u64, lanes: &mut [Session]) -> Row {
        let [w, p, c] = [0, 1, 2].map(|i| lanes[i].take_window());
        let xw = lanes[0].trainer().flat_values();
        let xp = lanes[1].trainer().flat_values();
        let gap = distance(&xw, &xp);
        let interval = (t - self.rows.last().map_or(0, |r| r.step)) as f64;
        Row {
            step: t,
            relative_distance: gap / norm(&xw),
            control_distance: distance(&xw, &lanes[2].trainer().flat_values()) / norm(&xw),
            loss_control: c.mean_loss(),
            gap_over_travelled: gap / distance(&xw, &self.x0),
            loss_adamw: w.mean_loss(),
            loss_adam_prox: p.mean_loss(),
            accuracy_adamw: w.accuracy(),
            accuracy_adam_prox: p.accuracy(),
            step_difference: self.diff_sum / interval,
            step_prediction: self.pred_sum / interval,
            step_ratio: (self.pred_sum > 0.0).then(|| self.diff_sum / self.pred_sum),
        }
    }
}

fn print_header() {
    println!(
        "{:>6}  {:>12}  {:>12}  {:>8}  {:>8}  {:>8}  {:>10}  {:>10}  {:>6}",
        "step",
        "‖xW−xP‖/‖xW‖",
        "‖xW−xC‖/‖xW‖",
        "loss W",
        "loss P",
        "loss C",
        "step diff",
        "a·η‖u‖",
        "ratio"
    );
    println!("        (C: the control, AdamW from initial weights one float32 ulp away; step diff: one step of each rule from AdamW's state, in float64)");
}

fn print_row(row: &Row) {
    println!(
        "{:>6}  {:>12}  {:>12}  {:>8}  {:>8}  {:>8}  {:>10}  {:>10}  {:>6}",
        row.step,
        sci(Some(row.relative_distance)),
        sci(Some(row.control_distance)),
        fixed(row.loss_adamw, 4),
        fixed(row.loss_adam_prox, 4),
        fixed(row.loss_control, 4),
        sci(Some(row.step_difference)),
        sci(Some(row.step_prediction)),
        fixed(row.step_ratio, 3)
    );
}

fn log_row(board: &mut Board, row: &Row) {
    let t = row.step;
    board.scalar("prox/relative_distance", row.relative_distance, t);
    board.scalar("prox/control_distance", row.control_distance, t);
    board.scalar("prox/gap_over_travelled", row.gap_over_travelled, t);
    board.scalar_if_any("prox/loss/adamw", row.loss_adamw, t);
    board.scalar_if_any("prox/loss/adam-prox", row.loss_adam_prox, t);
    board.scalar_if_any("prox/loss/control", row.loss_control, t);
    board.flush();
}

pub fn run(args: &ProxArgs) -> Result<Report> {
    let started = Instant::now();
    let input = Input::open(&args.input, 64, None)?;
    let (device, batch_size, bn) = (input.device, input.batch_size, args.model.bn);
    args.precision.check_device(device)?;
    let model = input
        .model(&args.model.model, bn)
        .with_compute_kind(args.precision.compute_kind());
    let wd = args.optimizer.wd.unwrap_or(DEFAULT_WD);
    let config = |mode| args.optimizer.adam(mode, wd, args.eps, Kind::Float);
    let lane = |mode| input.lane(&model, config(mode), Kind::Float, args.steps);
    let mut lanes = [
        DecayMode::Decoupled,
        DecayMode::Proximal,
        DecayMode::Decoupled,
    ]
    .map(lane)
    .into_iter()
    .collect::<Result<Vec<_>>>()?;
    nudge_by_one_ulp(&lanes[2].trainer().flat_values());
    let x0 = lanes[0].trainer().flat_values().copy();
    let numel = x0.numel() as i64;
    if args.eps == 0.0 {
        eprintln!(
            "note: ε = 0 runs as ε = {:e} (0/0 would make never-updated coordinates NaN)",
            zero_eps(Kind::Float)
        );
    }
    let mut board = args.output.create_outputs()?;
    println!(
        "check prox: {} {} BN, {} parameters, {} steps of batch {batch_size} on {} ({}, {}), η_0 = {:e}, λ = {:e}, ε = {:e}",
        args.model.model,
        if bn { "with" } else { "without" },
        numel,
        args.steps,
        input.description,
        device_label(device),
        args.precision.name(),
        args.optimizer.lr,
        wd,
        args.eps
    );
    print_header();
    let mut watch = ProxWatch {
        shadow_w: Shadow::new(numel, config(DecayMode::Decoupled), device)?,
        shadow_p: Shadow::new(numel, config(DecayMode::Proximal), device)?,
        a: wd,
        every: args.every.unwrap_or((args.steps / 10).max(1)),
        steps: args.steps,
        x0,
        board: board.as_mut(),
        rows: Vec::new(),
        diff_sum: 0.0,
        pred_sum: 0.0,
        ratio_min: f64::INFINITY,
        ratio_max: f64::NEG_INFINITY,
        diverged: None,
    };
    let mut stream = input.stream();
    let steps_done = lockstep::run(&mut lanes, args.steps, || stream.next_batch(), &mut watch)?;
    let report = report(args, &input, wd, watch, steps_done, started);
    if let Some(message) = &report.diverged {
        println!("{message}");
    }
    args.output
        .finish(&report.verdict, report.wall_s, &report)?;
    Ok(report)
}

fn report(
    args: &ProxArgs,
    input: &Input,
    wd: f64,
    watch: ProxWatch,
    steps_done: u64,
    started: Instant,
) -> Report {
    let rows = watch.rows;
    let max_relative_distance = rows.iter().map(|r| r.relative_distance).fold(0.0, f64::max);
    let last = rows.last();
    let ratios = (watch.ratio_min, watch.ratio_max);
    let (ratio_min, ratio_max) = watch.ratio_min.is_finite().then_some(ratios).unzip();
    let diverged = watch.diverged;
    Report {
        check: "prox",
        verdict: verdict(
            &rows,
            steps_done,
            diverged.as_deref(),
            ratio_min,
            ratio_max,
            watch.a,
        ),
        settings: Settings {
            model: args.model.model.clone(),
            bn: args.model.bn,
            steps: args.steps,
            eps: args.eps,
            common: CommonSettings::new(input, &args.optimizer, wd),
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

fn verdict(
    rows: &[Row],
    steps_done: u64,
    diverged: Option<&str>,
    ratio_min: Option<f64>,
    ratio_max: Option<f64>,
    a: f64,
) -> Verdict {
    let Some(last) = rows.last() else {
        return Verdict::new(
            CLAIM,
            false,
            &format!("no step completed ({})", diverged.unwrap_or("no steps")),
        );
    };
    let tolerance = CLOSE_TOLERANCE.max(CONTROL_FACTOR * last.control_distance);
    let close = last.relative_distance <= tolerance;
    let (predicted_ok, prediction_text) = match (ratio_min, ratio_max) {
        (Some(lo), Some(hi)) => (
            lo >= 1.0 / PREDICTION_FACTOR && hi <= PREDICTION_FACTOR,
            format!("per-step difference / a·η‖u‖ between {lo:.3} and {hi:.3} (a = {a:e})"),
        ),
        _ => (
            true,
            "λ = 0: both are plain Adam, identical by construction".to_string(),
        ),
    };
    let mut detail = format!(
        "relative distance {} after {steps_done} steps ({} allowed: the larger of {CLOSE_TOLERANCE:e} and \
         {CONTROL_FACTOR}× the {} that a one-ulp change of the initial weights produces); final training loss {} vs {} \
         (control {}); {prediction_text}",
        sci(Some(last.relative_distance)),
        sci(Some(tolerance)),
        sci(Some(last.control_distance)),
        fixed(last.loss_adamw, 4),
        fixed(last.loss_adam_prox, 4),
        fixed(last.loss_control, 4),
    );
    if let Some(message) = diverged {
        detail.push_str(&format!("; {message}"));
    }
    Verdict::new(CLAIM, close && predicted_ok && diverged.is_none(), &detail)
}
