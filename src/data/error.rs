//! The one error type of the data module. Every variant names the file or folder at fault;
//! a file inside an archive is written `ARCHIVE:MEMBER`.
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{path}: not a gzip archive (expected a .tar.gz such as cifar-10-binary.tar.gz, or a directory)")]
    NotGzip { path: PathBuf },

    #[error("{path}: cannot read the archive: {reason}")]
    Archive { path: PathBuf, reason: String },

    #[error("{origin}: no {wanted} found ({detail})")]
    NotFound {
        origin: String,
        wanted: String,
        detail: String,
    },

    #[error("{origin}: more than one {what}: {candidates}")]
    Ambiguous {
        origin: String,
        what: String,
        candidates: String,
    },

    #[error("{file}: missing ({why})")]
    MissingFile { file: String, why: String },

    #[error(
        "{file}: {size} bytes is not a positive multiple of the {record}-byte {format} record"
    )]
    RecordSize {
        file: String,
        size: u64,
        record: usize,
        format: &'static str,
    },

    #[error("{file}: record {record} has {which} label {label}, expected 0..{limit}")]
    LabelOutOfRange {
        file: String,
        record: usize,
        which: &'static str,
        label: u8,
        limit: usize,
    },

    #[error("{file}: {found} class names, expected {expected}")]
    ClassNames {
        file: String,
        found: usize,
        expected: usize,
    },

    #[error("{dir}: the '{split}' folder is missing (an image folder needs train/<class>/ and test/<class>/)")]
    MissingSplit { dir: String, split: &'static str },

    #[error("{dir}: class folder holds no images (.png, .jpg or .jpeg)")]
    EmptyClass { dir: String },

    #[error("{origin}: {found} classes but {kind} has {expected}")]
    ClassCount {
        origin: String,
        kind: &'static str,
        found: usize,
        expected: usize,
    },

    #[error("{origin}: train and test class folders differ (only in train: {train_only:?}; only in test: {test_only:?})")]
    ClassMismatch {
        origin: String,
        train_only: Vec<String>,
        test_only: Vec<String>,
    },

    #[error("{file}: cannot decode the image: {reason}")]
    BadImage { file: String, reason: String },

    #[error("{file}: image is {width}x{height} {color}; only 32x32 RGB images are accepted (nothing is resized)")]
    ImageShape {
        file: String,
        width: u32,
        height: u32,
        color: String,
    },

    #[error("{0}")]
    InvalidArgument(String),

    #[error("tensor: {0}")]
    Torch(#[from] tch::TchError),
}

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }
}
