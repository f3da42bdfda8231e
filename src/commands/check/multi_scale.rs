//! `scalefree check multi-scale` (claim 4): AdamW's advantage over Adam-ℓ2 comes from
//! gradients of many scales, because AdamW's update is scale-free. The paper shows a
//! correlation; this check intervenes. Fixed per-layer factors on the gradients
//! (`spread:D`, `equalize`, a file) act on Adam-ℓ2 exactly as a per-layer weight decay
//! `λ/c_l` and cannot act on AdamW (with ε far below the scaled gradients), so if the
//! mechanism is right the spread hurts Adam-ℓ2 and leaves AdamW where it was.
//!
//! Per seed, every lane (each optimizer without and with each intervention) starts from
//! the same initial weights and sees the same batches, in lockstep; the lanes' final
//! training loss (mean over the last epoch) and test accuracy are compared seed by seed,
//! and the paired changes judged by [`crate::stats::Claim4`].
use super::input::Input;
use super::options::{at_least_one, non_negative, positive, InputArgs, ModelArgs};
use super::present::{device_label, fixed, OutputArgs, Verdict};
use crate::config::FactorSpec;
use crate::distinct::distinct;
use crate::plot::{
    display_name, draw_png, extremes, font, legend, line, optimizer_color, plot_error,
};
use crate::sinks::tensorboard::Board;
use crate::stats::{paired, Claim4, Estimate, Finding};
use crate::train::lockstep::{self, Flow, LaneObserver};
use crate::train::Session;
use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use optim::{AdamConfig, DecayMode};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Training images per lane unless --train-subset says otherwise.
pub const DEFAULT_SUBSET: usize = 5000;

pub const CLAIM: &str = "claim 4 (multi-scale gradients hurt Adam-ℓ2 through its decay, not AdamW)";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Final training loss (mean over the last epoch): the direct effect on optimisation.
    Loss,
    /// Final test accuracy.
    Accuracy,
}

impl Metric {
    /// Of a lane's, a seed's or a change's pair of measures, the one this metric is.
    fn of<T>(self, train_loss: T, test_accuracy: T) -> T {
        match self {
            Metric::Loss => train_loss,
            Metric::Accuracy => test_accuracy,
        }
    }
}

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
    #[arg(long, default_value_t = 1e-12, value_parser = positive)]
    pub eps: f64,
    /// Seed of the spread:D draw.
    #[arg(long, default_value_t = 0)]
    pub factor_seed: u64,
    /// The measure the verdict is taken on (chosen before measuring).
    #[arg(long, value_enum, default_value = "loss")]
    pub metric: Metric,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// The figure [default: the --json path with .png, else multi-scale.png].
    #[arg(long)]
    pub png: Option<PathBuf>,
}

/// One lane's result for one seed.
#[derive(Clone, Debug, Serialize)]
pub struct SeedResult {
    pub seed: u64,
    pub train_loss: Option<f64>,
    pub test_accuracy: Option<f64>,
    pub diverged_at: Option<u64>,
}

/// An optimizer with or without an intervention, over the seeds.
#[derive(Clone, Debug, Serialize)]
pub struct Lane {
    pub optimizer: DecayMode,
    pub factors: FactorSpec,
    pub lr: f64,
    pub wd: f64,
    pub seeds: Vec<SeedResult>,
    pub train_loss: Option<Estimate>,
    pub test_accuracy: Option<Estimate>,
}

/// One optimizer's paired change under one intervention (intervention − none).
#[derive(Clone, Debug, Serialize)]
pub struct Change {
    pub optimizer: DecayMode,
    pub factors: FactorSpec,
    pub train_loss: Option<Estimate>,
    pub test_accuracy: Option<Estimate>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Judgement {
    pub factors: FactorSpec,
    pub outcome: Finding,
    pub detail: String,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub check: &'static str,
    pub verdict: Verdict,
    pub outcome: Finding,
    pub metric: Metric,
    pub budget: String,
    pub model: String,
    pub bn: bool,
    pub input: String,
    pub eps: f64,
    pub lanes: Vec<Lane>,
    pub changes: Vec<Change>,
    /// AdamW − Adam-ℓ2 without factors, paired by seed: the natural comparison.
    pub natural_gap_accuracy: Option<Estimate>,
    pub natural_gap_train_loss: Option<Estimate>,
    pub judgements: Vec<Judgement>,
    pub png: PathBuf,
    pub wall_s: f64,
}

/// `η_0,λ`: η_0 > 0, λ ≥ 0.
fn lr_and_wd(s: &str) -> Result<(f64, f64), String> {
    let expected = "must be η_0,λ with η_0 > 0 and λ ≥ 0, e.g. 1e-3,5e-4";
    let (lr, wd) = s.split_once(',').ok_or(expected)?;
    let lr = positive(lr.trim()).map_err(|_| expected.to_string())?;
    let wd = non_negative(wd.trim()).map_err(|_| expected.to_string())?;
    Ok((lr, wd))
}

/// (seed, value) of a lane's seeds that have the measure.
fn values(lane: &Lane, metric: Metric) -> Vec<(u64, f64)> {
    lane.seeds
        .iter()
        .filter_map(|s| Some((s.seed, metric.of(s.train_loss, s.test_accuracy)?)))
        .collect()
}

/// Every lane without its seeds: each optimizer without and with each intervention.
fn lanes(args: &MultiScaleArgs, factors: &[FactorSpec]) -> Vec<Lane> {
    let settings = [
        (DecayMode::L2, args.l2.0, args.l2.1),
        (DecayMode::Decoupled, args.adamw.0, args.adamw.1),
    ];
    settings
        .iter()
        .flat_map(|&(optimizer, lr, wd)| {
            factors.iter().map(move |f| Lane {
                optimizer,
                factors: f.clone(),
                lr,
                wd,
                seeds: Vec::new(),
                train_loss: None,
                test_accuracy: None,
            })
        })
        .collect()
}

/// Leaves out of each lane's training loss every step before the last epoch.
struct LastEpoch {
    starts_after: u64,
}

impl LaneObserver for LastEpoch {
    fn stepped(&mut self, t: u64, lanes: &mut [Session]) -> Result<Flow> {
        if t == self.starts_after {
            lanes.iter_mut().for_each(|lane| {
                lane.take_window();
            });
        }
        Ok(Flow::Continue)
    }
}

fn print_header(args: &MultiScaleArgs, lanes: &[Lane], factors: &[FactorSpec], input: &Input) {
    println!(
        "check multi-scale: {} {} BN, {} lanes (Adam-ℓ2 η_0 = {:e}, λ = {:e}; AdamW η_0 = {:e}, λ = {:e}) × {{{}}} \
         × {} seeds, {} epochs of {} ({} batches of {}) on {}, ε = {:e}",
        args.model.model,
        if args.model.bn { "with" } else { "without" },
        lanes.len(),
        args.l2.0, args.l2.1, args.adamw.0, args.adamw.1,
        factors.iter().map(|f| f.to_string()).collect::<Vec<_>>().join(", "),
        args.seeds,
        args.epochs,
        input.description,
        input.batches_per_epoch(),
        input.batch_size,
        device_label(input.device),
        args.eps
    );
}

/// Trains every lane on `seed`'s initial weights and batches, in lockstep, and adds the
/// seed's results to the lanes; returns the input's description.
fn train_seed(
    args: &MultiScaleArgs,
    seed: u64,
    lanes: &mut [Lane],
    factors: &[FactorSpec],
    mut board: Option<&mut Board>,
) -> Result<String> {
    let input_args = InputArgs {
        seed,
        ..args.input.clone()
    };
    let input = Input::open(&input_args, 128, Some(DEFAULT_SUBSET))?;
    let model = input.model(&args.model.model, args.model.bn);
    let steps_per_epoch = input.batches_per_epoch() as u64;
    let steps = args.epochs as u64 * steps_per_epoch;
    let mut sessions = Vec::new();
    for lane in lanes.iter() {
        let adam = AdamConfig::new(lane.optimizer, lane.lr, lane.wd).eps(args.eps);
        let mut session = input.lane(&model, adam, tch::Kind::Float, steps)?;
        session
            .trainer_mut()
            .use_factors(&lane.factors, args.factor_seed)?;
        sessions.push(session);
    }
    if seed == 0 {
        print_header(args, lanes, factors, &input);
    }
    let mut last_epoch = LastEpoch {
        starts_after: (args.epochs as u64 - 1) * steps_per_epoch,
    };
    let mut stream = input.stream();
    lockstep::run(
        &mut sessions,
        steps,
        || stream.next_batch(),
        &mut last_epoch,
    )?;
    for (lane, session) in lanes.iter_mut().zip(&mut sessions) {
        let diverged = session.diverged_at();
        let test_accuracy = match (diverged, input.eval_batches()) {
            (None, Some(batches)) => session.trainer().evaluate(batches)?.accuracy(),
            _ => None,
        };
        let result = SeedResult {
            seed,
            train_loss: session
                .take_window()
                .mean_loss()
                .filter(|_| diverged.is_none()),
            test_accuracy,
            diverged_at: diverged,
        };
        if let Some(board) = board.as_deref_mut() {
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
            diverged.map_or(String::new(), |t| format!("  (diverged at step {t})"))
        );
        lane.seeds.push(result);
    }
    Ok(input.description.clone())
}

pub fn run(args: &MultiScaleArgs) -> Result<Report> {
    let started = Instant::now();
    let device = args.input.set_threads_and_device()?;
    let batch_size = args.input.batch_size.unwrap_or(128);
    let png = args.output.png(&args.png, "multi-scale.png")?;
    let mut board = args.output.create_outputs()?;
    let factors = distinct([FactorSpec::None].into_iter().chain(args.factors.clone()));
    if factors.len() < 2 {
        bail!("--factors: give at least one intervention besides none (spread:3, equalize, …)");
    }
    let mut lanes = lanes(args, &factors);
    let mut description = String::new();
    for seed in 0..args.seeds as u64 {
        description = train_seed(args, seed, &mut lanes, &factors, board.as_mut())?;
    }
    for lane in &mut lanes {
        lane.train_loss = Estimate::of_seeds(&values(lane, Metric::Loss));
        lane.test_accuracy = Estimate::of_seeds(&values(lane, Metric::Accuracy));
    }
    if let Some(board) = board.as_mut() {
        board.flush();
    }

    let find = |mode: DecayMode, f: &FactorSpec| {
        lanes
            .iter()
            .find(|l| l.optimizer == mode && l.factors == *f)
            .expect("every lane exists")
    };
    let gap =
        |a: &Lane, b: &Lane, metric| Estimate::of(&paired(&values(a, metric), &values(b, metric)));
    let change =
        |mode, f: &FactorSpec, metric| gap(find(mode, f), find(mode, &FactorSpec::None), metric);
    let mut changes = Vec::new();
    let mut judgements = Vec::new();
    for f in factors.iter().skip(1) {
        for mode in [DecayMode::L2, DecayMode::Decoupled] {
            changes.push(Change {
                optimizer: mode,
                factors: f.clone(),
                train_loss: change(mode, f, Metric::Loss),
                test_accuracy: change(mode, f, Metric::Accuracy),
            });
        }
        judgements.push(judge(f, &changes, &lanes, args.metric));
    }
    let none = |mode| find(mode, &FactorSpec::None);
    let natural = |metric| gap(none(DecayMode::Decoupled), none(DecayMode::L2), metric);
    print_summary(&lanes, &changes);
    let first = &judgements[0];
    let budget = format!(
        "{} seeds × {} epochs of {} (batch {batch_size}), {} on {}",
        args.seeds,
        args.epochs,
        description,
        args.model.model,
        device_label(device)
    );
    let verdict = Verdict {
        claim: CLAIM.to_string(),
        supported: first.outcome == Finding::Supported,
        line: format!(
            "{CLAIM}: {} — {}; budget: {budget}",
            first.outcome.word(),
            first.detail
        ),
    };
    draw(
        &png,
        &lanes,
        &factors,
        &format!(
            "{} {} BN — {budget}",
            args.model.model,
            if args.model.bn { "with" } else { "without" }
        ),
    )?;
    println!("wrote {}", png.display());
    let report = Report {
        check: "multi-scale",
        outcome: first.outcome,
        verdict,
        metric: args.metric,
        budget,
        model: args.model.model.clone(),
        bn: args.model.bn,
        input: description,
        eps: args.eps,
        natural_gap_accuracy: natural(Metric::Accuracy),
        natural_gap_train_loss: natural(Metric::Loss),
        lanes,
        changes,
        judgements,
        png,
        wall_s: started.elapsed().as_secs_f64(),
    };
    for j in &report.judgements[1..] {
        println!("  also {}: {} — {}", j.factors, j.outcome.word(), j.detail);
    }
    args.output
        .finish(&report.verdict, report.wall_s, &report)?;
    Ok(report)
}

/// Claim 4's rule ([`Claim4`]) on the chosen measure, for one intervention.
fn judge(factors: &FactorSpec, changes: &[Change], lanes: &[Lane], metric: Metric) -> Judgement {
    // Harm is a drop in accuracy.
    let of = |optimizer: DecayMode| {
        changes
            .iter()
            .find(|c| c.optimizer == optimizer && c.factors == *factors)
            .and_then(|c| metric.of(c.train_loss, c.test_accuracy.map(|e| e.negated())))
    };
    let adamw_without = lanes
        .iter()
        .find(|l| l.optimizer == DecayMode::Decoupled && l.factors.is_none())
        .and_then(|l| metric.of(l.train_loss, l.test_accuracy));
    let judged = Claim4::judge(of(DecayMode::L2), of(DecayMode::Decoupled), adamw_without);
    let detail = if judged.adam_l2.is_none() || judged.adamw.is_none() {
        "a lane has no result (diverged, or no test set)".into()
    } else {
        judged.detail(
            &factors.to_string(),
            metric.of("final training loss", "test-accuracy drop"),
        )
    };
    Judgement {
        factors: factors.clone(),
        outcome: judged.outcome,
        detail,
    }
}

fn print_summary(lanes: &[Lane], changes: &[Change]) {
    let row = |o: DecayMode, f: &str, l: &Option<Estimate>, a: &Option<Estimate>| {
        let [l, a] = [l, a].map(|e| e.map_or("—".into(), |e| e.text(4)));
        println!("{:<9} {f:<10} {l:>34} {a:>34}", o.name());
    };
    println!(
        "\n{:<9} {:<10} {:>34} {:>34}",
        "optimizer", "factors", "train loss", "test accuracy"
    );
    for l in lanes {
        row(
            l.optimizer,
            &l.factors.to_string(),
            &l.train_loss,
            &l.test_accuracy,
        );
    }
    println!("\npaired change (intervention − none):");
    for c in changes {
        row(
            c.optimizer,
            &c.factors.to_string(),
            &c.train_loss,
            &c.test_accuracy,
        );
    }
}

/// Training loss and test accuracy per intervention, one line per optimizer with its
/// 95 % CI as a band.
fn draw(path: &Path, lanes: &[Lane], factors: &[FactorSpec], title: &str) -> Result<()> {
    use plotters::prelude::*;
    let size = (1100, 460);
    let labels: Vec<String> = factors.iter().map(|f| f.to_string()).collect();
    draw_png(path, size, |root| {
        let (top, body) = root.split_vertically(40);
        top.titled(title, font(16)).map_err(plot_error)?;
        let panels = body.split_evenly((1, 2));
        for (panel, metric) in panels.iter().zip([Metric::Loss, Metric::Accuracy]) {
            let estimate = |l: &Lane| metric.of(l.train_loss, l.test_accuracy);
            let bounds: Vec<f64> = lanes
                .iter()
                .filter_map(estimate)
                .flat_map(|e| [e.bounds().0, e.bounds().1])
                .collect();
            if bounds.is_empty() {
                continue;
            }
            let (lo, hi) = extremes(bounds.iter().copied());
            let pad = ((hi - lo) * 0.15).max(1e-3);
            let caption = metric.of(
                "final training loss (mean, 95% CI)",
                "test accuracy (mean, 95% CI)",
            );
            let mut chart = ChartBuilder::on(panel)
                .caption(caption, font(14))
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(60)
                .build_cartesian_2d(-0.3..(labels.len() as f64 - 0.7), (lo - pad)..(hi + pad))
                .map_err(plot_error)?;
            chart
                .configure_mesh()
                .x_labels(labels.len())
                .x_label_formatter(&|x| {
                    let i = x.round() as usize;
                    if (x - i as f64).abs() < 1e-6 {
                        labels.get(i).cloned().unwrap_or_default()
                    } else {
                        String::new()
                    }
                })
                .x_desc("gradient factors")
                .label_style(font(11))
                .light_line_style(WHITE.mix(0.0))
                .draw()
                .map_err(plot_error)?;
            for mode in [DecayMode::L2, DecayMode::Decoupled] {
                let color = optimizer_color(mode);
                let points: Vec<(f64, Estimate)> = factors
                    .iter()
                    .enumerate()
                    .filter_map(|(i, f)| {
                        lanes
                            .iter()
                            .find(|l| l.optimizer == mode && l.factors == *f)
                            .and_then(estimate)
                            .map(|e| (i as f64, e))
                    })
                    .collect();
                let ci = points.iter().map(|(x, e)| (*x, e.bounds().0, e.bounds().1));
                let means: Vec<_> = points.iter().map(|(x, e)| (*x, e.mean)).collect();
                let ci: Vec<_> = ci.collect();
                line(&mut chart, &means, &ci, color, 3, (display_name(mode), 18))?;
            }
            legend(&mut chart, SeriesLabelPosition::UpperLeft, 11)?;
        }
        Ok(())
    })
}
