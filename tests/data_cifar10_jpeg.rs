//! End to end on the real CIFAR-10 (the shared JPEG archive, read where it lies): counts,
//! class balance, channel means, the cache, and normalised statistics.
//!
//! The archive is `$CIFAR10_JPEG`, by default `../shared/data/cifar10-jpeg.tar.gz` beside
//! the workspace. This test fails, it does not skip, when the archive is missing.
use scalefree::data::{load, DatasetKind, Loader, LoaderConfig, CIFAR10_CLASSES};
use std::path::PathBuf;
use std::time::Instant;

fn archive() -> PathBuf {
    let path = std::env::var_os("CIFAR10_JPEG")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/cifar10-jpeg.tar.gz")
        });
    assert!(
        path.is_file(),
        "the CIFAR-10 JPEG archive is missing at {}: set CIFAR10_JPEG to its path \
         (this test needs the real data and does not skip)",
        path.display()
    );
    path
}

#[test]
fn shared_cifar10_jpeg_archive_loads_decodes_and_caches() {
    let source = archive();
    let cache = tempfile::Builder::new()
        .prefix("scalefree-data-test-")
        .tempdir()
        .unwrap();

    let start = Instant::now();
    let d = load(DatasetKind::Cifar10, &source, Some(cache.path())).unwrap();
    let cold = start.elapsed();
    assert_eq!(d.classes, CIFAR10_CLASSES.to_vec());
    assert_eq!((d.train.len(), d.test.len()), (50_000, 10_000));
    assert_eq!(d.train.class_counts(10), vec![5_000; 10]);
    assert_eq!(d.test.class_counts(10), vec![1_000; 10]);
    let means = d.train.channel_means();
    for (c, (m, want)) in means.iter().zip(DatasetKind::Cifar10.mean()).enumerate() {
        assert!(
            (m - want as f64).abs() < 0.01,
            "channel {c}: mean {m}, expected {want}"
        );
    }

    let start = Instant::now();
    let cached = load(DatasetKind::Cifar10, &source, Some(cache.path())).unwrap();
    let warm = start.elapsed();
    assert!(
        cached == d,
        "the cached dataset differs from the decoded one"
    );
    eprintln!("cold load {cold:.2?}, cached load {warm:.2?}, channel means {means:.4?}");
    assert!(
        warm < cold,
        "the cache did not speed up loading ({warm:?} vs {cold:?})"
    );

    // The normalised test images: mean near 0 and std near 1 per channel.
    let loader = Loader::new(d.test, DatasetKind::Cifar10, LoaderConfig::test()).unwrap();
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
    for c in 0..3 {
        let mean = sum[c] / n;
        let std = (sq[c] / n - mean * mean).sqrt();
        eprintln!("normalised test channel {c}: mean {mean:.4}, std {std:.4}");
        assert!(
            mean.abs() < 0.05 && (std - 1.0).abs() < 0.05,
            "channel {c}: {mean} {std}"
        );
    }
}
