//! The in-memory dataset: uint8 images in CHW order with their labels.
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Side of a CIFAR image in pixels.
pub const IMAGE_SIZE: usize = 32;
/// Colour channels of a CIFAR image (R, G, B).
pub const CHANNELS: usize = 3;
/// Bytes of one image: 3 planes of 32×32, R then G then B, each row-major.
pub const IMAGE_BYTES: usize = CHANNELS * IMAGE_SIZE * IMAGE_SIZE;

/// CIFAR-10 class names in the official label order.
pub const CIFAR10_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DatasetKind {
    Cifar10,
    Cifar100,
}

impl DatasetKind {
    /// Number of (fine) classes.
    pub fn num_classes(self) -> usize {
        match self {
            DatasetKind::Cifar10 => 10,
            DatasetKind::Cifar100 => 100,
        }
    }

    /// Number of coarse classes (CIFAR-100 only).
    pub fn num_coarse_classes(self) -> Option<usize> {
        match self {
            DatasetKind::Cifar10 => None,
            DatasetKind::Cifar100 => Some(20),
        }
    }

    /// Per-channel mean of the training images in [0, 1] (docs/paper.md#data-and-augmentation).
    pub fn mean(self) -> [f32; 3] {
        match self {
            DatasetKind::Cifar10 => [0.4914, 0.4822, 0.4465],
            DatasetKind::Cifar100 => [0.5071, 0.4866, 0.4409],
        }
    }

    /// Per-channel standard deviation of the training images, in [0, 1] units
    /// (docs/paper.md#data-and-augmentation).
    pub fn std(self) -> [f32; 3] {
        match self {
            DatasetKind::Cifar10 => [0.2470, 0.2435, 0.2616],
            DatasetKind::Cifar100 => [0.2673, 0.2564, 0.2762],
        }
    }

    /// `cifar10` or `cifar100`.
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::Cifar10 => "cifar10",
            DatasetKind::Cifar100 => "cifar100",
        }
    }
}

impl fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DatasetKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().replace('-', "").as_str() {
            "cifar10" => Ok(DatasetKind::Cifar10),
            "cifar100" => Ok(DatasetKind::Cifar100),
            _ => Err(format!(
                "unknown dataset '{s}' (expected cifar10 or cifar100)"
            )),
        }
    }
}

/// A set of images with their labels.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Split {
    /// N×3×32×32 bytes, CHW per image.
    pub images: Vec<u8>,
    /// N labels (the fine label for CIFAR-100).
    pub labels: Vec<i64>,
    /// N coarse labels, CIFAR-100 binary format only.
    pub coarse_labels: Option<Vec<i64>>,
}

impl Split {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The 3072 bytes of image `i`, CHW.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.images[i * IMAGE_BYTES..(i + 1) * IMAGE_BYTES]
    }

    /// The images at `indices`, in that order (an index may repeat).
    pub fn subset(&self, indices: &[usize]) -> Split {
        let mut images = Vec::with_capacity(indices.len() * IMAGE_BYTES);
        for &i in indices {
            images.extend_from_slice(self.image(i));
        }
        Split {
            images,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            coarse_labels: self
                .coarse_labels
                .as_ref()
                .map(|c| indices.iter().map(|&i| c[i]).collect()),
        }
    }

    /// How many images each of `num_classes` labels has.
    pub fn class_counts(&self, num_classes: usize) -> Vec<usize> {
        let mut counts = vec![0; num_classes];
        for &l in &self.labels {
            counts[l as usize] += 1;
        }
        counts
    }

    /// Per-channel mean of the pixels in [0, 1].
    pub fn channel_means(&self) -> [f64; 3] {
        let mut sums = [0u64; 3];
        for image in self.images.chunks_exact(IMAGE_BYTES) {
            for (c, plane) in image.chunks_exact(IMAGE_SIZE * IMAGE_SIZE).enumerate() {
                sums[c] += plane.iter().map(|&p| p as u64).sum::<u64>();
            }
        }
        let n = (self.len() * IMAGE_SIZE * IMAGE_SIZE) as f64 * 255.0;
        sums.map(|s| s as f64 / n)
    }
}

/// A CIFAR dataset: class names and the official train and test splits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dataset {
    pub kind: DatasetKind,
    /// Name of each label (fine labels for CIFAR-100); numbers when the source has none.
    pub classes: Vec<String>,
    /// Name of each coarse label, CIFAR-100 binary format only.
    pub coarse_classes: Option<Vec<String>>,
    pub train: Split,
    pub test: Split,
}
