//! `make bench-train`: images/s of full training steps (data + forward + backward +
//! optimizer + logging) through `scalefree train` itself, for ResNet-20 and ResNet-56
//! with and without BN on the shared CIFAR-10 set, with histogram logging off, at the
//! default interval (1000 steps) and at every step; the variants alternate within each
//! repetition so that machine noise hits them alike.
//!
//! The overhead at the default interval is too small to see in a short run, so it is
//! derived: (time per step with logging every step − time without) / 1000, relative to
//! the time per step without logging.
//!
//! Usage: bench_train [--data PATH] [--steps N] [--reps N] [--threads N] [--out DIR]
#[path = "../crates/optim/examples/bench_optim/support.rs"]
mod support;
use scalefree::config::RunConfig;
use scalefree::rundir::RunDir;
use scalefree::training_run::{train, RunOptions};
use serde_json::json;
use std::path::PathBuf;
use support::{arg, median};

fn main() {
    support::exit_on_error(run);
}

fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let data = arg(&args, "--data").map(PathBuf::from);
    let steps: u64 = arg(&args, "--steps")
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(12);
    let reps: usize = arg(&args, "--reps")
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(3);
    let threads: usize = arg(&args, "--threads")
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(2);
    let scratch = tempfile::tempdir()?;
    let mut results = Vec::new();
    for model in ["resnet20", "resnet56"] {
        for bn in [false, true] {
            // hist_every: 0 = off, 1000 = the default, 1 = every step.
            let variants = [0u64, 1000, 1];
            let mut per_step: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
            let mut images_per_s: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
            for rep in 0..reps {
                for (v, &hist_every) in variants.iter().enumerate() {
                    let out = scratch
                        .path()
                        .join(format!("{model}-{bn}-{hist_every}-{rep}"));
                    let mut settings = json!({
                        "model": model, "bn": bn, "max_steps": steps, "hist_every": hist_every,
                        "threads": threads, "device": "cpu", "out": out,
                    });
                    if let Some(data) = &data {
                        settings["data"] = json!(data);
                    }
                    let config = RunConfig::from_value(&settings)?;
                    let options = RunOptions {
                        quiet: true,
                        ..RunOptions::default()
                    };
                    train(&config, &options)?;
                    let (_, summary) = RunDir::new(&out).progress()?;
                    let summary = summary.expect("a finished run has a summary");
                    images_per_s[v].push(summary.images_per_s);
                    per_step[v].push(128.0 / summary.images_per_s);
                    eprintln!(
                        "{model} bn={bn} hist_every={hist_every}: {:.1} images/s",
                        summary.images_per_s
                    );
                }
            }
            let off = median(per_step[0].clone());
            let every_step = median(per_step[2].clone());
            let logging_cost = (every_step - off).max(0.0);
            results.push(json!({
                "model": model,
                "bn": bn,
                "images_per_s_hist_off": median(images_per_s[0].clone()),
                "images_per_s_hist_every_1000": median(images_per_s[1].clone()),
                "images_per_s_hist_every_step": median(images_per_s[2].clone()),
                "logging_seconds_per_event": logging_cost,
                "logging_overhead_at_1000": logging_cost / 1000.0 / off,
            }));
        }
    }
    let report = json!({ "benchmark": "training step", "threads": threads, "steps_per_run": steps, "reps": reps, "results": results });
    support::emit_report(arg(&args, "--out").as_deref(), "train", &report)?;
    Ok(())
}
