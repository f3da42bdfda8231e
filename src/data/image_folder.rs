//! Image folders in torchvision's `ImageFolder` convention: `ROOT/train/<class>/*` and
//! `ROOT/test/<class>/*`, PNG or JPEG, decoded in parallel. Classes are numbered in sorted
//! order, except that CIFAR-10's ten names get their official label order.
use super::dataset::{Dataset, DatasetKind, Split, CIFAR10_CLASSES, IMAGE_BYTES, IMAGE_SIZE};
use super::error::DataError;
use super::source::{join, Source};
use image::{ColorType, DynamicImage};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

const EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// Reads the image folder `root` of `source` (`root` holds `train/` and `test/`).
pub(crate) fn read(kind: DatasetKind, source: &Source, root: &str) -> Result<Dataset, DataError> {
    let dirs = source.dirs();
    let train_files = class_files(source, &dirs, root, "train")?;
    let test_files = class_files(source, &dirs, root, "test")?;

    let train_names: BTreeSet<&String> = train_files.keys().collect();
    let test_names: BTreeSet<&String> = test_files.keys().collect();
    if train_names != test_names {
        return Err(DataError::ClassMismatch {
            origin: source.describe(root),
            train_only: train_names
                .difference(&test_names)
                .map(|s| s.to_string())
                .collect(),
            test_only: test_names
                .difference(&train_names)
                .map(|s| s.to_string())
                .collect(),
        });
    }
    let classes = class_order(train_files.keys().cloned().collect());
    if classes.len() != kind.num_classes() {
        return Err(DataError::ClassCount {
            origin: source.describe(root),
            kind: kind.name(),
            found: classes.len(),
            expected: kind.num_classes(),
        });
    }
    let train = decode_split(source, &classes, &train_files)?;
    let test = decode_split(source, &classes, &test_files)?;
    Ok(Dataset {
        kind,
        classes,
        coarse_classes: None,
        train,
        test,
    })
}

/// The image files of each class folder of `root/split`, by class name, each sorted.
fn class_files(
    source: &Source,
    dirs: &BTreeSet<String>,
    root: &str,
    split: &'static str,
) -> Result<BTreeMap<String, Vec<String>>, DataError> {
    let split_dir = join(root, split);
    if !dirs.contains(&split_dir) {
        return Err(DataError::MissingSplit {
            dir: source.describe(root),
            split,
        });
    }
    let prefix = format!("{split_dir}/");
    let mut classes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for dir in dirs.range(prefix.clone()..) {
        let Some(rest) = dir.strip_prefix(&prefix) else {
            break;
        };
        if !rest.contains('/') {
            classes.entry(rest.to_string()).or_default();
        }
    }
    for entry in source.entries() {
        let Some(rest) = entry.path.strip_prefix(&prefix) else {
            continue;
        };
        if let Some((class, file)) = rest.split_once('/') {
            if !entry.is_dir && is_image_name(file) {
                classes
                    .entry(class.to_string())
                    .or_default()
                    .push(entry.path.clone());
            }
        }
    }
    for (class, files) in &mut classes {
        if files.is_empty() {
            return Err(DataError::EmptyClass {
                dir: source.describe(&join(&split_dir, class)),
            });
        }
        files.sort();
    }
    Ok(classes)
}

fn is_image_name(file: &str) -> bool {
    !file.contains('/')
        && !file.starts_with('.')
        && file
            .rsplit_once('.')
            .is_some_and(|(_, ext)| EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()))
}

fn class_order(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    let mut official: Vec<&str> = CIFAR10_CLASSES.to_vec();
    official.sort();
    if names == official {
        CIFAR10_CLASSES.iter().map(|s| s.to_string()).collect()
    } else {
        names
    }
}

fn decode_split(
    source: &Source,
    classes: &[String],
    files: &BTreeMap<String, Vec<String>>,
) -> Result<Split, DataError> {
    let items: Vec<(&str, i64)> = classes
        .iter()
        .enumerate()
        .flat_map(|(label, class)| files[class].iter().map(move |f| (f.as_str(), label as i64)))
        .collect();
    let mut images = vec![0u8; items.len() * IMAGE_BYTES];
    images
        .par_chunks_mut(IMAGE_BYTES)
        .zip(items.par_iter())
        .try_for_each(|(out, (path, _))| decode_into(source, path, out))?;
    Ok(Split {
        images,
        labels: items.iter().map(|&(_, label)| label).collect(),
        coarse_labels: None,
    })
}

/// Decodes one 32×32 RGB image into `out`, CHW.
fn decode_into(source: &Source, path: &str, out: &mut [u8]) -> Result<(), DataError> {
    let bytes = source.read(path)?;
    let bad_image = |reason: String| DataError::BadImage {
        file: source.describe(path),
        reason,
    };
    if bytes.starts_with(&JPEG_MAGIC) {
        check_jpeg_strictly(&bytes).map_err(bad_image)?;
    }
    let image = image::load_from_memory(&bytes).map_err(|e| bad_image(e.to_string()))?;
    let (width, height) = (image.width(), image.height());
    let DynamicImage::ImageRgb8(rgb) = image else {
        return Err(shape_error(source, path, width, height, image.color()));
    };
    if width as usize != IMAGE_SIZE || height as usize != IMAGE_SIZE {
        return Err(shape_error(source, path, width, height, ColorType::Rgb8));
    }
    let plane = IMAGE_SIZE * IMAGE_SIZE;
    for (i, pixel) in rgb.as_raw().chunks_exact(3).enumerate() {
        out[i] = pixel[0];
        out[plane + i] = pixel[1];
        out[2 * plane + i] = pixel[2];
    }
    Ok(())
}

const JPEG_MAGIC: [u8; 2] = [0xff, 0xd8];

/// Decodes a JPEG in strict mode and keeps nothing: `image` decodes leniently, filling
/// what it cannot read (a cut-off file, damaged entropy-coded data) with grey, and JPEG
/// has no checksum, so this is the only way to tell a damaged one from a good one.
fn check_jpeg_strictly(bytes: &[u8]) -> Result<(), String> {
    let options = zune_core::options::DecoderOptions::default().set_strict_mode(true);
    zune_jpeg::JpegDecoder::new_with_options(zune_core::bytestream::ZCursor::new(bytes), options)
        .decode()
        .map(|_| ())
        .map_err(|e| format!("damaged JPEG data ({e})"))
}

fn shape_error(
    source: &Source,
    path: &str,
    width: u32,
    height: u32,
    color: ColorType,
) -> DataError {
    DataError::ImageShape {
        file: source.describe(path),
        width,
        height,
        color: format!("{color:?}"),
    }
}
