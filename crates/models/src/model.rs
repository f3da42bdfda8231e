use crate::architecture::{Architecture, STANDARD_DENSENETS, STANDARD_RESNETS};
use crate::config::ModelConfig;
use crate::densenet::DenseNetBc;
use crate::error::ModelError;
use crate::init::InitRng;
use crate::resnet::ResNet;
use serde::Serialize;
use tch::{nn, Device, Kind, Tensor};

/// A built network; its variables live in the `VarStore` it was built in, on that store's
/// device. Input: NCHW images (CIFAR: `[batch, 3, 32, 32]`); output: logits `[batch, classes]`.
#[derive(Debug)]
pub struct Model {
    architecture: Architecture,
    bn: bool,
    classes: i64,
    channels_last: bool,
    compute_kind: Option<Kind>,
    net: Net,
}

#[derive(Debug)]
enum Net {
    ResNet(ResNet),
    DenseNetBc(DenseNetBc),
}

impl Model {
    /// Creates the model's variables under `path`, initialised from `cfg.seed`.
    pub fn new(path: &nn::Path, cfg: &ModelConfig) -> Result<Model, ModelError> {
        Model::with_values(path, cfg, &mut InitRng::new(cfg.seed))
    }

    fn with_values(
        path: &nn::Path,
        cfg: &ModelConfig,
        rng: &mut InitRng,
    ) -> Result<Model, ModelError> {
        let architecture = cfg.architecture()?;
        let units = architecture.units_per_stage();
        let net = match architecture {
            Architecture::ResNet { .. } => {
                Net::ResNet(ResNet::new(path, rng, units, cfg.bn, cfg.classes))
            }
            Architecture::DenseNetBc { .. } => {
                Net::DenseNetBc(DenseNetBc::new(path, rng, units, cfg.bn, cfg.classes))
            }
        };
        Ok(Model {
            architecture,
            bn: cfg.bn,
            classes: cfg.classes,
            channels_last: cfg.channels_last,
            compute_kind: cfg.compute_kind,
            net,
        })
    }

    pub fn architecture(&self) -> Architecture {
        self.architecture
    }

    pub fn has_batch_norm(&self) -> bool {
        self.bn
    }

    pub fn classes(&self) -> i64 {
        self.classes
    }

    pub fn channels_last(&self) -> bool {
        self.channels_last
    }

    /// The dtype convolutions and matrix products run in, when not the weights'.
    pub fn compute_kind(&self) -> Option<Kind> {
        self.compute_kind
    }
}

/// The same NCHW tensor stored as NHWC. tch has no memory-format argument, but libtorch
/// reads these strides as channels-last and its convolutions keep that layout for their
/// outputs, so converting the input once is enough.
fn to_channels_last(xs: &Tensor) -> Tensor {
    xs.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])
}

impl nn::ModuleT for Model {
    /// `train`: batch norm uses (and updates) batch statistics; otherwise its running ones.
    ///
    /// With a compute kind (mixed precision), the input is converted to it, and each
    /// convolution and linear layer casts its float32 weights to its input's dtype, so the
    /// activations stay in bfloat16 (or float16) from layer to layer; batch norm takes
    /// them with its float32 weights and statistics (libtorch's mixed-dtype batch norm
    /// accumulates in float32), and the logits come back as float32, for a float32 loss.
    /// That is the op list of PyTorch's CPU and CUDA autocast for these models. Written as
    /// casts rather than by switching autocast on: tch wraps only CUDA's autocast switch,
    /// a C++ shim for the CPU one would add a compiler and libtorch's headers to every
    /// build, and the casts are the same on both devices and in plain sight.
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let converted;
        let xs = match self.compute_kind {
            Some(kind) if xs.kind() != kind => {
                converted = xs.to_kind(kind);
                &converted
            }
            _ => xs,
        };
        let xs = if self.channels_last {
            &to_channels_last(xs)
        } else {
            xs
        };
        let logits = match &self.net {
            Net::ResNet(net) => net.forward_t(xs, train),
            Net::DenseNetBc(net) => net.forward_t(xs, train),
        };
        match self.compute_kind {
            Some(_) => logits.to_kind(Kind::Float),
            None => logits,
        }
    }
}

/// Same as [`Model::new`].
pub fn build(path: &nn::Path, cfg: &ModelConfig) -> Result<Model, ModelError> {
    Model::new(path, cfg)
}

/// Number of trainable scalars in a var store: the models' parameter count (BN buffers excluded).
pub fn trainable_parameter_count(vs: &nn::VarStore) -> i64 {
    vs.trainable_variables()
        .iter()
        .map(Tensor::numel)
        .sum::<usize>() as i64
}

/// The parameter count of the model `cfg` describes, from building it on the CPU
/// (with zeros for weights: a few milliseconds even for ResNet-1202).
pub fn parameter_count(cfg: &ModelConfig) -> Result<i64, ModelError> {
    let vs = nn::VarStore::new(Device::Cpu);
    Model::with_values(&vs.root(), cfg, &mut InitRng::zeros())?;
    Ok(trainable_parameter_count(&vs))
}

/// One model of the paper's table with its parameter counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogEntry {
    pub name: &'static str,
    pub classes: i64,
    pub params_bn: i64,
    pub params_no_bn: i64,
}

/// The paper's models (docs/paper.md#parameter-counts), each with its parameter count with
/// and without BN for `classes` outputs (about 0.1 s).
pub fn catalog(classes: i64) -> Result<Vec<CatalogEntry>, ModelError> {
    STANDARD_RESNETS
        .into_iter()
        .chain(STANDARD_DENSENETS)
        .map(|name| {
            let count = |bn| parameter_count(&ModelConfig::new(name, bn, classes, 0));
            Ok(CatalogEntry {
                name,
                classes,
                params_bn: count(true)?,
                params_no_bn: count(false)?,
            })
        })
        .collect()
}
