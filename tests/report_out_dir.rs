//! `report --out` writes `<out>/<experiment>/` only when that folder is new, empty or an
//! earlier report of the experiment: a folder of the user's own files is refused, naming
//! them, and left as it was.
mod report_support;

use report_support::{write_experiment, EXPERIMENT};
use scalefree::report::{generate, Written};
use std::path::Path;

/// Where the runs are and where the report goes.
fn args<'a>(runs: &'a Path, out: &'a Path) -> (&'a Path, &'a Path) {
    (runs, out)
}

fn report_of((runs, out): (&Path, &Path)) -> anyhow::Result<Written> {
    generate(EXPERIMENT, runs, out)
}

#[test]
fn a_folder_of_the_users_files_is_refused_and_left_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    write_experiment(&runs);
    let out = tmp.path().join("site");
    let mine = out.join(EXPERIMENT);
    std::fs::create_dir_all(&mine).unwrap();
    std::fs::write(mine.join("index.html"), "<h1>my page</h1>").unwrap();
    std::fs::write(mine.join("notes.txt"), "a week of notes").unwrap();

    let Err(e) = report_of(args(&runs, &out)) else {
        panic!("the report was written into a folder of the user's files");
    };
    let message = format!("{e:#}");
    assert!(
        message.contains("is not a scalefree report")
            && message.contains("index.html, notes.txt")
            && message.contains("nothing was written"),
        "{message}"
    );
    let left: Vec<String> = std::fs::read_dir(&mine)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert_eq!(
        std::fs::read_to_string(mine.join("index.html")).unwrap(),
        "<h1>my page</h1>"
    );
}

#[test]
fn an_earlier_report_of_the_experiment_is_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    write_experiment(&runs);
    let out = tmp.path().join("report");
    let first = report_of(args(&runs, &out)).unwrap();
    let second = report_of(args(&runs, &out)).unwrap();
    assert_eq!(first.dir, second.dir);
    assert!(second.dir.join("index.html").is_file());
}
