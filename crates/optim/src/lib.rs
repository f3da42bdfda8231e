#![doc = include_str!("../README.md")]
// The README shows whole programs, a dependent's build script among them.
#![allow(clippy::needless_doctest_main)]
mod adam;
mod clip;
mod coefficients;
mod config;
mod error;
mod flat;
mod group;
mod kernel_cpu;
mod kernel_tensor;
mod schedule;
mod state;
mod state_io;
mod view;
mod watch;

pub use adam::Adam;
pub use config::{AdamConfig, DecayMode, Kernel};
pub use error::{OptimError, Result};
pub use flat::ParamSlot;
pub use group::ParamGroup;
pub use schedule::Schedule;
/// The tch this crate is built with, for dependents that want to be sure to use the same.
pub use tch;
pub use view::GroupView;
