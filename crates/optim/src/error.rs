//! Errors of the optimizer crate. Each one names the setting, parameter, group or state
//! at fault, and what would be valid.

#[derive(Debug, thiserror::Error)]
pub enum OptimError {
    /// A hyper-parameter outside its valid range.
    #[error("invalid optimizer setting `{field}` = {value}: must be {expected}")]
    InvalidSetting {
        field: &'static str,
        value: String,
        expected: &'static str,
    },

    /// A parameter tensor that the optimizer cannot manage, or one that changed behind
    /// its back in a way it cannot follow.
    #[error("parameter `{name}`: {problem}")]
    InvalidParameter { name: String, problem: String },

    /// A trainable variable of a `VarStore` that the optimizer was built from, but that is
    /// in none of its parameter groups (typically created after the optimizer).
    #[error(
        "variable `{name}` of the VarStore requires grad but is in no parameter group of this \
         optimizer, so it would never be trained; add it with `Adam::add_param_group`, build \
         the optimizer after creating every variable, or freeze it (`set_requires_grad(false)`)"
    )]
    UnmanagedVariable { name: String },

    /// A group name that the optimizer does not have.
    #[error("no parameter group named `{name}`; the groups are {}", quoted(.known))]
    UnknownGroup { name: String, known: Vec<String> },

    /// A saved state that does not fit this optimizer's parameters or settings.
    /// `origin` says where it came from (a file, a reader, named tensors).
    #[error("optimizer state {origin}: {problem}")]
    StateMismatch { origin: String, problem: String },

    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },

    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}

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
