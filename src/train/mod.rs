//! The training core: a model and its optimizer ([`Trainer`]), the session that trains it
//! and tells observers what happened ([`session`]), and the checks' lanes stepped side by
//! side ([`lockstep`]). No command line and no files of its own: `scalefree train`, every
//! `scalefree check` and the benchmarks drive it, and the run directory
//! (`crate::rundir`) saves and restores what it exposes.
pub mod device;
pub mod factors;
pub mod lockstep;
pub mod memory;
pub mod scale_probe;
pub mod session;
pub mod step_timing;
mod tally;
mod trainer;

pub use session::{
    Ending, Evaluation, Event, LastEvaluation, Observer, Plan, RunStatus, Session, SessionData,
    StopRequest,
};
pub use tally::{PendingStats, StepStats, Tally};
pub use trainer::{GradientHooks, Position, Trainer, TrainerSpec};
