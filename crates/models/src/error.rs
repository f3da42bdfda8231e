use thiserror::Error;

/// Why a model could not be built.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ModelError {
    #[error(
        "unknown model `{name}`: ResNet depth must be 6n+2 ({resnets}), DenseNet-BC depth 6n+4 ({densenets})",
        resnets = crate::architecture::STANDARD_RESNETS.join(", "),
        densenets = crate::architecture::STANDARD_DENSENETS.join(", ")
    )]
    UnknownModel { name: String },

    #[error(
        "invalid number of classes {classes}: give 1 to {max} (CIFAR-10: 10, CIFAR-100: 100)",
        max = crate::size::MAX_CLASSES
    )]
    InvalidClasses { classes: i64 },

    #[error(
        "model `{name}` is too large to build: it would have {count} trainable parameters \
         ({bytes} of float32 weights alone, before gradients, optimizer state and \
         activations); models of up to {max} parameters are built, and the deepest of its \
         family that fits is {largest} (the paper's largest, resnet1202, has 19.4 million)",
        count = crate::size::count_text(*parameters),
        bytes = crate::size::float32_bytes_text(*parameters),
        max = crate::size::count_text(crate::size::MAX_PARAMETERS)
    )]
    TooLarge {
        name: String,
        parameters: f64,
        largest: String,
    },
}
