//! The official binary format. CIFAR-10: records of 1 label byte + 3072 pixel bytes in
//! `data_batch_1.bin … data_batch_5.bin` and `test_batch.bin`; CIFAR-100: coarse label +
//! fine label + 3072 pixel bytes in `train.bin` and `test.bin`. The pixels are already
//! CHW (1024 R, 1024 G, 1024 B, row-major), the layout of [`Split::images`].
use super::dataset::{Dataset, DatasetKind, Split, IMAGE_BYTES};
use super::error::DataError;
use super::source::{join, Source};

/// The file whose presence marks a binary-format folder of `kind`.
pub(crate) fn marker(kind: DatasetKind) -> &'static str {
    match kind {
        DatasetKind::Cifar10 => "data_batch_1.bin",
        DatasetKind::Cifar100 => "train.bin",
    }
}

fn train_files(kind: DatasetKind) -> Vec<&'static str> {
    match kind {
        DatasetKind::Cifar10 => vec![
            "data_batch_1.bin",
            "data_batch_2.bin",
            "data_batch_3.bin",
            "data_batch_4.bin",
            "data_batch_5.bin",
        ],
        DatasetKind::Cifar100 => vec!["train.bin"],
    }
}

fn test_file(kind: DatasetKind) -> &'static str {
    match kind {
        DatasetKind::Cifar10 => "test_batch.bin",
        DatasetKind::Cifar100 => "test.bin",
    }
}

fn label_bytes(kind: DatasetKind) -> usize {
    match kind {
        DatasetKind::Cifar10 => 1,
        DatasetKind::Cifar100 => 2,
    }
}

/// Reads the binary-format folder `root` of `source`.
pub(crate) fn read(kind: DatasetKind, source: &Source, root: &str) -> Result<Dataset, DataError> {
    let mut train = empty_split(kind);
    for name in train_files(kind) {
        append_file(kind, source, &join(root, name), &mut train)?;
    }
    let mut test = empty_split(kind);
    append_file(kind, source, &join(root, test_file(kind)), &mut test)?;

    let (classes, coarse_classes) = match kind {
        DatasetKind::Cifar10 => (class_names(source, root, "batches.meta.txt", 10)?, None),
        DatasetKind::Cifar100 => (
            class_names(source, root, "fine_label_names.txt", 100)?,
            Some(class_names(source, root, "coarse_label_names.txt", 20)?),
        ),
    };
    Ok(Dataset {
        kind,
        classes,
        coarse_classes,
        train,
        test,
    })
}

fn empty_split(kind: DatasetKind) -> Split {
    Split {
        coarse_labels: (kind == DatasetKind::Cifar100).then(Vec::new),
        ..Split::default()
    }
}

fn append_file(
    kind: DatasetKind,
    source: &Source,
    path: &str,
    split: &mut Split,
) -> Result<(), DataError> {
    let file = source.describe(path);
    if !source.is_file(path) {
        return Err(DataError::MissingFile {
            file,
            why: format!("part of the {kind} binary format"),
        });
    }
    let bytes = source.read(path)?;
    let record = label_bytes(kind) + IMAGE_BYTES;
    if bytes.is_empty() || bytes.len() % record != 0 {
        return Err(DataError::RecordSize {
            file,
            size: bytes.len() as u64,
            record,
            format: kind.name(),
        });
    }
    let label_error = |record, which, label, limit| DataError::LabelOutOfRange {
        file: file.clone(),
        record,
        which,
        label,
        limit,
    };
    split.images.reserve(bytes.len() / record * IMAGE_BYTES);
    for (i, rec) in bytes.chunks_exact(record).enumerate() {
        let (labels, pixels) = rec.split_at(label_bytes(kind));
        let fine = *labels.last().expect("a record starts with its labels");
        if fine as usize >= kind.num_classes() {
            let which = if kind == DatasetKind::Cifar100 {
                "fine"
            } else {
                "class"
            };
            return Err(label_error(i, which, fine, kind.num_classes()));
        }
        if let (Some(coarse), Some(limit)) =
            (split.coarse_labels.as_mut(), kind.num_coarse_classes())
        {
            if labels[0] as usize >= limit {
                return Err(label_error(i, "coarse", labels[0], limit));
            }
            coarse.push(labels[0] as i64);
        }
        split.labels.push(fine as i64);
        split.images.extend_from_slice(pixels);
    }
    Ok(())
}

/// Names from a one-name-per-line file beside the data, or the label numbers without one.
fn class_names(
    source: &Source,
    root: &str,
    name: &str,
    expected: usize,
) -> Result<Vec<String>, DataError> {
    let path = join(root, name);
    if !source.is_file(&path) {
        return Ok((0..expected).map(|i| i.to_string()).collect());
    }
    let text = source.read(&path)?;
    let names: Vec<String> = String::from_utf8_lossy(&text)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if names.len() != expected {
        return Err(DataError::ClassNames {
            file: source.describe(&path),
            found: names.len(),
            expected,
        });
    }
    Ok(names)
}
