//! Errors of the optimizer crate. Each one names the setting, parameter, group or state
//! at fault, and what would be valid.

/// Everything that can go wrong in this crate. Each variant names what is at fault and
/// what would be valid; the `Display` text says it in a sentence.
///
/// ```
/// use adamw_prox::{AdamConfig, OptimError};
/// # let vs = tch::nn::VarStore::new(tch::Device::Cpu);
/// # let _w = vs.root().ones("w", &[3]);
/// match AdamConfig::adamw(1e-3, -1.0).build(&vs) {
///     Err(OptimError::InvalidSetting { field, .. }) => assert_eq!(field, "weight_decay"),
///     _ => unreachable!(),
/// }
/// ```
#[derive(Debug, thiserror::Error)]
pub enum OptimError {
    /// A hyper-parameter outside its valid range.
    #[error("invalid optimizer setting `{field}` = {value}: must be {expected}")]
    InvalidSetting {
        /// The setting's name, as the field of [`crate::AdamConfig`] (or the argument).
        field: &'static str,
        /// The value given.
        value: String,
        /// What would be valid.
        expected: &'static str,
    },

    /// A parameter tensor that the optimizer cannot manage, or one that changed behind
    /// its back in a way it cannot follow.
    #[error("parameter `{name}`: {problem}")]
    InvalidParameter {
        /// The parameter's name.
        name: String,
        /// What is wrong with it, and what to do.
        problem: String,
    },

    /// A trainable variable of a `VarStore` that the optimizer was built from, but that is
    /// in none of its parameter groups (typically created after the optimizer).
    #[error(
        "variable `{name}` of the VarStore requires grad but is in no parameter group of this \
         optimizer, so it would never be trained; add it with `Adam::add_param_group`, build \
         the optimizer after creating every variable, or freeze it (`set_requires_grad(false)`)"
    )]
    UnmanagedVariable {
        /// The variable's name in the `VarStore`.
        name: String,
    },

    /// A group name that the optimizer does not have.
    #[error("no parameter group named `{name}`; the groups are {}", quoted(.known))]
    UnknownGroup {
        /// The name asked for.
        name: String,
        /// The names of the optimizer's groups.
        known: Vec<String>,
    },

    /// A saved state that does not fit this optimizer's parameters or settings.
    /// `origin` says where it came from (a file, a reader, named tensors).
    #[error("optimizer state {origin}: {problem}")]
    StateMismatch {
        /// Where the state came from.
        origin: String,
        /// The first mismatch found.
        problem: String,
    },

    /// Reading or writing a state failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done (with the file's path).
        context: String,
        /// The operating system's error.
        source: std::io::Error,
    },

    /// The optimizer's buffers (values, gradients and state of a parameter group) could
    /// not be allocated: the device is out of memory for them.
    #[error(
        "cannot allocate the optimizer's buffers of group `{group}`: {bytes} bytes on {device} \
         ({reason}); free memory, use a smaller model, or train on a device with more"
    )]
    Allocation {
        /// The parameter group.
        group: String,
        /// The bytes the group's buffers take in all.
        bytes: u64,
        /// Where they were to live.
        device: String,
        /// libtorch's own words, its first line.
        reason: String,
    },

    /// An optimizer name that no rule has.
    #[error("unknown optimizer `{name}`; valid: {valid}")]
    UnknownOptimizer {
        /// The name given.
        name: String,
        /// Every valid name.
        valid: String,
    },

    /// A setting that the rule does not have (`momentum` for Adam).
    #[error("the {rule} rule has no setting `{key}`; its settings are {valid}")]
    UnknownSetting {
        /// The rule's family.
        rule: String,
        /// The key given.
        key: String,
        /// The rule's settings.
        valid: String,
    },

    /// A placement of the decay that the rule does not offer.
    #[error("the {rule} rule has no placement {placement}; it offers {valid}")]
    UnknownPlacement {
        /// The rule's family.
        rule: String,
        /// The placement asked for.
        placement: String,
        /// The placements it offers.
        valid: String,
    },

    /// An error from libtorch (through tch).
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}

/// `Result` with this crate's error.
pub type Result<T> = std::result::Result<T, OptimError>;

pub(crate) fn invalid(
    field: &'static str,
    value: impl std::fmt::Display,
    expected: &'static str,
) -> OptimError {
    OptimError::InvalidSetting {
        field,
        value: value.to_string(),
        expected,
    }
}

pub(crate) fn bad_param(name: &str, problem: impl Into<String>) -> OptimError {
    OptimError::InvalidParameter {
        name: name.to_string(),
        problem: problem.into(),
    }
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
