//! The training core: a model and its optimizer, stepped one batch at a time. No command
//! line and no files: `scalefree train`, every `scalefree check` and the benchmarks drive
//! it, and the run directory (`crate::rundir`) saves and restores what it exposes.
pub mod device;
pub mod factors;
pub mod scale_probe;
pub mod step_timing;
mod tally;
mod trainer;

pub use tally::{PendingStats, StepStats, Tally};
pub use trainer::{GradientHooks, Position, Step, Trainer, TrainerSpec};
