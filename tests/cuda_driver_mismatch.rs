//! A GPU machine whose NVIDIA driver is older than the torch wheel's CUDA: `nvidia-smi`
//! lists GPUs, libtorch sees none. A run that would use a GPU stops, saying why and how to
//! get a matching wheel, instead of training on the CPU. `nvidia-smi` is a stub on PATH;
//! on a machine where libtorch does see a GPU, the stub must not stop anything.
mod train_support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use train_support::{scalefree, stderr, stdout, tiny_experiment, write_tiny_cifar10};

/// A folder holding an `nvidia-smi` that lists two GPUs on driver 470 (CUDA 11.4).
fn stub_nvidia_smi(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("nvidia-smi");
    std::fs::write(
        &script,
        r#"#!/bin/sh
case "$*" in
  *--query-gpu=name,driver_version*)
    echo "NVIDIA A100-SXM4-40GB, 470.82.01"
    echo "NVIDIA A100-SXM4-40GB, 470.82.01" ;;
  *)
    echo "| NVIDIA-SMI 470.82.01    Driver Version: 470.82.01    CUDA Version: 11.4     |" ;;
esac
"#,
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

fn with_stub(mut cmd: Command, bin: &Path) -> Output {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![bin.to_path_buf()];
    dirs.extend(std::env::split_paths(&path));
    cmd.env("PATH", std::env::join_paths(dirs).unwrap());
    cmd.output().unwrap()
}

fn libtorch_sees_a_gpu() -> bool {
    tch::Cuda::device_count() > 0
}

fn assert_says_why(output: &Output, flag: &str) {
    let text = stderr(output);
    assert_eq!(output.status.code(), Some(1), "{}{text}", stdout(output));
    for needle in [
        flag,
        "nvidia-smi lists 2 GPU(s)",
        "driver 470.82.01, which supports CUDA up to 11.4",
        "libtorch sees none",
        "TORCH_CUDA",
        "at most cu114",
        "--device cpu",
    ] {
        assert!(text.contains(needle), "no {needle:?} in: {text}");
    }
}

#[test]
fn train_with_device_auto_stops_when_nvidia_smi_lists_gpus_libtorch_cannot_see() {
    let dir = tempfile::tempdir().unwrap();
    let bin = stub_nvidia_smi(dir.path());
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 32, 10);
    let train = |device: &str, out: &Path| {
        let mut cmd = scalefree();
        cmd.args(["train", "--quiet", "--threads", "1", "--model", "resnet8"])
            .args([
                "--max-steps",
                "1",
                "--batch-size",
                "16",
                "--hist-every",
                "0",
            ])
            .args(["--device", device, "--data"])
            .arg(&data)
            .arg("--out")
            .arg(out);
        with_stub(cmd, &bin)
    };
    let auto = dir.path().join("auto");
    let output = train("auto", &auto);
    if libtorch_sees_a_gpu() {
        assert!(output.status.success(), "{}", stderr(&output));
        return;
    }
    assert_says_why(&output, "--device auto");
    assert!(!auto.exists(), "nothing is written for a refused run");
    // Asked for CUDA by name, it says the same.
    assert_says_why(&train("cuda", &dir.path().join("cuda")), "\"cuda\"");
    // Asked for the CPU, it trains there.
    let output = train("cpu", &dir.path().join("cpu"));
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn a_sweep_without_a_device_stops_too_and_runs_on_the_cpu_when_told() {
    let dir = tempfile::tempdir().unwrap();
    let bin = stub_nvidia_smi(dir.path());
    let experiment = dir.path().join("tiny.json");
    tiny_experiment(&experiment, "tiny", &dir.path().join("data"));
    let sweep = |extra: &[&str]| {
        let mut cmd = scalefree();
        cmd.arg("sweep")
            .arg(&experiment)
            .arg("--runs")
            .arg(dir.path().join("runs"))
            .args(["--dry-run"])
            .args(extra);
        with_stub(cmd, &bin)
    };
    if libtorch_sees_a_gpu() {
        let output = sweep(&[]);
        assert!(output.status.success(), "{}", stderr(&output));
        return;
    }
    assert_says_why(&sweep(&[]), "--device (default: the GPUs)");
    let cpu = sweep(&["--device", "cpu"]);
    assert!(cpu.status.success(), "{}", stderr(&cpu));
    assert!(stdout(&cpu).contains("4 to run"), "{}", stdout(&cpu));
}
