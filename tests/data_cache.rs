//! The decoded-data cache is checked when it is read: a changed byte (here a label of
//! 200, which libtorch would reject with a panic) is noticed, said, and the cache is
//! rebuilt from the dataset; the run trains as if nothing had happened.
mod train_support;

use train_support::{metrics_without_timing, scalefree, stderr, write_tiny_cifar10};

#[test]
fn a_damaged_data_cache_is_rebuilt_with_a_warning_instead_of_crashing_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 64, 20);
    let cache = dir.path().join("cache");
    let run = |out: &str| {
        scalefree()
            .env("SCALEFREE_CACHE_DIR", &cache)
            .args(["train", "--quiet", "--model", "resnet8", "--epochs", "1"])
            .args([
                "--batch-size",
                "32",
                "--threads",
                "1",
                "--device",
                "cpu",
                "--data",
            ])
            .arg(&data)
            .arg("--out")
            .arg(dir.path().join(out))
            .output()
            .unwrap()
    };
    let first = run("first");
    assert!(first.status.success(), "{}", stderr(&first));
    let files: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let file = &files[0];
    let mut bytes = std::fs::read(file).unwrap();
    // The file ends with the test labels (CIFAR-10 has no coarse labels).
    let last = bytes.len() - 1;
    assert!(bytes[last] < 10);
    bytes[last] = 200;
    std::fs::write(file, &bytes).unwrap();

    let second = run("second");
    assert!(second.status.success(), "{}", stderr(&second));
    let msg = stderr(&second);
    assert!(
        msg.contains("the data cache is damaged") && msg.contains("rebuilding it"),
        "{msg}"
    );
    assert!(
        std::fs::read(file).unwrap()[last] < 10,
        "the cache was rebuilt"
    );
    assert_eq!(
        metrics_without_timing(&dir.path().join("second")),
        metrics_without_timing(&dir.path().join("first"))
    );
}
