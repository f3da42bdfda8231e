//! The batch pipeline: crop with zero fill, flips, normalisation, determinism across
//! thread counts, resuming, prefetching.
mod data_support;

use data_support::channel_statistics;
use scalefree::data::{Batch, DatasetKind, Loader, LoaderConfig, Split};
use std::sync::Arc;

const KIND: DatasetKind = DatasetKind::Cifar10;

fn floats(t: &tch::Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(t.reshape([-1])).unwrap()
}

fn longs(t: &tch::Tensor) -> Vec<i64> {
    Vec::<i64>::try_from(t.reshape([-1])).unwrap()
}

/// Back from normalised floats to the byte values (0 where the crop fell on padding).
fn bytes_of(batch: &Batch) -> Vec<u8> {
    let (mean, std) = (KIND.mean(), KIND.std());
    floats(&batch.images)
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let c = i / 1024 % 3;
            ((v * std[c] + mean[c]) * 255.0).round() as u8
        })
        .collect()
}

/// `n` copies of an image whose red is 8x+4 and green 8y+4 (never 0), labels 0..10 cycling.
fn coordinate_split(n: usize) -> Split {
    let mut image = vec![200u8; 3072];
    for y in 0..32 {
        for x in 0..32 {
            image[y * 32 + x] = (8 * x + 4) as u8;
            image[1024 + y * 32 + x] = (8 * y + 4) as u8;
        }
    }
    Split {
        images: image.repeat(n),
        labels: (0..n as i64).map(|i| i % 10).collect(),
        coarse_labels: None,
    }
}

/// A split whose channels have exactly CIFAR-10's mean and std (up to rounding to bytes):
/// half the pixels at mean - std, half at mean + std.
fn known_statistics_split(n: usize) -> Split {
    let (mean, std) = (KIND.mean(), KIND.std());
    let mut images = Vec::with_capacity(n * 3072);
    for _ in 0..n {
        for c in 0..3 {
            for p in 0..1024 {
                let sign = if (p + p / 32) % 2 == 0 { 1.0 } else { -1.0 };
                images.push(((mean[c] + sign * std[c]) * 255.0).round() as u8);
            }
        }
    }
    Split {
        images,
        labels: (0..n as i64).map(|i| i % 10).collect(),
        coarse_labels: None,
    }
}

fn config(seed: u64, batch_size: usize) -> LoaderConfig {
    LoaderConfig {
        batch_size,
        ..LoaderConfig::train(seed)
    }
}

#[test]
fn crops_are_shifts_with_zero_fill_and_flips_happen_half_the_time() {
    let loader = Loader::new(coordinate_split(512), KIND, config(3, 128)).unwrap();
    let (mut flips, mut dxs, mut dys) = (0, [0; 9], [0; 9]);
    for batch in loader.epoch(0) {
        let bytes = bytes_of(&batch.unwrap());
        for image in bytes.chunks(3072) {
            // Columns 15 and 16 of the crop always come from inside the image.
            let (a, b) = (
                image[15 * 32 + 15] as i64 / 8,
                image[15 * 32 + 16] as i64 / 8,
            );
            let flip = b == a - 1;
            assert!(flip || b == a + 1);
            let dx = if flip { a - 12 } else { a - 11 };
            let dy = image[1024 + 15 * 32 + 15] as i64 / 8 - 11;
            assert!((0..=8).contains(&dx) && (0..=8).contains(&dy));
            for y in 0..32i64 {
                for x in 0..32i64 {
                    let cx = if flip { 31 - x } else { x };
                    let (sx, sy) = (cx + dx - 4, y + dy - 4);
                    let inside = (0..32).contains(&sx) && (0..32).contains(&sy);
                    let want = |v: i64| if inside { v as u8 } else { 0 };
                    let i = (y * 32 + x) as usize;
                    assert_eq!(image[i], want(8 * sx + 4), "red at {y},{x}");
                    assert_eq!(image[1024 + i], want(8 * sy + 4), "green at {y},{x}");
                    assert_eq!(image[2048 + i], want(200), "blue at {y},{x}");
                }
            }
            flips += flip as usize;
            dxs[dx as usize] += 1;
            dys[dy as usize] += 1;
        }
    }
    let rate = flips as f64 / 512.0;
    assert!((rate - 0.5).abs() < 0.1, "flip rate {rate}");
    assert!(dxs.iter().chain(&dys).all(|&n| n > 0), "{dxs:?} {dys:?}");
}

#[test]
fn normalisation_gives_zero_mean_unit_std_per_channel() {
    let loader = Loader::new(known_statistics_split(300), KIND, LoaderConfig::test()).unwrap();
    for (c, (mean, std)) in channel_statistics(&loader).into_iter().enumerate() {
        assert!(
            mean.abs() < 0.02 && (std - 1.0).abs() < 0.02,
            "channel {c}: {mean} {std}"
        );
    }
}

#[test]
fn evaluation_batches_are_in_order_unaugmented_and_the_last_one_is_kept() {
    let split = Arc::new(coordinate_split(250));
    let loader = Loader::new(split.clone(), KIND, LoaderConfig::test()).unwrap();
    assert_eq!(loader.batches_per_epoch(), 2);
    let batches: Vec<Batch> = loader.epoch(0).map(Result::unwrap).collect();
    assert_eq!(batches[0].images.size(), vec![128, 3, 32, 32]);
    assert_eq!(batches[0].images.kind(), tch::Kind::Float);
    assert_eq!(batches[1].len(), 122);
    assert_eq!(batches[1].labels.kind(), tch::Kind::Int64);
    let labels: Vec<i64> = batches.iter().flat_map(|b| longs(&b.labels)).collect();
    assert_eq!(labels, split.labels);
    assert_eq!(bytes_of(&batches[1]), split.images[128 * 3072..]);

    let dropping = LoaderConfig {
        drop_last: true,
        ..LoaderConfig::test()
    };
    let loader = Loader::new(split, KIND, dropping).unwrap();
    assert_eq!(loader.batches_per_epoch(), 1);
    assert_eq!(loader.epoch(0).count(), 1);
}

#[test]
fn same_seed_same_batches_with_one_or_two_threads() {
    let loader = Loader::new(coordinate_split(300), KIND, config(11, 64)).unwrap();
    let build = |threads| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| [(0, 0), (0, 4), (2, 1)].map(|(e, i)| loader.batch(e, i).unwrap()))
    };
    let (one, two) = (build(1), build(2));
    for (a, b) in one.iter().zip(&two) {
        assert!(a.images.equal(&b.images) && a.labels.equal(&b.labels));
    }
    // The prefetching iterator builds the same batches.
    let epoch2: Vec<Batch> = loader.epoch(2).map(Result::unwrap).collect();
    assert!(epoch2[1].images.equal(&one[2].images));
    // A different seed or epoch gives different batches.
    let other = Loader::new(coordinate_split(300), KIND, config(12, 64)).unwrap();
    assert!(!other.batch(0, 0).unwrap().images.equal(&one[0].images));
    assert!(!loader.batch(1, 0).unwrap().images.equal(&one[0].images));
}

#[test]
fn order_depends_only_on_seed_and_epoch() {
    let labels = |batch_size, epoch| -> Vec<i64> {
        let loader = Loader::new(coordinate_split(100), KIND, config(5, batch_size)).unwrap();
        loader
            .epoch(epoch)
            .flat_map(|b| longs(&b.unwrap().labels))
            .collect()
    };
    assert_eq!(labels(32, 3), labels(7, 3));
    assert_ne!(labels(32, 3), labels(32, 4));
}

#[test]
fn resuming_gives_the_batches_iterating_from_the_start_gives() {
    let loader = Loader::new(coordinate_split(300), KIND, config(9, 32)).unwrap();
    let full: Vec<Batch> = loader.epoch(4).map(Result::unwrap).collect();
    assert_eq!(full.len(), 10);
    let resumed: Vec<Batch> = loader.epoch_from(4, 6).map(Result::unwrap).collect();
    assert_eq!(resumed.len(), 4);
    for (a, b) in full[6..].iter().zip(&resumed) {
        assert_eq!((a.epoch, a.index), (b.epoch, b.index));
        assert!(a.images.equal(&b.images) && a.labels.equal(&b.labels));
    }
    // A fresh loader (as after a restart) agrees too.
    let restarted = Loader::new(coordinate_split(300), KIND, config(9, 32)).unwrap();
    assert!(restarted.batch(4, 9).unwrap().images.equal(&full[9].images));
    assert_eq!(loader.epoch_from(4, 10).count(), 0);
}

#[test]
fn dropping_an_epoch_early_stops_the_prefetch_thread() {
    let config = LoaderConfig {
        prefetch: 1,
        ..config(1, 8)
    };
    let loader = Loader::new(coordinate_split(400), KIND, config).unwrap();
    let mut batches = loader.epoch(0);
    assert_eq!(batches.len(), 50);
    batches.next().unwrap().unwrap();
    assert_eq!(batches.len(), 49);
    drop(batches);
}
