//! The Slurm backend: one `sbatch --array` script for the runs still to do, where task
//! `i` runs `scalefree train` for run `i`; submitted with `sbatch`, followed with
//! `squeue`/`sacct`. Slurm schedules; we only describe the work. With `runs_per_task`
//! N > 1 (`--runs-per-gpu` on GPU jobs), task `i` runs runs `i·N … i·N+N−1` at once on
//! its one allocation (its GPU), each with its share of the task's CPUs and its output in
//! its run directory's `train.log`. When its runs end, a task runs `scalefree sweep status`,
//! which brings the experiment's summary run for TensorBoard up to date (one writer at a
//! time), so that a cluster sweep's dashboard fills in as its runs end.
use super::local::train_command;
use crate::experiment::{ExperimentDir, PlannedRun};
use crate::rundir::{CONFIG_FILE, TRAIN_LOG};
use crate::sinks::atomic::{write_atomic, write_json_atomic};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Clone, Debug, Default)]
pub struct SlurmOptions {
    pub partition: Option<String>,
    pub time: Option<String>,
    pub gpus_per_task: u32,
    pub cpus_per_task: usize,
    /// At most this many array tasks at once (`--array=0-N%max`).
    pub max_parallel: Option<usize>,
    /// Extra `#SBATCH` options, e.g. `--account=abc`.
    pub extra: Vec<String>,
    /// Runs per array task, sharing its allocation (at least 1).
    pub runs_per_task: usize,
    /// The experiment's file: each array task runs `scalefree sweep status` on it when
    /// its runs end, which brings the experiment's summary run for TensorBoard up to date.
    pub experiment_file: Option<PathBuf>,
}

/// Runs per array task: they share a GPU, `runs_per_gpu` on each of the task's GPUs;
/// CPU-only tasks keep one run each.
pub fn runs_per_task(gpus_per_task: u32, runs_per_gpu: usize) -> usize {
    if gpus_per_task > 0 {
        runs_per_gpu * gpus_per_task as usize
    } else {
        1
    }
}

/// One submission, recorded in `runs/<experiment>/slurm/jobs.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Submission {
    pub job_id: String,
    pub script: PathBuf,
    /// Run names in order: array task `i` ran runs `i·runs_per_task …`.
    pub runs: Vec<String>,
    /// Runs per array task (1 in submissions made before there was a choice).
    #[serde(default = "one")]
    pub runs_per_task: usize,
}

fn one() -> usize {
    1
}

impl Submission {
    /// The run names of array task `task`.
    pub fn runs_of(&self, task: usize) -> &[String] {
        let per = self.runs_per_task.max(1);
        let first = (task * per).min(self.runs.len());
        &self.runs[first..(first + per).min(self.runs.len())]
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The `#SBATCH` lines of an array of `tasks` tasks.
fn directives(experiment: &str, tasks: usize, slurm_dir: &Path, options: &SlurmOptions) -> String {
    let mut s = format!("#SBATCH --job-name=scalefree-{experiment}\n");
    let throttle = options
        .max_parallel
        .map(|m| format!("%{m}"))
        .unwrap_or_default();
    s.push_str(&format!("#SBATCH --array=0-{}{throttle}\n", tasks - 1));
    s.push_str(&format!(
        "#SBATCH --output={}/%A_%a.out\n",
        slurm_dir.display()
    ));
    s.push_str(&format!(
        "#SBATCH --cpus-per-task={}\n",
        options.cpus_per_task
    ));
    if let Some(p) = &options.partition {
        s.push_str(&format!("#SBATCH --partition={p}\n"));
    }
    if let Some(t) = &options.time {
        s.push_str(&format!("#SBATCH --time={t}\n"));
    }
    if options.gpus_per_task > 0 {
        s.push_str(&format!("#SBATCH --gres=gpu:{}\n", options.gpus_per_task));
    }
    for extra in &options.extra {
        s.push_str(&format!("#SBATCH {extra}\n"));
    }
    s
}

/// The batch script for `runs` (array index = position).
pub fn script(
    experiment: &str,
    runs: &[(PlannedRun, bool)],
    folder: &ExperimentDir,
    options: &SlurmOptions,
) -> Result<String> {
    let workdir = std::env::current_dir()?;
    let per_task = options.runs_per_task.max(1);
    let tasks = runs.len().div_ceil(per_task);
    let mut s = String::from("#!/bin/bash\n");
    s.push_str(&directives(experiment, tasks, &folder.slurm_dir(), options));
    s.push_str("set -euo pipefail\n");
    s.push_str(&format!("cd {}\n", quote(&workdir.display().to_string())));
    s.push_str("RUNS=(\n");
    for (run, _) in runs {
        s.push_str(&format!("  {}\n", quote(&run.name)));
    }
    s.push_str(")\n");
    let runs_dir = quote(
        &runs[0]
            .0
            .dir()
            .parent()
            .unwrap_or(Path::new("."))
            .display()
            .to_string(),
    );
    let device = if options.gpus_per_task > 0 {
        "cuda"
    } else {
        "cpu"
    };
    let threads = (options.cpus_per_task / per_task).max(1);
    let run_file = folder.run_file("NAME").display().to_string();
    let cmd = train_command(Path::new(&run_file), false, device, threads)?;
    // From a bundle, the launcher: the node then finds its own PyTorch's libtorch.
    let program = match std::env::var_os("SCALEFREE_LAUNCHER") {
        Some(launcher) => quote(&launcher.to_string_lossy()),
        None => quote(&cmd.get_program().to_string_lossy()),
    };
    // Packed runs spread over the task's GPUs, runs_per_task / gpus_per_task on each (Slurm
    // sets CUDA_VISIBLE_DEVICES to the task's GPUs, so cuda:0 … are those).
    let packed_gpu = (per_task > 1 && options.gpus_per_task > 0).then(|| {
        format!(
            "\"cuda:$(((i - FIRST) * {} / {per_task}))\"",
            options.gpus_per_task
        )
    });
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().to_string())
        .map(|a| {
            if let (Some(gpu), "cuda") = (&packed_gpu, a.as_str()) {
                gpu.clone()
            } else if a == run_file {
                // The run file of the task's run, `$NAME` in place of the placeholder.
                let (before, after) = run_file.rsplit_once("NAME").expect("it holds NAME");
                format!("{}\"$NAME\"{}", quote(before), quote(after))
            } else {
                quote(&a)
            }
        })
        .collect();
    let train = format!("{program} {} \"${{RESUME[@]}}\"", args.join(" "));
    let refresh = summary_refresh(&program, folder, options);
    // A run that wrote its directory before (an earlier, interrupted attempt) resumes.
    let resume =
        format!("RESUME=()\nif [ -f \"$DIR/{CONFIG_FILE}\" ]; then RESUME=(--resume); fi\n");
    if per_task == 1 {
        s.push_str("NAME=${RUNS[$SLURM_ARRAY_TASK_ID]}\n");
        s.push_str(&format!("DIR={runs_dir}/\"$NAME\"\n"));
        s.push_str(&resume);
        s.push_str(&format!(
            "{train} && STATUS=0 || STATUS=$?\n{refresh}exit $STATUS\n"
        ));
    } else {
        // N runs at once on this task's allocation; the task fails if one of them fails
        // (a diverged run, exit code 3, is a finished run).
        s.push_str(&format!(
            "FIRST=$((SLURM_ARRAY_TASK_ID * {per_task}))\nPIDS=()\n"
        ));
        s.push_str(&format!(
            "for ((i = FIRST; i < FIRST + {per_task} && i < ${{#RUNS[@]}}; i++)); do\n"
        ));
        s.push_str("NAME=${RUNS[$i]}\n");
        s.push_str(&format!("DIR={runs_dir}/\"$NAME\"\n"));
        s.push_str(&resume);
        s.push_str("mkdir -p \"$DIR\"\n");
        s.push_str(&format!(
            "{train} >>\"$DIR/{TRAIN_LOG}\" 2>&1 &\nPIDS+=($!)\ndone\n"
        ));
        s.push_str(
            "STATUS=0\nfor pid in \"${PIDS[@]}\"; do\n  wait \"$pid\" && code=0 || code=$?\n  \
             if [ \"$code\" -ne 0 ] && [ \"$code\" -ne 3 ]; then STATUS=$code; fi\ndone\n",
        );
        s.push_str(&format!("{refresh}exit $STATUS\n"));
    }
    Ok(s)
}

/// The line that brings the summary run up to date once a task's runs have ended
/// (`sweep status`, its table left out of the task's log, its complaints kept; it never
/// fails the task); none without the experiment's file.
fn summary_refresh(program: &str, folder: &ExperimentDir, options: &SlurmOptions) -> String {
    let (Some(file), Some(runs)) = (&options.experiment_file, folder.path().parent()) else {
        return String::new();
    };
    format!(
        "{program} sweep status {} --runs {} >/dev/null || true\n",
        quote(&file.display().to_string()),
        quote(&runs.display().to_string())
    )
}

pub fn jobs_file(slurm_dir: &Path) -> PathBuf {
    slurm_dir.join("jobs.json")
}

pub fn read_submissions(slurm_dir: &Path) -> Vec<Submission> {
    std::fs::read_to_string(jobs_file(slurm_dir))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// Writes the script and submits it; returns the job id.
pub fn submit(
    experiment: &str,
    runs: &[(PlannedRun, bool)],
    folder: &ExperimentDir,
    options: &SlurmOptions,
) -> Result<Submission> {
    let slurm_dir = &folder.slurm_dir();
    std::fs::create_dir_all(slurm_dir)?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let path = slurm_dir.join(format!("sweep-{stamp}.sbatch"));
    write_atomic(&path, script(experiment, runs, folder, options)?.as_bytes())?;
    let output = match Command::new("sbatch").arg("--parsable").arg(&path).output() {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("sbatch not found: install Slurm's client tools, or run the sweep with --backend local (the script is at {})", path.display())
        }
        Err(e) => return Err(e).context("cannot run sbatch"),
    };
    if !output.status.success() {
        bail!(
            "sbatch refused the job ({}): {}\nthe script is at {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim(),
            path.display()
        );
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let job_id = text.trim().split(';').next().unwrap_or("").to_string();
    if job_id.is_empty() {
        bail!("sbatch printed no job id: {text:?}");
    }
    let submission = Submission {
        job_id,
        script: path,
        runs: runs.iter().map(|(r, _)| r.name.clone()).collect(),
        runs_per_task: options.runs_per_task.max(1),
    };
    let mut all = read_submissions(slurm_dir);
    all.push(submission.clone());
    write_json_atomic(&jobs_file(slurm_dir), &all)?;
    Ok(submission)
}

/// Slurm's view of each run of the recorded submissions (latest submission wins), from
/// `squeue` for queued/running tasks and `sacct` for finished ones where accounting is
/// available. Missing tools give an empty map.
pub fn states(slurm_dir: &Path) -> HashMap<String, String> {
    let mut by_run = HashMap::new();
    for submission in read_submissions(slurm_dir) {
        let mut task_states: HashMap<usize, String> = HashMap::new();
        if let Ok(out) = Command::new("sacct")
            .args([
                "-n",
                "-P",
                "-X",
                "-o",
                "JobID,State",
                "-j",
                &submission.job_id,
            ])
            .output()
        {
            if out.status.success() {
                parse_task_states(&String::from_utf8_lossy(&out.stdout), '|', &mut task_states);
            }
        }
        if let Ok(out) = Command::new("squeue")
            .args(["-h", "-r", "-o", "%i|%T", "-j", &submission.job_id])
            .output()
        {
            if out.status.success() {
                parse_task_states(&String::from_utf8_lossy(&out.stdout), '|', &mut task_states);
            }
        }
        for (task, state) in task_states {
            for name in submission.runs_of(task) {
                by_run.insert(
                    name.clone(),
                    format!("{} {}_{task}", state.to_lowercase(), submission.job_id),
                );
            }
        }
    }
    by_run
}

/// Lines like `123_4|RUNNING`.
fn parse_task_states(text: &str, sep: char, into: &mut HashMap<usize, String>) {
    for line in text.lines() {
        let Some((id, state)) = line.split_once(sep) else {
            continue;
        };
        if let Some(task) = id
            .split_once('_')
            .and_then(|(_, t)| t.parse::<usize>().ok())
        {
            into.insert(
                task,
                state.split_whitespace().next().unwrap_or("").to_string(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RunConfig;

    fn planned(runs_dir: &Path, n: usize) -> Vec<(PlannedRun, bool)> {
        (0..n)
            .map(|i| {
                let name = format!("run{i}");
                let dir = runs_dir.join(&name);
                let run = PlannedRun::new(name, dir, RunConfig::default());
                (run, false)
            })
            .collect()
    }

    #[test]
    fn packed_tasks_start_each_of_their_runs_logging_to_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let runs_dir = dir.path().join("runs");
        let runs = planned(&runs_dir, 3);
        let options = SlurmOptions {
            gpus_per_task: 1,
            cpus_per_task: 8,
            runs_per_task: 2,
            ..Default::default()
        };
        let text = script("x", &runs, &ExperimentDir::new(dir.path(), "x"), &options).unwrap();
        assert!(text.contains("#SBATCH --array=0-1\n"), "{text}");
        assert!(text.contains("#SBATCH --gres=gpu:1\n"), "{text}");
        assert!(text.contains("'--threads' '4'"), "{text}");
        assert!(
            text.contains("'--device' \"cuda:$(((i - FIRST) * 1 / 2))\""),
            "{text}"
        );
        let path = dir.path().join("job.sbatch");
        std::fs::write(&path, &text).unwrap();
        // Task 1 holds the third run only; task 0 the first two. The program (this test
        // binary) refuses the train flags, so each task fails, after starting its runs.
        for (task, started) in [("1", vec![2]), ("0", vec![0, 1])] {
            let status = Command::new("bash")
                .arg(&path)
                .env("SLURM_ARRAY_TASK_ID", task)
                .status()
                .unwrap();
            assert!(
                !status.success(),
                "task {task}: a failed run fails the task"
            );
            for i in &started {
                let log = runs_dir.join(format!("run{i}/train.log"));
                assert!(log.is_file(), "task {task} did not start run{i}");
            }
            if task == "1" {
                assert!(!runs_dir.join("run0").exists() && !runs_dir.join("run1").exists());
            }
        }
    }

    #[test]
    fn packed_runs_spread_over_the_tasks_gpus() {
        let dir = tempfile::tempdir().unwrap();
        let runs = planned(&dir.path().join("runs"), 8);
        let options = SlurmOptions {
            gpus_per_task: 2,
            cpus_per_task: 8,
            runs_per_task: 4,
            ..Default::default()
        };
        let text = script("x", &runs, &ExperimentDir::new(dir.path(), "x"), &options).unwrap();
        let device = "\"cuda:$(((i - FIRST) * 2 / 4))\"";
        assert!(text.contains(&format!("'--device' {device}")), "{text}");
        // Task 1 holds runs 4 … 7: two on each GPU.
        let shown = Command::new("bash")
            .arg("-c")
            .arg(format!("FIRST=4; for i in 4 5 6 7; do echo {device}; done"))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&shown.stdout),
            "cuda:0\ncuda:0\ncuda:1\ncuda:1\n"
        );
    }

    #[test]
    fn a_packed_submission_maps_each_task_to_its_runs() {
        let submission = Submission {
            job_id: "7".into(),
            script: PathBuf::from("s"),
            runs: (0..5).map(|i| format!("run{i}")).collect(),
            runs_per_task: 2,
        };
        assert_eq!(submission.runs_of(0), ["run0", "run1"]);
        assert_eq!(submission.runs_of(2), ["run4"]);
        assert!(submission.runs_of(3).is_empty());
        // Submissions recorded before packing existed read as one run per task.
        let old: Submission =
            serde_json::from_str(r#"{"job_id": "1", "script": "s", "runs": ["a", "b"]}"#).unwrap();
        assert_eq!(old.runs_of(1), ["b"]);
    }
}
