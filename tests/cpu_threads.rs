//! On the CPU the thread count changes the last bits of a run (libtorch splits its sums by
//! thread), so it is part of what a resume keeps, and a grid over `threads` trains each
//! run with its own count.
mod train_support;

use train_support::{read_json, scalefree, stderr, stdout, train, write_tiny_cifar10, TINY_RUN};

/// The tiny run, with its histogram setting.
const FLAGS: [&str; 6] = [
    TINY_RUN[0],
    TINY_RUN[1],
    TINY_RUN[2],
    TINY_RUN[3],
    "--hist-every",
    "0",
];

fn trained_threads(run: &std::path::Path) -> serde_json::Value {
    read_json(&run.join("checkpoint/trainer.json"))["cpu_threads"].clone()
}

/// `train` with `--threads` (the support's `train` sets 2 threads; this one sets them).
fn train_with_threads(
    data: &std::path::Path,
    out: &std::path::Path,
    threads: &str,
    extra: &[&str],
) -> std::process::Output {
    scalefree()
        .args([
            "train",
            "--quiet",
            "--device",
            "cpu",
            "--threads",
            threads,
            "--data",
        ])
        .arg(data)
        .arg("--out")
        .arg(out)
        .args(FLAGS)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn a_resume_with_other_cpu_threads_is_refused_naming_the_count_that_resumes_it() {
    if std::thread::available_parallelism().unwrap().get() < 2 {
        eprintln!("skipped: this machine has one CPU, and the test compares 1 and 2 threads");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 64, 10);
    let out = dir.path().join("run");
    let first = train_with_threads(&data, &out, "1", &["--epochs", "1"]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(trained_threads(&out), 1);
    let other = train_with_threads(&data, &out, "2", &["--epochs", "2", "--resume"]);
    let msg = stderr(&other);
    assert_eq!(other.status.code(), Some(1), "{msg}");
    assert!(
        msg.contains("--threads 1") && msg.contains("trained with 1"),
        "{msg}"
    );
    assert_eq!(
        read_json(&out.join("summary.json"))["epochs_done"],
        1,
        "left as it was"
    );
    let same = train_with_threads(&data, &out, "1", &["--epochs", "2", "--resume"]);
    assert!(same.status.success(), "{}", stderr(&same));
    // The support's own `train` (2 threads) on another run says the same of 2.
    let two = dir.path().join("two");
    let trained = train(&data, &two, &[&FLAGS[..], &["--epochs", "1"]].concat());
    assert!(trained.status.success(), "{}", stderr(&trained));
    assert_eq!(trained_threads(&two), 2);
}

#[test]
fn a_grid_over_threads_trains_each_run_with_its_own_count() {
    if std::thread::available_parallelism().unwrap().get() < 2 {
        eprintln!("skipped: this machine has one CPU, and the grid asks for 2 threads");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 64, 10);
    let experiment = dir.path().join("threads.json");
    let spec = serde_json::json!({
        "name": "threads",
        "base": { "data": data, "epochs": 1, "batch_size": 32, "hist_every": 0,
                  "model": "resnet8" },
        "grids": [ { "threads": [1, 2] } ]
    });
    std::fs::write(&experiment, spec.to_string()).unwrap();
    let runs = dir.path().join("runs");
    let output = scalefree()
        .arg("sweep")
        .arg(&experiment)
        .arg("--runs")
        .arg(&runs)
        .args(["--threads", "1", "--device", "cpu"])
        .output()
        .unwrap();
    let said = format!("{}{}", stdout(&output), stderr(&output));
    assert!(output.status.success(), "{said}");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(runs.join("threads")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if let Some(n) = name
            .rsplit("_threads")
            .next()
            .filter(|_| name.contains("_threads"))
        {
            seen.push((n.to_string(), trained_threads(&path)));
        }
    }
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        seen,
        [("1".to_string(), 1.into()), ("2".to_string(), 2.into())],
        "{said}"
    );
}
