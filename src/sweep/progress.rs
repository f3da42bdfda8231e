//! What a local sweep shows while it runs: one bar over all its runs, each running run
//! counted by the steps it has taken (from its `pace.json`), with the runs ended of the
//! total, the running runs' steps and rate, the elapsed time and an ETA from the rate
//! measured so far; and a line per run that ends, with its result. Without a terminal
//! (a log file, CI) the bar is hidden and each line carries the count, elapsed time and
//! ETA instead.
use crate::rundir::{PaceRow, RunDir, RunStatus};
use indicatif::{HumanDuration, ProgressBar, ProgressStyle};
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
        let result = detail.or_else(|| result_of(dir)).unwrap_or_default();
        let tally = self.tally(self.ended as f64);
        let line = match self.bar.is_hidden() {
            true => format!("{word:<8} {name}{result} ({tally})"),
            false => format!("{word:<8} {name}{result}"),
        };
        self.say(line);
    }

    /// `3/16 runs ended, elapsed 3m 2s, ETA 14m` for `done` runs' worth of work so far.
    fn tally(&self, done: f64) -> String {
        let elapsed = self.started.elapsed();
        let mut text = format!(
            "{}/{} runs ended, elapsed {}",
            self.ended,
            self.runs,
            HumanDuration(elapsed)
        );
        if let Some(eta) = eta(elapsed, done, self.runs as f64) {
            text.push_str(&format!(", ETA {}", HumanDuration(eta)));
        }
        text
    }

    /// Redraws the bar from the running runs' `pace.json`.
    pub fn update(&self, running: &[Running]) {
        let paces: Vec<Option<PaceRow>> = running
            .iter()
            .map(|r| RunDir::new(r.dir).read_pace())
            .collect();
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
        self.bar.set_message(format!("{}{now}", self.tally(done)));
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

/// The time left at the rate so far, `done` of `runs` runs' worth of work in `elapsed`;
/// `None` before any work is measured and once none is left.
fn eta(elapsed: Duration, done: f64, runs: f64) -> Option<Duration> {
    let left = runs - done;
    if done <= 0.0 || left <= 0.0 || elapsed.is_zero() {
        return None;
    }
    Some(Duration::from_secs_f64(elapsed.as_secs_f64() * left / done))
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
        assert_eq!(eta(elapsed, 1.5, 16.0), Some(Duration::from_secs(580)));
        assert_eq!(eta(elapsed, 0.0, 16.0), None);
        assert_eq!(eta(elapsed, 16.0, 16.0), None, "nothing is left");
    }

    #[test]
    fn a_running_run_counts_by_its_steps() {
        let pace = |step, total_steps| PaceRow {
            step,
            total_steps,
            steps_per_s: 1.0,
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
