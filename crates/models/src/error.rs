use thiserror::Error;

/// Why a model could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ModelError {
    #[error(
        "unknown model `{name}`: ResNet depth must be 6n+2 ({resnets}), DenseNet-BC depth 6n+4 ({densenets})",
        resnets = crate::architecture::STANDARD_RESNETS.join(", "),
        densenets = crate::architecture::STANDARD_DENSENETS.join(", ")
    )]
    UnknownModel { name: String },

    #[error("invalid number of classes {classes}: a classifier needs at least 1 (CIFAR-10: 10, CIFAR-100: 100)")]
    InvalidClasses { classes: i64 },
}
