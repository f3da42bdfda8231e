//! `scalefree check prox` (claim 1): the arguments, and the table, TensorBoard and JSON
//! of [`crate::checks::prox`], which measures and judges.
use super::options::{InputArgs, ModelArgs, OptimizerArgs};
use super::present::OutputArgs;
use crate::checks::prox::{
    ProxLanes, ProxProgress, ProxSettings, Report, Row, DEFAULT_BATCH_SIZE, DEFAULT_WD,
};
use crate::checks::setup::zero_eps;
use crate::checks::verdict::{device_label, fixed, sci};
use crate::config::flag_values::{at_least_one, non_negative};
use crate::config::OptimizerSettings;
use crate::sinks::tensorboard::Board;
use anyhow::Result;
use clap::Args;
use tch::Kind;

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
    #[arg(long, default_value = "1e-8", value_parser = non_negative)]
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

impl ProxArgs {
    pub fn settings(&self) -> ProxSettings {
        let mut setup = self.input.setup(DEFAULT_BATCH_SIZE);
        setup.run.model = self.model.choice();
        setup.run.optimizer =
            OptimizerSettings::from_adam(&self.optimizer.adam(DEFAULT_WD, self.eps));
        setup.run.training.precision = self.precision;
        ProxSettings {
            setup,
            steps: self.steps,
            every: self.every,
        }
    }
}

/// The table on the terminal and the scalars in TensorBoard, as the check measures.
struct Presenter<'a> {
    board: Option<&'a mut Board>,
}

impl ProxProgress for Presenter<'_> {
    fn step_difference(&mut self, t: u64, measured: f64, predicted: f64) {
        if let Some(board) = self.board.as_deref_mut() {
            board.scalar("prox/step_difference/measured", measured, t);
            board.scalar("prox/step_difference/predicted", predicted, t);
        }
    }

    fn row(&mut self, row: &Row) {
        print_row(row);
        if let Some(board) = self.board.as_deref_mut() {
            log_row(board, row);
        }
    }
}

pub fn run(args: &ProxArgs) -> Result<Report> {
    let settings = args.settings();
    let lanes = ProxLanes::open(&settings)?;
    if args.eps == 0.0 {
        eprintln!(
            "note: ε = 0 runs as ε = {:e} (0/0 would make never-updated coordinates NaN)",
            zero_eps(Kind::Float)
        );
    }
    let mut board = args.output.create_outputs()?;
    let input = lanes.input();
    let optimizer = &settings.setup.run.optimizer;
    println!(
        "check prox: {} {} BN, {} parameters, {} steps of batch {} on {} ({}, {}), η_0 = {:e}, λ = {:e}, ε = {:e}",
        args.model.model,
        if args.model.bn { "with" } else { "without" },
        lanes.numel(),
        args.steps,
        input.batch_size,
        input.description,
        device_label(input.device),
        args.precision.name(),
        optimizer.lr,
        optimizer.weight_decay,
        args.eps
    );
    print_header();
    let report = lanes.run(&mut Presenter {
        board: board.as_mut(),
    })?;
    if let Some(message) = &report.diverged {
        println!("{message}");
    }
    args.output
        .finish(&report.verdict, report.wall_s, &report)?;
    Ok(report)
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
