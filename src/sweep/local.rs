//! The local backend: up to `jobs` runs at once, each a `scalefree train` child process
//! pinned to one GPU (which is all it sees: `CUDA_VISIBLE_DEVICES`; several runs may share
//! a GPU, `--runs-per-gpu`) or to a share of the CPU threads. A failing run does not stop the
//! others; Ctrl-C reaches the children too, which checkpoint and stop, and no new run
//! starts. The children die with the sweep however it ends: each asks the kernel for a
//! SIGTERM when the sweep exits (`PR_SET_PDEATHSIG`), so a killed sweep leaves no orphan
//! writing a run; they checkpoint and stop, and the next sweep resumes them. A run that
//! another process is writing (its `run.lock` is held) is left to it and reported as busy.
use super::cpu_placement;
use super::progress::{self, SweepProgress};
use super::summary_refresh::SummaryRefresh;
use crate::config::RunConfig;
use crate::experiment::{ExperimentDir, Plan, PlannedRun};
use crate::rundir::lock::Busy;
use crate::rundir::RunDir;
use anyhow::{Context, Result};
use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Where one run's child process trains.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placement {
    /// One GPU and only it: the child sees it alone (`CUDA_VISIBLE_DEVICES=<id>`, where
    /// `id` is the entry of the sweep's own visible list) and trains on `--device cuda`,
    /// so it opens a CUDA context on that GPU and no other.
    Gpu { visible: String },
    /// `--device` passed as it is (`cpu`, `auto`).
    Device(String),
}

impl Placement {
    /// How the sweep names it when a run starts.
    pub fn label(&self) -> String {
        match self {
            Placement::Gpu { visible } => format!("GPU {visible}"),
            Placement::Device(device) => device.clone(),
        }
    }

    /// The child's `--device`.
    fn device(&self) -> &str {
        match self {
            Placement::Gpu { .. } => "cuda",
            Placement::Device(device) => device,
        }
    }
}

pub struct LocalOptions {
    pub jobs: usize,
    /// Placements of the runs, in turn: run slot `s` goes to `placements[s % len]`.
    pub placements: Vec<Placement>,
    pub threads_per_run: usize,
    /// Why these jobs and threads, to print (CPU sweeps: the rule's reasons).
    pub reasons: Vec<String>,
}

/// What the local backend sees of the machine.
#[derive(Clone, Debug, Default)]
pub struct Machine {
    /// GPUs libtorch sees.
    pub gpus: usize,
    /// The sweep's own `CUDA_VISIBLE_DEVICES`, if set: libtorch's `cuda:i` is its `i`-th entry.
    pub visible: Option<String>,
    pub cores: usize,
    /// Bytes of memory the sweep's runs may use (None: not known).
    pub available_memory: Option<f64>,
}

impl Machine {
    /// This machine: libtorch's GPU count (counting opens no CUDA context on the GPUs).
    pub fn detect() -> Machine {
        Machine {
            gpus: tch::Cuda::device_count().max(0) as usize,
            visible: std::env::var("CUDA_VISIBLE_DEVICES").ok(),
            cores: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            available_memory: crate::train::memory::available_bytes(),
        }
    }

    /// The `CUDA_VISIBLE_DEVICES` entry that makes libtorch's `cuda:index` a child's only GPU.
    fn visible_id(&self, index: usize) -> String {
        let inherited: Vec<&str> = self
            .visible
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .collect();
        inherited
            .get(index)
            .map_or_else(|| index.to_string(), |id| id.to_string())
    }
}

impl LocalOptions {
    /// One run per visible GPU (`runs_per_gpu` per GPU), or on the CPU as the measured
    /// rule of [`cpu_placement`] places `runs` (the plan's), unless told otherwise.
    /// `device` (the sweep's `--device`): `cuda` or `cuda:N` puts every run on that GPU
    /// alone; cpu and auto are passed to the runs as they are; anything else is refused
    /// here, before a run starts.
    pub fn new(
        machine: &Machine,
        jobs: Option<usize>,
        device: Option<&str>,
        threads: Option<usize>,
        runs_per_gpu: usize,
        runs: &[&RunConfig],
    ) -> Result<Self> {
        let gpu = |index: usize| -> Result<Placement> {
            if index >= machine.gpus {
                let spec = device.unwrap_or("cuda");
                match machine.gpus {
                    0 => anyhow::bail!(
                        "invalid --device {spec}: no CUDA device is visible; use --device cpu"
                    ),
                    n => anyhow::bail!(
                        "invalid --device {spec}: {n} CUDA device(s) visible (cuda, cuda:0 … \
                         cuda:{}, cpu or auto)",
                        n - 1
                    ),
                }
            }
            Ok(Placement::Gpu {
                visible: machine.visible_id(index),
            })
        };
        let placements: Vec<Placement> = match device {
            Some("cuda") => vec![gpu(0)?],
            Some(d) => match d.strip_prefix("cuda:").map(str::parse::<usize>) {
                Some(Ok(index)) => vec![gpu(index)?],
                _ if d == "cpu" || d == "auto" => vec![Placement::Device(d.to_string())],
                _ => anyhow::bail!("invalid --device {d}: must be cpu, cuda, cuda:N or auto"),
            },
            None if machine.gpus > 0 => (0..machine.gpus).map(gpu).collect::<Result<_>>()?,
            None => vec![Placement::Device("cpu".to_string())],
        };
        let on_gpus = matches!(placements[0], Placement::Gpu { .. });
        let cpus = machine.cores.max(1);
        if let Some(t) = threads.filter(|&t| t > cpus) {
            anyhow::bail!(
                "invalid --threads {t}: this machine gives the sweep {cpus} CPUs, so a run gains \
                 nothing from more than {cpus} threads; give at most {cpus}"
            );
        }
        if let Some(jobs) = jobs.filter(|&jobs| !on_gpus && jobs > cpus) {
            anyhow::bail!(
                "invalid --jobs {jobs}: the runs train on the CPU, and this machine gives the \
                 sweep {cpus} CPUs, so at most {cpus} runs at once each get one; give at most {cpus}"
            );
        }
        if !on_gpus {
            let placed = cpu_placement::choose(runs, cpus, machine.available_memory, jobs, threads);
            return Ok(LocalOptions {
                jobs: placed.jobs,
                placements,
                threads_per_run: placed.threads,
                reasons: placed.reasons,
            });
        }
        let jobs = jobs
            .unwrap_or(placements.len() * runs_per_gpu.max(1))
            .max(1);
        let threads_per_run = threads.unwrap_or((machine.cores / jobs).max(1));
        Ok(LocalOptions {
            jobs,
            placements,
            threads_per_run,
            reasons: Vec::new(),
        })
    }

    /// How many runs at once, where, and why, to print.
    pub fn lines(&self) -> Vec<String> {
        let placements: Vec<String> = self.placements.iter().map(|p| p.label()).collect();
        let mut lines = self.reasons.clone();
        lines.push(format!(
            "{} at once, {} CPU thread{} each, on {}",
            self.jobs,
            self.threads_per_run,
            if self.threads_per_run == 1 { "" } else { "s" },
            placements.join(", ")
        ));
        lines
    }

    /// Refuses, before any run starts, a plan with runs these placements cannot train:
    /// float16 needs CUDA, and on the CPU every such run would fail alike.
    pub fn refuse_unrunnable(&self, plan: &Plan, machine: &Machine) -> Result<()> {
        let on_cpu = self.placements.iter().all(|p| match p {
            Placement::Gpu { .. } => false,
            Placement::Device(device) => device == "cpu" || machine.gpus == 0,
        });
        let f16 = crate::config::Precision::F16;
        let unrunnable: Vec<&str> = plan
            .runs
            .iter()
            .filter(|run| on_cpu && run.config.training.precision == f16)
            .map(|run| run.name.as_str())
            .collect();
        if let Some(first) = unrunnable.first() {
            anyhow::bail!(
                "experiment {}: key `precision` = \"f16\" needs a CUDA device, and this sweep's \
                 runs train on the CPU ({} of {} runs, e.g. {first}); use \"bf16\" (or \"fp32\") \
                 on the CPU, or sweep on a GPU machine",
                plan.experiment,
                unrunnable.len(),
                plan.runs.len()
            );
        }
        Ok(())
    }

    /// The child process of `slot`'s next run.
    pub fn child_command(&self, slot: usize, config_file: &Path, resume: bool) -> Result<Command> {
        let placement = &self.placements[slot % self.placements.len()];
        let mut cmd = train_command(
            config_file,
            resume,
            placement.device(),
            self.threads_per_run,
        )?;
        if let Placement::Gpu { visible } = placement {
            cmd.env("CUDA_VISIBLE_DEVICES", visible);
        }
        Ok(cmd)
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

impl LocalOutcome {
    /// Every run ended as it should: none failed, none busy, not interrupted.
    pub fn clean(&self) -> bool {
        self.failed.is_empty() && self.busy.is_empty() && !self.interrupted
    }

    /// What the sweep says at its end: the counts, then a line per failed run.
    pub fn lines(&self, experiment: &str) -> Vec<String> {
        let busy = if self.busy.is_empty() {
            String::new()
        } else {
            let n = self.busy.len();
            format!(", {n} busy (another process is writing them)")
        };
        let interrupted = if self.interrupted {
            ", interrupted (re-run to continue)"
        } else {
            ""
        };
        let mut lines = vec![format!(
            "{experiment}: {} done, {} failed{busy}{interrupted}",
            self.done,
            self.failed.len(),
        )];
        for (name, why) in &self.failed {
            lines.push(format!("  failed: {name} ({why})"));
        }
        lines
    }
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
    let threads = threads_of_run(config_file, resume).unwrap_or(threads);
    cmd.args(["--device", device, "--threads", &threads.to_string()]);
    if resume {
        cmd.arg("--resume");
    }
    Ok(cmd)
}

/// The threads a run asks for itself: those of its run file (a grid over `threads`), else,
/// resuming, those its checkpoint trained with (on the CPU another count is another run).
fn threads_of_run(config_file: &Path, resume: bool) -> Option<usize> {
    let config = crate::config::RunConfig::from_file(config_file).ok()?;
    config.runtime.threads.or_else(|| {
        resume
            .then(|| crate::rundir::checkpoint::cpu_threads_of(&config.run_dir()))
            .flatten()
    })
}

/// The sweep's runs as they go: the children running, the slots they hold, and the tally.
struct Pool<'a> {
    summary: SummaryRefresh,
    options: &'a LocalOptions,
    folder: &'a ExperimentDir,
    progress: SweepProgress,
    running: Vec<Running>,
    slots_busy: Vec<bool>,
    ended: LocalOutcome,
}

impl Pool<'_> {
    /// Starts `run` in a free slot, or leaves it to the process that is writing it.
    fn start(&mut self, run: PlannedRun, resume: bool) -> Result<()> {
        let dir = RunDir::new(run.dir());
        if let Some(holder) = dir.writer()? {
            self.left_to(&run, holder.to_string());
            return Ok(());
        }
        let slot = self
            .slots_busy
            .iter()
            .position(|b| !b)
            .expect("a free slot exists");
        let placement = self.options.placements[slot % self.options.placements.len()].label();
        std::fs::create_dir_all(dir.path())
            .with_context(|| format!("cannot create {}", dir.path().display()))?;
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.train_log_path())?;
        let mut cmd = self
            .options
            .child_command(slot, &self.folder.run_file(&run.name), resume)?;
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        die_with_parent(&mut cmd);
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start the run {}", run.name))?;
        self.slots_busy[slot] = true;
        (self.progress).say(format!("started  {} on {placement}", run.name));
        self.running.push(Running { child, run, slot });
        Ok(())
    }

    fn left_to(&mut self, run: &PlannedRun, holder: String) {
        let why = format!(": {holder} is writing it; left to it");
        (self.progress).ended("busy", &run.name, run.dir(), Some(why));
        self.ended.busy.push((run.name.clone(), holder));
    }

    /// Reaps the children that have exited, freeing their slots.
    fn reap(&mut self) -> Result<()> {
        let mut still = Vec::new();
        let mut any_ended = false;
        for mut r in std::mem::take(&mut self.running) {
            match r.child.try_wait()? {
                None => still.push(r),
                Some(status) => {
                    self.slots_busy[r.slot] = false;
                    self.ended_with(&r.run, status.code());
                    any_ended = true;
                }
            }
        }
        self.running = still;
        if any_ended {
            self.summary.request();
        }
        let progress = &self.progress;
        self.summary.poll(&|line| progress.say(line));
        let running: Vec<progress::Running> = (self.running.iter())
            .map(|r| progress::Running {
                name: &r.run.name,
                dir: r.run.dir(),
            })
            .collect();
        self.progress.update(&running);
        Ok(())
    }

    /// Counts and says how a child ended, by its exit code.
    fn ended_with(&mut self, run: &PlannedRun, code: Option<i32>) {
        match code {
            Some(0) | Some(3) => {
                self.ended.done += 1;
                let word = if code == Some(3) {
                    "diverged"
                } else {
                    "finished"
                };
                self.progress.ended(word, &run.name, run.dir(), None);
            }
            Some(Busy::EXIT_CODE) => {
                let holder = RunDir::new(run.dir())
                    .writer()
                    .ok()
                    .flatten()
                    .map_or("another process".to_string(), |h| h.to_string());
                self.left_to(run, holder);
            }
            Some(130) => {
                let why = " (checkpointed; a re-run resumes it)".to_string();
                (self.progress).ended("stopped", &run.name, run.dir(), Some(why))
            }
            code => {
                let why = match code {
                    Some(c) => format!("exit code {c}"),
                    None => "killed by a signal".to_string(),
                };
                let log = RunDir::new(run.dir()).train_log_path();
                let detail = format!(" ({why}); log: {}", log.display());
                (self.progress).ended("FAILED", &run.name, run.dir(), Some(detail));
                self.ended.failed.push((run.name.clone(), why));
            }
        }
    }

    /// A terminal's Ctrl-C reaches the children already; a signal sent to the sweep alone
    /// (kill, a scheduler) is passed on so that they checkpoint and stop too.
    fn forward_stop(&self) {
        for r in &self.running {
            // SAFETY: sending a signal to a child we spawned and have not reaped.
            unsafe {
                libc::kill(r.child.id() as libc::pid_t, libc::SIGINT);
            }
        }
    }
}

/// Runs `todo` (each run, and whether it resumes), `options.jobs` at once, until all have
/// ended or a stop is asked for.
pub fn run(
    plan: &Plan,
    todo: Vec<(PlannedRun, bool)>,
    folder: &ExperimentDir,
    options: &LocalOptions,
) -> Result<LocalOutcome> {
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst));
    }
    let mut pool = Pool {
        summary: SummaryRefresh::new(plan, folder),
        options,
        folder,
        progress: SweepProgress::new(&plan.experiment, todo.len()),
        running: Vec::new(),
        slots_busy: vec![false; options.jobs],
        ended: LocalOutcome {
            done: 0,
            failed: Vec::new(),
            busy: Vec::new(),
            interrupted: false,
        },
    };
    let mut queue = todo.into_iter();
    let mut forwarded = false;
    loop {
        if stop.load(Ordering::SeqCst) && !forwarded {
            pool.forward_stop();
            forwarded = true;
        }
        while !stop.load(Ordering::SeqCst) && pool.running.len() < options.jobs {
            let Some((run, resume)) = queue.next() else {
                break;
            };
            pool.start(run, resume)?;
        }
        if pool.running.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        pool.reap()?;
    }
    let progress = &pool.progress;
    pool.summary.finish(&|line| progress.say(line));
    pool.progress.finish();
    pool.ended.interrupted = stop.load(Ordering::SeqCst);
    Ok(pool.ended)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_gpus(visible: Option<&str>) -> Machine {
        Machine {
            gpus: 2,
            visible: visible.map(str::to_string),
            cores: 8,
            available_memory: None,
        }
    }

    fn env_of(cmd: &Command, key: &str) -> Option<String> {
        cmd.get_envs()
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| v.map(|v| v.to_string_lossy().into_owned()))
    }

    fn device_arg(cmd: &Command) -> String {
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let at = args.iter().position(|a| a == "--device").expect("--device");
        args[at + 1].clone()
    }

    #[test]
    fn children_on_a_two_gpu_machine_each_see_one_gpu_and_train_on_cuda() {
        let options = LocalOptions::new(&two_gpus(None), None, None, None, 1, &[]).unwrap();
        assert_eq!(options.jobs, 2);
        assert_eq!(options.threads_per_run, 4);
        for (slot, gpu) in [(0, "0"), (1, "1"), (2, "0")] {
            let cmd = options
                .child_command(slot, Path::new("run.json"), false)
                .unwrap();
            assert_eq!(env_of(&cmd, "CUDA_VISIBLE_DEVICES").as_deref(), Some(gpu));
            assert_eq!(device_arg(&cmd), "cuda", "slot {slot}");
        }
    }

    #[test]
    fn an_inherited_visible_list_is_mapped_through() {
        let machine = two_gpus(Some("3, GPU-5a7c"));
        let options = LocalOptions::new(&machine, None, None, None, 1, &[]).unwrap();
        let visible: Vec<Option<String>> = (0..2)
            .map(|slot| {
                let cmd = options
                    .child_command(slot, Path::new("run.json"), true)
                    .unwrap();
                env_of(&cmd, "CUDA_VISIBLE_DEVICES")
            })
            .collect();
        assert_eq!(
            visible,
            [Some("3".to_string()), Some("GPU-5a7c".to_string())]
        );
        // `--device cuda:1` is the second entry of the inherited list, alone.
        let one = LocalOptions::new(&machine, None, Some("cuda:1"), None, 1, &[]).unwrap();
        let cmd = one.child_command(0, Path::new("run.json"), false).unwrap();
        assert_eq!(
            env_of(&cmd, "CUDA_VISIBLE_DEVICES").as_deref(),
            Some("GPU-5a7c")
        );
        assert_eq!(device_arg(&cmd), "cuda");
    }

    #[test]
    fn runs_per_gpu_sets_the_jobs_and_shares_each_gpu() {
        let options = LocalOptions::new(&two_gpus(None), None, None, Some(1), 3, &[]).unwrap();
        assert_eq!(options.jobs, 6);
        let per_gpu = |gpu: &str| {
            (0..options.jobs)
                .filter(|&slot| {
                    let cmd = options
                        .child_command(slot, Path::new("run.json"), false)
                        .unwrap();
                    env_of(&cmd, "CUDA_VISIBLE_DEVICES").as_deref() == Some(gpu)
                })
                .count()
        };
        assert_eq!((per_gpu("0"), per_gpu("1")), (3, 3));
    }

    #[test]
    fn threads_and_cpu_jobs_beyond_the_machine_are_refused_naming_the_flag() {
        let two_cpus = Machine {
            cores: 2,
            ..Machine::default()
        };
        let err = LocalOptions::new(&two_cpus, None, None, Some(3), 1, &[])
            .err()
            .unwrap();
        assert!(err.to_string().contains("--threads 3") && err.to_string().contains("2 CPUs"));
        let err = LocalOptions::new(&two_cpus, Some(3), None, None, 1, &[])
            .err()
            .unwrap();
        assert!(err.to_string().contains("--jobs 3"), "{err}");
        assert!(LocalOptions::new(&two_cpus, Some(2), None, Some(1), 1, &[]).is_ok());
        // On GPUs the runs' count is the GPUs' business, not the cores'.
        assert!(LocalOptions::new(&two_gpus(None), Some(16), None, Some(1), 8, &[]).is_ok());
    }

    #[test]
    fn cpu_runs_get_no_visible_list_and_a_missing_gpu_is_refused() {
        let cpu = LocalOptions::new(&Machine::default(), None, None, None, 4, &[]).unwrap();
        assert_eq!(cpu.jobs, 1, "runs_per_gpu does not apply to the CPU");
        let cmd = cpu.child_command(0, Path::new("run.json"), false).unwrap();
        assert_eq!(env_of(&cmd, "CUDA_VISIBLE_DEVICES"), None);
        assert_eq!(device_arg(&cmd), "cpu");
        let err = LocalOptions::new(&two_gpus(None), None, Some("cuda:2"), None, 1, &[])
            .err()
            .expect("cuda:2 on a 2-GPU machine");
        assert!(err.to_string().contains("--device cuda:2"), "{err}");
    }
}
