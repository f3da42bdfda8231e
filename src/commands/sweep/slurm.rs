//! The Slurm backend: one `sbatch --array` script for the runs still to do, where task
//! `i` runs `scalefree train` for run `i`; submitted with `sbatch`, followed with
//! `squeue`/`sacct`. Slurm schedules; we only describe the work.
use super::experiment::PlannedRun;
use super::local::train_command;
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
}

/// One submission, recorded in `runs/<experiment>/slurm/jobs.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Submission {
    pub job_id: String,
    pub script: PathBuf,
    /// Run names by array index.
    pub runs: Vec<String>,
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The batch script for `runs` (array index = position).
pub fn script(
    experiment: &str,
    runs: &[(PlannedRun, bool)],
    configs: &Path,
    slurm_dir: &Path,
    options: &SlurmOptions,
) -> Result<String> {
    let workdir = std::env::current_dir()?;
    let mut s = String::from("#!/bin/bash\n");
    s.push_str(&format!("#SBATCH --job-name=scalefree-{experiment}\n"));
    let throttle = options
        .max_parallel
        .map(|m| format!("%{m}"))
        .unwrap_or_default();
    s.push_str(&format!("#SBATCH --array=0-{}{throttle}\n", runs.len() - 1));
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
    s.push_str("set -euo pipefail\n");
    s.push_str(&format!("cd {}\n", quote(&workdir.display().to_string())));
    s.push_str("RUNS=(\n");
    for (run, _) in runs {
        s.push_str(&format!("  {}\n", quote(&run.name)));
    }
    s.push_str(")\nNAME=${RUNS[$SLURM_ARRAY_TASK_ID]}\n");
    s.push_str(&format!(
        "DIR={}/\"$NAME\"\n",
        quote(
            &runs[0]
                .0
                .dir
                .parent()
                .unwrap_or(Path::new("."))
                .display()
                .to_string()
        )
    ));
    // A run that wrote its directory before (an earlier, interrupted attempt) resumes.
    s.push_str("RESUME=()\nif [ -f \"$DIR/config.json\" ]; then RESUME=(--resume); fi\n");
    let device = if options.gpus_per_task > 0 {
        "cuda"
    } else {
        "cpu"
    };
    let cmd = train_command(
        &configs.join("NAME.json"),
        false,
        device,
        options.cpus_per_task,
    )?;
    // From a bundle, the launcher: the node then finds its own PyTorch's libtorch.
    let program = match std::env::var_os("SCALEFREE_LAUNCHER") {
        Some(launcher) => quote(&launcher.to_string_lossy()),
        None => quote(&cmd.get_program().to_string_lossy()),
    };
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().to_string())
        .map(|a| {
            if a.ends_with("NAME.json") {
                format!("{}/\"$NAME\".json", quote(&configs.display().to_string()))
            } else {
                quote(&a)
            }
        })
        .collect();
    s.push_str(&format!(
        "exec {program} {} \"${{RESUME[@]}}\"\n",
        args.join(" ")
    ));
    Ok(s)
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
    configs: &Path,
    slurm_dir: &Path,
    options: &SlurmOptions,
) -> Result<Submission> {
    std::fs::create_dir_all(slurm_dir)?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let path = slurm_dir.join(format!("sweep-{stamp}.sbatch"));
    write_atomic(
        &path,
        script(experiment, runs, configs, slurm_dir, options)?.as_bytes(),
    )?;
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
            if let Some(name) = submission.runs.get(task) {
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
