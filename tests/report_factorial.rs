//! The factorial test of claim 4 and the families table, on hand-made run directories
//! whose numbers are known: each arm's damage per dose, the dose-response slopes and the
//! main effects against values computed here by hand from the same numbers, the verdict,
//! and a diverged run counted and shown rather than averaged in.
use scalefree::config::RunConfig;
use scalefree::experiment::{Plan, PlannedRun};
use scalefree::report::generate;
use scalefree::rundir::{RunDir, RunStatus, Summary};
use scalefree::stats::factorial::FactorialRule;
use serde_json::{json, Value};
use std::path::Path;
mod require;
mod tensorboard_support;

const ARMS: [&str; 4] = [
    "adam-l2",
    "adamw",
    "adamw-not-scalefree",
    "adam-l2-scalefree",
];
const DOSES: [u32; 3] = [0, 1, 3];
const SEEDS: u64 = 3;

/// Damage per decade of spread: only the arms that are not scale-free are hurt.
fn damage_per_decade(optimizer: &str) -> f64 {
    match optimizer {
        "adam-l2" => 0.02,
        "adamw-not-scalefree" => 0.018,
        "adam-l2-scalefree" => 0.001,
        _ => 0.0,
    }
}

/// Without factors, each arm's loss above AdamW's: the arms that are not scale-free
/// are worse, so scale-freeness carries the natural gap (with a seed term for the CIs).
fn natural(optimizer: &str, seed: u64) -> f64 {
    match optimizer {
        "adam-l2" => 0.06 + 0.004 * (seed as f64 - 1.0),
        "adamw-not-scalefree" => 0.055,
        "adam-l2-scalefree" => 0.003,
        _ => 0.0,
    }
}

/// Final training loss: a seed effect, the arm's natural term, its damage, and a small
/// seed-and-dose term so that the CIs are not zero.
fn loss(optimizer: &str, dose: u32, seed: u64) -> f64 {
    let (s, d) = (seed as f64, dose as f64);
    let arm = ARMS.iter().position(|a| *a == optimizer).unwrap() as f64;
    2.0 + 0.05 * s
        + natural(optimizer, seed)
        + damage_per_decade(optimizer) * d
        + 0.001 * d * (s - 1.0) * (arm + 1.0)
}

/// Equalize lowers each arm's loss by 0.003 per place in ARMS.
fn equalized(optimizer: &str) -> f64 {
    -0.003 * ARMS.iter().position(|a| *a == optimizer).unwrap() as f64
}

fn accuracy(optimizer: &str, dose: u32, seed: u64) -> f64 {
    0.3 + 0.01 * seed as f64 - damage_per_decade(optimizer) * dose as f64 / 2.0
}

fn summary(status: RunStatus, loss: Option<f64>, accuracy: Option<f64>) -> Summary {
    Summary {
        status,
        final_test_accuracy: accuracy,
        best_test_accuracy: accuracy,
        final_test_loss: Some(1.5),
        final_train_loss: loss,
        final_train_accuracy: Some(0.4),
        epochs_done: 5,
        steps_done: 200,
        wall_s: 1.0,
        images_per_s: 1.0,
        test_error_for_heatmap: accuracy.map(|a| 1.0 - a),
        message: None,
        timing: None,
        records: None,
    }
}

/// Every run at `doses` (0: none) and under equalize; `diverged` names one (optimizer,
/// dose, seed) that diverged instead.
fn write_runs(runs: &Path, doses: &[u32], diverged: Option<(&str, u32, u64)>) {
    let mut planned = Vec::new();
    for optimizer in ARMS {
        // u32::MAX stands for equalize.
        for dose in doses.iter().copied().chain([u32::MAX]) {
            for seed in 0..SEEDS {
                let factors = match dose {
                    0 => "none".to_string(),
                    u32::MAX => "equalize".to_string(),
                    d => format!("spread:{d}"),
                };
                let settings = json!({"model": "resnet20", "optimizer": optimizer, "lr": 1e-3,
                    "wd": 5e-4, "grad_factors": factors, "seed": seed, "epochs": 5});
                let config = RunConfig::from_value(&settings).unwrap();
                let name = config.derived_name();
                let dir = runs.join("fact").join(&name);
                std::fs::create_dir_all(&dir).unwrap();
                let run_dir = RunDir::new(&dir);
                run_dir.write_config(&config).unwrap();
                let s = if diverged == Some((optimizer, dose, seed)) {
                    summary(RunStatus::Diverged, None, None)
                } else {
                    let (l, a) = match dose {
                        u32::MAX => (loss(optimizer, 0, seed) + equalized(optimizer), 0.3),
                        d => (loss(optimizer, d, seed), accuracy(optimizer, d, seed)),
                    };
                    summary(RunStatus::Completed, Some(l), Some(a))
                };
                run_dir.write_summary(&s).unwrap();
                planned.push(PlannedRun::new(name, dir, config));
            }
        }
    }
    let plan = Plan {
        experiment: "fact".into(),
        description: String::new(),
        source: "experiments/fact.json".into(),
        experiment_file: None,
        factorial: Some(FactorialRule { margin: 0.5 }),
        runs: planned,
    };
    std::fs::write(
        runs.join("fact/plan.json"),
        serde_json::to_string(&plan).unwrap(),
    )
    .unwrap();
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

#[track_caller]
fn close(value: &Value, expected: f64) {
    let Some(v) = value.as_f64() else {
        panic!("not a number: {value}, expected {expected}");
    };
    assert!((v - expected).abs() < 1e-9, "{v} != {expected}");
}

/// The damage of `optimizer` at `dose`, per seed, recomputed from the formulas.
fn damages(optimizer: &str, dose: u32) -> Vec<f64> {
    (0..SEEDS)
        .map(|s| loss(optimizer, dose, s) - loss(optimizer, 0, s))
        .collect()
}

#[test]
fn the_factorial_gives_damages_slopes_effects_and_its_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    write_runs(&runs, &DOSES, None);
    let written = generate("fact", &runs, &dir.path().join("report")).unwrap();
    let report = serde_json::to_value(&written.report).unwrap();
    let factorial = &report["factorial"][0];
    assert_eq!(factorial["largest_dose"], 3.0);

    // Each arm's damage at each dose, as a mean over the seeds.
    for (a, optimizer) in ARMS.iter().enumerate() {
        let arm = &factorial["arms"][a];
        assert_eq!(arm["optimizer"], *optimizer);
        for (d, dose) in DOSES.iter().enumerate().skip(1) {
            close(
                &arm["doses"][d]["train_loss_damage"]["mean"],
                mean(&damages(optimizer, *dose)),
            );
            assert_eq!(arm["doses"][d]["completed"], 3);
        }
        // The slope per seed through (0, 1, 3): the formula's slope is linear in dose,
        // so each seed's is damage_per_decade + 0.001·(s − 1)·(arm + 1); their mean is
        // damage_per_decade.
        close(&arm["slope"]["mean"], damage_per_decade(optimizer));
    }

    // Main effects at spread:3 from the per-seed damages, by hand.
    let d: Vec<Vec<f64>> = ARMS.iter().map(|a| damages(a, 3)).collect();
    let per_seed = |f: &dyn Fn(usize) -> f64| mean(&(0..SEEDS as usize).map(f).collect::<Vec<_>>());
    let sf = per_seed(&|s| (d[1][s] + d[3][s]) / 2.0 - (d[0][s] + d[2][s]) / 2.0);
    let dec = per_seed(&|s| (d[1][s] + d[2][s]) / 2.0 - (d[0][s] + d[3][s]) / 2.0);
    let inter = per_seed(&|s| ((d[1][s] - d[2][s]) - (d[3][s] - d[0][s])) / 2.0);
    close(&factorial["effects"]["scale_freeness"]["mean"], sf);
    close(&factorial["effects"]["decoupling"]["mean"], dec);
    close(&factorial["effects"]["interaction"]["mean"], inter);
    // Adam-ℓ2's damage 0.06; scale-freeness lowers it by 0.0555, decoupling by 0.0045.
    assert_eq!(
        factorial["verdict"]["outcome"], "SCALE_FREENESS",
        "{}",
        factorial["line"]
    );

    // Without factors: AdamW − Adam-ℓ2 is 0.01 per seed.
    close(&factorial["natural"]["adamw_minus_adam_l2"]["mean"], -0.06);
    assert_eq!(
        factorial["natural"]["verdict"]["outcome"], "SCALE_FREENESS",
        "{}",
        factorial["natural"]["verdict"]
    );
    let equalize = &factorial["natural"]["equalize"];
    for (a, optimizer) in ARMS.iter().enumerate() {
        close(&equalize["changes"][a]["mean"], equalized(optimizer));
    }
    // (AdamW + Adam-ℓ2 scale-free)/2 − (Adam-ℓ2 + AdamW not scale-free)/2
    // = (−0.003 − 0.009)/2 − (0 − 0.006)/2.
    close(&equalize["effects"]["scale_freeness"]["mean"], -0.003);

    // The families table: every optimizer's exact test, and the damage of the ones run.
    let families = &report["families"];
    assert_eq!(families["factors"], "spread:3");
    let rows = families["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 17);
    let row = |name: &str| rows.iter().find(|r| r["optimizer"] == name).unwrap();
    assert_eq!(row("adamw")["exact"], json!([true, true, false]));
    assert_eq!(row("adam-l2")["exact"], json!([false, false, false]));
    close(&row("adam-l2")["damage"]["mean"], mean(&d[0]));
    assert!(row("sgd")["damage"].is_null());

    let markdown = std::fs::read_to_string(written.dir.join("summary.md")).unwrap();
    assert!(
        markdown.contains("## The factorial test of claim 4"),
        "{markdown}"
    );
    assert!(markdown.contains("verdict: SCALE-FREENESS"), "{markdown}");
    assert!(
        markdown.contains("fixed in the experiment file"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| `sgd` | SGD | no / no / no | not run here |"),
        "{markdown}"
    );
    assert!(written
        .dir
        .join("factorial-dose-response-resnet20-nobn.png")
        .exists());

    // TensorBoard's summary run has the same sections as text, and the figure.
    let summary_file = written.summary_run.unwrap().path;
    let summary = summary_file.parent().unwrap();
    let text = tensorboard_support::last_text(summary, "factorial/resnet20-nobn").unwrap();
    assert!(
        text.contains("verdict: SCALE-FREENESS") && text.contains("| decoupled |"),
        "{text}"
    );
    let families = tensorboard_support::last_text(summary, "families/table").unwrap();
    assert!(
        families.contains("| `adamw` | AdamW | yes / yes / no |"),
        "{families}"
    );
    let images: Vec<String> = tensorboard_support::logged(summary)
        .into_iter()
        .map(|(_, tag, _)| tag)
        .collect();
    assert!(
        images
            .iter()
            .any(|t| t == "figures/factorial-dose-response-resnet20-nobn"),
        "{images:?}"
    );
}

#[test]
fn a_diverged_run_is_counted_shown_and_makes_the_verdict_inconclusive() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    write_runs(&runs, &DOSES, Some(("adamw-not-scalefree", 3, 1)));
    let written = generate("fact", &runs, &dir.path().join("report")).unwrap();
    let report = serde_json::to_value(&written.report).unwrap();
    let factorial = &report["factorial"][0];
    let arm = &factorial["arms"][2];
    assert_eq!(arm["doses"][2]["diverged"], 1);
    assert_eq!(arm["doses"][2]["completed"], 2);
    assert_eq!(arm["doses"][2]["train_loss_damage"]["n"], 2);
    assert_eq!(factorial["verdict"]["outcome"], "INCONCLUSIVE");
    let markdown = std::fs::read_to_string(written.dir.join("summary.md")).unwrap();
    assert!(
        markdown.contains("1 run(s) diverged at the largest dose"),
        "{markdown}"
    );
    assert!(markdown.contains("| 8 / 1 / 9 |"), "{markdown}");
}

/// The natural half alone (the four arms without factors and under equalize, no dose):
/// the natural gap, the main effects on the loss by hand, the verdict on which factor
/// carries the gap, and the section in summary.md, the summary run and the command's line.
#[test]
fn the_natural_half_alone_says_which_factor_carries_the_natural_gap() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    write_runs(&runs, &[0], None);
    let written = generate("fact", &runs, &dir.path().join("report")).unwrap();
    assert!(
        written.report.factorial.is_empty(),
        "no dose: no full factorial"
    );
    let report = serde_json::to_value(&written.report).unwrap();
    let half = &report["natural_half"][0];
    let losses: Vec<Vec<f64>> = ARMS
        .iter()
        .map(|a| (0..SEEDS).map(|s| loss(a, 0, s)).collect())
        .collect();
    let per_seed = |f: &dyn Fn(usize) -> f64| mean(&(0..SEEDS as usize).map(f).collect::<Vec<_>>());
    let l = &losses;
    close(
        &half["natural"]["adamw_minus_adam_l2"]["mean"],
        per_seed(&|s| l[1][s] - l[0][s]),
    );
    close(
        &half["natural"]["effects"]["scale_freeness"]["mean"],
        per_seed(&|s| (l[1][s] + l[3][s]) / 2.0 - (l[0][s] + l[2][s]) / 2.0),
    );
    close(
        &half["natural"]["effects"]["decoupling"]["mean"],
        per_seed(&|s| (l[1][s] + l[2][s]) / 2.0 - (l[0][s] + l[3][s]) / 2.0),
    );
    for (a, optimizer) in ARMS.iter().enumerate() {
        close(&half["arms"][a]["train_loss"]["mean"], mean(&losses[a]));
        assert_eq!(half["arms"][a]["completed"], SEEDS);
        close(
            &half["natural"]["equalize"]["changes"][a]["mean"],
            equalized(optimizer),
        );
    }
    assert_eq!(half["natural"]["verdict"]["outcome"], "SCALE_FREENESS");
    let why = half["natural"]["verdict"]["why"].as_str().unwrap();
    assert!(why.starts_with("Adam-ℓ2's natural disadvantage"), "{why}");

    let md = std::fs::read_to_string(written.dir.join("summary.md")).unwrap();
    assert!(
        md.contains("## The factorial's natural half: resnet20, no BN")
            && md.contains("which factor carries the natural gap: SCALE-FREENESS")
            && md.contains("The natural half applies the same rule without factors"),
        "{md}"
    );
    let summary_file = written.summary_run.unwrap().path;
    let text = tensorboard_support::last_text(
        summary_file.parent().unwrap(),
        "natural_half/resnet20-nobn",
    )
    .unwrap();
    assert!(text.contains("| decoupled |"), "{text}");
}
