//! The `scalefree` driver as a library: the binary in `main.rs` is a thin shell around
//! it, and the integration tests under `tests/` use it directly.
pub mod check;
pub mod cli;
pub mod config;
pub mod data;
pub mod info;
pub mod models_list;
pub mod plot;
pub mod report;
pub mod run;
pub mod scales;
pub mod sweep;
