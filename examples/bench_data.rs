//! `make bench-data`: the data pipeline on the real CIFAR-10 (e.g. the JPEG archive).
//!
//! Measures the cold load (decode every image and write the cache), the cached load, and
//! the augmented training images per second delivered by the prefetching iterator to a
//! consumer that does nothing else.
//!
//! Usage: bench_data [--source ARCHIVE_OR_DIR] [--epochs N] [--threads N] [--out DIR]
//!
//! With `--trial`, it loads through the project's cache (data/cache) and prints one JSON
//! line: the images/s of one epoch timed from its first batch on, as `bench/compare.py`
//! times torchvision's `DataLoader` beside it.
//! The source defaults to $CIFAR10_JPEG, else `make data`'s `data/cifar10`
//! (`scalefree::data::default_source`).
#[path = "../crates/optim/examples/bench_optim/support.rs"]
mod support;
use scalefree::data::{load, DatasetKind, Loader, LoaderConfig};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;
use support::arg;

fn main() {
    support::exit_on_error(run);
}

fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let source = arg(&args, "--source")
        .or_else(|| std::env::var("CIFAR10_JPEG").ok())
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| scalefree::data::default_source(DatasetKind::Cifar10));
    if !source.exists() {
        anyhow::bail!(
            "no CIFAR-10 at {}: pass --source PATH, set CIFAR10_JPEG to the archive \
             (e.g. cifar10-jpeg.tar.gz), or run `make data`",
            source.display()
        );
    }
    let epochs: u64 = arg(&args, "--epochs")
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(2);
    let kind = DatasetKind::Cifar10;
    if let Some(threads) = arg(&args, "--threads") {
        let threads: usize = threads
            .parse()
            .map_err(|_| anyhow::anyhow!("--threads needs a number, got `{threads}`"))?;
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()?;
    }
    let threads = rayon::current_num_threads();
    if args.iter().any(|a| a == "--trial") {
        return trial(kind, &source, threads);
    }

    // A private cache folder, so that the first load is cold.
    let cache = tempfile::Builder::new().prefix("bench-data-").tempdir()?;
    let start = Instant::now();
    let dataset = load(kind, &source, Some(cache.path()))?;
    let cold_s = start.elapsed().as_secs_f64();
    eprintln!("cold load (decode + cache write): {cold_s:.2} s");

    let mut cached = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        let again = load(kind, &source, Some(cache.path()))?;
        cached.push(start.elapsed().as_secs_f64());
        assert_eq!(again.train.len(), dataset.train.len());
    }
    cached.sort_by(f64::total_cmp);
    let cached_s = cached[1];
    eprintln!("cached load (median of 3): {cached_s:.3} s");

    let images = dataset.train.len();
    let loader = Loader::new(dataset.train, kind, LoaderConfig::train(0))?;

    // Warm up once, then time whole epochs as a training loop consumes them.
    loader.batch(0, 0)?;
    let start = Instant::now();
    for epoch in 0..epochs {
        for batch in loader.epoch(epoch) {
            std::hint::black_box(batch?);
        }
    }
    let rate = (images as u64 * epochs) as f64 / start.elapsed().as_secs_f64();
    eprintln!("augmented training batches: {rate:.0} images/s");

    let report = json!({
        "benchmark": "data pipeline",
        "source": source.display().to_string(),
        "rayon_threads": threads,
        "train_images": images,
        "batch_size": loader.config().batch_size,
        "epochs_timed": epochs,
        "cold_load_s": cold_s,
        "cached_load_s": cached_s,
        "augmented_images_per_s": rate,
    });
    support::emit_report(arg(&args, "--out").as_deref(), "data", &report)?;
    Ok(())
}

/// One epoch of augmented batches after the first, from the cached dataset.
fn trial(kind: DatasetKind, source: &Path, threads: usize) -> anyhow::Result<()> {
    let dataset = load(kind, source, Some(&scalefree::data::default_cache_dir()))?;
    let loader = Loader::new(dataset.train, kind, LoaderConfig::train(0))?;
    let mut batches = loader.epoch(0);
    batches.next().transpose()?;
    let start = Instant::now();
    let mut images = 0;
    for batch in batches {
        images += std::hint::black_box(batch?).len();
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({ "images_per_s": images as f64 / seconds, "images": images, "threads": threads })
    );
    Ok(())
}
