//! A test hook: fault injection at named points, so that the tests can kill a run with a
//! real signal at an exact place, inside a checkpoint or a file write, and check that it
//! resumes to the result of a run that never stopped. Not a user feature: unless
//! `SCALEFREE_FAULT` or `SCALEFREE_FAULT_TRACE` is set, a point costs one atomic load.
//!
//! - `SCALEFREE_FAULT=<point>:<n>[:<signal>]`: the `n`-th time (from 1) the process passes
//!   `<point>`, it sends itself `<signal>` (`KILL`, the default, `TERM`, `INT`, or `STOP`
//!   to freeze it there, holding whatever it holds). After a `TERM` or `INT` at a point that
//!   waits for it (the training step), the process carries on once its handler has seen the
//!   signal, as it would after a signal from outside.
//! - `SCALEFREE_FAULT_TRACE=<file>`: appends `<point> <n>` for every point passed, so a test
//!   can pick points from a real run.
//!
//! The points: `step` (an optimizer step is counted, before the loop looks for a stop
//! request), `eval` (an evaluation is done, before its row is written), `write:<file>`
//! (the temporary file of an atomic write is complete, before the rename: `write:metrics.jsonl`,
//! `write:summary.json` …), `checkpoint:model`, `checkpoint:optimizer`, `checkpoint:trainer`,
//! `checkpoint:manifest` (each file of `checkpoint.new/` written), `checkpoint:swap` (the old
//! checkpoint moved aside, the new one not yet in place), `checkpoint:done`, and
//! `tensorboard:sync` (events written out before a checkpoint).
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

struct Fault {
    point: String,
    n: u64,
    signal: i32,
}

struct Hook {
    fault: Option<Fault>,
    trace: Option<std::path::PathBuf>,
    counts: Mutex<HashMap<String, u64>>,
}

fn parse(spec: &str) -> Option<Fault> {
    let mut parts = spec.rsplitn(3, ':').collect::<Vec<_>>();
    parts.reverse();
    // `write:summary.json:1:TERM` holds colons in the point itself: take n and the signal
    // from the right.
    let (point, n, signal) = match parts.as_slice() {
        [rest, last] => (rest.to_string(), last.parse().ok()?, libc::SIGKILL),
        [head, mid, last] => match (mid.parse::<u64>(), signal_named(last)) {
            (Ok(n), Some(signal)) => (head.to_string(), n, signal),
            _ => (format!("{head}:{mid}"), last.parse().ok()?, libc::SIGKILL),
        },
        _ => return None,
    };
    Some(Fault { point, n, signal })
}

fn signal_named(name: &str) -> Option<i32> {
    match name {
        "KILL" => Some(libc::SIGKILL),
        "TERM" => Some(libc::SIGTERM),
        "INT" => Some(libc::SIGINT),
        "STOP" => Some(libc::SIGSTOP),
        _ => None,
    }
}

fn hook() -> Option<&'static Hook> {
    static HOOK: OnceLock<Option<Hook>> = OnceLock::new();
    HOOK.get_or_init(|| {
        let fault = std::env::var("SCALEFREE_FAULT").ok().map(|spec| {
            parse(&spec).unwrap_or_else(|| {
                eprintln!(
                    "error: SCALEFREE_FAULT={spec:?} is not <point>:<n>[:KILL|TERM|INT|STOP]"
                );
                std::process::exit(2);
            })
        });
        let trace = std::env::var_os("SCALEFREE_FAULT_TRACE").map(Into::into);
        (fault.is_some() || trace.is_some()).then(|| Hook {
            fault,
            trace,
            counts: Mutex::new(HashMap::new()),
        })
    })
    .as_ref()
}

/// Whether the hook is on (to skip building a point's name when it is not).
pub fn enabled() -> bool {
    hook().is_some()
}

/// Passes the point `name` (see the module docs).
pub fn point(name: &str) {
    point_then(name, || true);
}

/// Passes the point `name`; after a catchable signal sent here, waits (up to 30 s) until
/// `handled()` says the process's handler has seen it.
pub fn point_then(name: &str, handled: impl Fn() -> bool) {
    let Some(hook) = hook() else {
        return;
    };
    let n = {
        let mut counts = hook.counts.lock().unwrap_or_else(|e| e.into_inner());
        let count = counts.entry(name.to_string()).or_insert(0);
        *count += 1;
        *count
    };
    if let Some(path) = &hook.trace {
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(file, "{name} {n}");
        }
    }
    let Some(fault) = &hook.fault else {
        return;
    };
    if fault.point != name || fault.n != n {
        return;
    }
    // SAFETY: raise() sends a signal to this process; no memory is touched.
    unsafe {
        libc::raise(fault.signal);
    }
    if fault.signal != libc::SIGTERM && fault.signal != libc::SIGINT {
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while !handled() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_spec_names_the_point_the_count_and_the_signal() {
        let f = parse("step:6:TERM").unwrap();
        assert_eq!(
            (f.point.as_str(), f.n, f.signal),
            ("step", 6, libc::SIGTERM)
        );
        let f = parse("write:summary.json:1").unwrap();
        assert_eq!(
            (f.point.as_str(), f.n, f.signal),
            ("write:summary.json", 1, libc::SIGKILL)
        );
        let f = parse("checkpoint:model:2:KILL").unwrap();
        assert_eq!((f.point.as_str(), f.n), ("checkpoint:model", 2));
        assert!(parse("step").is_none());
        assert!(parse("step:x").is_none());
    }
}
