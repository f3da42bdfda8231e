//! `scalefree check scale-free` (claim 2): AdamW and AdamProx are scale-free, Adam-ℓ2 is not.
//!
//! Every run starts from the same initial weights and sees the same batches (same model
//! seed, same loader seed), so the only difference between a run and its reference
//! (loss × 1, same optimizer and ε) is the rescaling: the loss multiplied by a constant,
//! or each gradient coordinate multiplied by a fixed random factor `10^U(−D, D)`. With
//! ε = 0, `u_t` does not see the scale, so AdamW's and AdamProx's iterates differ from the
//! reference only by float rounding; Adam-ℓ2 adds `λ·x` to the rescaled gradient, so its
//! trajectory changes. All runs advance in lockstep, one batch at a time.
use super::input::Input;
use super::options::{
    at_least_one, effective_eps, non_negative, positive, zero_eps, InputArgs, ModelArgs,
    OptimizerArgs,
};
use super::present::{device_label, fixed, sci, CommonSettings, OutputArgs, Verdict};
use super::{distance, norm};
use crate::distinct::distinct;
use crate::sinks::tensorboard::Board;
use crate::train::lockstep::{self, Flow, LaneObserver};
use crate::train::{GradientHooks, Session};
use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use optim::DecayMode;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// λ: the paper's best Adam-ℓ2 setting for ResNet-20 without BN.
pub const DEFAULT_WD: f64 = 5e-4;
pub const CLAIM: &str = "claim 2 (AdamW and AdamProx are scale-free, Adam-ℓ2 is not)";
/// With ε = 0, AdamW/AdamProx deviations above this are more than float rounding.
pub const ROUNDING_TOLERANCE: f64 = 1e-4;
/// The same with bfloat16 convolutions (`--precision bf16`), whose backward rounds `c·g`
/// and `g` to 8 significant bits apart, so that a rescaled run drifts from its reference
/// by rounding alone. Measured (ResNet-20 without BN, batch 32, 2,000 CIFAR-10 images,
/// the defaults otherwise): AdamW/AdamProx deviate at most 4.5e-3 after 20 steps at
/// ε = 0 and 1e-8, Adam-ℓ2 at least 1.0e-2 (loss × 10; 5.1e-2 with coordinate factors).
pub const BF16_ROUNDING_TOLERANCE: f64 = 1e-2;
/// How many times more Adam-ℓ2 must deviate at bf16, at any ε: that rounding floor leaves
/// a factor of 2.25 in the measurement above, against 100 and more in float64.
pub const BF16_RATIO: f64 = 2.0;
/// How many times more Adam-ℓ2 must deviate than AdamW/AdamProx: with ε = 0, and with ε > 0.
pub const RATIO_EXACT: f64 = 100.0;
pub const RATIO_EPS: f64 = 10.0;

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
    /// Adam's ε; a comma-separated list runs every setting once per value (0 runs as 1e-30,
    /// which keeps never-updated coordinates at 0/ε instead of 0/0).
    #[arg(long, value_delimiter = ',', default_value = "0,1e-8", value_parser = non_negative)]
    pub eps: Vec<f64>,
    /// Loss multipliers compared with loss × 1.
    #[arg(long, value_delimiter = ',', default_value = "10,100", value_parser = positive)]
    pub mults: Vec<f64>,
    /// Float precision of the runs: auto is float64 for ε = 0 (whose invariance is exact
    /// only up to rounding, and which float32's range cannot hold) and float32 otherwise;
    /// bf16 is float32 with bfloat16 convolutions and matrix products (`train --precision
    /// bf16`), judged with its own rounding tolerance.
    #[arg(long, value_enum, default_value = "auto")]
    pub precision: Precision,
    /// Per-coordinate gradient factors 10^U(−D, D) with this D (0 skips those runs).
    #[arg(long, default_value_t = 3.0, value_parser = non_negative)]
    pub coord_decades: f64,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// See [`Precision::thresholds`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    pub rounding: f64,
    pub ratio_exact: f64,
    pub ratio_eps: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Precision {
    Auto,
    F32,
    F64,
    Bf16,
}

impl Precision {
    /// The weights' and optimizer's dtype.
    pub fn kind_for(self, eps: f64) -> Kind {
        match self {
            Precision::Auto if eps == 0.0 => Kind::Double,
            Precision::Auto | Precision::F32 | Precision::Bf16 => Kind::Float,
            Precision::F64 => Kind::Double,
        }
    }

    /// The dtype of the convolutions and matrix products, when not the weights'.
    pub fn compute_kind(self) -> Option<Kind> {
        (self == Precision::Bf16).then_some(Kind::BFloat16)
    }

    /// The verdict's thresholds: the largest AdamW/AdamProx deviation at ε = 0 that is
    /// still rounding, and how many times more Adam-ℓ2 must deviate at ε = 0 and at ε > 0.
    pub fn thresholds(self) -> Thresholds {
        match self {
            Precision::Bf16 => Thresholds {
                rounding: BF16_ROUNDING_TOLERANCE,
                ratio_exact: BF16_RATIO,
                ratio_eps: BF16_RATIO,
            },
            _ => Thresholds {
                rounding: ROUNDING_TOLERANCE,
                ratio_exact: RATIO_EXACT,
                ratio_eps: RATIO_EPS,
            },
        }
    }

    /// How a run at `eps` is labelled: f64, f32 or bf16.
    fn name_for(self, eps: f64) -> &'static str {
        match (self, self.kind_for(eps)) {
            (Precision::Bf16, _) => "bf16",
            (_, Kind::Double) => "f64",
            _ => "f32",
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
    fn label(self) -> String {
        match self {
            Scaling::Loss { factor: 1.0 } => "loss ×1 (reference)".into(),
            Scaling::Loss { factor } => format!("loss ×{factor}"),
            Scaling::Coordinates { decades } => format!("coord 10^U(−{decades},{decades})"),
        }
    }
    fn is_reference(self) -> bool {
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
    /// `auto`, `f32` or `f64`; each run records the one it used.
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
    pub optimizer: DecayMode,
    pub eps: f64,
    /// The ε the optimizer was given (a tiny stand-in for ε = 0, see `options::zero_eps`).
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

#[derive(Debug, Serialize)]
pub struct Report {
    pub check: &'static str,
    pub verdict: Verdict,
    pub settings: Settings,
    pub summary: Vec<EpsSummary>,
    pub runs: Vec<Run>,
    pub wall_s: f64,
}

/// The fixed per-coordinate factors `10^U(−decades, decades)`, from the seed.
fn coordinate_factors(numel: i64, decades: f64, seed: u64, device: Device) -> Tensor {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5CA1_EF5E_ED00_0000);
    let factors: Vec<f32> = (0..numel)
        .map(|_| 10f64.powf(decades * (2.0 * rng.random::<f64>() - 1.0)) as f32)
        .collect();
    Tensor::from_slice(&factors).to_device(device)
}

/// The runs: for each ε and optimizer, the reference (loss × 1) first, then each
/// rescaling; each with its lane.
struct Lanes {
    runs: Vec<Run>,
    /// The index of each run's reference.
    references: Vec<usize>,
    sessions: Vec<Session>,
}

fn lanes(
    args: &ScaleFreeArgs,
    input: &Input,
    eps_values: &[f64],
    scalings: &[Scaling],
    wd: f64,
) -> Result<Lanes> {
    let model = input
        .model(&args.model.model, args.model.bn)
        .with_compute_kind(args.precision.compute_kind());
    // The factors are drawn once, for the model's number of parameters, from the seed.
    let adamw = args
        .optimizer
        .adam(DecayMode::Decoupled, wd, 1e-8, Kind::Float);
    let numel = input
        .trainer(&model, adamw, Kind::Float)?
        .flat_values()
        .numel() as i64;
    let factors = coordinate_factors(numel, args.coord_decades, args.input.seed, input.device);
    let mut lanes = Lanes {
        runs: Vec::new(),
        references: Vec::new(),
        sessions: Vec::new(),
    };
    for &eps in eps_values {
        let kind = args.precision.kind_for(eps);
        for mode in DecayMode::ALL {
            let reference = lanes.runs.len();
            for &scaling in scalings {
                let optimizer = args.optimizer.adam(mode, wd, eps, kind);
                let mut hooks = GradientHooks::default();
                match scaling {
                    Scaling::Loss { factor } => hooks.loss_mult = factor,
                    Scaling::Coordinates { .. } => {
                        hooks.coordinate_factors = Some(factors.to_kind(kind))
                    }
                }
                let trainer = input.trainer(&model, optimizer, kind)?.with_hooks(hooks);
                lanes.sessions.push(Session::lane(trainer, args.steps));
                lanes.references.push(reference);
                lanes.runs.push(Run {
                    optimizer: mode,
                    eps,
                    eps_used: effective_eps(eps, kind),
                    precision: args.precision.name_for(eps),
                    scaling,
                    label: scaling.label(),
                    reference: scaling.is_reference(),
                    deviations: Vec::new(),
                    final_deviation: None,
                    max_deviation: None,
                    train_loss: None,
                    train_accuracy: None,
                    diverged_at: None,
                });
            }
        }
    }
    Ok(lanes)
}

/// The check as its lanes' observer: every `every` steps, each run's deviation from its
/// reference.
struct ScaleFreeWatch<'a> {
    runs: Vec<Run>,
    references: Vec<usize>,
    eps_values: &'a [f64],
    every: u64,
    steps: u64,
    board: Option<&'a mut Board>,
}

impl LaneObserver for ScaleFreeWatch<'_> {
    fn stepped(&mut self, t: u64, lanes: &mut [Session]) -> Result<Flow> {
        for (run, lane) in self.runs.iter_mut().zip(lanes.iter()) {
            run.diverged_at = lane.diverged_at();
        }
        if t.is_multiple_of(self.every) || t == self.steps {
            self.measure(lanes, t);
            self.print_progress(t);
        }
        Ok(Flow::Continue)
    }
}

impl ScaleFreeWatch<'_> {
    fn measure(&mut self, lanes: &mut [Session], t: u64) {
        let values: Vec<Tensor> = lanes.iter().map(|l| l.trainer().flat_values()).collect();
        for (i, (run, lane)) in self.runs.iter_mut().zip(lanes.iter_mut()).enumerate() {
            let tally = lane.take_window();
            run.train_loss = tally.mean_loss();
            run.train_accuracy = tally.accuracy();
            let tag = format!(
                "scale_free/eps{:e}/{}/{}",
                run.eps,
                run.optimizer,
                run.label.replace(' ', "_")
            );
            if let (Some(board), Some(loss)) = (self.board.as_deref_mut(), run.train_loss) {
                board.scalar(&format!("{tag}/loss"), loss, t);
            }
            if run.reference {
                continue;
            }
            let reference = &values[self.references[i]];
            let diverged = run.diverged_at.is_some() || live_diverged(&values[i]);
            let deviation = if diverged {
                f64::NAN
            } else {
                distance(&values[i], reference) / norm(reference)
            };
            run.deviations.push(Deviation { step: t, deviation });
            run.final_deviation = Some(deviation);
            run.max_deviation = Some(nan_max(run.max_deviation.unwrap_or(0.0), deviation));
            if let Some(board) = self.board.as_deref_mut() {
                board.scalar(&format!("{tag}/deviation"), deviation, t);
            }
        }
        if let Some(board) = self.board.as_deref_mut() {
            board.flush();
        }
    }

    /// The worst deviation of each optimizer at each ε, on one line.
    fn print_progress(&self, t: u64) {
        let mut line = format!("step {t:>5}:");
        for &eps in self.eps_values {
            line.push_str(&format!("  ε={eps:e}"));
            for mode in DecayMode::ALL {
                let worst = self
                    .runs
                    .iter()
                    .filter(|r| r.eps == eps && r.optimizer == mode && !r.reference)
                    .filter_map(|r| r.deviations.last().map(|d| d.deviation))
                    .fold(0.0, nan_max);
                line.push_str(&format!(" {mode} {}", sci(Some(worst))));
            }
        }
        println!("{line}");
    }
}

fn print_header(
    args: &ScaleFreeArgs,
    input: &Input,
    lanes: &Lanes,
    eps_values: &[f64],
    scalings: &[Scaling],
    wd: f64,
) {
    let numel = lanes.sessions[0].trainer().flat_values().numel();
    println!(
        "check scale-free: {} {} BN, {numel} parameters, {} steps of batch {} on {} ({}), η_0 = {:e}, λ = {:e}; \
         {} runs in lockstep (3 optimizers × ε in [{}] × {})",
        args.model.model,
        if args.model.bn { "with" } else { "without" },
        args.steps,
        input.batch_size,
        input.description,
        device_label(input.device),
        args.optimizer.lr,
        wd,
        lanes.runs.len(),
        eps_values
            .iter()
            .map(|&e| format!("{e:e} {}", args.precision.name_for(e)))
            .collect::<Vec<_>>()
            .join(", "),
        scalings.iter().map(|s| s.label()).collect::<Vec<_>>().join(", ")
    );
    if eps_values.contains(&0.0) {
        let kind = args.precision.kind_for(0.0);
        eprintln!(
            "note: ε = 0 runs as ε = {:e} in {}: a literal 0 makes coordinates whose gradient has always been 0 \
             (dead ReLU channels) 0/0 = NaN",
            zero_eps(kind),
            args.precision.name_for(0.0)
        );
    }
}

pub fn run(args: &ScaleFreeArgs) -> Result<Report> {
    let started = Instant::now();
    let wd = args.optimizer.wd.unwrap_or(DEFAULT_WD);
    if wd == 0.0 {
        bail!("--wd must be > 0: with λ = 0 the three optimizers are all plain Adam, with nothing to tell apart");
    }
    let input = Input::open(&args.input, 32, None)?;
    let eps_values = distinct(args.eps.iter().copied());
    let loss_factors = [1.0].iter().chain(&args.mults);
    let mut scalings = distinct(loss_factors.map(|&factor| Scaling::Loss { factor }));
    if args.coord_decades > 0.0 {
        scalings.push(Scaling::Coordinates {
            decades: args.coord_decades,
        });
    }
    let mut lanes = lanes(args, &input, &eps_values, &scalings, wd)?;
    let mut board = args.output.create_outputs()?;
    print_header(args, &input, &lanes, &eps_values, &scalings, wd);
    let mut watch = ScaleFreeWatch {
        runs: lanes.runs,
        references: lanes.references,
        eps_values: &eps_values,
        every: args.every.unwrap_or((args.steps / 5).max(1)),
        steps: args.steps,
        board: board.as_mut(),
    };
    let mut stream = input.stream();
    lockstep::run(
        &mut lanes.sessions,
        args.steps,
        || stream.next_batch(),
        &mut watch,
    )?;

    let runs = watch.runs;
    print_table(&runs, args.steps);
    let summary: Vec<EpsSummary> = eps_values
        .iter()
        .map(|&eps| summarise(&runs, eps))
        .collect();
    let report = Report {
        check: "scale-free",
        verdict: verdict(&summary, args.steps, args.precision.thresholds()),
        settings: Settings {
            model: args.model.model.clone(),
            bn: args.model.bn,
            steps: args.steps,
            eps: eps_values,
            loss_multipliers: args.mults.clone(),
            coord_decades: args.coord_decades,
            precision: format!("{:?}", args.precision).to_lowercase(),
            common: CommonSettings::new(&input, &args.optimizer, wd),
        },
        summary,
        runs,
        wall_s: started.elapsed().as_secs_f64(),
    };
    args.output
        .finish(&report.verdict, report.wall_s, &report)?;
    Ok(report)
}

/// A NaN (a diverged run) counts as the largest deviation.
fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

fn live_diverged(values: &Tensor) -> bool {
    values.isfinite().logical_not().any().int64_value(&[]) != 0
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

fn summarise(runs: &[Run], eps: f64) -> EpsSummary {
    let compared = || runs.iter().filter(move |r| r.eps == eps && !r.reference);
    let scale_free_max = compared()
        .filter(|r| r.optimizer != DecayMode::L2)
        .map(|r| r.max_deviation.unwrap_or(f64::NAN))
        .fold(0.0, nan_max);
    let adam_l2_min = compared()
        .filter(|r| r.optimizer == DecayMode::L2)
        .map(|r| r.final_deviation.filter(|d| !d.is_nan()))
        .map(|d| d.unwrap_or(f64::INFINITY))
        .fold(f64::INFINITY, f64::min);
    let scale_free_max = if scale_free_max.is_nan() {
        f64::INFINITY
    } else {
        scale_free_max
    };
    EpsSummary {
        eps,
        scale_free_max,
        adam_l2_min,
        ratio: adam_l2_min / scale_free_max,
    }
}

fn verdict(summary: &[EpsSummary], steps: u64, limits: Thresholds) -> Verdict {
    let describe = |s: &EpsSummary| {
        format!(
            "at ε = {:e} after {steps} steps AdamW/AdamProx deviate at most {}, Adam-ℓ2 at least {} ({}× more)",
            s.eps,
            sci(Some(s.scale_free_max)),
            sci(Some(s.adam_l2_min)),
            sci(Some(s.ratio))
        )
    };
    // Judged where the claim is exact (ε = 0) when that was run, else at the smallest ε.
    let Some(judged) = summary.iter().min_by(|a, b| a.eps.total_cmp(&b.eps)) else {
        return Verdict::new(CLAIM, false, "nothing was run");
    };
    let supported = if judged.eps == 0.0 {
        judged.scale_free_max <= limits.rounding
            && judged.adam_l2_min >= limits.ratio_exact * judged.scale_free_max
    } else {
        judged.adam_l2_min >= limits.ratio_eps * judged.scale_free_max
    };
    let detail: Vec<String> = summary.iter().map(describe).collect();
    Verdict::new(CLAIM, supported, &detail.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinate_factors_span_the_requested_decades_and_repeat_by_seed() {
        let f = coordinate_factors(100_000, 3.0, 7, Device::Cpu);
        let log10 = f.log10();
        assert!(log10.min().double_value(&[]) >= -3.0 - 1e-6);
        assert!(log10.max().double_value(&[]) <= 3.0 + 1e-6);
        assert!(log10.min().double_value(&[]) < -2.9 && log10.max().double_value(&[]) > 2.9);
        assert!(f.equal(&coordinate_factors(100_000, 3.0, 7, Device::Cpu)));
        assert!(!f.equal(&coordinate_factors(100_000, 3.0, 8, Device::Cpu)));
        assert_eq!(f.kind(), Kind::Float);
    }
}
