//! What every benchmark program shares: flag reading, the median, the load average (other
//! processes on a shared machine skew timings, so each result records it) and writing
//! the JSON report. It lives in this crate so that the crate packages alone; the driver's
//! and `models`' benchmark examples include it by path. The flags are a handful of numbers
//! per program, so they are read by hand rather than through a CLI dependency.
#![allow(dead_code)] // each benchmark uses part of it

use anyhow::Context;
use std::path::Path;

/// Runs a benchmark's body; an error is one line on stderr and exit status 2, never a
/// backtrace (anyhow prints one from `main` when RUST_BACKTRACE is set).
pub fn exit_on_error(body: impl FnOnce() -> anyhow::Result<()>) {
    if let Err(e) = body() {
        eprintln!("error: {e:#}");
        std::process::exit(2);
    }
}

/// The value after `flag`, if given.
pub fn arg(args: &[String], flag: &str) -> Option<String> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// The number after `flag`, or `default`; a value that is not a number is an error naming the flag.
pub fn number<T: std::str::FromStr>(args: &[String], flag: &str, default: T) -> anyhow::Result<T> {
    match arg(args, flag) {
        Some(s) => s
            .parse()
            .ok()
            .with_context(|| format!("{flag} needs a number, got `{s}`")),
        None => Ok(default),
    }
}

pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// The 1-minute load average (Linux), to judge how quiet the machine was.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Prints the report and, with `--out DIR`, writes it to `DIR/<name>-<unix time>.json`
/// (written to a temporary name, then renamed).
pub fn emit_report(
    out_dir: Option<&str>,
    name: &str,
    report: &serde_json::Value,
) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(report)?;
    println!("{text}");
    if let Some(dir) = out_dir {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs();
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {dir}"))?;
        let path = Path::new(dir).join(format!("{name}-{stamp}.json"));
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, &text).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
