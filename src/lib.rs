//! The `scalefree` driver as a library: the binary in `main.rs` is a thin shell around
//! it, and the integration tests under `tests/` use it directly.
//!
//! The modules from the bottom up; each imports only from modules before it in this
//! list, and no command imports another:
//! - `libtorch` (which libtorch the binary was built for and which it runs on), `fault` (a
//!   test hook: fault injection at named points, off unless its variables are set),
//!   `cuda_driver` (why libtorch sees no GPU that nvidia-smi lists), `data` (CIFAR and
//!   the input pipeline), `scales` (log2 histograms), `stats` (means and CIs over seeds,
//!   claim 4's rule and how it is told), `plot` (what every figure shares);
//! - `config` (the run configuration and its one table of settings);
//! - `train` (the training core);
//! - `sinks` (atomic writes, JSON lines, TensorBoard), `rundir` (the run directory's
//!   files and state), `experiment` (experiment files, their plans and folders),
//!   `environment` (what the binary runs on, as run directories record it),
//!   `fast_precisions` (which `--precision`s this machine computes natively);
//! - `commands` (train, check, sweep, report, info, models, side by side), then `cli`.
pub mod cli;
pub mod commands;
pub mod config;
pub mod cuda_driver;
pub mod data;
pub mod environment;
pub mod experiment;
pub mod fast_precisions;
pub mod fault;
pub mod libtorch;
pub mod plot;
pub mod rundir;
pub mod scales;
pub mod sinks;
pub mod stats;
pub mod train;
