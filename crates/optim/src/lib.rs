#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
// The README shows whole programs, a dependent's build script among them.
#![allow(clippy::needless_doctest_main)]
mod clip;
mod config;
mod error;
mod flat;
mod group;
pub mod invariance;
mod loss_scale;
mod master;
mod optim_config;
mod optimizer;
mod rule;
pub mod rules;
mod schedule;
mod settings;
mod state;
mod state_io;
mod traverse;
mod view;
mod watch;

#[doc(hidden)]
pub use config::Kernel;
pub use config::{AdamConfig, DecayMode};
pub use error::{OptimError, Result};
pub use flat::ParamSlot;
pub use group::ParamGroup;
pub use loss_scale::LossScaler;
pub use optim_config::OptimConfig;
pub use optimizer::{Adam, Optimizer};
pub use rule::{Decay, Piece, Placement, Setting, StepInfo, UpdateRule};
pub use schedule::Schedule;
pub use view::GroupView;
