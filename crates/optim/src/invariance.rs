//! Scale-freeness decided by computation: does multiplying the data loss's gradient by
//! positive factors leave an optimizer's iterates unchanged?
//!
//! [`measure`] runs an optimizer twice in float64 on one small deterministic problem,
//! once with the plain gradients and once with each gradient multiplied by fixed positive
//! factors, and compares the iterates after every step. The factors multiply the
//! gradient of the data loss only: the weight decay `λ` and the loss itself are the same
//! in both runs, so a rule is invariant exactly when its update (decay included) does not
//! depend on the gradients' scale. Three kinds of factors ([`Scaling`]):
//!
//! * [`Scaling::PerCoordinate`]: each coordinate its own factor, spanning `1e-3 … 1e3`,
//!   the same at every step (a diagonal reparametrisation of the loss's scale);
//! * [`Scaling::PerTensor`]: one factor per tensor (`1e3`, `1e-3`, `0.03`), the same at
//!   every step (a layer whose loss is scaled, as by a normalisation layer);
//! * [`Scaling::TimeVarying`]: each coordinate its own factor in `1e-3 … 1e3`, drawn anew
//!   at every step.
//!
//! The problem: three tensors (`4×5`, `7`, `2×3×2`), at step `t` the loss
//! `f_t(x) = ½·Σ a_i·(x_i − b_i − n_{t,i})²` (`a_i ∈ [0.5, 1.5]`; `n_{t,i} ∈ [−1, 1]`, a
//! target that moves every step like a minibatch's, so that the gradients change sign
//! during the run), started at a distance up to 1 from `b`; `η = 1e-3`, `λ = 1e-2`,
//! [`STEPS`] steps. The factors are drawn from a fixed-seed generator, so every run
//! computes the same numbers. With `ε` in the denominator a rule is only approximately
//! invariant, so [`measure`] sets every `eps` setting to 0 (and Adagrad's
//! `initial_accumulator_value`, which acts as one, to 0).
//!
//! Invariant means equal to float64 rounding: the largest difference of the iterates
//! over the run, relative to the plain run's largest coordinate at that step, is at most
//! [`TOLERANCE`]. The rules that are not invariant differ by more than `4e-4` here.
//!
//! ```
//! use adamw_prox::invariance::{measure, Scaling};
//! let adamw = measure("adamw")?;
//! assert!(adamw.get(Scaling::PerCoordinate).invariant);
//! assert!(!measure("adam-l2")?.get(Scaling::PerTensor).invariant);
//! # Ok::<(), adamw_prox::OptimError>(())
//! ```
use crate::error::{OptimError, Result};
use crate::group::ParamGroup;
use crate::optim_config::OptimConfig;
use crate::optimizer::Optimizer;
use crate::rules;
use tch::{Device, Kind, Tensor};

/// The largest relative difference of the iterates that counts as equal: float64
/// rounding accumulated over the run (measured: at most `2e-16` for the invariant rules).
pub const TOLERANCE: f64 = 1e-9;

/// The steps of each run.
pub const STEPS: usize = 50;

/// `η_0` of every run.
pub const LR: f64 = 1e-3;

/// `λ` of every run (the crate's units: PyTorch's `weight_decay` for the ℓ2 placement).
pub const WEIGHT_DECAY: f64 = 1e-2;

/// The parameter tensors' shapes.
const SHAPES: [&[i64]; 3] = [&[4, 5], &[7], &[2, 3, 2]];

/// The per-tensor factors, one per shape.
const TENSOR_FACTORS: [f64; 3] = [1e3, 1e-3, 0.03];

/// Factors are `10^u`, `u ∈ [−DECADES, DECADES]`.
const DECADES: f64 = 3.0;

/// How the data loss's gradient is multiplied in the rescaled run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scaling {
    /// Each coordinate its own fixed factor in `1e-3 … 1e3`.
    PerCoordinate,
    /// One fixed factor per tensor.
    PerTensor,
    /// Each coordinate its own factor in `1e-3 … 1e3`, a new one at every step.
    TimeVarying,
}

impl Scaling {
    /// The three kinds, in the order of [`Invariance`]'s fields.
    pub const ALL: [Scaling; 3] = [
        Scaling::PerCoordinate,
        Scaling::PerTensor,
        Scaling::TimeVarying,
    ];

    /// A short name: `per-coordinate`, `per-tensor`, `time-varying`.
    pub fn name(self) -> &'static str {
        match self {
            Scaling::PerCoordinate => "per-coordinate",
            Scaling::PerTensor => "per-tensor",
            Scaling::TimeVarying => "time-varying",
        }
    }
}

/// What one rescaled run showed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Measurement {
    /// The largest `‖x_t − y_t‖∞ / ‖x_t‖∞` over the steps, `x_t` the plain run's iterates
    /// (all tensors together) and `y_t` the rescaled run's; infinite where the rescaled
    /// run left the finite numbers.
    pub max_relative_difference: f64,
    /// `max_relative_difference ≤` [`TOLERANCE`].
    pub invariant: bool,
}

/// One optimizer's invariances.
#[derive(Clone, Debug, PartialEq)]
pub struct Invariance {
    /// The optimizer's name (`adamw`, `lion`, …).
    pub name: &'static str,
    /// Under fixed per-coordinate factors.
    pub per_coordinate: Measurement,
    /// Under fixed per-tensor factors.
    pub per_tensor: Measurement,
    /// Under per-coordinate factors that change every step.
    pub time_varying: Measurement,
}

impl Invariance {
    /// The measurement under `scaling`.
    pub fn get(&self, scaling: Scaling) -> Measurement {
        match scaling {
            Scaling::PerCoordinate => self.per_coordinate,
            Scaling::PerTensor => self.per_tensor,
            Scaling::TimeVarying => self.time_varying,
        }
    }

    /// The three verdicts, in the order of [`Scaling::ALL`].
    pub fn verdicts(&self) -> [bool; 3] {
        Scaling::ALL.map(|s| self.get(s).invariant)
    }
}

/// The configuration [`measure`] runs for `name`: PyTorch's defaults, `η_0 =` [`LR`],
/// `λ =` [`WEIGHT_DECAY`], and `ε = 0` (every `eps` setting, and Adagrad's
/// `initial_accumulator_value`).
pub fn exact_config(name: &str) -> Result<OptimConfig> {
    let mut config = OptimConfig::named(name, LR, WEIGHT_DECAY)?;
    let keys: Vec<&str> = config.rule.settings().iter().map(|(k, _)| *k).collect();
    for key in ["eps", "initial_accumulator_value"] {
        if keys.contains(&key) {
            config = config.set(key, 0.0)?;
        }
    }
    Ok(config)
}

/// Measures the optimizer called `name` (see the module documentation) with
/// [`exact_config`].
pub fn measure(name: &str) -> Result<Invariance> {
    measure_config(&exact_config(name)?)
}

/// Measures `config` as it is (its own `eps`, settings, `η_0` and `λ`; a schedule is
/// followed) on the module's problem. With `ε > 0` a scale-free rule measures as not
/// invariant where the factors make `ε` matter.
pub fn measure_config(config: &OptimConfig) -> Result<Invariance> {
    let problem = Problem::new();
    let mut plain = Run::new(config, &problem)?;
    let mut rescaled = Scaling::ALL
        .iter()
        .map(|_| Run::new(config, &problem))
        .collect::<Result<Vec<_>>>()?;
    let mut worst = [0.0f64; 3];
    for t in 0..STEPS {
        let x = plain.step(&problem, t, None)?;
        let scale = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for ((run, &scaling), worst) in rescaled.iter_mut().zip(&Scaling::ALL).zip(&mut worst) {
            let y = run.step(&problem, t, Some(&problem.factors(scaling, t)))?;
            let diff = x
                .iter()
                .zip(&y)
                .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
            let relative = diff / scale;
            *worst = if relative.is_finite() && y.iter().all(|v| v.is_finite()) {
                worst.max(relative)
            } else {
                f64::INFINITY
            };
        }
    }
    let measurement = |d: f64| Measurement {
        max_relative_difference: d,
        invariant: d <= TOLERANCE,
    };
    Ok(Invariance {
        name: config.name(),
        per_coordinate: measurement(worst[0]),
        per_tensor: measurement(worst[1]),
        time_varying: measurement(worst[2]),
    })
}

/// [`measure`] for every name of [`rules::names`], in its order.
pub fn table() -> Result<Vec<Invariance>> {
    rules::names().map(|n| measure(n.name)).collect()
}

/// The data of the problem, flat over the tensors in order.
struct Problem {
    /// The curvatures `a_i`.
    a: Vec<f64>,
    /// The centres `b_i`.
    b: Vec<f64>,
    /// The starting point.
    x0: Vec<f64>,
    /// Each coordinate's tensor.
    tensor_of: Vec<usize>,
}

impl Problem {
    fn new() -> Self {
        let n: usize = SHAPES.iter().map(|s| numel(s)).sum();
        let mut rng = SplitMix(1);
        let a: Vec<f64> = (0..n).map(|_| 0.5 + rng.uniform()).collect();
        let b: Vec<f64> = (0..n).map(|_| 2.0 * rng.uniform() - 1.0).collect();
        let x0 = b.iter().map(|b| b + 2.0 * rng.uniform() - 1.0).collect();
        let tensor_of = SHAPES
            .iter()
            .enumerate()
            .flat_map(|(k, s)| std::iter::repeat_n(k, numel(s)))
            .collect();
        Problem {
            a,
            b,
            x0,
            tensor_of,
        }
    }

    /// The data loss's gradient at `x` at step `t`: `a ⊙ (x − b − n_t)`.
    fn gradient(&self, x: &[f64], t: usize) -> Vec<f64> {
        let mut noise = SplitMix(2 ^ ((t as u64 + 1) << 8));
        x.iter()
            .zip(&self.a)
            .zip(&self.b)
            .map(|((x, a), b)| a * (x - b - (2.0 * noise.uniform() - 1.0)))
            .collect()
    }

    /// The factors of `scaling` at step `t`.
    fn factors(&self, scaling: Scaling, t: usize) -> Vec<f64> {
        let decades = |rng: &mut SplitMix| 10f64.powf(DECADES * (2.0 * rng.uniform() - 1.0));
        match scaling {
            Scaling::PerCoordinate => {
                let mut rng = SplitMix(3);
                self.tensor_of.iter().map(|_| decades(&mut rng)).collect()
            }
            Scaling::PerTensor => self.tensor_of.iter().map(|&k| TENSOR_FACTORS[k]).collect(),
            Scaling::TimeVarying => {
                let mut rng = SplitMix(4 ^ ((t as u64 + 1) << 8));
                self.tensor_of.iter().map(|_| decades(&mut rng)).collect()
            }
        }
    }
}

fn numel(shape: &[i64]) -> usize {
    shape.iter().product::<i64>() as usize
}

/// One optimizer over the problem's tensors.
struct Run {
    optimizer: Optimizer,
    params: Vec<Tensor>,
}

impl Run {
    fn new(config: &OptimConfig, problem: &Problem) -> Result<Self> {
        let mut at = 0;
        let params: Vec<Tensor> = SHAPES
            .iter()
            .map(|&shape| {
                let n = numel(shape);
                let values = Tensor::from_slice(&problem.x0[at..at + n]);
                at += n;
                values.reshape(shape).set_requires_grad(true)
            })
            .collect();
        let group = ParamGroup::from_tensors("x", params.iter().map(Tensor::shallow_clone));
        let optimizer = config.clone().build_groups(vec![group])?;
        Ok(Run { optimizer, params })
    }

    /// One step with the data loss's gradient (times `factors`); the new iterates.
    fn step(&mut self, problem: &Problem, t: usize, factors: Option<&[f64]>) -> Result<Vec<f64>> {
        let x = self.values()?;
        let mut g = problem.gradient(&x, t);
        if let Some(factors) = factors {
            g.iter_mut().zip(factors).for_each(|(g, c)| *g *= c);
        }
        // `Σ x ⊙ G` with `G` a constant has gradient `G` exactly.
        let mut at = 0;
        let mut surrogate = Tensor::zeros([], (Kind::Double, Device::Cpu));
        for p in &self.params {
            let n = p.numel();
            let g = Tensor::from_slice(&g[at..at + n]).reshape(p.size());
            at += n;
            surrogate += (p * g).sum(Kind::Double);
        }
        self.optimizer.backward_step(&surrogate)?;
        self.values()
    }

    fn values(&self) -> Result<Vec<f64>> {
        let mut x = Vec::new();
        for p in &self.params {
            let flat = p.detach().reshape([-1]);
            x.extend(Vec::<f64>::try_from(&flat).map_err(OptimError::Torch)?);
        }
        Ok(x)
    }
}

/// SplitMix64: a fixed-seed generator, so the problem and its factors are the same numbers
/// on every platform.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}
