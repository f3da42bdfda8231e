//! `scalefree check scale-free` (claim 2): the arguments, and the progress lines, table,
//! TensorBoard and JSON of [`crate::checks::scale_free`], which measures and judges.
use super::options::{InputArgs, ModelArgs, OptimizerArgs};
use super::present::OutputArgs;
use crate::checks::scale_free::{
    worst_deviation, Float64, Report, Run, ScaleFreeLanes, ScaleFreeProgress, ScaleFreeSettings,
    DEFAULT_BATCH_SIZE, DEFAULT_WD,
};
use crate::checks::setup::zero_eps;
use crate::checks::verdict::{device_label, fixed, sci};
use crate::config::flag_values::{at_least_one, non_negative, positive};
use crate::config::OptimizerSettings;
use crate::config::Precision;
use crate::optimizers::Method;
use crate::sinks::tensorboard::Board;
use anyhow::Result;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::Args;

#[derive(Args, Debug)]
pub struct ScaleFreeArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Optimizer steps of each run.
    #[arg(long, default_value_t = 20, value_parser = at_least_one::<u64>)]
    pub steps: u64,
    /// Measure the deviations every N steps [default: steps / 5].
    #[arg(long, value_parser = at_least_one::<u64>)]
    pub every: Option<u64>,
    /// η_0 and λ, shared by the three optimizers (λ must be > 0).
    #[command(flatten)]
    pub optimizer: OptimizerArgs,
    /// Adam's ε; a comma-separated list runs every setting once per value (0 runs as
    /// 1e-300 in float64, 1e-30 in float32, which keeps never-updated coordinates at 0/ε
    /// instead of 0/0).
    #[arg(long, value_delimiter = ',', default_value = "0,1e-8", value_parser = non_negative)]
    pub eps: Vec<f64>,
    /// Loss multipliers compared with loss × 1.
    #[arg(long, value_delimiter = ',', default_value = "10,100", value_parser = positive)]
    pub mults: Vec<f64>,
    /// As `train --precision`: fp32, or bf16 (bfloat16 convolutions and matrix products on
    /// float32 weights, judged with its own rounding tolerance).
    #[arg(long, default_value = "fp32", value_parser = precision)]
    pub precision: Precision,
    /// When the runs' weights, gradients and optimizer state are float64: auto is for
    /// ε = 0 (whose invariance is exact only up to rounding, and which float32's range
    /// cannot hold), float32 otherwise.
    #[arg(long, default_value = "auto",
          value_parser = PossibleValuesParser::new(Float64::NAMES).map(|s| s.parse::<Float64>().expect("a listed value")))]
    pub float64: Float64,
    /// Per-coordinate gradient factors 10^U(−D, D) with this D (0 skips those runs).
    #[arg(long, default_value_t = 3.0, value_parser = non_negative)]
    pub coord_decades: f64,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `--precision`: `train`'s values; the check's former `auto`, `f32` and `f64` (when it
/// had a precision of its own) are refused with their spelling now.
fn precision(s: &str) -> Result<Precision, String> {
    let now = match s {
        "auto" => "it is the default: leave --precision out (fp32, with --float64 auto: float64 for ε = 0)",
        "f32" => "use --float64 never (with --precision fp32, the default)",
        "f64" => "use --float64 always (with --precision fp32, the default)",
        _ => {
            return <Precision as clap::ValueEnum>::from_str(s, false)
                .map_err(|_| format!("must be fp32, bf16 or f16, not {s}"))
        }
    };
    Err(format!(
        "`{s}` is no longer a --precision of check scale-free; {now}"
    ))
}

impl ScaleFreeArgs {
    pub fn settings(&self) -> ScaleFreeSettings {
        let mut setup = self.input.setup(DEFAULT_BATCH_SIZE);
        setup.run.model = self.model.choice();
        // Each run has its own ε, of `eps`.
        setup.run.optimizer = OptimizerSettings::from_adam(&self.optimizer.adam(DEFAULT_WD, 1e-8));
        setup.run.training.precision = self.precision;
        ScaleFreeSettings {
            setup,
            steps: self.steps,
            every: self.every,
            eps: self.eps.clone(),
            mults: self.mults.clone(),
            float64: self.float64,
            coord_decades: self.coord_decades,
        }
    }
}

/// The progress lines on the terminal and the scalars in TensorBoard, as the check measures.
struct Presenter<'a> {
    eps_values: Vec<f64>,
    board: Option<&'a mut Board>,
}

impl ScaleFreeProgress for Presenter<'_> {
    fn measured(&mut self, t: u64, runs: &[Run]) {
        if let Some(board) = self.board.as_deref_mut() {
            log_runs(board, t, runs);
        }
        // The worst deviation of each optimizer at each ε, on one line.
        let mut line = format!("step {t:>5}:");
        for &eps in &self.eps_values {
            line.push_str(&format!("  ε={eps:e}"));
            for mode in Method::PAPER {
                let worst = worst_deviation(runs, eps, mode);
                line.push_str(&format!(" {mode} {}", sci(Some(worst))));
            }
        }
        println!("{line}");
    }
}

fn log_runs(board: &mut Board, t: u64, runs: &[Run]) {
    for run in runs {
        let label = run.label.replace(' ', "_");
        let tag = format!("scale_free/eps{:e}/{}/{label}", run.eps, run.optimizer);
        if let Some(loss) = run.train_loss {
            board.scalar(&format!("{tag}/loss"), loss, t);
        }
        if let (false, Some(d)) = (run.reference, run.deviations.last()) {
            board.scalar(&format!("{tag}/deviation"), d.deviation, t);
        }
    }
    board.flush();
}

fn print_header(args: &ScaleFreeArgs, settings: &ScaleFreeSettings, lanes: &ScaleFreeLanes) {
    let (input, dtypes) = (lanes.input(), settings.dtypes());
    let optimizer = &settings.setup.run.optimizer;
    let name = |e: &f64| format!("{e:e} {}", dtypes.name_for(*e));
    let eps: Vec<String> = lanes.eps_values.iter().map(name).collect();
    let scalings: Vec<String> = lanes.scalings.iter().map(|s| s.label()).collect();
    println!(
        "check scale-free: {} {} BN, {} parameters, {} steps of batch {} on {} ({}), η_0 = {:e}, λ = {:e}; \
         {} runs in lockstep (3 optimizers × ε in [{}] × {})",
        args.model.model,
        if args.model.bn { "with" } else { "without" },
        lanes.numel(),
        args.steps,
        input.batch_size,
        input.description,
        device_label(input.device),
        optimizer.lr,
        optimizer.weight_decay,
        lanes.runs(),
        eps.join(", "),
        scalings.join(", ")
    );
    if lanes.eps_values.contains(&0.0) {
        eprintln!(
            "note: ε = 0 runs as ε = {:e} in {}: a literal 0 makes coordinates whose gradient has always been 0 \
             (dead ReLU channels) 0/0 = NaN",
            zero_eps(dtypes.kind_for(0.0)),
            dtypes.name_for(0.0)
        );
    }
}

pub fn run(args: &ScaleFreeArgs) -> Result<Report> {
    let settings = args.settings();
    let lanes = ScaleFreeLanes::open(&settings)?;
    let mut board = args.output.create_outputs()?;
    print_header(args, &settings, &lanes);
    let mut presenter = Presenter {
        eps_values: lanes.eps_values.clone(),
        board: board.as_mut(),
    };
    let report = lanes.run(&mut presenter)?;
    print_table(&report.runs, args.steps);
    args.output
        .finish(&report.verdict, report.wall_s, &report)?;
    Ok(report)
}

fn print_table(runs: &[Run], steps: u64) {
    println!(
        "\n{:<10} {:>11}  {:<26} {:>12} {:>10}  {:>10} {:>9}",
        "optimizer",
        "ε",
        "rescaling",
        format!("dev @{steps}"),
        "max dev",
        "train loss",
        "accuracy"
    );
    for run in runs {
        let (last, max) = if run.reference {
            ("—".into(), "—".into())
        } else {
            (sci(run.final_deviation), sci(run.max_deviation))
        };
        let mut line = format!(
            "{:<10} {:>11}  {:<26} {:>12} {:>10}  {:>10} {:>9}",
            run.optimizer.name(),
            format!("{:e} {}", run.eps, run.precision),
            run.label,
            last,
            max,
            fixed(run.train_loss, 4),
            fixed(run.train_accuracy, 3)
        );
        if let Some(t) = run.diverged_at {
            line.push_str(&format!("  diverged at step {t}"));
        }
        println!("{line}");
    }
}
