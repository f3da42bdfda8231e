//! `scalefree check grad-scales` (claim 3): the arguments, and the table, TensorBoard and
//! JSON of [`crate::checks::grad_scales`], which measures, judges and draws the figure.
use super::options::{InputArgs, OptimizerArgs};
use super::present::OutputArgs;
use crate::checks::grad_scales::{
    GradScales, GradScalesProgress, GradScalesSettings, Measurement, Report, DEFAULT_BATCH_SIZE,
    DEFAULT_MODELS, DEFAULT_WD,
};
use crate::checks::verdict::{device_label, fixed};
use crate::config::flag_values::{at_least_one, model_name, non_negative};
use crate::config::OptimizerSettings;
use crate::sinks::tensorboard::Board;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

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
    #[arg(long, default_value = "1e-8", value_parser = non_negative)]
    pub eps: f64,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// The histograms as a PNG [default: the --json path with .png, else grad-scales.png].
    #[arg(long)]
    pub png: Option<PathBuf>,
}

impl GradScalesArgs {
    pub fn settings(&self) -> GradScalesSettings {
        let mut setup = self.input.setup(DEFAULT_BATCH_SIZE);
        setup.run.optimizer =
            OptimizerSettings::from_adam(&self.optimizer.adam(DEFAULT_WD, self.eps));
        GradScalesSettings {
            setup,
            models: self.models.clone(),
            steps: self.steps,
            batches: self.batches,
        }
    }
}

/// The table on the terminal and the histograms in TensorBoard, as the check measures.
struct Presenter<'a> {
    steps: u64,
    board: Option<&'a mut Board>,
}

impl GradScalesProgress for Presenter<'_> {
    fn measured(&mut self, m: &Measurement) {
        let s = m.spread.as_ref();
        let octaves = |v: Option<f64>| fixed(v, 1);
        println!(
            "{:<12} {:>3}  {:>10}  {:>7} {:>7} {:>7}  {:>7}  {:>22}  {:>8}  {:>5.1}s",
            m.model,
            if m.bn { "yes" } else { "no" },
            m.counted,
            octaves(s.map(|s| s.p01)),
            octaves(s.map(|s| s.p50)),
            octaves(s.map(|s| s.p99)),
            octaves(s.map(|s| s.spread)),
            s.map_or("—".into(), |s| format!(
                "{:.1} … {:.1} ({:.1})",
                s.layer_median_min, s.layer_median_max, s.layer_median_range
            )),
            fixed(m.loss, 3),
            m.wall_s
        );
        if let Some(board) = self.board.as_deref_mut() {
            log_measurement(board, m, self.steps);
        }
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

pub fn run(args: &GradScalesArgs) -> Result<Report> {
    let check = GradScales::open(&args.settings())?;
    let png = args.output.png(&args.png, "grad-scales.png")?;
    let mut board = args.output.create_outputs()?;
    let input = check.input();
    println!(
        "check grad-scales: {} batch(es) of {} from {} ({}), after {} AdamW step(s); log2|g| over non-BN weights",
        args.batches,
        input.batch_size,
        input.description,
        device_label(input.device),
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
    let mut presenter = Presenter {
        steps: args.steps,
        board: board.as_mut(),
    };
    let report = check.run(png, &mut presenter)?;
    if let Some(board) = board.as_mut() {
        board.flush();
    }
    println!("wrote {}", report.png.display());
    args.output
        .finish(&report.verdict, report.wall_s, &report)?;
    Ok(report)
}
