//! One training run and everything it writes to its run directory.
pub mod atomic;
pub mod checkpoint;
pub mod jsonl;
pub mod metrics;
pub mod scale_log;
pub mod step_timing;
pub mod tensorboard;
pub mod train;
