//! The subcommands, on top of everything else: each reads its arguments, drives the
//! training core, the run directory or the reports, and prints.
pub mod check;
pub mod info;
pub mod models;
pub mod report;
mod rule_flags;
pub mod sweep;
pub mod train;
