//! Each PyTorch-equivalent rule against `torch.optim` itself, step for step in float64:
//! SGD (momentum with dampening, Nesterov, none), RMSprop (plain, centered, momentum),
//! Adagrad (`lr_decay`, `initial_accumulator_value`), Adam (`weight_decay`: adam-l2) and
//! AdamW with per-group betas and AMSGrad in one group. Every case has two parameter
//! groups with their own step sizes, weight decays (PyTorch's units, through
//! `with_torch_weight_decay`) and at least one rule setting of their own; the crate owns
//! a warm-up + cosine schedule (torch: `LambdaLR` with the same formula); at step 100 the
//! crate's optimizer writes its state, is dropped, and a fresh one over the same
//! parameters reads it and goes on. Both implementations (the CPU kernel and the libtorch
//! ops of the CUDA path) are compared at every one of the 200 steps.
//!
//! The gradient at each step is computed from each side's own iterate with the same
//! formula in both languages (here `gradient`, in crates/optim/tests/torch_rules.py `gradient`).
//! torch runs in `crates/optim/tests/torch_rules.py` under `$VIRTUAL_ENV/bin/python`, else the
//! workspace's `.venv/bin/python`; where neither has torch the comparisons print SKIPPED
//! and pass, unless `SCALEFREE_REQUIRE_TORCH=1`.
//!
//! torch.optim has no Lion: `Lion::torch` is compared with the paper's Algorithm 2 written
//! out below in float64.
mod common;

use adamw_prox::{
    rules, AdamConfig, Kernel, OptimConfig, OptimError, Optimizer, ParamGroup, Schedule, Setting,
};
use common::{gaussian, rel_error, to_vec};
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use tch::{Kind, Tensor};

const STEPS: u64 = 200;
/// The step before which the state is written and read into a fresh optimizer.
const RESUME_AT: u64 = 100;
const WARMUP: u64 = 20;
/// The schedule's length: the cosine is still above 0 at the last step.
const TOTAL: u64 = 250;
const TOLERANCE: f64 = 1e-10;
/// The parameters' shapes, group by group.
const SHAPES: [&[&[i64]]; 2] = [&[&[7, 5], &[13]], &[&[2, 3, 4], &[1]]];
const GROUP_NAMES: [&str; 2] = ["a", "b"];

fn schedule() -> Schedule {
    Schedule::warmup_cosine(WARMUP, TOTAL)
}

/// `η_k/η_0` after `k` completed steps, written out independently of `Schedule` (as
/// crates/optim/tests/torch_rules.py's `schedule_factor`).
fn schedule_factor(k: u64) -> f64 {
    if k < WARMUP {
        (k + 1) as f64 / WARMUP as f64
    } else {
        let span = TOTAL - WARMUP;
        let progress = (k - WARMUP).min(span) as f64 / span as f64;
        (0.5 * (1.0 + (std::f64::consts::PI * progress).cos())).max(0.0)
    }
}

/// How the gradients' curvatures and scales are spread across coordinates.
#[derive(Clone, Copy, Debug)]
enum Spread {
    /// Curvatures 1e-3…1e3 times scales 1e-6…1e3: for the rules that normalise the
    /// gradient (Adam, RMSprop, Adagrad, Lion).
    Decades,
    /// Curvatures 1e-2…10, scale 1: SGD is stable with them at its step sizes.
    Mild,
}

impl Spread {
    /// `(curvature_i, scale_i)` of every flat coordinate.
    fn coefficients(self, n: usize) -> (Vec<f64>, Vec<f64>) {
        (0..n)
            .map(|i| match self {
                Spread::Decades => (
                    10f64.powi((i % 7) as i32 - 3),
                    10f64.powi((i * 3 % 10) as i32 - 6),
                ),
                Spread::Mild => (10f64.powi((i % 4) as i32 - 2), 1.0),
            })
            .unzip()
    }
}

/// `scale_i·(curvature_i·(x_i − 1) + noise_i(step))`: the gradient of a quadratic with a
/// step-dependent linear term, at the iterate `x` (crates/optim/tests/torch_rules.py has the same).
fn gradient(x: &[f64], step: u64, curvature: &[f64], scale: &[f64]) -> Vec<f64> {
    x.iter()
        .enumerate()
        .map(|(i, &xi)| {
            let noise =
                ((i as f64 * 12.9898 + step as f64 * 78.233).sin() * 43758.5453).fract() * 0.1;
            scale[i] * (curvature[i] * (xi - 1.0) + noise)
        })
        .collect()
}

/// One parameter group's own numbers, in PyTorch's units.
struct Group {
    lr: f64,
    /// PyTorch's `weight_decay` of the group.
    weight_decay: f64,
    /// `betas` of the group (Adam, Lion).
    betas: Option<(f64, f64)>,
    /// Other settings of the group, by PyTorch's names.
    settings: Vec<(&'static str, Setting)>,
}

impl Group {
    fn new(lr: f64, weight_decay: f64) -> Self {
        Group {
            lr,
            weight_decay,
            betas: None,
            settings: Vec::new(),
        }
    }

    fn betas(mut self, beta1: f64, beta2: f64) -> Self {
        self.betas = Some((beta1, beta2));
        self
    }

    fn set(mut self, key: &'static str, value: impl Into<Setting>) -> Self {
        self.settings.push((key, value.into()));
        self
    }

    /// The group for crates/optim/tests/torch_rules.py: its numbers and its parameters' values.
    fn torch(&self, params: &[Value]) -> Value {
        let mut settings = json!({});
        for (key, value) in &self.settings {
            settings[*key] = serde_json::to_value(value).unwrap();
        }
        if let Some((beta1, beta2)) = self.betas {
            settings["betas"] = json!([beta1, beta2]);
        }
        json!({"lr": self.lr, "weight_decay": self.weight_decay, "settings": settings,
               "params": params})
    }
}

/// One comparison: the crate's configuration and torch's optimizer with the same numbers.
struct Case {
    name: &'static str,
    /// The class in `torch.optim` and its constructor's keyword arguments.
    torch: (&'static str, Value),
    config: OptimConfig,
    groups: [Group; 2],
    spread: Spread,
}

/// The initial values, group by group, parameter by parameter.
fn initial_values() -> Vec<Vec<Tensor>> {
    SHAPES
        .iter()
        .enumerate()
        .map(|(g, shapes)| {
            shapes
                .iter()
                .enumerate()
                .map(|(p, shape)| gaussian(shape, Kind::Double, 10 * g as u64 + p as u64 + 1))
                .collect()
        })
        .collect()
}

fn flat(params: &[Vec<Tensor>]) -> Vec<f64> {
    params.iter().flatten().flat_map(to_vec).collect()
}

fn numel() -> usize {
    flat(&initial_values()).len()
}

fn build(case: &Case, kernel: Kernel, params: &[Vec<Tensor>]) -> Optimizer {
    let groups = params
        .iter()
        .zip(&case.groups)
        .zip(GROUP_NAMES)
        .map(|((tensors, spec), name)| {
            let mut group = ParamGroup::new(name)
                .with_lr(spec.lr)
                .with_torch_weight_decay(spec.weight_decay);
            for (p, tensor) in tensors.iter().enumerate() {
                group = group.with_param(format!("{name}{p}"), tensor.shallow_clone());
            }
            if let Some((beta1, beta2)) = spec.betas {
                group = group.with_betas(beta1, beta2);
            }
            for (key, value) in &spec.settings {
                group = group.with_setting(*key, *value);
            }
            group
        })
        .collect();
    case.config
        .clone()
        .schedule(schedule())
        .kernel(kernel)
        .build_groups(groups)
        .unwrap_or_else(|e| panic!("{}: {e}", case.name))
}

/// How the crate's run passes step `RESUME_AT`.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Resume {
    /// The same optimizer goes on.
    None,
    /// Its state is written, it is dropped, a fresh one reads the state and goes on.
    WriteAndRead,
    /// A fresh one goes on without the state (a guard: this must not match).
    Forget,
}

/// The crate's iterates after each step.
fn ours(case: &Case, kernel: Kernel, resume: Resume) -> Vec<Vec<f64>> {
    let params: Vec<Vec<Tensor>> = initial_values()
        .into_iter()
        .map(|g| g.into_iter().map(|t| t.set_requires_grad(true)).collect())
        .collect();
    let (curvature, scale) = case.spread.coefficients(numel());
    let mut opt = build(case, kernel, &params);
    let mut iterates = Vec::new();
    for step in 0..STEPS {
        if step == RESUME_AT && resume != Resume::None {
            let mut bytes = Vec::new();
            opt.write_state(&mut bytes).unwrap();
            drop(opt);
            opt = build(case, kernel, &params);
            if resume == Resume::WriteAndRead {
                opt.read_state(bytes.as_slice()).unwrap();
                assert_eq!(opt.step_count(), RESUME_AT);
            }
        }
        let g = gradient(&flat(&params), step, &curvature, &scale);
        let mut offset = 0;
        let loss = params.iter().flatten().fold(
            Tensor::zeros([], (Kind::Double, tch::Device::Cpu)),
            |acc, p| {
                let n = p.numel();
                let g = Tensor::from_slice(&g[offset..offset + n]).view(p.size().as_slice());
                offset += n;
                acc + (p * g).sum(Kind::Double)
            },
        );
        opt.zero_grad();
        loss.backward();
        opt.step().unwrap();
        iterates.push(flat(&params));
    }
    iterates
}

/// The largest relative error (max norm, per group) over every step.
fn max_error(ours: &[Vec<f64>], theirs: &[Vec<f64>]) -> f64 {
    assert_eq!(ours.len(), theirs.len());
    let split = SHAPES[0]
        .iter()
        .map(|s| s.iter().product::<i64>() as usize)
        .sum::<usize>();
    ours.iter()
        .zip(theirs)
        .map(|(a, b)| {
            let first = rel_error(&a[..split], &b[..split]);
            let second = rel_error(&a[split..], &b[split..]);
            first.max(second)
        })
        .fold(0.0, f64::max)
}

/// The Python with torch, or why there is none (checked once per test binary).
fn python() -> Option<PathBuf> {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = PYTHON.get_or_init(|| {
        let python = match std::env::var_os("VIRTUAL_ENV") {
            Some(venv) => PathBuf::from(venv).join("bin/python"),
            None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"),
        };
        if !python.exists() {
            return Err(format!("{} does not exist", python.display()));
        }
        match Command::new(&python).args(["-c", "import torch"]).output() {
            Ok(out) if out.status.success() => Ok(python),
            Ok(out) => Err(format!(
                "`{} -c \"import torch\"` failed: {}",
                python.display(),
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            )),
            Err(e) => Err(format!("{} does not run: {e}", python.display())),
        }
    });
    match found {
        Ok(python) => Some(python.clone()),
        Err(why) => {
            let required = std::env::var("SCALEFREE_REQUIRE_TORCH")
                .is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
            assert!(
                !required,
                "no torch to compare with: {why} (SCALEFREE_REQUIRE_TORCH=1)"
            );
            println!("SKIPPED: no torch to compare with: {why}");
            None
        }
    }
}

/// torch.optim's iterates after each step, case by case (crates/optim/tests/torch_rules.py).
fn theirs(python: &PathBuf, cases: &[Case]) -> Vec<Vec<Vec<f64>>> {
    let values: Vec<Vec<Value>> = initial_values()
        .iter()
        .map(|group| {
            group
                .iter()
                .map(|t| json!({"shape": t.size(), "values": to_vec(t)}))
                .collect()
        })
        .collect();
    let requests: Vec<Value> = cases
        .iter()
        .map(|case| {
            let (curvature, scale) = case.spread.coefficients(numel());
            let groups: Vec<Value> = case
                .groups
                .iter()
                .zip(&values)
                .map(|(group, params)| group.torch(params))
                .collect();
            json!({"name": case.name, "optimizer": case.torch.0, "defaults": case.torch.1,
                   "groups": groups, "curvature": curvature, "scale": scale})
        })
        .collect();
    let request = json!({
        "steps": STEPS,
        "schedule": {"warmup": WARMUP, "total": TOTAL},
        "cases": requests,
    });
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("torch_rules.py");
    let mut child = Command::new(python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", python.display()));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{} failed:\n{}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let reply: Value = serde_json::from_slice(&out.stdout).unwrap();
    reply["cases"]
        .as_array()
        .unwrap()
        .iter()
        .zip(cases)
        .map(|(result, case)| {
            assert_eq!(result["name"], case.name);
            serde_json::from_value(result["iterates"].clone()).unwrap()
        })
        .collect()
}

/// Every case, both implementations, against torch.optim at every step.
fn compare_with_torch(cases: &[Case]) {
    let Some(python) = python() else { return };
    let reference = theirs(&python, cases);
    let mut failures = Vec::new();
    for (case, theirs) in cases.iter().zip(&reference) {
        for kernel in [Kernel::Auto, Kernel::TensorOps] {
            let err = max_error(&ours(case, kernel, Resume::WriteAndRead), theirs);
            println!(
                "{} ({kernel:?}): max relative error {err:.2e} over {STEPS} steps",
                case.name
            );
            if err.is_nan() || err > TOLERANCE {
                failures.push(format!("{} ({kernel:?}): {err:e}", case.name));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "relative error above {TOLERANCE:e}: {}",
        failures.join("; ")
    );
}

fn sgd_cases() -> Vec<Case> {
    vec![
        Case {
            name: "sgd, momentum with dampening",
            torch: (
                "SGD",
                json!({"lr": 0.05, "momentum": 0.9, "dampening": 0.1, "weight_decay": 1e-3}),
            ),
            config: rules::Sgd::torch(0.05, 0.9, 0.1, 1e-3, false),
            groups: [
                Group::new(0.05, 1e-3),
                Group::new(0.02, 1e-2)
                    .set("momentum", 0.5)
                    .set("dampening", 0.3),
            ],
            spread: Spread::Mild,
        },
        Case {
            name: "sgd, Nesterov",
            torch: (
                "SGD",
                json!({"lr": 0.05, "momentum": 0.9, "weight_decay": 1e-3, "nesterov": true}),
            ),
            config: OptimConfig::named("sgd", 0.05, 1e-3)
                .and_then(|c| c.set("momentum", 0.9))
                .and_then(|c| c.set("nesterov", true))
                .unwrap(),
            groups: [
                Group::new(0.03, 5e-3),
                Group::new(0.08, 1e-2).set("momentum", 0.7),
            ],
            spread: Spread::Mild,
        },
        Case {
            name: "sgd, no momentum",
            torch: ("SGD", json!({"lr": 0.05, "weight_decay": 5e-3})),
            config: rules::Sgd::torch(0.05, 0.0, 0.0, 5e-3, false),
            groups: [Group::new(0.05, 5e-3), Group::new(0.1, 2e-2)],
            spread: Spread::Mild,
        },
        Case {
            name: "sgd, momentum in one group only",
            torch: ("SGD", json!({"lr": 0.05, "weight_decay": 1e-3})),
            config: rules::Sgd::torch(0.05, 0.0, 0.0, 1e-3, false),
            groups: [
                Group::new(0.05, 1e-3),
                Group::new(0.02, 1e-2)
                    .set("momentum", 0.9)
                    .set("nesterov", true),
            ],
            spread: Spread::Mild,
        },
    ]
}

fn rmsprop_cases() -> Vec<Case> {
    let torch = |centered: bool, momentum: f64| {
        (
            "RMSprop",
            json!({"lr": 1e-2, "alpha": 0.99, "eps": 1e-8, "weight_decay": 1e-3,
                   "momentum": momentum, "centered": centered}),
        )
    };
    vec![
        Case {
            name: "rmsprop",
            torch: torch(false, 0.0),
            config: rules::RmsProp::torch(1e-2, 0.99, 1e-8, 1e-3, 0.0, false),
            groups: [
                Group::new(1e-2, 1e-3),
                Group::new(3e-3, 1e-2).set("alpha", 0.9),
            ],
            spread: Spread::Decades,
        },
        Case {
            name: "rmsprop, centered",
            torch: torch(true, 0.0),
            config: rules::RmsProp::torch(1e-2, 0.99, 1e-8, 1e-3, 0.0, true),
            groups: [
                Group::new(1e-2, 1e-3),
                Group::new(3e-3, 1e-2).set("alpha", 0.95).set("eps", 1e-6),
            ],
            spread: Spread::Decades,
        },
        Case {
            name: "rmsprop, momentum",
            torch: torch(false, 0.9),
            config: rules::RmsProp::torch(1e-2, 0.99, 1e-8, 1e-3, 0.9, false),
            groups: [
                Group::new(5e-3, 1e-3),
                Group::new(1e-3, 1e-2).set("momentum", 0.5),
            ],
            spread: Spread::Decades,
        },
        Case {
            name: "rmsprop, centered with momentum in one group",
            torch: torch(true, 0.9),
            config: rules::RmsProp::torch(1e-2, 0.99, 1e-8, 1e-3, 0.9, true),
            groups: [
                Group::new(5e-3, 1e-3),
                Group::new(1e-2, 0.0)
                    .set("centered", false)
                    .set("momentum", 0.0),
            ],
            spread: Spread::Decades,
        },
    ]
}

fn adagrad_cases() -> Vec<Case> {
    vec![Case {
        name: "adagrad, lr_decay and initial_accumulator_value",
        torch: (
            "Adagrad",
            json!({"lr": 5e-2, "lr_decay": 1e-2, "weight_decay": 1e-3,
                   "initial_accumulator_value": 0.1, "eps": 1e-10}),
        ),
        config: rules::Adagrad::torch(5e-2, 1e-2, 1e-3, 0.1, 1e-10),
        groups: [
            Group::new(5e-2, 1e-3),
            // Not `initial_accumulator_value`: torch.optim.Adagrad fills every group's
            // `sum` from the constructor's value and ignores a group's own (torch 2.13).
            Group::new(0.2, 1e-2).set("lr_decay", 0.05).set("eps", 1e-8),
        ],
        spread: Spread::Decades,
    }]
}

fn adam_cases() -> Vec<Case> {
    vec![
        Case {
            name: "adam-l2 (torch.optim.Adam with weight_decay)",
            torch: ("Adam", json!({"lr": 1e-2, "weight_decay": 1e-3})),
            config: AdamConfig::torch_adam(1e-2, 1e-3).into(),
            groups: [
                Group::new(1e-2, 1e-3),
                Group::new(3e-3, 1e-2).betas(0.8, 0.99).set("amsgrad", true),
            ],
            spread: Spread::Decades,
        },
        Case {
            name: "adamw (torch.optim.AdamW)",
            torch: ("AdamW", json!({"lr": 1e-2, "weight_decay": 1e-2})),
            config: AdamConfig::torch_adamw(1e-2, 1e-2).into(),
            groups: [
                Group::new(1e-2, 1e-2).betas(0.9, 0.95),
                Group::new(3e-2, 0.1).betas(0.85, 0.98).set("amsgrad", true),
            ],
            spread: Spread::Decades,
        },
    ]
}

fn lion_cases() -> Vec<Case> {
    vec![Case {
        name: "lion (Lion::torch)",
        torch: ("", Value::Null),
        config: rules::Lion::torch(2e-3, 0.9, 0.99, 0.5),
        groups: [
            Group::new(2e-3, 0.5),
            Group::new(5e-4, 2.0).betas(0.95, 0.98),
        ],
        spread: Spread::Decades,
    }]
}

/// Lion as the paper's Algorithm 2, coordinate by coordinate in float64, each group with
/// its step size `η_g`, decay `λ'_g` and betas: `c = β1·m + (1−β1)·g`,
/// `θ ← θ − η_t·(sign(c) + λ'·θ)` (sign(0) = 0), `m ← β2·m + (1−β2)·g`.
fn lion_reference(case: &Case) -> Vec<Vec<f64>> {
    let mut x = flat(&initial_values());
    let mut m = vec![0.0; x.len()];
    let (curvature, scale) = case.spread.coefficients(x.len());
    let split = SHAPES[0]
        .iter()
        .map(|s| s.iter().product::<i64>() as usize)
        .sum::<usize>();
    let mut iterates = Vec::new();
    for step in 0..STEPS {
        let g = gradient(&x, step, &curvature, &scale);
        for i in 0..x.len() {
            let group = &case.groups[usize::from(i >= split)];
            let (beta1, beta2) = group.betas.unwrap_or((0.9, 0.99));
            let eta = group.lr * schedule_factor(step);
            let c = beta1 * m[i] + (1.0 - beta1) * g[i];
            let sign = if c > 0.0 {
                1.0
            } else if c < 0.0 {
                -1.0
            } else {
                0.0
            };
            x[i] -= eta * (sign + group.weight_decay * x[i]);
            m[i] = beta2 * m[i] + (1.0 - beta2) * g[i];
        }
        iterates.push(x.clone());
    }
    iterates
}

fn every_case() -> Vec<Case> {
    [
        sgd_cases(),
        rmsprop_cases(),
        adagrad_cases(),
        adam_cases(),
        lion_cases(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

#[test]
fn sgd_with_dampened_nesterov_or_no_momentum_matches_torch_optim_sgd_to_1e10() {
    compare_with_torch(&sgd_cases());
}

#[test]
fn rmsprop_plain_centered_and_with_momentum_matches_torch_optim_rmsprop_to_1e10() {
    compare_with_torch(&rmsprop_cases());
}

#[test]
fn adagrad_with_lr_decay_and_initial_accumulator_matches_torch_optim_adagrad_to_1e10() {
    compare_with_torch(&adagrad_cases());
}

#[test]
fn adam_l2_and_adamw_with_group_betas_and_amsgrad_match_torch_optim_adam_and_adamw_to_1e10() {
    compare_with_torch(&adam_cases());
}

#[test]
fn lion_torch_matches_the_papers_algorithm_2_written_out_to_1e10() {
    for case in lion_cases() {
        let reference = lion_reference(&case);
        for kernel in [Kernel::Auto, Kernel::TensorOps] {
            let err = max_error(&ours(&case, kernel, Resume::WriteAndRead), &reference);
            println!(
                "{} ({kernel:?}): max relative error {err:.2e} over {STEPS} steps",
                case.name
            );
            assert!(err <= TOLERANCE, "{} ({kernel:?}): {err:e}", case.name);
        }
    }
}

#[test]
fn resuming_from_the_written_state_is_bit_identical_to_running_through() {
    for case in every_case() {
        let through = ours(&case, Kernel::Auto, Resume::None);
        let resumed = ours(&case, Kernel::Auto, Resume::WriteAndRead);
        assert!(through == resumed, "{}: the resumed run differs", case.name);
    }
}

#[test]
fn a_fresh_optimizer_without_the_state_departs_from_the_run_so_the_resume_is_tested() {
    for case in every_case() {
        let through = ours(&case, Kernel::Auto, Resume::None);
        let forgot = ours(&case, Kernel::Auto, Resume::Forget);
        let err = max_error(&forgot, &through);
        assert!(
            err > 1e3 * TOLERANCE,
            "{}: forgetting the state moves the iterates by only {err:e}",
            case.name
        );
    }
}

#[test]
fn the_groups_own_settings_change_the_iterates_so_the_comparison_sees_them() {
    // Without the second group's settings the run must differ from the one with them.
    for case in every_case() {
        let [_, second] = &case.groups;
        if second.betas.is_none() && second.settings.is_empty() {
            continue; // plain SGD: no settings of its own to give a group
        }
        let with = ours(&case, Kernel::Auto, Resume::None);
        let mut plain = case;
        let [_, second] = &mut plain.groups;
        second.betas = None;
        second.settings.clear();
        let without = ours(&plain, Kernel::Auto, Resume::None);
        let err = max_error(&with, &without);
        assert!(
            err > 1e3 * TOLERANCE,
            "{}: the second group's settings move the iterates by only {err:e}",
            plain.name
        );
    }
}

#[test]
fn a_state_written_by_one_rule_is_refused_by_another_naming_both() {
    let pairs = [
        ("sgd", "adamw"),
        ("adamw", "sgd"),
        ("rmsprop", "adagrad"),
        ("lion", "rmsprop"),
        ("adagrad", "adam-l2"),
    ];
    for (written, reader) in pairs {
        let x = gaussian(&[4, 3], Kind::Double, 5).set_requires_grad(true);
        let group = || ParamGroup::new("all").with_param("x", x.shallow_clone());
        let mut writer = OptimConfig::named(written, 1e-2, 1e-3)
            .unwrap()
            .build_groups(vec![group()])
            .unwrap();
        writer.backward_step(&x.square().sum(Kind::Double)).unwrap();
        let mut bytes = Vec::new();
        writer.write_state(&mut bytes).unwrap();
        let tensors = writer.state_tensors("opt.");
        drop(writer);

        let mut other = OptimConfig::named(reader, 1e-2, 1e-3)
            .unwrap()
            .build_groups(vec![group()])
            .unwrap();
        for refused in [
            other.read_state(bytes.as_slice()),
            other.load_state_tensors("opt.", &tensors),
        ] {
            let err = refused.expect_err("another rule's state must be refused");
            assert!(matches!(err, OptimError::StateMismatch { .. }), "{err}");
            let message = err.to_string();
            assert!(
                message.contains(&format!("`{written}`"))
                    && message.contains(&format!("`{reader}`")),
                "{written} into {reader}: {message}"
            );
        }
        assert_eq!(
            other.step_count(),
            0,
            "nothing is loaded from a refused state"
        );
    }
}

#[test]
fn adagrad_starts_each_groups_sum_at_the_groups_own_initial_accumulator_value() {
    // torch.optim.Adagrad (2.13) fills every `sum` from the constructor's value and
    // ignores a group's `initial_accumulator_value`; the crate honours the group's, as it
    // does every other group setting, so the torch comparison above leaves it equal.
    let x = gaussian(&[3], Kind::Double, 1).set_requires_grad(true);
    let y = gaussian(&[2], Kind::Double, 2).set_requires_grad(true);
    let opt = rules::Adagrad::torch(1e-2, 0.0, 0.0, 0.1, 1e-10)
        .build_groups(vec![
            ParamGroup::new("a").with_param("x", x),
            ParamGroup::new("b")
                .with_param("y", y)
                .with_setting("initial_accumulator_value", 0.5),
        ])
        .unwrap();
    for (group, expected) in [("a", 0.1), ("b", 0.5)] {
        let sum = to_vec(opt.group(group).unwrap().state("sum").unwrap());
        assert!(sum.iter().all(|&s| s == expected), "{group}: {sum:?}");
    }
}
