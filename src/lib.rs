//! The `scalefree` driver as a library: the binary in `main.rs` is a thin shell around
//! it, and the integration tests under `tests/` use it directly.
pub mod cli;
pub mod config;
pub mod data;
pub mod info;
pub mod run;
pub mod scales;
