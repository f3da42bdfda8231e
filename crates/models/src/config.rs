use crate::architecture::{parse_name, Architecture};
use crate::error::ModelError;
use serde::{Deserialize, Serialize};

/// Everything that decides a model's structure and initial weights, and its memory layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// `resnet<6n+2>` or `densenet<6n+4>`, e.g. `resnet20`, `densenet100`.
    pub name: String,
    /// With batch norm; without it the BN layers are absent (no parameters, no buffers).
    pub bn: bool,
    /// Output classes: 10 for CIFAR-10, 100 for CIFAR-100.
    pub classes: i64,
    /// Seed of the initial weights: the same seed gives bitwise-identical weights.
    pub seed: u64,
    /// Run on channels-last (NHWC) activations: `forward_t` converts its input, the later
    /// activations keep that layout, weights keep theirs. Same results up to float rounding;
    /// on the CPU, training steps measured 1.0–2.4× as fast. Absent in JSON means `false`.
    #[serde(default)]
    pub channels_last: bool,
    /// Run convolutions and matrix products in this dtype (BFloat16 or Half) on float32
    /// weights: what PyTorch's autocast does, written as casts ([`crate::Model`] says why).
    /// `None`: everything in the weights' dtype. Not part of the model's structure, so not
    /// written to JSON.
    #[serde(skip)]
    pub compute_kind: Option<tch::Kind>,
}

impl ModelConfig {
    pub fn new(name: impl Into<String>, bn: bool, classes: i64, seed: u64) -> Self {
        ModelConfig {
            name: name.into(),
            bn,
            classes,
            seed,
            channels_last: false,
            compute_kind: None,
        }
    }

    pub fn with_channels_last(self, channels_last: bool) -> Self {
        ModelConfig {
            channels_last,
            ..self
        }
    }

    /// See [`ModelConfig::compute_kind`].
    pub fn with_compute_kind(self, compute_kind: Option<tch::Kind>) -> Self {
        ModelConfig {
            compute_kind,
            ..self
        }
    }

    /// Checks the name (and the model's size) and the number of classes.
    pub fn architecture(&self) -> Result<Architecture, ModelError> {
        if !(1..=crate::size::MAX_CLASSES).contains(&self.classes) {
            return Err(ModelError::InvalidClasses {
                classes: self.classes,
            });
        }
        parse_name(&self.name)
    }
}
