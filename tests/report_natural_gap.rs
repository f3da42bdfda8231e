//! The natural gap over training (the budget search of the factorial's natural half), on
//! hand-made run directories whose evaluations are known: AdamW − Adam-ℓ2 paired by seed
//! at each epoch, the first epoch whose CI excludes 0, the same in summary.md, the page,
//! the figure and the summary run; a cosine schedule said not to make rows budgets; an
//! experiment that evaluated once gets no such section.
use scalefree::config::RunConfig;
use scalefree::experiment::{Plan, PlannedRun};
use scalefree::report::generate;
use scalefree::rundir::{MetricsRow, RunDir, RunStatus, Summary};
use serde_json::{json, Value};
use std::path::Path;
mod require;
mod tensorboard_support;

const SEEDS: u64 = 3;

/// Adam-ℓ2's training loss at `epoch`: falling with the epoch, a seed effect.
fn adam_l2_loss(epoch: u32, seed: u64) -> f64 {
    2.0 - 0.02 * f64::from(epoch) + 0.03 * seed as f64
}

/// AdamW − Adam-ℓ2 per seed: noise around 0 at epoch 5, a clear gap from epoch 10 on.
fn gap(epoch: u32, seed: u64) -> f64 {
    let noise = [0.01, -0.012, 0.004][seed as usize];
    match epoch {
        5 => noise,
        e => -0.004 * f64::from(e) + noise / 5.0,
    }
}

fn row(epoch: u32, loss: f64, accuracy: f64) -> MetricsRow {
    MetricsRow {
        epoch,
        step: u64::from(epoch) * 40,
        train_loss: loss,
        train_accuracy: 0.5,
        eval_split: "test".into(),
        eval_loss: 1.5,
        eval_accuracy: accuracy,
        lr: 1e-3,
        wall_s: 10.0 * f64::from(epoch),
        images_per_s: 500.0,
    }
}

/// Adam-ℓ2 and AdamW runs of `epochs`, evaluated at each of them, under `schedule`.
fn write_runs(runs: &Path, name: &str, epochs: &[u32], schedule: &str) {
    write_runs_with_seeds(runs, name, epochs, schedule, SEEDS)
}

fn write_runs_with_seeds(runs: &Path, name: &str, epochs: &[u32], schedule: &str, seeds: u64) {
    let mut planned = Vec::new();
    for optimizer in ["adam-l2", "adamw"] {
        for seed in 0..seeds {
            let settings = json!({"model": "resnet20", "optimizer": optimizer, "lr": 1e-3,
                "wd": 5e-4, "seed": seed, "epochs": epochs.last(), "schedule": schedule});
            let config = RunConfig::from_value(&settings).unwrap();
            let run_name = config.derived_name();
            let dir = runs.join(name).join(&run_name);
            std::fs::create_dir_all(&dir).unwrap();
            let run_dir = RunDir::new(&dir);
            run_dir.write_config(&config).unwrap();
            let rows: Vec<MetricsRow> = epochs
                .iter()
                .map(|&e| {
                    let l2 = adam_l2_loss(e, seed);
                    match optimizer {
                        "adamw" => row(e, l2 + gap(e, seed), 0.4 + 0.01 * f64::from(e)),
                        _ => row(e, l2, 0.4),
                    }
                })
                .collect();
            run_dir.write_metrics(&rows).unwrap();
            let last = rows.last().unwrap();
            run_dir
                .write_summary(&Summary {
                    status: RunStatus::Completed,
                    final_test_accuracy: Some(last.eval_accuracy),
                    best_test_accuracy: Some(last.eval_accuracy),
                    final_test_loss: Some(last.eval_loss),
                    final_train_loss: Some(last.train_loss),
                    final_train_accuracy: Some(last.train_accuracy),
                    epochs_done: last.epoch,
                    steps_done: last.step,
                    wall_s: last.wall_s,
                    images_per_s: 500.0,
                    test_error_for_heatmap: Some(1.0 - last.eval_accuracy),
                    message: None,
                    timing: None,
                    records: None,
                })
                .unwrap();
            planned.push(PlannedRun::new(run_name, dir, config));
        }
    }
    let plan = Plan {
        experiment: name.into(),
        description: String::new(),
        source: format!("experiments/{name}.json").into(),
        experiment_file: None,
        factorial: None,
        runs: planned,
    };
    std::fs::write(
        runs.join(name).join("plan.json"),
        serde_json::to_string(&plan).unwrap(),
    )
    .unwrap();
}

/// Mean and 95 % CI half-width (t with 2 degrees of freedom) of three values.
fn mean_and_half_width(values: [f64; 3]) -> (f64, f64) {
    let mean = values.iter().sum::<f64>() / 3.0;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 2.0;
    (mean, 4.302652729911275 * var.sqrt() / 3f64.sqrt())
}

fn close(value: &Value, expected: f64) {
    let got = value
        .as_f64()
        .unwrap_or_else(|| panic!("not a number: {value}"));
    assert!((got - expected).abs() < 1e-9, "{got} != {expected}");
}

#[test]
fn the_gap_is_paired_per_epoch_and_its_first_separated_epoch_is_found() {
    let tmp = tempfile::tempdir().unwrap();
    let (runs, out) = (tmp.path().join("runs"), tmp.path().join("report"));
    write_runs(&runs, "budget", &[5, 10, 15], "constant");
    let written = generate("budget", &runs, &out).unwrap();
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(written.dir.join("summary.json")).unwrap())
            .unwrap();
    let gaps = json["natural_gap"].as_array().unwrap();
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    let g = &gaps[0];
    assert_eq!(g["first_separated"], 10);
    assert_eq!(g["rows_are_budgets"], true);
    let rows = g["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for (row, epoch) in rows.iter().zip([5u32, 10, 15]) {
        assert_eq!(row["epoch"], epoch);
        assert_eq!(row["step"], u64::from(epoch) * 40);
        let (mean, half) = mean_and_half_width([0, 1, 2].map(|s| gap(epoch, s)));
        close(&row["train_loss"]["mean"], mean);
        close(&row["train_loss"]["half_width"], half);
        close(&row["test_accuracy"]["mean"], 0.01 * f64::from(epoch));
        close(&row["wall_s"], 10.0 * f64::from(epoch));
    }
    // At epoch 5 the CI holds 0; at 10 it lies below.
    let (m5, h5) = mean_and_half_width([0, 1, 2].map(|s| gap(5, s)));
    assert!(m5 - h5 < 0.0 && m5 + h5 > 0.0);

    let md = std::fs::read_to_string(written.dir.join("summary.md")).unwrap();
    assert!(
        md.contains("## The natural gap over training: resnet20, no BN"),
        "{md}"
    );
    assert!(
        md.contains(
            "first has a 95 % CI excluding 0 at epoch 10 of 15; its CI excludes 0 at 1 of the \
             1 evaluated epochs after it"
        ),
        "{md}"
    );
    assert!(md.contains("| 5 | 200 |") && md.contains("| no |"), "{md}");
    let html = std::fs::read_to_string(written.dir.join("index.html")).unwrap();
    assert!(
        html.contains("The natural gap over training")
            && html.contains("natural-gap-over-training.png"),
        "the page shows the section and the figure"
    );
    assert!(written.dir.join("natural-gap-over-training.png").exists());

    let summary_file = written.summary_run.unwrap().path;
    let summary = summary_file.parent().unwrap();
    let text = tensorboard_support::last_text(summary, "natural_gap/resnet20-nobn").unwrap();
    assert!(text.contains("at epoch 10 of 15"), "{text}");
}

#[test]
fn a_cosine_schedule_is_said_not_to_make_earlier_epochs_budgets() {
    let tmp = tempfile::tempdir().unwrap();
    let (runs, out) = (tmp.path().join("runs"), tmp.path().join("report"));
    write_runs(&runs, "cosine", &[5, 10], "cosine");
    let written = generate("cosine", &runs, &out).unwrap();
    let g = &written.report.natural_gap[0];
    assert!(!g.rows_are_budgets);
    assert!(
        g.line
            .contains("an earlier epoch is not the run of that many epochs"),
        "{}",
        g.line
    );
}

#[test]
fn an_experiment_evaluated_once_has_no_gap_over_training() {
    let tmp = tempfile::tempdir().unwrap();
    let (runs, out) = (tmp.path().join("runs"), tmp.path().join("report"));
    write_runs(&runs, "once", &[5], "constant");
    let written = generate("once", &runs, &out).unwrap();
    assert!(written.report.natural_gap.is_empty());
    let md = std::fs::read_to_string(written.dir.join("summary.md")).unwrap();
    assert!(!md.contains("natural gap over training"), "{md}");
    assert!(!written.dir.join("natural-gap-over-training.png").exists());
}

#[test]
fn one_seed_gives_no_gap_over_training_since_it_has_no_ci() {
    let tmp = tempfile::tempdir().unwrap();
    let (runs, out) = (tmp.path().join("runs"), tmp.path().join("report"));
    write_runs_with_seeds(&runs, "one-seed", &[5, 10], "constant", 1);
    let written = generate("one-seed", &runs, &out).unwrap();
    assert!(written.report.natural_gap.is_empty());
}
