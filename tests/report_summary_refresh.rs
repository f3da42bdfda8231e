//! A running sweep refreshes the experiment's summary run for TensorBoard from what the
//! runs' files hold, without drawing the report's figures (which `scalefree report` adds).
mod report_support;
mod require;
mod tensorboard_support;

use report_support::{write_experiment, EXPERIMENT};
use scalefree::experiment::ExperimentDir;
use scalefree::report::{generate, refresh_summary_run};
use tensorboard_support::{logged, Logged};

#[test]
fn a_sweeps_refresh_writes_the_summary_run_without_figures_and_a_report_adds_them() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    let plan = write_experiment(&runs);
    let folder = ExperimentDir::new(&runs, EXPERIMENT);
    let refreshed = refresh_summary_run(&plan, &folder).unwrap();
    assert_eq!(refreshed.images, 0, "a refresh draws no figures");
    assert!(refreshed.lanes > 0 && refreshed.path.exists());
    let pngs = walkdir::WalkDir::new(tmp.path())
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "png"))
        .count();
    assert_eq!(pngs, 0, "no PNG is written anywhere by a refresh");

    let reported = generate(EXPERIMENT, &runs, &tmp.path().join("report")).unwrap();
    let written = reported.summary_run.unwrap();
    assert_eq!(written.images, reported.report.figures.len());
    assert!(written.images > 0);
    assert_eq!(
        (written.lanes, written.comparisons),
        (refreshed.lanes, refreshed.comparisons),
        "the same lanes and claim-4 charts either way"
    );
}

#[test]
fn each_optimizer_is_a_run_of_its_own_and_measures_evaluated_often_are_curves() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    let plan = write_experiment(&runs);
    let folder = ExperimentDir::new(&runs, EXPERIMENT);
    refresh_summary_run(&plan, &folder).unwrap();
    let summary = folder.summary_run_dir();
    // Five evaluations per run: the test accuracy of each optimizer's best setting is a
    // curve of five means in the optimizer's own run beside the summary run.
    for (optimizer, count) in [("adam-l2", 5), ("adamw", 5)] {
        let events = logged(&summary.join(optimizer));
        let steps: Vec<u64> = events
            .iter()
            .filter(|(_, tag, _)| tag == "best/resnet20-nobn/test_accuracy")
            .map(|(step, _, _)| *step)
            .collect();
        assert_eq!(steps.len(), count, "{optimizer}: {steps:?}");
        assert!(events
            .iter()
            .all(|(_, _, v)| matches!(v, Logged::Scalar(_))));
    }
    // No measure is a single value: no bar chart of final values.
    let own = logged(&summary);
    assert!(
        own.iter().all(|(_, tag, _)| !tag.starts_with("final/")),
        "{:?}",
        own.iter().map(|e| &e.1).collect::<Vec<_>>()
    );
}
