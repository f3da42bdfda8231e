//! The CIFAR models of Zhuang et al., *Understanding AdamW through Proximal Methods and
//! Scale-Freeness* (TMLR 2022), docs/paper.md#models: ResNet-`6n+2` with option-A shortcuts
//! and DenseNet-BC-`6n+4` (growth 12, compression 0.5), each with or without batch norm.
//! Without BN the BN layers are absent: no parameters, no buffers, no identity stand-ins.
//!
//! Parameter counts equal the paper's table exactly (ResNet-20 on CIFAR-10: 269,722
//! with BN, 268,346 without; DenseNet-BC-100 on CIFAR-100: 800,032 and 776,044).
//! Initial weights come from a ChaCha8 stream seeded by [`ModelConfig::seed`], never from
//! libtorch's global generator, so a seed gives the same weights in any thread.
//!
//! # Variable names
//!
//! Every variable is `<layer>.<tensor>`, where `<tensor>` is `weight` or `bias`
//! (trainable) or `running_mean` / `running_var` (BN buffers), and the last component of
//! `<layer>` starts with `conv` (convolution, no bias), `bn` (batch norm) or is `fc`
//! (the linear classifier). [`layer_name`] and [`layer_kind`] read these back. Indices
//! count from 1.
//!
//! | ResNet | DenseNet-BC |
//! |---|---|
//! | `conv1`, `bn1` (stem) | `conv1` (stem) |
//! | `stage{s}.block{b}.conv1`, `.bn1`, `.conv2`, `.bn2` (s = 1..3) | `dense{d}.layer{l}.bn1`, `.conv1`, `.bn2`, `.conv2` (d = 1..3) |
//! | | `trans{t}.bn`, `trans{t}.conv` (t = 1, 2) |
//! | `fc` | `bn_final`, `fc` |
//!
//! Built under a sub-path (`vs.root() / "model"`), names gain that prefix
//! (`model.stage2.block3.conv1.weight`); [`layer_kind`] and [`layer_name`] still apply.
//!
//! # Devices and layout
//!
//! A model runs where its `VarStore` lives (CPU or CUDA) and takes NCHW images.
//! [`ModelConfig::channels_last`] makes it run on channels-last activations instead (same
//! results up to float rounding), which trained 1.0–2.4× as fast on the CPU here
//! (`make bench-models`; the README has the table).
//!
//! ```
//! use models::{LayerKind, Model, ModelConfig};
//! use tch::{nn, nn::ModuleT, Device, Kind, Tensor};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let vs = nn::VarStore::new(Device::Cpu);
//! let model = Model::new(&vs.root(), &ModelConfig::new("resnet20", true, 10, 42))?;
//! assert_eq!(models::trainable_parameter_count(&vs), 269_722);
//!
//! let images = Tensor::randn([2, 3, 32, 32], (Kind::Float, Device::Cpu));
//! let logits = model.forward_t(&images, /* train */ false);
//! assert_eq!(logits.size(), [2, 10]);
//!
//! // Weight-decay groups or histograms: the kind of layer each parameter belongs to.
//! assert_eq!(models::layer_kind("stage2.block3.bn2.bias"), Some(LayerKind::BatchNorm));
//! assert_eq!(models::layer_name("stage2.block3.conv1.weight"), "stage2.block3.conv1");
//! # Ok(()) }
//! ```
mod architecture;
mod config;
mod densenet;
mod error;
mod init;
mod layers;
mod model;
mod naming;
mod resnet;
mod size;

pub use architecture::{parse_name, Architecture, STANDARD_DENSENETS, STANDARD_RESNETS};
pub use config::ModelConfig;
pub use error::ModelError;
pub use model::{build, catalog, parameter_count, trainable_parameter_count, CatalogEntry, Model};
pub use naming::{layer_kind, layer_name, LayerKind};
pub use resnet::option_a_shortcut;
pub use size::{MAX_CLASSES, MAX_PARAMETERS};
