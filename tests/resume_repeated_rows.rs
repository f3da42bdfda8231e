//! A resumed run's record files go forward step by step: a row repeated (a duplicated last
//! line) or rows out of order are refused, naming the file and the line, before the run
//! goes on with two rows for one step.
mod train_support;

use train_support::{read_json, stderr, train, write_tiny_cifar10, TINY_RUN};

/// The tiny run, with its histogram setting.
const FLAGS: [&str; 6] = [
    TINY_RUN[0],
    TINY_RUN[1],
    TINY_RUN[2],
    TINY_RUN[3],
    "--hist-every",
    "1",
];

#[test]
fn a_record_file_with_a_repeated_row_is_refused_on_resume_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 64, 10);
    let out = dir.path().join("run");
    let first = train(&data, &out, &[&FLAGS[..], &["--epochs", "2"]].concat());
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let resume = || {
        train(
            &data,
            &out,
            &[&FLAGS[..], &["--epochs", "3", "--resume"]].concat(),
        )
    };
    for file in ["metrics.jsonl", "scales.jsonl", "losses.jsonl"] {
        let path = out.join(file);
        let whole = std::fs::read_to_string(&path).unwrap();
        let last = whole.lines().last().unwrap();
        std::fs::write(&path, format!("{whole}{last}\n")).unwrap();
        let refused = resume();
        let msg = stderr(&refused);
        assert_ne!(refused.status.code(), Some(0), "{file}: {msg}");
        assert!(
            msg.contains(file) && msg.contains("line") && !msg.contains("panicked"),
            "{file}: {msg}"
        );
        std::fs::write(&path, whole).unwrap();
    }
    let resumed = resume();
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    assert_eq!(read_json(&out.join("summary.json"))["epochs_done"], 3);
}
