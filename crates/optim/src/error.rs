//! Errors of the optimizer crate. Each one names the setting, parameter or file at fault.
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum OptimError {
    /// A hyper-parameter outside its valid range, refused when the optimizer is built.
    #[error("invalid optimizer setting `{field}` = {value}: must be {expected}")]
    InvalidSetting {
        field: &'static str,
        value: String,
        expected: &'static str,
    },

    /// A parameter tensor that the optimizer cannot manage.
    #[error("parameter `{name}`: {problem}")]
    InvalidParameter { name: String, problem: String },

    /// A saved state that does not fit this optimizer's parameters or settings.
    #[error("optimizer state {}: {problem}", path.display())]
    StateMismatch { path: PathBuf, problem: String },

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
