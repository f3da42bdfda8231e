//! The `scalefree` driver as a library: the binary in `main.rs` is a thin shell around
//! it, and the integration tests under `tests/` use it directly.
pub mod cli;
pub mod data;
pub mod info;
