//! The `scalefree` driver as a library: the binary in `main.rs` is a thin shell around
//! it, and the integration tests under `tests/` use it directly.
//!
//! The modules from the bottom up; each imports only from modules before it in this
//! list (`tests/import_graph.rs` checks it), and no command imports another:
//! - `libtorch` (which libtorch the binary was built for and which it runs on), `fault` (a
//!   test hook: fault injection at named points, off unless its variables are set),
//!   `user_file` (reading the JSON files users write),
//!   `cuda_driver` (why libtorch sees no GPU that nvidia-smi lists), `distinct`, `data`
//!   (CIFAR and the input pipeline), `scales` (log2 histograms), `stats` (means and CIs
//!   over seeds, claim 4's rule and how it is told), `plot` (what every figure shares),
//!   `sinks` (writers: atomic files, JSON lines, TensorBoard events, HParams summaries);
//! - `config` (the run configuration and its one table of settings);
//! - `train` (the training core: trainer, session, lockstep lanes);
//! - `rundir` (the run directory's files and state, and its recorder), `observers`
//!   (TensorBoard and the terminal as a session's observers), `environment` (what the
//!   binary runs on, as run directories record it), `fast_precisions` (which
//!   `--precision`s this machine computes natively);
//! - `training_run` (a training run from its configuration), `checks` (the checks'
//!   measurements and verdict rules), `experiment` (experiment files, plans, folders,
//!   staleness), `report` (the experiment's results), `sweep` (running a plan);
//! - `commands` (train, check, sweep, report, info, models, side by side: arguments and
//!   printing), then `cli`.
pub mod checks;
pub mod cli;
pub mod commands;
pub mod config;
pub mod cuda_driver;
pub mod data;
pub mod distinct;
pub mod environment;
pub mod experiment;
pub mod fast_precisions;
pub mod fault;
pub mod libtorch;
pub mod observers;
pub mod optimizers;
pub mod plot;
pub mod report;
pub mod rundir;
pub mod scales;
pub mod sinks;
pub mod stats;
pub mod sweep;
pub mod train;
pub mod training_run;
pub mod user_file;
