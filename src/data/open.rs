//! Opening a dataset for training, the same way for `scalefree train` and every check:
//! the source from the settings (or where `make data` puts it), through the cache, with
//! the optional validation split and seeded training subset.
use super::{load, shuffled_order, Dataset, DatasetKind, Split};
use anyhow::{bail, Context, Result};
use std::path::Path;

/// Loads `kind` from `source` through the cache; a missing source says how to get one.
pub fn open(kind: DatasetKind, source: &Path) -> Result<Dataset> {
    if !source.exists() {
        bail!(
            "dataset not found at {} (field `data`); run `make data` (or `make data DATASET={}`), \
             or pass --data with an official CIFAR directory/archive or an image-folder tree/archive",
            source.display(),
            kind.name()
        );
    }
    load(kind, source, Some(&super::default_cache_dir()))
        .with_context(|| format!("loading {} from {}", kind.name(), source.display()))
}

/// The first `n` training images after a seeded shuffle, from a stream of the shuffle that
/// no epoch uses, so the subset is independent of the epochs' orders.
pub fn training_subset(train: &Split, n: usize, seed: u64) -> Split {
    let order = shuffled_order(train.len(), seed, u64::MAX);
    train.subset(&order[..n.min(train.len())])
}

/// What a run trains and evaluates on.
pub struct Splits {
    pub train: Split,
    pub eval: Split,
    /// `test`, or `validation` when part of the training set is held out.
    pub eval_name: &'static str,
    pub classes: i64,
}

/// The training split (held-out validation part removed, subset taken) and the split it
/// is evaluated on.
pub fn splits(
    dataset: &Dataset,
    val_fraction: f64,
    train_subset: Option<usize>,
    seed: u64,
) -> Result<Splits> {
    let (mut train, eval, eval_name) = if val_fraction > 0.0 {
        let (train, val) = dataset.split_validation(val_fraction, seed)?;
        (train, val, "validation")
    } else {
        (dataset.train.clone(), dataset.test.clone(), "test")
    };
    if let Some(n) = train_subset {
        train = training_subset(&train, n, seed);
    }
    Ok(Splits {
        train,
        eval,
        eval_name,
        classes: dataset.classes.len() as i64,
    })
}
