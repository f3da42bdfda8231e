//! Adam-ℓ2, AdamW and AdamProx on libtorch tensors, exactly as defined in Zhuang et
//! al., *Understanding AdamW through Proximal Methods and Scale-Freeness* (TMLR 2022).
//!
//! One [`Adam`] whose [`DecayMode`] says where the ℓ2 regulariser `(λ/2)‖x‖²` enters:
//!
//! | mode | moments see | update |
//! |---|---|---|
//! | [`DecayMode::L2`] (Adam-ℓ2) | `g + λx` | `x − η_t·u` |
//! | [`DecayMode::Decoupled`] (AdamW) | `g` | `(1 − λ s_t)·x − η_t·u` |
//! | [`DecayMode::Proximal`] (AdamProx) | `g` | `(x − η_t·u) / (1 + λ s_t)` |
//!
//! with `u = m̂/(√v̂ + ε)` and `s_t = η_t/η_0`. `λ` is the paper's (PyTorch's AdamW
//! `weight_decay` is `λ/η_0`).
//!
//! Parameters are gathered into one flat buffer per group (the tensors become views of
//! it), so a step is one pass over memory on CPU and a few large ops on CUDA.
//!
//! ```
//! use optim::{Adam, AdamConfig, Schedule};
//! use tch::{nn, nn::Module, Device, Kind, Tensor};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! tch::manual_seed(0);
//! let vs = nn::VarStore::new(Device::Cpu);
//! let net = nn::linear(vs.root() / "fc", 4, 1, Default::default());
//! let mut opt = Adam::from_var_store(AdamConfig::adamw(5e-2, 1e-4), &vs)?;
//! let schedule = Schedule::Cosine { total_steps: 200 };
//!
//! let x = Tensor::randn([64, 4], (Kind::Float, Device::Cpu));
//! let y = x.sum_dim_intlist(1, true, Kind::Float);
//! let first = net.forward(&x).mse_loss(&y, tch::Reduction::Mean).double_value(&[]);
//! for step in 0..200 {
//!     opt.set_lr(schedule.lr_at(5e-2, step))?;
//!     opt.zero_grad();
//!     net.forward(&x).mse_loss(&y, tch::Reduction::Mean).backward();
//!     opt.step()?;
//! }
//! let last = net.forward(&x).mse_loss(&y, tch::Reduction::Mean).double_value(&[]);
//! assert!(last < first / 10.0);
//! # Ok(()) }
//! ```
mod adam;
mod coefficients;
mod config;
mod error;
mod flat;
mod group;
mod kernel_cpu;
mod kernel_tensor;
mod schedule;
mod state;

pub use adam::{Adam, GroupView};
pub use coefficients::StepCoefficients;
pub use config::{AdamConfig, DecayMode, Kernel};
pub use error::{OptimError, Result};
pub use flat::ParamSlot;
pub use group::ParamGroup;
pub use schedule::Schedule;
