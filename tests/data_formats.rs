//! The readers: official binary format (folder and .tar.gz), image folders (folder and
//! .tar.gz), the cache and the validation split, on small sources written here.
mod data_support;

use data_support::*;
use scalefree::data::{load, Dataset, DatasetKind, CIFAR10_CLASSES};
use std::time::{Duration, SystemTime};

fn assert_matches(d: &Dataset, e: &Expected) {
    assert_eq!(d.train.images, e.train_images);
    assert_eq!(d.train.labels, e.train_labels);
    assert_eq!(d.test.images, e.test_images);
    assert_eq!(d.test.labels, e.test_labels);
}

#[test]
fn cifar10_binary_folder_round_trips_with_channel_order() {
    let tmp = temp_dir();
    let dir = tmp.path().join("cifar10");
    let expected = write_cifar10(&dir);
    let names: String = CIFAR10_CLASSES.iter().map(|c| format!("{c}\n")).collect();
    std::fs::write(dir.join("batches.meta.txt"), names + "\n").unwrap();

    let d = load(DatasetKind::Cifar10, &dir, None).unwrap();
    assert_matches(&d, &expected);
    assert_eq!(d.kind, DatasetKind::Cifar10);
    assert_eq!(d.classes, CIFAR10_CLASSES.to_vec());
    assert_eq!((d.train.len(), d.test.len()), (15, 4));
    assert!(d.train.coarse_labels.is_none());
    // Record bytes 1..1025 are R, then G, then B: the image keeps that order (CHW).
    let first = pixels(3);
    assert_eq!(d.train.image(0)[0], first[0]);
    assert_eq!(d.train.image(0)[1024], first[1024]);
    assert_eq!(d.train.image(0)[2048 + 5], first[2048 + 5]);
}

#[test]
fn cifar10_official_archive_layout_round_trips() {
    let tmp = temp_dir();
    let expected = write_cifar10(&tmp.path().join("src"));
    let archive = tmp.path().join("cifar-10-binary.tar.gz");
    tar_gz(&tmp.path().join("src"), "cifar-10-batches-bin", &archive);

    let d = load(DatasetKind::Cifar10, &archive, None).unwrap();
    assert_matches(&d, &expected);
    // No batches.meta.txt: labels are named by number.
    assert_eq!(
        d.classes,
        (0..10).map(|i| i.to_string()).collect::<Vec<_>>()
    );

    // The same files, extracted, one folder down.
    let d2 = load(DatasetKind::Cifar10, tmp.path(), None).unwrap();
    assert_eq!(d, d2);
}

#[test]
fn cifar100_binary_folder_and_archive_round_trip_with_both_labels() {
    let tmp = temp_dir();
    let dir = tmp.path().join("cifar-100-binary");
    let expected = write_cifar100(&dir);
    let fine: String = (0..100).map(|i| format!("fine{i:02}\n")).collect();
    let coarse: String = (0..20).map(|i| format!("coarse{i:02}\n")).collect();
    std::fs::write(dir.join("fine_label_names.txt"), fine).unwrap();
    std::fs::write(dir.join("coarse_label_names.txt"), coarse).unwrap();

    let d = load(DatasetKind::Cifar100, &dir, None).unwrap();
    assert_matches(&d, &expected);
    assert_eq!(
        d.train.coarse_labels.as_ref().unwrap(),
        &expected.train_coarse
    );
    assert_eq!(
        d.test.coarse_labels.as_ref().unwrap(),
        &expected.test_coarse
    );
    assert_eq!(d.classes[42], "fine42");
    assert_eq!(d.coarse_classes.as_ref().unwrap()[19], "coarse19");

    let archive = tmp.path().join("cifar-100-binary.tar.gz");
    tar_gz(&dir, "cifar-100-binary", &archive);
    assert_eq!(load(DatasetKind::Cifar100, &archive, None).unwrap(), d);
}

#[test]
fn png_image_folder_round_trips_in_official_class_order() {
    let tmp = temp_dir();
    let (train, test) = write_png_folder(tmp.path(), 3);

    let d = load(DatasetKind::Cifar10, tmp.path(), None).unwrap();
    assert_eq!(d.classes, CIFAR10_CLASSES.to_vec());
    assert_eq!((d.train.len(), d.test.len()), (30, 10));
    for (c, images) in train.iter().enumerate() {
        for (i, image) in images.iter().enumerate() {
            assert_eq!(
                d.train.image(c * 3 + i),
                image.as_slice(),
                "class {c} image {i}"
            );
            assert_eq!(d.train.labels[c * 3 + i], c as i64);
        }
    }
    for (c, images) in test.iter().enumerate() {
        assert_eq!(d.test.image(c), images[0].as_slice());
        assert_eq!(d.test.labels[c], c as i64);
    }
}

#[test]
fn jpeg_image_folder_in_archive_under_a_top_folder() {
    let tmp = temp_dir();
    let src = tmp.path().join("tree");
    let names: Vec<String> = (0..10).rev().map(|i| format!("kind{i}")).collect();
    for (k, name) in names.iter().enumerate() {
        let colour = [k as u8 * 20, 255 - k as u8 * 20, 100];
        save_rgb(&src.join(format!("train/{name}/a.jpg")), &solid(colour), 32);
        save_rgb(
            &src.join(format!("train/{name}/b.JPEG")),
            &solid(colour),
            32,
        );
        save_rgb(&src.join(format!("test/{name}/x.jpeg")), &solid(colour), 32);
    }
    std::fs::write(src.join("train/kind0/notes.txt"), "ignored").unwrap();
    let archive = tmp.path().join("tree.tar.gz");
    tar_gz(&src, "cifar10-jpeg", &archive);

    let d = load(DatasetKind::Cifar10, &archive, None).unwrap();
    // Not CIFAR-10's names, so sorted.
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(d.classes, sorted);
    assert_eq!((d.train.len(), d.test.len()), (20, 10));
    for (i, &label) in d.train.labels.iter().enumerate() {
        let k = names
            .iter()
            .position(|n| *n == d.classes[label as usize])
            .unwrap();
        let colour = [k as u8 * 20, 255 - k as u8 * 20, 100];
        for (c, plane) in d.train.image(i).chunks(1024).enumerate() {
            assert!(plane
                .iter()
                .all(|&p| (p as i32 - colour[c] as i32).abs() <= 3));
        }
    }
}

#[test]
fn cache_is_used_while_the_source_is_unchanged_and_rebuilt_after() {
    let tmp = temp_dir();
    let dir = tmp.path().join("data");
    let cache = tmp.path().join("cache");
    let expected = write_cifar10(&dir);
    let first = load(DatasetKind::Cifar10, &dir, Some(&cache)).unwrap();
    assert_matches(&first, &expected);
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 1);
    assert_eq!(
        load(DatasetKind::Cifar10, &dir, Some(&cache)).unwrap(),
        first
    );

    // Same size and time: the cache answers, so the change is not seen.
    let test_file = dir.join("test_batch.bin");
    let stamp = std::fs::metadata(&test_file).unwrap().modified().unwrap();
    let mut bytes = std::fs::read(&test_file).unwrap();
    bytes[0] = 0;
    std::fs::write(&test_file, &bytes).unwrap();
    set_mtime(&test_file, stamp);
    assert_eq!(
        load(DatasetKind::Cifar10, &dir, Some(&cache))
            .unwrap()
            .test
            .labels[0],
        9
    );

    // A new time: rebuilt.
    set_mtime(&test_file, stamp + Duration::from_secs(5));
    let rebuilt = load(DatasetKind::Cifar10, &dir, Some(&cache)).unwrap();
    assert_eq!(rebuilt.test.labels[0], 0);
    assert_eq!(
        load(DatasetKind::Cifar10, &dir, Some(&cache)).unwrap(),
        rebuilt
    );

    // A damaged cache file is ignored and rewritten.
    let cache_file = std::fs::read_dir(&cache)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&cache_file, b"garbage").unwrap();
    assert_eq!(
        load(DatasetKind::Cifar10, &dir, Some(&cache)).unwrap(),
        rebuilt
    );
    assert!(std::fs::metadata(&cache_file).unwrap().len() > 1000);
}

#[test]
fn archive_cache_round_trips_cifar100_coarse_labels() {
    let tmp = temp_dir();
    write_cifar100(&tmp.path().join("src"));
    let archive = tmp.path().join("c100.tar.gz");
    tar_gz(&tmp.path().join("src"), "cifar-100-binary", &archive);
    let cache = tmp.path().join("cache");
    let direct = load(DatasetKind::Cifar100, &archive, None).unwrap();
    assert_eq!(
        load(DatasetKind::Cifar100, &archive, Some(&cache)).unwrap(),
        direct
    );
    assert_eq!(
        load(DatasetKind::Cifar100, &archive, Some(&cache)).unwrap(),
        direct
    );
}

fn set_mtime(path: &std::path::Path, time: SystemTime) {
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.set_modified(time).unwrap();
}

#[test]
fn validation_split_is_stratified_disjoint_and_seeded() {
    let tmp = temp_dir();
    write_png_folder(tmp.path(), 10);
    let d = load(DatasetKind::Cifar10, tmp.path(), None).unwrap();
    let (train, val) = d.split_validation(0.2, 5).unwrap();
    assert_eq!((train.len(), val.len()), (80, 20));
    assert_eq!(val.class_counts(10), vec![2; 10]);
    assert_eq!(train.class_counts(10), vec![8; 10]);
    // Every training image lands in exactly one part.
    let mut all: Vec<&[u8]> = train
        .images
        .chunks(3072)
        .chain(val.images.chunks(3072))
        .collect();
    let mut original: Vec<&[u8]> = d.train.images.chunks(3072).collect();
    all.sort();
    original.sort();
    assert_eq!(all, original);

    assert_eq!(
        d.split_validation(0.2, 5).unwrap(),
        (train.clone(), val.clone())
    );
    assert_ne!(d.split_validation(0.2, 6).unwrap().1, val);
    assert_eq!(d.split_validation(0.0, 5).unwrap().1.len(), 0);
    assert!(d.split_validation(1.0, 5).is_err());
}
