//! Bad input gives a clear `DataError` naming the file at fault, never a panic.
mod data_support;

use data_support::*;
use scalefree::data::{load, DataError, DatasetKind};
use std::path::Path;

fn error(kind: DatasetKind, source: &Path) -> (DataError, String) {
    let e = load(kind, source, None).expect_err("loading should fail");
    let message = e.to_string();
    (e, message)
}

#[test]
fn truncated_cifar10_file_names_file_size_and_record() {
    let tmp = temp_dir();
    write_cifar10(tmp.path());
    let file = tmp.path().join("data_batch_2.bin");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() - 10]).unwrap();
    let (e, msg) = error(DatasetKind::Cifar10, tmp.path());
    assert!(
        matches!(
            e,
            DataError::RecordSize {
                size: 9209,
                record: 3073,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        msg.contains("data_batch_2.bin") && msg.contains("9209") && msg.contains("3073"),
        "{msg}"
    );
}

#[test]
fn wrong_size_cifar100_file_names_the_3074_byte_record() {
    let tmp = temp_dir();
    write_cifar100(tmp.path());
    std::fs::write(tmp.path().join("test.bin"), vec![0u8; 3073 * 2]).unwrap();
    let (e, msg) = error(DatasetKind::Cifar100, tmp.path());
    assert!(
        matches!(e, DataError::RecordSize { record: 3074, .. }),
        "{e:?}"
    );
    assert!(
        msg.contains("test.bin") && msg.contains("6146") && msg.contains("3074"),
        "{msg}"
    );
}

#[test]
fn empty_bin_file_is_refused() {
    let tmp = temp_dir();
    write_cifar10(tmp.path());
    std::fs::write(tmp.path().join("test_batch.bin"), b"").unwrap();
    let (e, msg) = error(DatasetKind::Cifar10, tmp.path());
    assert!(matches!(e, DataError::RecordSize { size: 0, .. }), "{e:?}");
    assert!(msg.contains("test_batch.bin"), "{msg}");
}

#[test]
fn labels_out_of_range_are_refused() {
    let tmp = temp_dir();
    write_cifar10(tmp.path());
    write_bin(
        &tmp.path().join("data_batch_4.bin"),
        &[(vec![3], 0), (vec![10], 1)],
    );
    let (e, msg) = error(DatasetKind::Cifar10, tmp.path());
    assert!(
        matches!(
            e,
            DataError::LabelOutOfRange {
                record: 1,
                label: 10,
                limit: 10,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(msg.contains("data_batch_4.bin"), "{msg}");

    let tmp = temp_dir();
    write_cifar100(tmp.path());
    write_bin(&tmp.path().join("train.bin"), &[(vec![20, 5], 0)]);
    let (e, _) = error(DatasetKind::Cifar100, tmp.path());
    assert!(
        matches!(
            e,
            DataError::LabelOutOfRange {
                which: "coarse",
                label: 20,
                ..
            }
        ),
        "{e:?}"
    );
    write_bin(&tmp.path().join("train.bin"), &[(vec![2, 100], 0)]);
    let (e, _) = error(DatasetKind::Cifar100, tmp.path());
    assert!(
        matches!(
            e,
            DataError::LabelOutOfRange {
                which: "fine",
                label: 100,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn missing_binary_file_is_named() {
    let tmp = temp_dir();
    write_cifar10(tmp.path());
    std::fs::remove_file(tmp.path().join("data_batch_3.bin")).unwrap();
    let (e, msg) = error(DatasetKind::Cifar10, tmp.path());
    assert!(matches!(e, DataError::MissingFile { .. }), "{e:?}");
    assert!(msg.contains("data_batch_3.bin"), "{msg}");
}

#[test]
fn wrong_kind_and_nothing_found_say_what_was_looked_for() {
    let tmp = temp_dir();
    write_cifar100(tmp.path());
    let (e, msg) = error(DatasetKind::Cifar10, tmp.path());
    assert!(matches!(e, DataError::NotFound { .. }), "{e:?}");
    assert!(msg.contains("cifar100 binary"), "{msg}");

    let empty = temp_dir();
    let (_, msg) = error(DatasetKind::Cifar10, empty.path());
    assert!(
        msg.contains("data_batch_1.bin") && msg.contains("train/<class>/"),
        "{msg}"
    );

    let (e, msg) = error(DatasetKind::Cifar10, &empty.path().join("nope"));
    assert!(
        matches!(e, DataError::Io { .. }) && msg.contains("nope"),
        "{msg}"
    );
}

#[test]
fn empty_class_folder_is_named() {
    let tmp = temp_dir();
    write_png_folder(tmp.path(), 1);
    for f in std::fs::read_dir(tmp.path().join("train/cat")).unwrap() {
        std::fs::remove_file(f.unwrap().path()).unwrap();
    }
    let (e, msg) = error(DatasetKind::Cifar10, tmp.path());
    assert!(matches!(e, DataError::EmptyClass { .. }), "{e:?}");
    assert!(msg.contains("train/cat"), "{msg}");
}

#[test]
fn corrupt_image_is_named() {
    let tmp = temp_dir();
    write_png_folder(tmp.path(), 1);
    let bad = tmp.path().join("test/dog/0000.png");
    let bytes = std::fs::read(&bad).unwrap();
    std::fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();
    let (e, msg) = error(DatasetKind::Cifar10, tmp.path());
    assert!(matches!(e, DataError::BadImage { .. }), "{e:?}");
    assert!(msg.contains("test/dog/0000.png"), "{msg}");

    std::fs::write(&bad, b"not an image at all").unwrap();
    let (e, _) = error(DatasetKind::Cifar10, tmp.path());
    assert!(matches!(e, DataError::BadImage { .. }), "{e:?}");
}

#[test]
fn images_other_than_32x32_rgb_are_refused_not_resized() {
    let tmp = temp_dir();
    write_png_folder(tmp.path(), 1);
    let file = tmp.path().join("train/frog/0000.png");

    image::GrayImage::new(32, 32).save(&file).unwrap();
    let (e, msg) = error(DatasetKind::Cifar10, tmp.path());
    assert!(matches!(e, DataError::ImageShape { .. }), "{e:?}");
    assert!(
        msg.contains("train/frog/0000.png") && msg.contains("L8"),
        "{msg}"
    );

    image::RgbaImage::new(32, 32).save(&file).unwrap();
    let (_, msg) = error(DatasetKind::Cifar10, tmp.path());
    assert!(msg.contains("Rgba8"), "{msg}");

    save_rgb(&file, &vec![7u8; 3 * 16 * 16], 16);
    let (e, msg) = error(DatasetKind::Cifar10, tmp.path());
    assert!(
        matches!(
            e,
            DataError::ImageShape {
                width: 16,
                height: 16,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(msg.contains("16x16"), "{msg}");
}

#[test]
fn missing_test_split_is_named() {
    let tmp = temp_dir();
    write_png_folder(tmp.path(), 1);
    std::fs::remove_dir_all(tmp.path().join("test")).unwrap();
    let (e, msg) = error(DatasetKind::Cifar10, tmp.path());
    assert!(
        matches!(e, DataError::MissingSplit { split: "test", .. }),
        "{e:?}"
    );
    assert!(msg.contains("'test'"), "{msg}");
}

#[test]
fn class_folders_must_agree_and_match_the_kind() {
    let tmp = temp_dir();
    write_png_folder(tmp.path(), 1);
    std::fs::rename(tmp.path().join("test/ship"), tmp.path().join("test/boat")).unwrap();
    let (e, _) = error(DatasetKind::Cifar10, tmp.path());
    assert!(matches!(e, DataError::ClassMismatch { .. }), "{e:?}");

    let tmp = temp_dir();
    write_png_folder(tmp.path(), 1);
    let (e, msg) = error(DatasetKind::Cifar100, tmp.path());
    assert!(
        matches!(
            e,
            DataError::ClassCount {
                found: 10,
                expected: 100,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(msg.contains("cifar100"), "{msg}");
}

#[test]
fn archives_that_are_not_gzip_or_are_cut_short_are_refused() {
    let tmp = temp_dir();
    let fake = tmp.path().join("cifar-10-binary.tar.gz");
    std::fs::write(&fake, b"PK\x03\x04 this is a zip, not a gzip").unwrap();
    let (e, msg) = error(DatasetKind::Cifar10, &fake);
    assert!(matches!(e, DataError::NotGzip { .. }), "{e:?}");
    assert!(
        msg.contains("cifar-10-binary.tar.gz") && msg.contains("gzip"),
        "{msg}"
    );

    write_cifar10(&tmp.path().join("src"));
    let archive = tmp.path().join("cut.tar.gz");
    tar_gz(&tmp.path().join("src"), "cifar-10-batches-bin", &archive);
    let bytes = std::fs::read(&archive).unwrap();
    std::fs::write(&archive, &bytes[..bytes.len() / 2]).unwrap();
    let (e, msg) = error(DatasetKind::Cifar10, &archive);
    assert!(matches!(e, DataError::Archive { .. }), "{e:?}");
    assert!(msg.contains("cut.tar.gz"), "{msg}");
}

#[test]
fn loader_arguments_are_checked() {
    use scalefree::data::{Loader, LoaderConfig, Split};
    let config = LoaderConfig {
        batch_size: 0,
        ..LoaderConfig::train(1)
    };
    assert!(Loader::new(Split::default(), DatasetKind::Cifar10, config).is_err());
    let loader = Loader::new(Split::default(), DatasetKind::Cifar10, LoaderConfig::test()).unwrap();
    assert_eq!(loader.batches_per_epoch(), 0);
    assert!(loader.batch(0, 0).is_err());
    assert_eq!(loader.epoch(0).count(), 0);
}

/// Packs `dir` under `top/` into a gzip archive of stored (uncompressed) deflate blocks,
/// so that the archive's bytes hold the files' bytes as they are.
fn tar_gz_stored(dir: &Path, top: &str, out: &Path) {
    let file = std::fs::File::create(out).unwrap();
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::none());
    let mut builder = tar::Builder::new(gz);
    builder.append_dir_all(top, dir).unwrap();
    builder.into_inner().unwrap().finish().unwrap();
}

#[test]
fn an_archive_whose_gzip_checksum_does_not_match_is_refused_naming_it() {
    let tmp = temp_dir();
    write_cifar10(&tmp.path().join("src"));
    let archive = tmp.path().join("damaged.tar.gz");
    tar_gz_stored(&tmp.path().join("src"), "cifar-10-batches-bin", &archive);
    // Overwrite pixels of a record in place: the deflate stream and the tar headers stay
    // valid, only the CRC-32 in the gzip trailer tells.
    let mut bytes = std::fs::read(&archive).unwrap();
    let pixels = &pixels(7)[100..132];
    let at = bytes
        .windows(pixels.len())
        .position(|w| w == pixels)
        .expect("the record's pixels are stored as they are");
    bytes[at..at + pixels.len()].fill(0);
    std::fs::write(&archive, &bytes).unwrap();

    let (e, msg) = error(DatasetKind::Cifar10, &archive);
    assert!(matches!(e, DataError::Archive { .. }), "{e:?}");
    assert!(
        msg.contains("damaged.tar.gz") && msg.contains("CRC-32") && msg.contains("damaged"),
        "{msg}"
    );
}

#[test]
fn a_damaged_jpeg_in_an_image_folder_archive_is_refused_naming_the_member() {
    let tmp = temp_dir();
    let src = tmp.path().join("src");
    for (c, class) in scalefree::data::CIFAR10_CLASSES.iter().enumerate() {
        save_rgb(
            &src.join(format!("train/{class}/0000.jpg")),
            &chw_image(c),
            32,
        );
        save_rgb(
            &src.join(format!("test/{class}/0000.jpg")),
            &chw_image(c + 50),
            32,
        );
    }
    let archive = tmp.path().join("jpegs.tar.gz");
    tar_gz(&src, "cifar10-jpeg", &archive);
    load(DatasetKind::Cifar10, &archive, None).expect("the intact archive loads");

    // A file cut short (a copy or a download that stopped), and bytes overwritten in the
    // middle of the image data: a lenient decoder fills what it cannot read with grey.
    let bad = src.join("train/horse/0000.jpg");
    let intact = std::fs::read(&bad).unwrap();
    let start_of_scan = intact.windows(2).position(|w| w == [0xff, 0xda]).unwrap();
    let middle = (start_of_scan + intact.len()) / 2;
    let mut overwritten = intact.clone();
    overwritten[middle..middle + 16].fill(0xff);
    for damaged in [intact[..middle].to_vec(), overwritten] {
        std::fs::write(&bad, &damaged).unwrap();
        tar_gz(&src, "cifar10-jpeg", &archive);
        let (e, msg) = error(DatasetKind::Cifar10, &archive);
        assert!(matches!(e, DataError::BadImage { .. }), "{e:?}");
        assert!(
            msg.contains("jpegs.tar.gz:cifar10-jpeg/train/horse/0000.jpg")
                && msg.contains("damaged JPEG data"),
            "{msg}"
        );
    }
}

#[test]
fn a_damaged_tar_header_is_said_to_be_damaged_in_printable_words() {
    let tmp = temp_dir();
    write_cifar10(&tmp.path().join("src"));
    let archive = tmp.path().join("header.tar.gz");
    tar_gz_stored(&tmp.path().join("src"), "cifar-10-batches-bin", &archive);
    // A header's checksum field (bytes 148..156 of its 512-byte block, which starts with
    // the member's name) overwritten with binary garbage, as a bad disk or copy leaves it.
    let mut bytes = std::fs::read(&archive).unwrap();
    let name = b"cifar-10-batches-bin/test_batch.bin";
    let at = bytes
        .windows(name.len())
        .position(|w| w == name)
        .expect("the member's header is stored as it is");
    bytes[at + 148..at + 156].copy_from_slice(b"\x00\x07\xff\xfe\x1b[2J");
    std::fs::write(&archive, &bytes).unwrap();

    let (e, msg) = error(DatasetKind::Cifar10, &archive);
    assert!(matches!(e, DataError::Archive { .. }), "{e:?}");
    assert!(
        msg.contains("header.tar.gz") && msg.contains("the archive is damaged"),
        "{msg}"
    );
    assert!(
        !msg.chars().any(|c| c.is_control() || c == '\u{fffd}'),
        "unprintable characters in {msg:?}"
    );
}
