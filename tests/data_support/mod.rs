//! Small CIFAR sources written by the tests themselves, in temporary folders.
#![allow(dead_code)]
use flate2::write::GzEncoder;
use image::{ImageBuffer, Rgb};
use std::path::Path;

/// A fresh folder under the system's temporary directory, removed when dropped.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("scalefree-data-test-")
        .tempdir()
        .expect("cannot create a temporary folder")
}

/// Deterministic bytes that differ from record to record and from channel to channel.
pub fn pixels(seed: usize) -> Vec<u8> {
    (0..3072)
        .map(|i| ((i * 7 + seed * 131 + (i / 1024) * 50) % 256) as u8)
        .collect()
}

/// One binary-format file: each record is `labels ++ pixels(seed)`; returns the images.
pub fn write_bin(path: &Path, records: &[(Vec<u8>, usize)]) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut images = Vec::new();
    for (labels, seed) in records {
        bytes.extend_from_slice(labels);
        bytes.extend_from_slice(&pixels(*seed));
        images.extend_from_slice(&pixels(*seed));
    }
    std::fs::write(path, bytes).unwrap();
    images
}

pub struct Expected {
    pub train_images: Vec<u8>,
    pub train_labels: Vec<i64>,
    pub train_coarse: Vec<i64>,
    pub test_images: Vec<u8>,
    pub test_labels: Vec<i64>,
    pub test_coarse: Vec<i64>,
}

/// CIFAR-10 in the official layout under `dir`: 3 records per training file, 4 test records.
pub fn write_cifar10(dir: &Path) -> Expected {
    std::fs::create_dir_all(dir).unwrap();
    let mut e = Expected {
        train_images: vec![],
        train_labels: vec![],
        train_coarse: vec![],
        test_images: vec![],
        test_labels: vec![],
        test_coarse: vec![],
    };
    for b in 1..=5 {
        let records: Vec<(Vec<u8>, usize)> = (0..3)
            .map(|r| {
                let n = b * 3 + r;
                (vec![(n % 10) as u8], n)
            })
            .collect();
        e.train_labels
            .extend(records.iter().map(|(l, _)| l[0] as i64));
        e.train_images.extend(write_bin(
            &dir.join(format!("data_batch_{b}.bin")),
            &records,
        ));
    }
    let records: Vec<(Vec<u8>, usize)> = (0..4).map(|r| (vec![9 - r as u8], 100 + r)).collect();
    e.test_labels
        .extend(records.iter().map(|(l, _)| l[0] as i64));
    e.test_images = write_bin(&dir.join("test_batch.bin"), &records);
    e
}

/// CIFAR-100 in the official layout under `dir`: 5 training and 3 test records.
pub fn write_cifar100(dir: &Path) -> Expected {
    std::fs::create_dir_all(dir).unwrap();
    let train: Vec<(Vec<u8>, usize)> = (0..5)
        .map(|r| (vec![(r * 4 % 20) as u8, (r * 23 % 100) as u8], r))
        .collect();
    let test: Vec<(Vec<u8>, usize)> = (0..3)
        .map(|r| (vec![19 - r as u8, 99 - r as u8], 50 + r))
        .collect();
    Expected {
        train_images: write_bin(&dir.join("train.bin"), &train),
        train_labels: train.iter().map(|(l, _)| l[1] as i64).collect(),
        train_coarse: train.iter().map(|(l, _)| l[0] as i64).collect(),
        test_images: write_bin(&dir.join("test.bin"), &test),
        test_labels: test.iter().map(|(l, _)| l[1] as i64).collect(),
        test_coarse: test.iter().map(|(l, _)| l[0] as i64).collect(),
    }
}

/// Packs the folder `dir` into the gzip-compressed tar `out`, its contents under `top/`.
pub fn tar_gz(dir: &Path, top: &str, out: &Path) {
    let file = std::fs::File::create(out).unwrap();
    let mut builder = tar::Builder::new(GzEncoder::new(file, flate2::Compression::fast()));
    builder.append_dir_all(top, dir).unwrap();
    builder.into_inner().unwrap().finish().unwrap();
}

/// A 32×32 RGB image, CHW bytes, that differs per `seed`.
pub fn chw_image(seed: usize) -> Vec<u8> {
    pixels(seed * 3 + 1)
}

/// Saves CHW bytes of a `size`×`size` RGB image as PNG or JPEG (by extension).
pub fn save_rgb(path: &Path, chw: &[u8], size: u32) {
    let plane = (size * size) as usize;
    let img = ImageBuffer::from_fn(size, size, |x, y| {
        let i = (y * size + x) as usize;
        Rgb([chw[i], chw[plane + i], chw[2 * plane + i]])
    });
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    img.save(path).unwrap();
}

pub fn solid(rgb: [u8; 3]) -> Vec<u8> {
    rgb.iter()
        .flat_map(|&v| std::iter::repeat_n(v, 1024))
        .collect()
}

/// CHW images of each class, in file-name order.
pub type ImagesByClass = Vec<Vec<Vec<u8>>>;

/// An image folder with the ten CIFAR-10 classes (created in reverse order), `per_class`
/// training and one test PNG each. Returns, per split, the CHW images by class, by file name.
pub fn write_png_folder(root: &Path, per_class: usize) -> (ImagesByClass, ImagesByClass) {
    let classes = scalefree::data::CIFAR10_CLASSES;
    let (mut train, mut test) = (vec![], vec![]);
    for (c, class) in classes.iter().enumerate().rev() {
        let mut images = vec![];
        for i in 0..per_class {
            let image = chw_image(c * 100 + i);
            save_rgb(&root.join(format!("train/{class}/{i:04}.png")), &image, 32);
            images.push(image);
        }
        train.push((c, images));
        let image = chw_image(c * 100 + 99);
        save_rgb(&root.join(format!("test/{class}/0000.png")), &image, 32);
        test.push((c, vec![image]));
    }
    train.sort_by_key(|(c, _)| *c);
    test.sort_by_key(|(c, _)| *c);
    (
        train.into_iter().map(|(_, v)| v).collect(),
        test.into_iter().map(|(_, v)| v).collect(),
    )
}

/// Each channel's (mean, standard deviation) over every image of `loader`'s epoch 0, as the
/// loader gives them (normalised).
pub fn channel_statistics(loader: &scalefree::data::Loader) -> [(f64, f64); 3] {
    let (mut sum, mut sq, mut n) = ([0f64; 3], [0f64; 3], 0f64);
    for batch in loader.epoch(0) {
        let values = Vec::<f32>::try_from(batch.unwrap().images.reshape([-1])).unwrap();
        for image in values.chunks(3072) {
            for (c, plane) in image.chunks(1024).enumerate() {
                sum[c] += plane.iter().map(|&v| v as f64).sum::<f64>();
                sq[c] += plane.iter().map(|&v| (v as f64).powi(2)).sum::<f64>();
            }
            n += 1024.0;
        }
    }
    [0, 1, 2].map(|c| {
        let mean = sum[c] / n;
        (mean, (sq[c] / n - mean * mean).sqrt())
    })
}
