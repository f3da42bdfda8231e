#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
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
mod loss_scale;
mod master;
mod schedule;
mod settings;
mod state;
mod state_io;
mod view;
mod watch;

pub use adam::Adam;
#[doc(hidden)]
pub use config::Kernel;
pub use config::{AdamConfig, DecayMode};
pub use error::{OptimError, Result};
pub use flat::ParamSlot;
pub use group::ParamGroup;
pub use loss_scale::LossScaler;
pub use schedule::Schedule;
pub use view::GroupView;
