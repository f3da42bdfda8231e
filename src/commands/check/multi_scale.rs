//! `scalefree check multi-scale` (claim 4): the arguments, and the per-seed lines,
//! summary, TensorBoard and JSON of [`crate::checks::multi_scale`], which trains, judges
//! and draws the figure.
use super::options::{InputArgs, ModelArgs};
use super::present::OutputArgs;
use crate::checks::input::Input;
use crate::checks::multi_scale::{
    self, Change, Lane, Metric, MultiScaleProgress, MultiScaleSettings, Report, SeedResult,
    DEFAULT_BATCH_SIZE,
};
use crate::checks::verdict::{device_label, fixed};
use crate::config::flag_values::{at_least_one, non_negative, positive};
use crate::config::FactorSpec;
use crate::config::OptimizerSettings;
use crate::optimizers::Method;
use crate::sinks::tensorboard::Board;
use crate::stats::Estimate;
use anyhow::Result;
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::Args;
use optim::AdamConfig;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct MultiScaleArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Interventions compared with no factors, comma-separated: spread:D, equalize, file.json.
    #[arg(long, value_delimiter = ',', default_value = "spread:3")]
    pub factors: Vec<FactorSpec>,
    /// Seeds 0 … N−1 (initial weights and data order; every lane of a seed shares them).
    #[arg(long, default_value_t = 3, value_parser = at_least_one::<usize>)]
    pub seeds: usize,
    /// Epochs over the training subset of every lane (with --train-subset, 5,000 images by
    /// default: 3 seeds take about half an hour on 2 CPU cores).
    #[arg(long, default_value_t = 5, value_parser = at_least_one::<usize>)]
    pub epochs: usize,
    /// Adam-ℓ2's η_0,λ (the paper's best for ResNet-20 without BN).
    #[arg(long, default_value = "1e-3,5e-4", value_parser = lr_and_wd)]
    pub l2: (f64, f64),
    /// AdamW's η_0,λ (the paper's best for ResNet-20 without BN).
    #[arg(long, default_value = "1e-3,5e-5", value_parser = lr_and_wd)]
    pub adamw: (f64, f64),
    /// Adam's ε, far below the smallest scaled gradients so that ε does not break AdamW's
    /// scale-freeness (with ε = 1e-8, factors of 1e-3 bring gradients near ε).
    #[arg(long, default_value = "1e-12", value_parser = positive)]
    pub eps: f64,
    /// Seed of the spread:D draw.
    #[arg(long, default_value_t = 0)]
    pub factor_seed: u64,
    /// The measure the verdict is taken on (chosen before measuring).
    #[arg(long, default_value = "loss", value_parser = metric_values())]
    pub metric: Metric,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// The figure [default: the --json path with .png, else multi-scale.png].
    #[arg(long)]
    pub png: Option<PathBuf>,
}

/// `loss` or `accuracy`, with what each means.
fn metric_values() -> impl TypedValueParser<Value = Metric> {
    PossibleValuesParser::new([
        PossibleValue::new("loss").help(
            "Final training loss (mean over the last epoch): the direct effect on optimisation",
        ),
        PossibleValue::new("accuracy").help("Final test accuracy"),
    ])
    .map(|s| s.parse::<Metric>().expect("a listed value"))
}

/// `η_0,λ`: η_0 > 0, λ ≥ 0.
fn lr_and_wd(s: &str) -> Result<(f64, f64), String> {
    let expected = "must be η_0,λ with η_0 > 0 and λ ≥ 0, e.g. 1e-3,5e-4";
    let (lr, wd) = s.split_once(',').ok_or(expected)?;
    let lr = positive(lr.trim()).map_err(|_| expected.to_string())?;
    let wd = non_negative(wd.trim()).map_err(|_| expected.to_string())?;
    Ok((lr, wd))
}

impl MultiScaleArgs {
    pub fn settings(&self) -> MultiScaleSettings {
        let mut setup = self.input.setup(DEFAULT_BATCH_SIZE);
        setup.run.model = self.model.choice();
        // Each optimizer has its own η_0 and λ; ε and the factors' seed are shared.
        setup.run.optimizer = OptimizerSettings::from_adam(&AdamConfig::default().eps(self.eps));
        setup.run.training.factor_seed = self.factor_seed;
        MultiScaleSettings {
            setup,
            factors: self.factors.clone(),
            seeds: self.seeds,
            epochs: self.epochs,
            l2: self.l2,
            adamw: self.adamw,
            metric: self.metric,
        }
    }
}

/// The per-seed lines on the terminal and the scalars in TensorBoard, as the check trains.
struct Presenter<'a> {
    args: &'a MultiScaleArgs,
    board: Option<&'a mut Board>,
}

impl MultiScaleProgress for Presenter<'_> {
    fn starting(&mut self, input: &Input, lanes: &[Lane], factors: &[FactorSpec]) {
        let args = self.args;
        let names: Vec<String> = factors.iter().map(|f| f.to_string()).collect();
        println!(
            "check multi-scale: {} {} BN, {} lanes (Adam-ℓ2 η_0 = {:e}, λ = {:e}; AdamW η_0 = {:e}, λ = {:e}) × {{{}}} \
             × {} seeds, {} epochs of {} ({} batches of {}) on {}, ε = {:e}",
            args.model.model,
            if args.model.bn { "with" } else { "without" },
            lanes.len(),
            args.l2.0, args.l2.1, args.adamw.0, args.adamw.1,
            names.join(", "),
            args.seeds,
            args.epochs,
            input.description,
            input.batches_per_epoch(),
            input.batch_size,
            device_label(input.device),
            args.eps
        );
    }

    fn seed_done(&mut self, lane: &Lane, result: &SeedResult) {
        let seed = result.seed;
        if let Some(board) = self.board.as_deref_mut() {
            let factors = lane.factors.to_string().replace(':', "");
            let tag = format!("multi_scale/{}/{factors}", lane.optimizer);
            board.scalar_if_any(&format!("{tag}/train_loss"), result.train_loss, seed);
            let accuracy = result.test_accuracy;
            board.scalar_if_any(&format!("{tag}/test_accuracy"), accuracy, seed);
        }
        println!(
            "seed {seed}  {:<9} {:<10} train loss {}  test accuracy {}{}",
            lane.optimizer.name(),
            lane.factors.to_string(),
            fixed(result.train_loss, 4),
            fixed(result.test_accuracy, 4),
            result
                .diverged_at
                .map_or(String::new(), |t| format!("  (diverged at step {t})"))
        );
    }
}

pub fn run(args: &MultiScaleArgs) -> Result<Report> {
    let png = args.output.png(&args.png, "multi-scale.png")?;
    let mut board = args.output.create_outputs()?;
    let mut presenter = Presenter {
        args,
        board: board.as_mut(),
    };
    let report = multi_scale::run(&args.settings(), png, &mut presenter)?;
    if let Some(board) = board.as_mut() {
        board.flush();
    }
    print_summary(&report.lanes, &report.changes);
    println!("wrote {}", report.png.display());
    for j in &report.judgements[1..] {
        println!("  also {}: {} — {}", j.factors, j.outcome.word(), j.detail);
    }
    args.output
        .finish(&report.verdict, report.wall_s, &report)?;
    Ok(report)
}

fn print_summary(lanes: &[Lane], changes: &[Change]) {
    let row = |o: Method, f: &str, l: &Option<Estimate>, a: &Option<Estimate>| {
        let [l, a] = [l, a].map(|e| e.map_or("—".into(), |e| e.text(4)));
        println!("{:<9} {f:<10} {l:>34} {a:>34}", o.name());
    };
    println!(
        "\n{:<9} {:<10} {:>34} {:>34}",
        "optimizer", "factors", "train loss", "test accuracy"
    );
    for l in lanes {
        let factors = l.factors.to_string();
        row(l.optimizer, &factors, &l.train_loss, &l.test_accuracy);
    }
    println!("\npaired change (intervention − none):");
    for c in changes {
        let factors = c.factors.to_string();
        row(c.optimizer, &factors, &c.train_loss, &c.test_accuracy);
    }
}
