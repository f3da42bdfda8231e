//! The loader's pinned-memory path (batches for CUDA) prints nothing: tch's
//! `pin_memory(device)` made libtorch 2.13 warn, on every call, that its device argument
//! is deprecated (about four lines per batch in every run's log). libtorch prints from
//! C++ to the process's stderr, so the path runs in a child process of this test binary
//! and the test reads the child's stderr.
use scalefree::data::{pinned, DatasetKind, Loader, LoaderConfig, Split};
use std::process::Command;
use tch::{Device, Kind, Tensor};

const CHILD: &str = "SCALEFREE_TEST_PINNED_CHILD";

/// The pinned path, in this process: on a CUDA machine a whole epoch through the loader
/// (pinned host batches, copied to the GPU), and one tensor pinned; without CUDA the
/// pinning alone, which libtorch refuses with an error (the deprecated call warned first).
fn pin_in_this_process() {
    let host = Tensor::arange(3072 * 2, (Kind::Float, Device::Cpu));
    if tch::Cuda::is_available() {
        let split = Split {
            images: (0..10 * 3072).map(|i| (i % 256) as u8).collect(),
            labels: (0..10).map(|i| i % 10).collect(),
            coarse_labels: None,
        };
        let config = LoaderConfig {
            batch_size: 4,
            device: Device::Cuda(0),
            ..LoaderConfig::train(1)
        };
        let loader = Loader::new(split, DatasetKind::Cifar10, config).unwrap();
        for batch in loader.epoch(0) {
            assert_eq!(batch.unwrap().images.device(), Device::Cuda(0));
        }
        let copy = pinned(&host, Device::Cuda(0)).unwrap();
        assert!(copy.equal(&host));
    } else {
        assert!(pinned(&host, Device::Cuda(0)).is_err());
    }
}

#[test]
fn the_pinned_path_prints_nothing() {
    if std::env::var_os(CHILD).is_some() {
        pin_in_this_process();
        return;
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "the_pinned_path_prints_nothing",
            "--test-threads",
            "1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("1 passed"),
        "the child ran the test: {stdout}"
    );
    assert!(
        stderr.trim().is_empty(),
        "the pinned path printed:\n{stderr}"
    );
}
