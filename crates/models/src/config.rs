use crate::architecture::{parse_name, Architecture};
use crate::error::ModelError;
use serde::{Deserialize, Serialize};

/// Everything that decides a model's structure and its initial weights.
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
}

impl ModelConfig {
    pub fn new(name: impl Into<String>, bn: bool, classes: i64, seed: u64) -> Self {
        ModelConfig {
            name: name.into(),
            bn,
            classes,
            seed,
        }
    }

    /// Checks the name and the number of classes.
    pub fn architecture(&self) -> Result<Architecture, ModelError> {
        if self.classes < 1 {
            return Err(ModelError::InvalidClasses {
                classes: self.classes,
            });
        }
        parse_name(&self.name)
    }
}
