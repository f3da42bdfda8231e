//! `scalefree sweep --backend slurm` through a real single-node Slurm cluster that the
//! project's own script starts and stops (scripts/slurm-cluster.sh; installs slurm-wlm
//! and munge from Debian's packages when missing). Starting that cluster needs root (it
//! writes /etc/slurm and /etc/munge and runs the daemons as root): as another user the
//! test prints that it was skipped and why, unless `CI=true`, which makes it fail.
mod require;
mod train_support;

use std::process::Command;
use std::time::{Duration, Instant};
use train_support::{
    plan_run_dirs, read_json, scalefree, stderr, stdout, sweep_status, tiny_experiment, workspace,
    write_tiny_cifar10,
};

struct Cluster;

impl Cluster {
    fn start() -> Cluster {
        let out = Command::new("bash")
            .arg(workspace().join("scripts/slurm-cluster.sh"))
            .arg("start")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "could not start the test Slurm cluster:\n{}{}",
            stdout(&out),
            stderr(&out)
        );
        Cluster
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(workspace().join("scripts/slurm-cluster.sh"))
            .arg("stop")
            .status();
    }
}

#[test]
fn a_2x2_sweep_completes_through_slurm() {
    if !require::is_root() {
        require::skip_or_fail(
            "a_2x2_sweep_completes_through_slurm",
            "not root: the test starts its own single-node Slurm cluster, which needs root \
             (scripts/slurm-cluster.sh writes /etc/slurm and /etc/munge and starts munged, \
             slurmctld and slurmd)",
            "run the tests as root to include it",
        );
        return;
    }
    let _cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 64, 20);
    let experiment = dir.path().join("tiny-slurm.json");
    tiny_experiment(&experiment, "tiny-slurm", &data);
    let runs = dir.path().join("runs");

    // A partition Slurm does not have: its own message comes through.
    let refused = scalefree()
        .args([
            "sweep",
            "--backend",
            "slurm",
            "--partition",
            "no-such-partition",
            "--cpus-per-task",
            "1",
        ])
        .arg(&experiment)
        .arg("--runs")
        .arg(&runs)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("sbatch refused the job")
            && stderr(&refused).contains("partition"),
        "{}",
        stderr(&refused)
    );

    let submit = scalefree()
        .args(["sweep", "--backend", "slurm", "--cpus-per-task", "1"])
        .arg(&experiment)
        .arg("--runs")
        .arg(&runs)
        .output()
        .unwrap();
    assert!(
        submit.status.success(),
        "{}{}",
        stdout(&submit),
        stderr(&submit)
    );
    assert!(
        stdout(&submit).contains("submitted job"),
        "{}",
        stdout(&submit)
    );

    let dirs = plan_run_dirs(&runs, "tiny-slurm");
    assert_eq!(dirs.len(), 4);
    let deadline = Instant::now() + Duration::from_secs(600);
    while !dirs.iter().all(|d| d.join("summary.json").exists()) {
        assert!(
            Instant::now() < deadline,
            "the Slurm runs did not finish in 10 minutes"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    for d in &dirs {
        assert_eq!(
            read_json(&d.join("summary.json"))["status"],
            "completed",
            "{}",
            d.display()
        );
    }
    // Each run went through an array task: Slurm wrote one output file per task.
    let jobs = read_json(&runs.join("tiny-slurm/slurm/jobs.json"));
    let job_id = jobs[0]["job_id"].as_str().unwrap().to_string();
    for task in 0..4 {
        let out = runs
            .join("tiny-slurm/slurm")
            .join(format!("{job_id}_{task}.out"));
        assert!(out.exists(), "no Slurm output for array task {task}");
    }
    let status = sweep_status(&experiment, &runs);
    assert!(
        stdout(&status).contains("tiny-slurm: 4 completed"),
        "{}",
        stdout(&status)
    );
}
