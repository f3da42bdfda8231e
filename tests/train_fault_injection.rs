//! Fault injection: a tiny run is SIGKILLed at 20 random points of its life, inside
//! checkpoint and file writes included, and every one of them, resumed with `--resume`,
//! ends as the run that never stopped: weights and optimizer state bit for bit, metrics,
//! scale logs, summary, and what TensorBoard shows.
//!
//! The points are drawn from the trace of a real run (`SCALEFREE_FAULT_TRACE`, test hook in
//! src/fault.rs), and each killed run kills itself with a real SIGKILL at its point
//! (`SCALEFREE_FAULT=<point>:<n>`). `SCALEFREE_FAULT_SEED=<n>` repeats a draw; the seed
//! is printed.
mod train_support;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use train_support::{
    assert_same_run, scalefree, stderr, tensorboard_ui, tensorboard_without_timing,
    write_tiny_cifar10,
};

/// 96 images in batches of 32, 3 epochs: 9 steps, evaluations and checkpoints at steps 3,
/// 6 and 9, histograms at steps 1, 2, 4, 6, 8; gradient factors measured on the first batch
/// (`grad_factors.json`, one more file a kill can land in).
const FLAGS: [&str; 14] = [
    "--grad-factors",
    "equalize",
    "--model",
    "resnet8",
    "--epochs",
    "3",
    "--batch-size",
    "32",
    "--hist-every",
    "2",
    "--seed",
    "5",
    "--threads",
    "1",
];

fn train(data: &Path, out: &Path, env: &[(&str, &str)], resume: bool) -> Output {
    let mut cmd = scalefree();
    cmd.args(["train", "--quiet", "--device", "cpu", "--data"])
        .arg(data)
        .arg("--out")
        .arg(out)
        .args(FLAGS);
    if resume {
        cmd.arg("--resume");
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// xorshift64*: enough to draw points, and the same draw from the same seed.
struct Draw(u64);

impl Draw {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }
}

/// 20 distinct points of `trace`: the summary write, 5 inside checkpoint writes, 14 of any kind.
fn draw_points(trace: &[String], seed: u64) -> Vec<String> {
    let mut draw = Draw(seed | 1);
    let mut chosen: Vec<String> = vec!["write:summary.json 1".to_string()];
    let mut pick = |pool: Vec<&String>, k: usize, chosen: &mut Vec<String>| {
        let mut pool: Vec<&String> = pool.into_iter().filter(|p| !chosen.contains(p)).collect();
        for _ in 0..k.min(pool.len()) {
            chosen.push(pool.swap_remove(draw.below(pool.len())).clone());
        }
    };
    let in_checkpoints = trace
        .iter()
        .filter(|p| p.starts_with("checkpoint:"))
        .collect();
    pick(in_checkpoints, 5, &mut chosen);
    pick(trace.iter().collect(), 14, &mut chosen);
    chosen
}

#[test]
fn a_run_killed_at_any_of_20_random_points_resumes_to_the_uninterrupted_result() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 96, 20);
    let straight = dir.path().join("straight");
    let trace_file = dir.path().join("trace.txt");
    let output = train(
        &data,
        &straight,
        &[("SCALEFREE_FAULT_TRACE", trace_file.to_str().unwrap())],
        false,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let trace: Vec<String> = std::fs::read_to_string(&trace_file)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    for point in [
        "step 9",
        "eval 3",
        "checkpoint:manifest 3",
        "checkpoint:swap 2",
        "write:summary.json 1",
        "write:grad_factors.json 1",
    ] {
        assert!(
            trace.contains(&point.to_string()),
            "{point} not in {trace:?}"
        );
    }

    let seed = std::env::var("SCALEFREE_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let points = draw_points(&trace, seed);
    assert_eq!(points.len(), 20);
    eprintln!("SCALEFREE_FAULT_SEED={seed}: {points:?}");

    // Two at a time, each on one thread: the machine's two cores.
    let runs: Vec<(String, PathBuf)> = points
        .iter()
        .enumerate()
        .map(|(i, p)| (p.clone(), dir.path().join(format!("killed-{i}"))))
        .collect();
    std::thread::scope(|scope| {
        for half in runs.chunks(runs.len().div_ceil(2)) {
            let data = &data;
            scope.spawn(move || {
                for (point, out) in half {
                    let fault = point.replace(' ', ":");
                    let killed = train(data, out, &[("SCALEFREE_FAULT", &fault)], false);
                    assert_eq!(
                        killed.status.signal(),
                        Some(9),
                        "SCALEFREE_FAULT={fault} did not kill the run: {}",
                        stderr(&killed)
                    );
                    let resumed = train(data, out, &[], true);
                    assert!(
                        resumed.status.success(),
                        "resuming after a kill at {point}: {}",
                        stderr(&resumed)
                    );
                }
            });
        }
    });

    for (point, out) in &runs {
        eprintln!("checking the run killed at {point}");
        assert_same_run(out, &straight);
    }
    let mut all: Vec<&Path> = vec![&straight];
    all.extend(runs.iter().map(|(_, out)| out.as_path()));
    let shown = tensorboard_ui(&all);
    let expected = tensorboard_without_timing(&shown[straight.display().to_string()]);
    for (point, out) in &runs {
        assert!(
            tensorboard_without_timing(&shown[out.display().to_string()]) == expected,
            "TensorBoard shows another run after a kill at {point} (SCALEFREE_FAULT_SEED={seed})"
        );
    }
}
