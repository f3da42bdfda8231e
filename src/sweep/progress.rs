//! What a local sweep shows while it runs: one bar over all its runs, each running run
//! counted by the steps it has taken (from its `pace.json`), with the runs ended of the
//! total, the running runs' steps and rate, the elapsed time and an ETA from the rate
//! measured so far; and a line per run that ends, with its result. Without a terminal
//! (a log file, CI) the bar is hidden and each line carries the count, elapsed time and
//! ETA instead.
use crate::rundir::{PaceRow, RunDir, RunStatus};
use indicatif::{HumanDuration, ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// Bar units per run: a running run moves the bar by its fraction of steps done.
const UNITS_PER_RUN: u64 = 1000;

pub struct SweepProgress {
    bar: ProgressBar,
    started: Instant,
    runs: usize,
    /// Runs that have ended, however they ended (done, failed, left to another process).
    ended: usize,
    /// The share of its steps each run had taken before this sweep started it (a resumed
    /// run's checkpoint): work this sweep did not do, kept out of its rate.
    started_at: HashMap<String, f64>,
    /// The runs' worth of work the ended runs did in this sweep.
    ended_work: f64,
}

/// A running run as the bar shows it.
pub struct Running<'a> {
    pub name: &'a str,
    pub dir: &'a Path,
}

impl SweepProgress {
    pub fn new(experiment: &str, runs: usize) -> SweepProgress {
        let bar = ProgressBar::new(runs as u64 * UNITS_PER_RUN);
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {msg}")
                .expect("the template is valid")
                .progress_chars("=> "),
        );
        bar.set_prefix(experiment.to_string());
        SweepProgress {
            bar,
            started: Instant::now(),
            runs,
            ended: 0,
            started_at: HashMap::new(),
            ended_work: 0.0,
        }
    }

    /// A line above the bar, or plain output when there is no terminal to draw on.
    pub fn say(&self, line: String) {
        if self.bar.is_hidden() {
            println!("{line}");
        } else {
            self.bar.println(line);
        }
    }

    /// Counts a run as ended and says how, with its result when it has one.
    pub fn ended(&mut self, word: &str, name: &str, dir: &Path, detail: Option<String>) {
        self.ended += 1;
        self.ended_work += 1.0 - self.started_at.get(name).copied().unwrap_or(0.0);
        let result = detail.or_else(|| result_of(dir)).unwrap_or_default();
        let tally = self.tally(self.ended as f64, self.ended_work);
        let line = match self.bar.is_hidden() {
            true => format!("{word:<8} {name}{result} ({tally})"),
            false => format!("{word:<8} {name}{result}"),
        };
        self.say(line);
    }

    /// `3/16 runs ended, elapsed 3m 2s, ETA 14m`: `done` runs' worth of the sweep's work is
    /// behind it, `worked` of it done by this sweep (resumed runs came with the rest).
    fn tally(&self, done: f64, worked: f64) -> String {
        let elapsed = self.started.elapsed();
        let mut text = format!(
            "{}/{} runs ended, elapsed {}",
            self.ended,
            self.runs,
            HumanDuration(elapsed)
        );
        if let Some(eta) = eta(elapsed, worked, self.runs as f64 - done) {
            text.push_str(&format!(", ETA {}", HumanDuration(eta)));
        }
        text
    }

    /// Redraws the bar from the running runs' `pace.json`.
    pub fn update(&mut self, running: &[Running]) {
        let paces: Vec<Option<PaceRow>> = running
            .iter()
            .map(|r| RunDir::new(r.dir).read_pace())
            .collect();
        let mut worked = self.ended_work;
        for (run, pace) in running.iter().zip(&paces) {
            let Some(pace) = pace else { continue };
            let before = pace.first_step as f64 / pace.total_steps.max(1) as f64;
            let before = *self
                .started_at
                .entry(run.name.to_string())
                .or_insert(before);
            worked += (fraction(pace) - before).max(0.0);
        }
        let fractions: f64 = paces.iter().flatten().map(fraction).sum();
        let done = self.ended as f64 + fractions;
        self.bar.set_position((done * UNITS_PER_RUN as f64) as u64);
        let now = match (running, paces.as_slice()) {
            ([], _) => String::new(),
            ([one], [pace]) => format!(" · {}{}", one.name, pace_text(pace.as_ref())),
            (many, _) => format!(" · {} running, {:.0} % of their steps", many.len(), {
                100.0 * fractions / many.len() as f64
            }),
        };
        self.bar
            .set_message(format!("{}{now}", self.tally(done, worked)));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// The share of its steps a run has taken.
fn fraction(pace: &PaceRow) -> f64 {
    match pace.total_steps {
        0 => 0.0,
        total => (pace.step as f64 / total as f64).min(1.0),
    }
}

/// ` step 120/234, 9.5 steps/s`, or nothing before the run has said.
fn pace_text(pace: Option<&PaceRow>) -> String {
    pace.map_or(String::new(), |p| {
        format!(
            " step {}/{}, {:.1} steps/s",
            p.step, p.total_steps, p.steps_per_s
        )
    })
}

/// The least work (in runs) measured before an ETA is given: the first seconds of a sweep
/// are mostly starting processes and loading data, and a rate from them swings widely
/// (a 19 s sweep showed 4, then 12 minutes).
const ETA_AFTER_WORK: f64 = 0.2;

/// The time left at the rate so far: `worked` runs' worth of work done in `elapsed`,
/// `left` to do; `None` until enough work is measured and once none is left.
fn eta(elapsed: Duration, worked: f64, left: f64) -> Option<Duration> {
    if worked < ETA_AFTER_WORK || left <= 0.0 || elapsed.is_zero() {
        return None;
    }
    Some(Duration::from_secs_f64(
        elapsed.as_secs_f64() * left / worked,
    ))
}

/// `: test accuracy 41.2 %, 58 s` from an ended run's summary, if it wrote one.
fn result_of(dir: &Path) -> Option<String> {
    let (_, summary) = RunDir::new(dir).progress().ok()?;
    let summary = summary?;
    let time = HumanDuration(Duration::from_secs_f64(summary.wall_s.max(0.0)));
    Some(match (summary.status, summary.final_test_accuracy) {
        (RunStatus::Diverged, _) => format!(": diverged by step {}, {time}", summary.steps_done),
        (_, Some(accuracy)) => format!(
            ": test accuracy {:.1} % after {} epoch{}, {time}",
            100.0 * accuracy,
            summary.epochs_done,
            if summary.epochs_done == 1 { "" } else { "s" }
        ),
        (_, None) => format!(": {} steps, {time}", summary.steps_done),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eta_is_the_time_so_far_scaled_to_the_work_left() {
        let elapsed = Duration::from_secs(60);
        // One and a half runs of 16 in a minute: 14.5 runs left take 580 s.
        assert_eq!(eta(elapsed, 1.5, 14.5), Some(Duration::from_secs(580)));
        assert_eq!(eta(elapsed, 0.0, 16.0), None);
        assert_eq!(eta(elapsed, 16.0, 0.0), None, "nothing is left");
        assert_eq!(eta(elapsed, 0.1, 15.9), None, "too little measured to tell");
    }

    #[test]
    fn a_resumed_runs_earlier_steps_are_not_this_sweeps_work() {
        let mut progress = SweepProgress::new("e", 2);
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        let pace = |step| PaceRow {
            step,
            first_step: 90,
            total_steps: 100,
            steps_per_s: 1.0,
        };
        run.write_pace(&pace(90)).unwrap();
        let running = [Running {
            name: "r",
            dir: dir.path(),
        }];
        progress.update(&running);
        run.write_pace(&pace(100)).unwrap();
        progress.update(&running);
        progress.ended("done", "r", dir.path(), Some(String::new()));
        // The run came 90 % done: this sweep did a tenth of a run's work, not a whole one.
        assert!(
            (progress.ended_work - 0.1).abs() < 1e-9,
            "{}",
            progress.ended_work
        );
        assert!(progress
            .tally(1.0, progress.ended_work)
            .contains("1/2 runs ended"));
        assert!(!progress.tally(1.0, progress.ended_work).contains("ETA"));
    }

    #[test]
    fn a_running_run_counts_by_its_steps() {
        let pace = |step, total_steps| PaceRow {
            step,
            total_steps,
            steps_per_s: 1.0,
            first_step: 0,
        };
        assert_eq!(fraction(&pace(117, 234)), 0.5);
        assert_eq!(fraction(&pace(300, 234)), 1.0);
        assert_eq!(fraction(&pace(0, 0)), 0.0);
        assert_eq!(
            pace_text(Some(&pace(120, 234))),
            " step 120/234, 1.0 steps/s"
        );
    }
}
