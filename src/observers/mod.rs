//! A training session's observers that are not the run directory (whose recorder lives with
//! it, in `crate::rundir`): TensorBoard ([`run_board`]: the run's scalars, histograms and
//! HParams session) and the terminal ([`progress`]). They sit above `train` (whose events
//! they observe), `sinks` (the writers they use) and `rundir` (the heatmap value).
pub mod progress;
pub mod run_board;
