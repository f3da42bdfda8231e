//! Opening a dataset for training, the same way for `scalefree train` and every check:
//! the source from the settings (or where `make data` puts it), through the cache, with
//! the optional validation split and seeded training subset.
use super::{load, shuffled_order, Dataset, DatasetKind, Loader, LoaderConfig, Split};
use anyhow::{bail, Context, Result};
use std::path::Path;
use tch::Device;

/// Loads `kind` from `source` through the cache; a missing source says how to get one.
pub fn open(kind: DatasetKind, source: &Path) -> Result<Dataset> {
    if let Err(e) = std::fs::metadata(source) {
        if e.raw_os_error() == Some(libc::ELOOP) {
            bail!(
                "--data {}: a loop of symbolic links (following them comes back to where it \
                 started); point --data at the dataset itself",
                source.display()
            );
        }
        if let Ok(target) = std::fs::read_link(source) {
            bail!(
                "--data {}: a symbolic link to {}, which does not exist",
                source.display(),
                target.display()
            );
        }
    }
    if !source.exists() {
        bail!(
            "dataset not found at {} (field `data`); {}, or pass --data with an official CIFAR \
             directory/archive or an image-folder tree/archive",
            source.display(),
            super::how_to_get(kind)
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

/// Refuses a validation fraction that leaves either split empty (it is rounded per
/// class), saying which fractions would do.
fn refuse_empty_split(dataset: &Dataset, fraction: f64, train: usize, val: usize) -> Result<()> {
    if train > 0 && val > 0 {
        return Ok(());
    }
    let mut per_class = vec![0usize; dataset.classes.len()];
    for &label in &dataset.train.labels {
        per_class[label as usize] += 1;
    }
    let largest = per_class.iter().copied().max().unwrap_or(0).max(1) as f64;
    let why = if val == 0 {
        format!(
            "it holds out no image (the fraction is rounded per class, and the largest class \
             has {largest} training images)"
        )
    } else {
        "it leaves no training image (the fraction is rounded per class)".to_string()
    };
    bail!(
        "invalid `val_fraction` = {fraction} (--val-fraction): {why}; give a fraction from \
         {:.3e} to below {:.6}, or 0 to evaluate on the test set",
        0.5 / largest,
        1.0 - 0.5 / largest
    )
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
        refuse_empty_split(dataset, val_fraction, train.len(), val.len())?;
        (train, val, "validation")
    } else {
        (dataset.train.clone(), dataset.test.clone(), "test")
    };
    if let Some(n) = train_subset {
        if n > train.len() {
            let held_out = if val_fraction > 0.0 {
                format!(
                    " (after --val-fraction {val_fraction} holds {} of its {} out)",
                    dataset.train.len() - train.len(),
                    dataset.train.len()
                )
            } else {
                String::new()
            };
            bail!(
                "invalid `train_subset` = {n} (--train-subset): the training split has only {} \
                 images{held_out}; give at most {}, or leave it out to train on all of them",
                train.len(),
                train.len()
            );
        }
        train = training_subset(&train, n, seed);
    }
    if train.is_empty() {
        bail!("the training split of the dataset is empty: there is nothing to train on");
    }
    Ok(Splits {
        train,
        eval,
        eval_name,
        classes: dataset.classes.len() as i64,
    })
}

/// The loaders of a run or a check: the (augmented, shuffled) training split in batches
/// of `batch_size`, and the evaluation split in batches of [`EVAL_BATCH`].
pub struct RunLoaders {
    pub train: Loader,
    pub eval: Loader,
    /// `test`, or `validation` when part of the training set is held out.
    pub eval_name: &'static str,
    pub classes: i64,
}

/// Images per evaluation batch (evaluation keeps no activations for backward).
pub const EVAL_BATCH: usize = 500;

/// `splits` of `dataset` as loaders on `device`, the training order from `seed`.
pub fn loaders(
    splits: Splits,
    kind: DatasetKind,
    batch_size: usize,
    seed: u64,
    device: Device,
) -> Result<RunLoaders> {
    let images = splits.train.len();
    if batch_size > images {
        // A larger batch would be cut to the split: the run would train on batches of
        // `images` under another name (and record a batch size it never used).
        bail!(
            "invalid `batch_size` = {batch_size} (--batch-size): the training split has only \
             {images} images, so a batch holds at most {images}; give at most {images}"
        );
    }
    let train = LoaderConfig {
        batch_size,
        device,
        ..LoaderConfig::train(seed)
    };
    let eval = LoaderConfig {
        batch_size: EVAL_BATCH,
        device,
        ..LoaderConfig::test()
    };
    Ok(RunLoaders {
        train: Loader::new(splits.train, kind, train)?,
        eval: Loader::new(splits.eval, kind, eval)?,
        eval_name: splits.eval_name,
        classes: splits.classes,
    })
}
