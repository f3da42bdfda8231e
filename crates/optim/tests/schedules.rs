//! Each schedule against the same schedule in PyTorch (`torch.optim.lr_scheduler`): the
//! step size that PyTorch's scheduler reports for steps 0..=N (`get_last_lr()` before
//! each `optimizer.step()`), float64, relative error ≤ 1e-12; and old serialized schedules
//! still read.
//!
//! transformers' warm-up schedules are `LambdaLR`s; transformers is not among the
//! environment's packages, so the script has their two factor functions as transformers
//! writes them (`_get_cosine_schedule_with_warmup_lr_lambda`,
//! `_get_linear_schedule_with_warmup_lr_lambda` in `transformers/optimization.py`).
//!
//! Without a Python with torch (see tests/torch_python) each test prints `SKIPPED` and
//! passes; `SCALEFREE_REQUIRE_TORCH=1` makes that a failure.
mod torch_python;

use adamw_prox::{AdamConfig, ParamGroup, Schedule};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::OnceLock;
use tch::Tensor;
use torch_python::rel;

const TOLERANCE: f64 = 1e-12;

/// The step sizes that PyTorch gives, per case: for each step 0..=N, one per group.
const SCRIPT: &str = r#"
import json, math, sys, warnings
import torch
from torch.optim import lr_scheduler as L

# SequentialLR warns about the order of its schedulers' steps; the numbers are the test.
warnings.simplefilter("ignore")

def transformers_cosine(W, N, num_cycles=0.5):
    def lr_lambda(current_step):
        if current_step < W:
            return float(current_step) / float(max(1, W))
        progress = float(current_step - W) / float(max(1, N - W))
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress)))
    return lr_lambda

def transformers_linear(W, N):
    def lr_lambda(current_step):
        if current_step < W:
            return float(current_step) / float(max(1, W))
        return max(0.0, float(N - current_step) / float(max(1, N - W)))
    return lr_lambda

out = {}
for case in json.loads(sys.argv[1]):
    params = [torch.zeros(1, dtype=torch.float64, requires_grad=True) for _ in case["lrs"]]
    o = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, case["lrs"])])
    s = eval(case["torch"])
    lrs = []
    for _ in range(case["steps"] + 1):
        lrs.append(s.get_last_lr())
        o.step()
        s.step()
    out[case["name"]] = lrs
print(json.dumps(out))
"#;

/// A schedule here and the same in PyTorch: `torch` is a Python expression of the
/// scheduler over the optimizer `o` (`L` is `torch.optim.lr_scheduler`), whose groups
/// have the step sizes `lrs`.
struct Case {
    name: &'static str,
    schedule: Schedule,
    torch: String,
    lrs: Vec<f64>,
    steps: u64,
}

fn case(
    name: &'static str,
    schedule: Schedule,
    torch: impl Into<String>,
    lrs: &[f64],
    steps: u64,
) -> Case {
    Case {
        name,
        schedule,
        torch: torch.into(),
        lrs: lrs.to_vec(),
        steps,
    }
}

const LR: f64 = 0.1;
/// PyTorch's absolute `eta_min`, and this crate's fraction of `LR`.
const ETA_MIN: f64 = 1e-3;
const W: u64 = 10;
const TOTAL: u64 = 110;

fn cases() -> Vec<Case> {
    let cosine_min = Schedule::Cosine {
        total_steps: 100,
        min_factor: ETA_MIN / LR,
    };
    vec![
        case(
            "cosine",
            Schedule::cosine(100),
            "L.CosineAnnealingLR(o, T_max=100)",
            &[LR],
            100,
        ),
        case(
            "cosine_eta_min",
            cosine_min,
            format!("L.CosineAnnealingLR(o, T_max=100, eta_min={ETA_MIN:?})"),
            &[LR],
            100,
        ),
        case(
            "step",
            Schedule::Step {
                every: 7,
                gamma: 0.5,
            },
            "L.StepLR(o, step_size=7, gamma=0.5)",
            &[LR],
            60,
        ),
        case(
            "multi_step",
            Schedule::MultiStep {
                milestones: vec![10, 25, 25, 40],
                gamma: 0.3,
            },
            "L.MultiStepLR(o, milestones=[10, 25, 25, 40], gamma=0.3)",
            &[LR],
            60,
        ),
        case(
            "exponential",
            Schedule::Exponential { gamma: 0.97 },
            "L.ExponentialLR(o, gamma=0.97)",
            &[LR],
            200,
        ),
        case(
            "linear",
            Schedule::Linear {
                total_steps: 80,
                end_factor: 0.1,
            },
            "L.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=80)",
            &[LR],
            100,
        ),
        case(
            "linear_to_zero",
            Schedule::Linear {
                total_steps: 80,
                end_factor: 0.0,
            },
            "L.LinearLR(o, start_factor=1.0, end_factor=0.0, total_iters=80)",
            &[LR],
            100,
        ),
        case(
            "warmup_cosine",
            Schedule::warmup_cosine(W, TOTAL),
            format!(
                "L.SequentialLR(o, [L.LinearLR(o, start_factor=1/{W}, end_factor=1.0, \
                 total_iters={W} - 1), L.CosineAnnealingLR(o, T_max={TOTAL} - {W})], \
                 milestones=[{W}])"
            ),
            &[LR],
            TOTAL,
        ),
        case(
            "warmup_cosine_eta_min",
            Schedule::Warmup {
                warmup_steps: W,
                from_zero: false,
                then: Box::new(Schedule::Cosine {
                    total_steps: TOTAL - W,
                    min_factor: ETA_MIN / LR,
                }),
            },
            format!(
                "L.SequentialLR(o, [L.LinearLR(o, start_factor=1/{W}, end_factor=1.0, \
                 total_iters={W} - 1), L.CosineAnnealingLR(o, T_max={TOTAL} - {W}, \
                 eta_min={ETA_MIN:?})], milestones=[{W}])"
            ),
            &[LR],
            TOTAL,
        ),
        case(
            "warmup_cosine_from_zero",
            Schedule::warmup_cosine_from_zero(W, TOTAL),
            format!("L.LambdaLR(o, transformers_cosine({W}, {TOTAL}))"),
            &[LR],
            TOTAL,
        ),
        case(
            "warmup_linear_from_zero",
            Schedule::warmup_linear_from_zero(W, TOTAL),
            format!("L.LambdaLR(o, transformers_linear({W}, {TOTAL}))"),
            &[LR],
            TOTAL,
        ),
        // Two groups of their own step sizes, through the optimizer (see
        // `an_owned_schedule_scales_each_groups_own_step_size_as_pytorch`).
        case(
            "groups_multi_step",
            Schedule::MultiStep {
                milestones: vec![5, 12],
                gamma: 0.1,
            },
            "L.MultiStepLR(o, milestones=[5, 12], gamma=0.1)",
            &[LR, 3e-3],
            20,
        ),
        case(
            "groups_warmup_cosine_from_zero",
            Schedule::warmup_cosine_from_zero(4, 30),
            "L.LambdaLR(o, transformers_cosine(4, 30))",
            &[LR, 3e-3],
            30,
        ),
    ]
}

/// Per case, for each step, the step size of each group.
type StepSizes = HashMap<String, Vec<Vec<f64>>>;

/// PyTorch's step sizes for every case (one run of Python), or why there are none.
fn torch_lrs() -> &'static Result<StepSizes, String> {
    static LRS: OnceLock<Result<StepSizes, String>> = OnceLock::new();
    LRS.get_or_init(|| {
        let spec: Vec<Value> = cases()
            .iter()
            .map(|c| json!({"name": c.name, "torch": c.torch, "lrs": c.lrs, "steps": c.steps}))
            .collect();
        let out = torch_python::run(SCRIPT, &[&Value::Array(spec).to_string()])?;
        Ok(serde_json::from_str(&out).expect("the script prints the step sizes as JSON"))
    })
}

/// PyTorch's step sizes of case `name`, or `None` after printing that `test` is skipped.
fn torch_case(test: &str, name: &str) -> Option<Vec<Vec<f64>>> {
    match torch_lrs() {
        Ok(lrs) => Some(lrs[name].clone()),
        Err(why) => {
            torch_python::skip(test, why);
            None
        }
    }
}

/// The largest relative difference between `Schedule::lr_at` and PyTorch over the
/// case's steps, checked against the tolerance; printed for the record.
fn compare(test: &str, name: &str) {
    let Some(theirs) = torch_case(test, name) else {
        return;
    };
    let case = cases().into_iter().find(|c| c.name == name).unwrap();
    assert_eq!(theirs.len() as u64, case.steps + 1);
    let mut worst = (0.0, 0);
    for (t, theirs) in theirs.iter().enumerate() {
        let ours = case.schedule.lr_at(case.lrs[0], t as u64);
        let error = rel(ours, theirs[0]);
        assert!(
            error <= TOLERANCE,
            "{name}: step {t}: ours {ours:e}, PyTorch's {:e} (relative {error:e})",
            theirs[0]
        );
        if error > worst.0 {
            worst = (error, t);
        }
    }
    println!(
        "{name}: {} steps, largest relative difference {:e} (step {})",
        case.steps + 1,
        worst.0,
        worst.1
    );
}

#[test]
fn cosine_is_pytorchs_cosine_annealing_lr() {
    compare("cosine_is_pytorchs_cosine_annealing_lr", "cosine");
}

#[test]
fn cosine_with_a_min_factor_is_cosine_annealing_lr_with_eta_min() {
    compare(
        "cosine_with_a_min_factor_is_cosine_annealing_lr_with_eta_min",
        "cosine_eta_min",
    );
}

#[test]
fn step_is_pytorchs_step_lr() {
    compare("step_is_pytorchs_step_lr", "step");
}

#[test]
fn multi_step_is_pytorchs_multi_step_lr_repeated_milestones_included() {
    compare(
        "multi_step_is_pytorchs_multi_step_lr_repeated_milestones_included",
        "multi_step",
    );
}

#[test]
fn exponential_is_pytorchs_exponential_lr() {
    compare("exponential_is_pytorchs_exponential_lr", "exponential");
}

#[test]
fn linear_is_pytorchs_linear_lr_from_one() {
    compare("linear_is_pytorchs_linear_lr_from_one", "linear");
    compare("linear_is_pytorchs_linear_lr_from_one", "linear_to_zero");
}

#[test]
fn warmup_cosine_is_pytorchs_linear_lr_then_cosine_annealing_lr() {
    let test = "warmup_cosine_is_pytorchs_linear_lr_then_cosine_annealing_lr";
    compare(test, "warmup_cosine");
    compare(test, "warmup_cosine_eta_min");
}

#[test]
fn warmup_from_zero_is_transformers_cosine_and_linear_schedules_with_warmup() {
    let test = "warmup_from_zero_is_transformers_cosine_and_linear_schedules_with_warmup";
    compare(test, "warmup_cosine_from_zero");
    compare(test, "warmup_linear_from_zero");
}

/// An owned schedule multiplies each group's own step size, as PyTorch's schedulers do
/// to each group's `lr`: `GroupView::scheduled_lr` of two groups against
/// `get_last_lr()` of a two-group optimizer.
#[test]
fn an_owned_schedule_scales_each_groups_own_step_size_as_pytorch() {
    let test = "an_owned_schedule_scales_each_groups_own_step_size_as_pytorch";
    for name in ["groups_multi_step", "groups_warmup_cosine_from_zero"] {
        let Some(theirs) = torch_case(test, name) else {
            return;
        };
        let case = cases().into_iter().find(|c| c.name == name).unwrap();
        let param = |n: i64| Tensor::zeros([n], tch::kind::DOUBLE_CPU).set_requires_grad(true);
        let groups = vec![
            ParamGroup::new("a").with_param("a", param(3)),
            ParamGroup::new("b")
                .with_param("b", param(2))
                .with_lr(case.lrs[1]),
        ];
        let mut opt = AdamConfig::adamw(case.lrs[0], 0.0)
            .schedule(case.schedule.clone())
            .build_groups(groups)
            .unwrap();
        let mut worst: f64 = 0.0;
        for (t, theirs) in theirs.iter().enumerate() {
            for (i, group) in ["a", "b"].into_iter().enumerate() {
                let ours = opt.group(group).unwrap().scheduled_lr();
                let error = rel(ours, theirs[i]);
                assert!(
                    error <= TOLERANCE,
                    "{name}: group {group}, step {t}: ours {ours:e}, PyTorch's {:e}",
                    theirs[i]
                );
                worst = worst.max(error);
            }
            opt.step().unwrap(); // no gradients: nothing moves, the clock advances
        }
        println!("{name}: two groups, largest relative difference {worst:e}");
    }
}

#[test]
fn schedules_written_before_the_new_fields_still_read() {
    let cosine: Schedule = serde_json::from_str(r#"{"kind":"cosine","total_steps":100}"#).unwrap();
    assert_eq!(cosine, Schedule::cosine(100));
    let warmup: Schedule = serde_json::from_str(
        r#"{"kind":"warmup","warmup_steps":10,"then":{"kind":"cosine","total_steps":100}}"#,
    )
    .unwrap();
    assert_eq!(warmup, Schedule::warmup_cosine(10, 110));
    assert_eq!(warmup.lr_at(1.0, 0), 0.1);
    // Inside a configuration, as state files and run records hold it.
    let config: AdamConfig = serde_json::from_str(
        r#"{"decay":"adamw","lr":0.001,"weight_decay":0.0,"beta1":0.9,"beta2":0.999,
            "eps":1e-8,"amsgrad":false,"schedule":{"kind":"warmup","warmup_steps":5,
            "then":{"kind":"cosine","total_steps":20}}}"#,
    )
    .unwrap();
    assert_eq!(config.schedule, Some(Schedule::warmup_cosine(5, 25)));
}

#[test]
fn existing_schedules_are_written_as_before_and_new_fields_only_when_set() {
    let text = |s: &Schedule| serde_json::to_string(s).unwrap();
    assert_eq!(
        text(&Schedule::cosine(100)),
        r#"{"kind":"cosine","total_steps":100}"#
    );
    assert_eq!(
        text(&Schedule::warmup_cosine(10, 110)),
        r#"{"kind":"warmup","warmup_steps":10,"then":{"kind":"cosine","total_steps":100}}"#
    );
    assert_eq!(
        text(&Schedule::Step {
            every: 3,
            gamma: 0.5
        }),
        r#"{"kind":"step","every":3,"gamma":0.5}"#
    );
    assert_eq!(text(&Schedule::Constant), r#"{"kind":"constant"}"#);
    let new = [
        Schedule::Cosine {
            total_steps: 100,
            min_factor: 0.01,
        },
        Schedule::warmup_cosine_from_zero(10, 110),
        Schedule::warmup_linear_from_zero(10, 110),
        Schedule::MultiStep {
            milestones: vec![30, 80],
            gamma: 0.1,
        },
        Schedule::Exponential { gamma: 0.99 },
        Schedule::Linear {
            total_steps: 50,
            end_factor: 0.1,
        },
    ];
    for schedule in new {
        let back: Schedule = serde_json::from_str(&text(&schedule)).unwrap();
        assert_eq!(back, schedule, "{}", text(&schedule));
    }
    assert_eq!(
        text(&Schedule::warmup_cosine_from_zero(10, 110)),
        r#"{"kind":"warmup","warmup_steps":10,"from_zero":true,"then":{"kind":"cosine","total_steps":100}}"#
    );
    assert_eq!(
        text(&Schedule::MultiStep {
            milestones: vec![30, 80],
            gamma: 0.1
        }),
        r#"{"kind":"multi-step","milestones":[30,80],"gamma":0.1}"#
    );
}

#[test]
fn invalid_new_schedules_are_refused_naming_the_field() {
    let field = |s: Schedule| match s.validate().unwrap_err() {
        adamw_prox::OptimError::InvalidSetting { field, .. } => field,
        e => panic!("{e}"),
    };
    let cosine = |min_factor| Schedule::Cosine {
        total_steps: 10,
        min_factor,
    };
    assert_eq!(field(cosine(-0.1)), "min_factor");
    assert_eq!(field(cosine(1.5)), "min_factor");
    assert_eq!(field(cosine(f64::NAN)), "min_factor");
    assert!(cosine(1.0).validate().is_ok());
    let linear = |total_steps, end_factor| Schedule::Linear {
        total_steps,
        end_factor,
    };
    assert_eq!(field(linear(0, 0.0)), "total_steps");
    assert_eq!(field(linear(10, 1.5)), "end_factor");
    assert_eq!(field(linear(10, f64::INFINITY)), "end_factor");
    let multi = |milestones: &[u64], gamma| Schedule::MultiStep {
        milestones: milestones.to_vec(),
        gamma,
    };
    assert_eq!(field(multi(&[5, 3], 0.1)), "milestones");
    assert_eq!(field(multi(&[3, 5], 0.0)), "gamma");
    assert_eq!(field(multi(&[3, 5], f64::NAN)), "gamma");
    assert!(multi(&[], 0.1).validate().is_ok());
    assert!(multi(&[3, 3], 0.1).validate().is_ok());
    assert_eq!(field(Schedule::Exponential { gamma: -1.0 }), "gamma");
    assert_eq!(
        field(Schedule::Exponential {
            gamma: f64::INFINITY
        }),
        "gamma"
    );
    assert_eq!(
        field(Schedule::warmup_cosine_from_zero(0, 10)),
        "warmup_steps"
    );
    let inner = Schedule::Warmup {
        warmup_steps: 2,
        from_zero: true,
        then: Box::new(linear(10, -1.0)),
    };
    assert_eq!(field(inner), "end_factor");
    let err = AdamConfig::adamw(1e-3, 0.0)
        .schedule(Schedule::Exponential { gamma: 0.0 })
        .validate()
        .unwrap_err();
    assert!(err.to_string().contains("`gamma`"), "{err}");
}

#[test]
fn a_schedule_past_its_end_stays_at_its_last_step_size() {
    let cosine = Schedule::Cosine {
        total_steps: 10,
        min_factor: 0.25,
    };
    assert_eq!(cosine.lr_at(2.0, 10), 0.5);
    assert_eq!(cosine.lr_at(2.0, 1_000_000), 0.5);
    let linear = Schedule::Linear {
        total_steps: 10,
        end_factor: 0.25,
    };
    assert_eq!(linear.lr_at(2.0, 10), 0.5);
    assert_eq!(linear.lr_at(2.0, u64::MAX), 0.5);
    let exponential = Schedule::Exponential { gamma: 0.5 };
    assert_eq!(exponential.lr_at(1.0, u64::MAX), 0.0);
    let multi = Schedule::MultiStep {
        milestones: vec![1, 2],
        gamma: 0.5,
    };
    assert_eq!(multi.lr_at(1.0, u64::MAX), 0.25);
}
