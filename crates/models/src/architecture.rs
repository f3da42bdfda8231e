//! Model names: which architectures exist and how their names parse.
use crate::error::ModelError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The ResNets of the paper's table (docs/paper.md#parameter-counts), shallowest first.
pub const STANDARD_RESNETS: [&str; 7] = [
    "resnet20",
    "resnet32",
    "resnet44",
    "resnet56",
    "resnet110",
    "resnet218",
    "resnet1202",
];

/// The DenseNet-BC of the paper's table.
pub const STANDARD_DENSENETS: [&str; 1] = ["densenet100"];

/// A network family and its depth (number of weighted layers, as in the model's name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Architecture {
    /// CIFAR ResNet with option-A shortcuts; depth `6n+2`, `n` basic blocks per stage.
    ResNet { depth: i64 },
    /// DenseNet-BC (growth 12, compression 0.5); depth `6n+4`, `n` bottleneck layers per dense block.
    DenseNetBc { depth: i64 },
}

impl Architecture {
    /// Basic blocks per ResNet stage, or bottleneck layers per dense block.
    pub fn units_per_stage(&self) -> i64 {
        match *self {
            Architecture::ResNet { depth } => (depth - 2) / 6,
            Architecture::DenseNetBc { depth } => (depth - 4) / 6,
        }
    }

    pub fn depth(&self) -> i64 {
        match *self {
            Architecture::ResNet { depth } | Architecture::DenseNetBc { depth } => depth,
        }
    }
}

/// Parses `resnet<depth>` (depth `6n+2`, n ≥ 1) or `densenet<depth>` (depth `6n+4`, n ≥ 1),
/// of at most [`MAX_PARAMETERS`](crate::size::MAX_PARAMETERS) parameters.
pub fn parse_name(name: &str) -> Result<Architecture, ModelError> {
    let depth_of = |digits: &str| -> Option<i64> {
        // Only plain decimal digits: "resnet+20" or "resnet020" are not names of anything.
        if digits.is_empty()
            || digits.starts_with('0')
            || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        digits.parse().ok()
    };
    let mut architecture = None;
    if let Some(depth) = name.strip_prefix("resnet").and_then(depth_of) {
        if depth >= 8 && (depth - 2) % 6 == 0 {
            architecture = Some(Architecture::ResNet { depth });
        }
    } else if let Some(depth) = name.strip_prefix("densenet").and_then(depth_of) {
        if depth >= 10 && (depth - 4) % 6 == 0 {
            architecture = Some(Architecture::DenseNetBc { depth });
        }
    }
    let Some(architecture) = architecture else {
        return Err(ModelError::UnknownModel {
            name: name.to_string(),
        });
    };
    // Without the classifier, whose size the classes bound (ModelConfig::architecture).
    let parameters = architecture.parameter_estimate(true, 0);
    if parameters > crate::size::MAX_PARAMETERS {
        return Err(ModelError::TooLarge {
            name: name.to_string(),
            parameters,
            largest: architecture.largest_buildable().to_string(),
        });
    }
    Ok(architecture)
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Architecture::ResNet { depth } => write!(f, "resnet{depth}"),
            Architecture::DenseNetBc { depth } => write!(f, "densenet{depth}"),
        }
    }
}

impl FromStr for Architecture {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_name(s)
    }
}

impl TryFrom<String> for Architecture {
    type Error = ModelError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        parse_name(&s)
    }
}

impl From<Architecture> for String {
    fn from(a: Architecture) -> String {
        a.to_string()
    }
}
