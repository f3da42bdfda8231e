//! A running sweep refreshes the experiment's summary run for TensorBoard from what the
//! runs' files hold, without drawing the report's figures (which `scalefree report` adds).
mod report_support;

use report_support::{write_experiment, EXPERIMENT};
use scalefree::experiment::ExperimentDir;
use scalefree::report::{generate, refresh_summary_run};

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
