//! End to end on the real CIFAR-10, read where it lies: counts, class balance, channel
//! means, the cache, and normalised statistics.
//!
//! The data is `$CIFAR10_JPEG` (the JPEG archive `cifar10-jpeg.tar.gz`, or any CIFAR-10
//! source `scalefree` reads), else what `make data` left at `data/cifar10`
//! (`$SCALEFREE_DATA/cifar10` when that is set). Where neither is there, the test prints
//! that it was skipped and why, and passes; it fails instead when `CIFAR10_JPEG` is set
//! but names nothing, or when `CI=true` (`.ci/run` sets both, to the shared copy).
mod data_support;
mod require;

use data_support::channel_statistics;
use scalefree::data::{default_source, load, DatasetKind, Loader, LoaderConfig, CIFAR10_CLASSES};
use std::path::PathBuf;
use std::time::Instant;

/// The variable naming the real data.
const VAR: &str = "CIFAR10_JPEG";
const REAL_DATA_TEST: &str = "real_cifar10_loads_decodes_and_caches";

/// The real CIFAR-10, or `None` when the test is to be skipped (the reason printed).
fn real_cifar10() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(VAR).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(path);
        assert!(
            path.exists(),
            "{VAR}={} does not exist: point {VAR} at the CIFAR-10 JPEG archive \
             (cifar10-jpeg.tar.gz) or another CIFAR-10 source, or unset it to skip this test",
            path.display()
        );
        return Some(path);
    }
    let made = default_source(DatasetKind::Cifar10);
    if made.exists() {
        return Some(made);
    }
    require::skip_or_fail(
        REAL_DATA_TEST,
        &format!(
            "no real CIFAR-10: {VAR} is not set and {} (where `make data` puts it) does not exist",
            made.display()
        ),
        &format!("set {VAR}=/path/to/cifar10-jpeg.tar.gz or run `make data` to run this test"),
    );
    None
}

#[test]
fn real_cifar10_loads_decodes_and_caches() {
    let Some(source) = real_cifar10() else {
        return;
    };
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
    for (c, (mean, std)) in channel_statistics(&loader).into_iter().enumerate() {
        eprintln!("normalised test channel {c}: mean {mean:.4}, std {std:.4}");
        assert!(
            mean.abs() < 0.05 && (std - 1.0).abs() < 0.05,
            "channel {c}: {mean} {std}"
        );
    }
}

#[test]
fn without_the_data_the_real_data_test_is_skipped_and_says_why() {
    let out = require::rerun_test(REAL_DATA_TEST, &[(VAR, None), ("SCALEFREE_DATA", None)]);
    out.assert_passed();
    let made = out
        .dir
        .path()
        .canonicalize()
        .unwrap()
        .join("data")
        .join("cifar10");
    for needle in [
        format!("SKIPPED {REAL_DATA_TEST}: no real CIFAR-10"),
        format!("{VAR} is not set"),
        format!(
            "{} (where `make data` puts it) does not exist",
            made.display()
        ),
    ] {
        assert!(
            out.text.contains(&needle),
            "no `{needle}` in:\n{}",
            out.text
        );
    }
}

#[test]
fn required_but_missing_data_fails_the_real_data_test_naming_the_variable() {
    // Named by the variable, but not there.
    let out = require::rerun_test(
        REAL_DATA_TEST,
        &[(VAR, Some("/nonexistent/cifar10-jpeg.tar.gz"))],
    );
    out.assert_failed();
    let needle = format!("{VAR}=/nonexistent/cifar10-jpeg.tar.gz does not exist");
    assert!(out.text.contains(&needle), "{}", out.text);

    // Required by CI=true, and neither the variable nor `make data`'s copy is there.
    let out = require::rerun_test(
        REAL_DATA_TEST,
        &[(VAR, None), ("SCALEFREE_DATA", None), ("CI", Some("true"))],
    );
    out.assert_failed();
    for needle in ["CI=true requires it", &format!("set {VAR}=")] {
        assert!(out.text.contains(needle), "no `{needle}` in:\n{}", out.text);
    }
    assert!(!out.text.contains("SKIPPED"), "{}", out.text);
}
