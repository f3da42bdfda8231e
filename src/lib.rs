//! The `scalefree` driver as a library: the binary in `main.rs` is a thin shell around
//! it, and the integration tests under `tests/` use it directly.
//!
//! The modules from the bottom up (nothing imports from a module above it):
//! `config` (the run configuration) and `data` (CIFAR and the input pipeline);
//! `scales` (log2 histograms) and `stats` (means and CIs over seeds, claim 4's rule);
//! `train` (the training core); `rundir` (the run
//! directory's files and state) and `sinks` (atomic writes, JSON lines, TensorBoard);
//! `cuda_driver` (why libtorch sees no GPU that nvidia-smi lists); `plot`; then `commands`
//! (train, check, sweep, report, info, models) and `cli`.
//! `libtorch` says which libtorch the binary was built for and which it runs on.
//! `fault` is a test hook (fault injection at named points), off unless its variables are set.
pub mod cli;
pub mod commands;
pub mod config;
pub mod cuda_driver;
pub mod data;
pub mod fault;
pub mod libtorch;
pub mod plot;
pub mod rundir;
pub mod scales;
pub mod sinks;
pub mod stats;
pub mod train;
