//! CIFAR-10 and CIFAR-100 (docs/paper.md#data-and-augmentation) and the input pipeline.
//!
//! [`load`] reads a dataset from any of:
//! - the official binary format: a folder holding `data_batch_1.bin … data_batch_5.bin` and
//!   `test_batch.bin` (CIFAR-10) or `train.bin` and `test.bin` (CIFAR-100), at any depth
//!   (so `cifar-10-batches-bin/` or `cifar-100-binary/` may sit in between), or the
//!   official `.tar.gz` archive itself;
//! - an image folder (`ROOT/train/<class>/*.png|jpg`, `ROOT/test/<class>/*`), as a folder or
//!   a `.tar.gz`, where ROOT is the top of the source or a single folder below it.
//!
//! With a cache directory, the decoded data is kept there and the next load of an unchanged
//! source is a plain read. [`Loader`] turns a [`Split`] into batches of tensors: shuffled,
//! augmented and normalised for training, normalised only for evaluation.
//!
//! `make data` leaves CIFAR-10 at `data/cifar10` (CIFAR-100 at `data/cifar100`) in the
//! repository, which is [`default_source`] when a command runs from there: a folder, or a
//! link to the archive or folder given to it. [`data_dir`] says where, at run time.
mod augment;
mod binary;
mod cache;
mod dataset;
mod error;
mod image_folder;
mod loader;
mod open;
mod source;
mod split;

pub use augment::{shuffled_order, Augment, Normalizer, PAD};
pub use dataset::{
    Dataset, DatasetKind, Split, CHANNELS, CIFAR10_CLASSES, IMAGE_BYTES, IMAGE_SIZE,
};
pub use error::DataError;
pub use loader::{pinned, Batch, Batches, Loader, LoaderConfig};
pub use open::{loaders, open, splits, training_subset, RunLoaders, Splits, EVAL_BATCH};

use cache::{digest, Cache, Cached};
use source::{join, Source};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// The variable naming the data folder ([`data_dir`]).
pub const DATA_DIR_VAR: &str = "SCALEFREE_DATA";
/// The variable naming the cache folder ([`default_cache_dir`]).
pub const CACHE_DIR_VAR: &str = "SCALEFREE_CACHE_DIR";

/// The folder where datasets are looked for when no `--data` is given, decided when the
/// command runs, never when it was built: `$SCALEFREE_DATA` when set, else `data` in the
/// current directory (where `make data` puts them, as the Makefile runs from the
/// repository root). Made absolute against the current directory.
pub fn data_dir() -> PathBuf {
    let dir = std::env::var_os(DATA_DIR_VAR)
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from("data"), PathBuf::from);
    std::path::absolute(&dir).unwrap_or(dir)
}

/// Where `make data` puts `kind`: `<data_dir>/<kind>`, e.g. `data/cifar10`.
pub fn default_source(kind: DatasetKind) -> PathBuf {
    data_dir().join(kind.name())
}

/// How to get `kind` where it is missing: `make data` in a clone of the repository; in a
/// bundle (run through its launcher, which has no Makefile and often no network), copying
/// it there.
pub fn how_to_get(kind: DatasetKind) -> String {
    if std::env::var_os("SCALEFREE_LAUNCHER").is_some() {
        format!(
            "copy {} there from a machine that has it (`make data` in a clone of scalefree, or \
             the official archive), or set {DATA_DIR_VAR}",
            kind.name()
        )
    } else {
        format!("run `make data` (or `make data DATASET={}`)", kind.name())
    }
}

/// The cache directory: `$SCALEFREE_CACHE_DIR` when set, else `<data_dir>/cache`.
pub fn default_cache_dir() -> PathBuf {
    match std::env::var_os(CACHE_DIR_VAR).filter(|v| !v.is_empty()) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            std::path::absolute(&dir).unwrap_or(dir)
        }
        None => data_dir().join("cache"),
    }
}

/// Loads `kind` from `source` (a folder or a `.tar.gz`, see the module docs), through the
/// cache in `cache_dir` when one is given. A cache that cannot be written is reported on
/// stderr and otherwise ignored.
pub fn load(
    kind: DatasetKind,
    source: &Path,
    cache_dir: Option<&Path>,
) -> Result<Dataset, DataError> {
    let meta = std::fs::metadata(source).map_err(|e| DataError::io(source, e))?;
    let canonical = std::fs::canonicalize(source).map_err(|e| DataError::io(source, e))?;
    if meta.is_dir() {
        let tree = Source::walk_dir(source)?;
        let layout = Layout::detect(kind, &tree)?;
        let fingerprint = format!("{kind} folder\n{}", layout.stamps(&tree));
        load_cached(kind, &canonical, cache_dir, &fingerprint, || {
            layout.read(kind, &tree)
        })
    } else {
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let fingerprint = format!("{kind} archive\n{} {modified}", meta.len());
        load_cached(kind, &canonical, cache_dir, &fingerprint, || {
            let tree = Source::read_archive(source)?;
            Layout::detect(kind, &tree)?.read(kind, &tree)
        })
    }
}

fn load_cached(
    kind: DatasetKind,
    canonical: &Path,
    cache_dir: Option<&Path>,
    fingerprint: &str,
    read: impl FnOnce() -> Result<Dataset, DataError>,
) -> Result<Dataset, DataError> {
    let Some(dir) = cache_dir else {
        return read();
    };
    let cache = Cache::new(dir, kind, canonical, digest(fingerprint));
    match cache.read() {
        Cached::Hit(dataset) if dataset.kind == kind => return Ok(dataset),
        Cached::Damaged(why) => eprintln!(
            "warning: the data cache is damaged ({why}); rebuilding it from {}",
            canonical.display()
        ),
        _ => {}
    }
    let dataset = read()?;
    if let Err(e) = cache.write(&dataset) {
        eprintln!(
            "warning: cannot write the data cache {}: {e}",
            cache.path().display()
        );
    }
    Ok(dataset)
}

/// Where in a source the data is, and in which format.
enum Layout {
    /// The folder holding the official `.bin` files.
    Binary(String),
    /// The folder holding `train/` and `test/`.
    ImageFolder(String),
}

impl Layout {
    fn detect(kind: DatasetKind, source: &Source) -> Result<Layout, DataError> {
        let binary_roots = marker_dirs(source, binary::marker(kind));
        if let Some(root) = single(source, binary_roots, "binary-format folder")? {
            return Ok(Layout::Binary(root));
        }
        let image_roots: Vec<String> = source
            .dirs()
            .into_iter()
            .filter_map(|d| {
                let root = d.strip_suffix("train")?;
                match root.strip_suffix('/') {
                    Some(top) if !top.contains('/') => Some(top.to_string()),
                    None if root.is_empty() => Some(String::new()),
                    _ => None,
                }
            })
            .collect();
        if let Some(root) = single(source, image_roots, "image folder with train/")? {
            return Ok(Layout::ImageFolder(root));
        }
        let other = match kind {
            DatasetKind::Cifar10 => DatasetKind::Cifar100,
            DatasetKind::Cifar100 => DatasetKind::Cifar10,
        };
        let detail = if marker_dirs(source, binary::marker(other)).is_empty() {
            format!(
                "looked for {} (official binary format) anywhere, and for train/<class>/ and \
                 test/<class>/ (image folder) at the top or one folder down",
                binary::marker(kind)
            )
        } else {
            format!("it holds {other} binary files instead")
        };
        Err(DataError::NotFound {
            origin: source.origin(),
            wanted: format!("{kind} data"),
            detail,
        })
    }

    fn read(&self, kind: DatasetKind, source: &Source) -> Result<Dataset, DataError> {
        match self {
            Layout::Binary(root) => binary::read(kind, source, root),
            Layout::ImageFolder(root) => image_folder::read(kind, source, root),
        }
    }

    /// Path, size and modification time of every file the dataset is read from.
    fn stamps(&self, source: &Source) -> String {
        let prefixes: Vec<String> = match self {
            Layout::Binary(root) => vec![join(root, "")],
            Layout::ImageFolder(root) => vec![join(root, "train/"), join(root, "test/")],
        };
        let mut lines: Vec<String> = source
            .entries()
            .iter()
            .filter(|e| !e.is_dir && prefixes.iter().any(|p| e.path.starts_with(p.as_str())))
            .map(|e| format!("{}\t{}\t{}", e.path, e.stamp.0, e.stamp.1))
            .collect();
        lines.sort();
        lines.join("\n")
    }
}

/// Folders of `source` that hold a file named `marker`.
fn marker_dirs(source: &Source, marker: &str) -> Vec<String> {
    source
        .entries()
        .iter()
        .filter(|e| !e.is_dir)
        .filter_map(|e| match e.path.rsplit_once('/') {
            Some((dir, name)) if name == marker => Some(dir.to_string()),
            None if e.path == marker => Some(String::new()),
            _ => None,
        })
        .collect()
}

fn single(
    source: &Source,
    mut found: Vec<String>,
    what: &str,
) -> Result<Option<String>, DataError> {
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => Err(DataError::Ambiguous {
            origin: source.origin(),
            what: what.to_string(),
            candidates: found
                .iter()
                .map(|d| source.describe(d))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}
