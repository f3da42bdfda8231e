//! The local backend: up to `jobs` runs at once, each a `scalefree train` child process
//! pinned to one GPU or to a share of the CPU threads. A failing run does not stop the
//! others; Ctrl-C reaches the children too, which checkpoint and stop, and no new run
//! starts. The children die with the sweep however it ends: each asks the kernel for a
//! SIGTERM when the sweep exits (`PR_SET_PDEATHSIG`), so a killed sweep leaves no orphan
//! writing a run; they checkpoint and stop, and the next sweep resumes them. A run that
//! another process is writing (its `run.lock` is held) is left to it and reported as busy.
use super::experiment::{Plan, PlannedRun};
use crate::rundir::lock::Busy;
use crate::rundir::RunDir;
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub struct LocalOptions {
    pub jobs: usize,
    /// Devices to place runs on, in turn (`cuda:0`, `cuda:1`, … or `cpu`).
    pub devices: Vec<String>,
    pub threads_per_run: usize,
}

impl LocalOptions {
    /// One run per visible GPU, or one run on all CPU threads, unless told otherwise.
    pub fn detect(jobs: Option<usize>, device: Option<&str>, threads: Option<usize>) -> Self {
        let gpus = tch::Cuda::device_count() as usize;
        let devices: Vec<String> = match device {
            Some(d) => vec![d.to_string()],
            None if gpus > 0 => (0..gpus).map(|i| format!("cuda:{i}")).collect(),
            None => vec!["cpu".to_string()],
        };
        let jobs = jobs
            .unwrap_or(if gpus > 0 && device.is_none() {
                gpus
            } else {
                1
            })
            .max(1);
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let threads_per_run = threads.unwrap_or((cores / jobs).max(1));
        LocalOptions {
            jobs,
            devices,
            threads_per_run,
        }
    }
}

struct Running {
    child: Child,
    run: PlannedRun,
    slot: usize,
}

/// The outcome per run: exit codes 0 (completed), 3 (diverged) count as done; a run
/// another process was writing is busy, not failed.
pub struct LocalOutcome {
    pub done: usize,
    pub failed: Vec<(String, String)>,
    /// Runs left alone because another process writes them: (name, who).
    pub busy: Vec<(String, String)>,
    pub interrupted: bool,
}

/// Makes `cmd`'s process receive SIGTERM when this thread (the sweep's main thread) ends,
/// however it ends, SIGKILL included (Linux; elsewhere nothing is asked).
fn die_with_parent(cmd: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: getpid is async-signal-safe and runs before the fork.
        let parent = unsafe { libc::getpid() };
        // SAFETY: between fork and exec the closure makes only async-signal-safe system
        // calls (prctl, getppid) and allocates nothing on success.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The sweep may have died before the request was made.
                if libc::getppid() != parent {
                    return Err(std::io::Error::other("the sweep has exited"));
                }
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cmd;
}

/// A line above the progress bar, or plain output when there is no terminal to draw on.
fn say(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        println!("{line}");
    } else {
        bar.println(line);
    }
}

pub fn train_command(
    config_file: &Path,
    resume: bool,
    device: &str,
    threads: usize,
) -> Result<Command> {
    let exe = std::env::current_exe().context("cannot locate the scalefree binary")?;
    let mut cmd = Command::new(exe);
    cmd.arg("train")
        .arg("--quiet")
        .arg("--config")
        .arg(config_file);
    cmd.args(["--device", device, "--threads", &threads.to_string()]);
    if resume {
        cmd.arg("--resume");
    }
    Ok(cmd)
}

pub fn run(
    plan: &Plan,
    todo: Vec<(PlannedRun, bool)>,
    configs: &Path,
    options: &LocalOptions,
) -> Result<LocalOutcome> {
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst));
    }
    let total = todo.len();
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} {msg} elapsed {elapsed} ETA {eta}",
        )
        .expect("the template is valid")
        .progress_chars("=> "),
    );
    bar.set_prefix(plan.experiment.clone());
    let mut queue = todo.into_iter();
    let mut running: Vec<Running> = Vec::new();
    let mut slots_busy = vec![false; options.jobs];
    let mut done = 0;
    let mut failed = Vec::new();
    let mut busy = Vec::new();
    let mut forwarded = false;
    loop {
        if stop.load(Ordering::SeqCst) && !forwarded {
            // A terminal's Ctrl-C reaches the children already; a signal sent to the sweep
            // alone (kill, a scheduler) is passed on so that they checkpoint and stop too.
            for r in &running {
                // SAFETY: sending a signal to a child we spawned and have not reaped.
                unsafe {
                    libc::kill(r.child.id() as libc::pid_t, libc::SIGINT);
                }
            }
            forwarded = true;
        }
        while !stop.load(Ordering::SeqCst) && running.len() < options.jobs {
            let Some((run, resume)) = queue.next() else {
                break;
            };
            let slot = slots_busy
                .iter()
                .position(|b| !b)
                .expect("a free slot exists");
            let device = &options.devices[slot % options.devices.len()];
            if let Some(holder) = RunDir::new(&run.dir).writer()? {
                say(
                    &bar,
                    format!("busy     {}: {holder} is writing it; left to it", run.name),
                );
                busy.push((run.name.clone(), holder.to_string()));
                bar.inc(1);
                continue;
            }
            std::fs::create_dir_all(&run.dir)
                .with_context(|| format!("cannot create {}", run.dir.display()))?;
            let log = OpenOptions::new()
                .create(true)
                .append(true)
                .open(run.dir.join("train.log"))?;
            let mut cmd = train_command(
                &configs.join(format!("{}.json", run.name)),
                resume,
                device,
                options.threads_per_run,
            )?;
            cmd.stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log);
            die_with_parent(&mut cmd);
            let child = cmd
                .spawn()
                .with_context(|| format!("cannot start the run {}", run.name))?;
            slots_busy[slot] = true;
            say(&bar, format!("started  {} on {device}", run.name));
            running.push(Running { child, run, slot });
        }
        if running.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        let mut still = Vec::new();
        for mut r in running.drain(..) {
            match r.child.try_wait()? {
                None => still.push(r),
                Some(status) => {
                    slots_busy[r.slot] = false;
                    match status.code() {
                        Some(0) | Some(3) => {
                            done += 1;
                            let word = if status.code() == Some(3) {
                                "diverged"
                            } else {
                                "finished"
                            };
                            say(&bar, format!("{word} {}", r.run.name));
                        }
                        Some(Busy::EXIT_CODE) => {
                            let holder = RunDir::new(&r.run.dir)
                                .writer()
                                .ok()
                                .flatten()
                                .map_or("another process".to_string(), |h| h.to_string());
                            say(
                                &bar,
                                format!(
                                    "busy     {}: {holder} is writing it; left to it",
                                    r.run.name
                                ),
                            );
                            busy.push((r.run.name.clone(), holder));
                        }
                        Some(130) => say(
                            &bar,
                            format!(
                                "stopped  {} (checkpointed; a re-run resumes it)",
                                r.run.name
                            ),
                        ),
                        code => {
                            let why = match code {
                                Some(c) => format!("exit code {c}"),
                                None => "killed by a signal".to_string(),
                            };
                            say(
                                &bar,
                                format!(
                                    "FAILED   {} ({why}); log: {}",
                                    r.run.name,
                                    r.run.dir.join("train.log").display()
                                ),
                            );
                            failed.push((r.run.name.clone(), why));
                        }
                    }
                    bar.inc(1);
                }
            }
        }
        running = still;
        bar.set_message(format!(
            "done {done}, running {}, failed {}",
            running.len(),
            failed.len()
        ));
    }
    bar.finish_and_clear();
    Ok(LocalOutcome {
        done,
        failed,
        busy,
        interrupted: stop.load(Ordering::SeqCst),
    })
}
