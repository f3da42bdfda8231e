//! Where a run's time goes, for benchmarks that compare it with another trainer: the
//! steady-state rate (after this process's first few steps, which pay for lazy
//! allocation, the loader's start and libtorch's kernel selection) and the time spent in
//! gradient-scale logging. Evaluation is outside every measured step.
//!
//! On CUDA a step returns once it is queued; `scalefree train` waits for the device
//! (`crate::train::device::synchronize`) at the ends of every timed stretch, so the sums
//! are the device's time.
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Steps of this process left out of the steady-state rate.
pub const WARMUP_STEPS: u64 = 3;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StepTiming {
    /// Steps after the warm-up, each timed from the end of the one before (so the wait for
    /// its batch counts) to the end of its optimizer step and logging.
    pub steady_steps: u64,
    pub steady_seconds: f64,
    pub steady_images_per_s: Option<f64>,
    /// Gradient-scale logging events in this process and the seconds they took in all.
    pub scale_log_events: u64,
    pub scale_log_seconds: f64,
}

/// Times the steps of one process.
pub struct StepTimer {
    steps_seen: u64,
    images: u64,
    last_end: Instant,
    timing: StepTiming,
}

impl Default for StepTimer {
    fn default() -> Self {
        StepTimer {
            steps_seen: 0,
            images: 0,
            last_end: Instant::now(),
            timing: StepTiming::default(),
        }
    }
}

impl StepTimer {
    /// A new stretch of steps begins (an epoch): time before now is not a step's.
    pub fn resume(&mut self) {
        self.last_end = Instant::now();
    }

    /// Whether the next step is the last of the warm-up: the steady-state clock starts at
    /// its end, so on an asynchronous device it must end with the device done.
    pub fn ends_warmup(&self) -> bool {
        self.steps_seen + 1 == WARMUP_STEPS
    }

    /// A step of `images` images ended now. Single steps are timed from the end of the one
    /// before; on an asynchronous device (CUDA) a step "ends" when it is queued, so only
    /// sums over steps between two synchronisations are true: the caller synchronises
    /// where the warm-up ends ([`StepTimer::ends_warmup`]) and where a stretch of steps
    /// ends.
    pub fn step_done(&mut self, images: usize) {
        let now = Instant::now();
        self.steps_seen += 1;
        if self.steps_seen > WARMUP_STEPS {
            self.timing.steady_steps += 1;
            self.timing.steady_seconds += (now - self.last_end).as_secs_f64();
            self.images += images as u64;
        }
        self.last_end = now;
    }

    pub fn scale_log_took(&mut self, took: Duration) {
        self.timing.scale_log_events += 1;
        self.timing.scale_log_seconds += took.as_secs_f64();
    }

    pub fn timing(&self) -> StepTiming {
        let mut timing = self.timing.clone();
        timing.steady_images_per_s =
            (timing.steady_seconds > 0.0).then(|| self.images as f64 / timing.steady_seconds);
        timing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_steps_are_left_out_and_logging_is_counted() {
        let mut timer = StepTimer::default();
        for _ in 0..WARMUP_STEPS {
            std::thread::sleep(Duration::from_millis(30));
            timer.step_done(10);
        }
        assert_eq!(timer.timing().steady_steps, 0);
        assert_eq!(timer.timing().steady_images_per_s, None);
        timer.resume();
        for _ in 0..2 {
            let logging = Instant::now();
            std::thread::sleep(Duration::from_millis(5));
            timer.scale_log_took(logging.elapsed());
            timer.step_done(10);
        }
        let timing = timer.timing();
        assert_eq!(timing.steady_steps, 2);
        assert_eq!(timing.scale_log_events, 2);
        assert!(timing.scale_log_seconds >= 0.010);
        // Two steps of ≥ 5 ms each, none of the 30 ms warm-up steps.
        assert!(timing.steady_seconds >= 0.010 && timing.steady_seconds < 0.060);
        let rate = timing.steady_images_per_s.unwrap();
        assert!((rate - 20.0 / timing.steady_seconds).abs() < 1e-9);
    }
}
