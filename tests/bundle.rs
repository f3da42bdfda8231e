//! The bundle of `make bundle` (scripts/bundle.sh over this build's binaries) used as a
//! cluster node would use it: unpacked in a bare folder, run through its launcher with
//! nothing but a python that has torch, and bench/gpu.sh in its CPU-only form.
mod train_support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use train_support::{read_json, tiny_experiment, workspace, write_tiny_cifar10};

/// The bundle, built once for the tests of this file: (its unpacked folder, the .tar.gz).
fn bundle() -> (&'static Path, &'static Path) {
    static BUNDLE: OnceLock<(tempfile::TempDir, PathBuf, PathBuf)> = OnceLock::new();
    let (_, folder, archive) = BUNDLE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let bin_dir = Path::new(env!("CARGO_BIN_EXE_scalefree")).parent().unwrap();
        let dist = dir.path().join("dist");
        let out = Command::new("bash")
            .arg("scripts/bundle.sh")
            .arg("2.13.0")
            .arg(bin_dir)
            .arg(&dist)
            .current_dir(workspace())
            .output()
            .unwrap();
        assert!(out.status.success(), "bundle.sh: {}", text(&out));
        let archive = std::fs::read_dir(&dist)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with(".tar.gz"))
            .expect("a .tar.gz in dist/");
        // Unpacked elsewhere, as on the node: nothing of the repository beside it.
        let node = dir.path().join("node");
        std::fs::create_dir(&node).unwrap();
        let out = Command::new("tar")
            .arg("xzf")
            .arg(&archive)
            .arg("-C")
            .arg(&node)
            .output()
            .unwrap();
        assert!(out.status.success(), "tar: {}", text(&out));
        let folder = std::fs::read_dir(&node)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        (dir, folder, archive)
    });
    (folder, archive)
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A command in the unpacked bundle with a bare environment: no cargo, no venv on PATH,
/// no LD_LIBRARY_PATH; the PyTorch is `python`.
fn in_bundle(program: &str, python: &Path) -> Command {
    let (folder, _) = bundle();
    let mut cmd = Command::new(program);
    cmd.current_dir(folder)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", std::env::temp_dir())
        .env("SCALEFREE_PYTHON", python)
        .env(
            "SCALEFREE_CACHE_DIR",
            std::env::temp_dir().join("scalefree-test-cache"),
        );
    cmd
}

fn venv_python() -> PathBuf {
    workspace().join(".venv/bin/python")
}

/// An executable script standing in for python.
fn fake_python(dir: &Path, body: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("python");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn the_bundle_is_small_and_holds_what_a_node_needs() {
    let (folder, archive) = bundle();
    let size = std::fs::metadata(archive).unwrap().len();
    assert!(size < 60_000_000, "bundle of {size} bytes");
    for file in [
        "scalefree",
        "torch-env.sh",
        "README.md",
        "TORCH_VERSION",
        "bin/scalefree",
        "bin/examples/bench_optim",
        "bin/examples/bench_data",
        "experiments/paper-best.json",
        "bench/gpu.sh",
        "bench/gpu_check.py",
        "bench/compare.py",
        "bench/pytorch/trial.py",
        "bench/pytorch/reference_iterates.py",
    ] {
        assert!(folder.join(file).exists(), "the bundle lacks {file}");
    }
    assert_eq!(
        std::fs::read_to_string(folder.join("TORCH_VERSION"))
            .unwrap()
            .trim(),
        "2.13.0"
    );
}

#[test]
fn the_launcher_runs_the_binary_on_the_libtorch_of_the_pythons_torch() {
    let out = in_bundle("./scalefree", &venv_python())
        .args(["info", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let info: serde_json::Value = serde_json::from_str(&stdout[stdout.find('{').unwrap()..])
        .unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let torch_lib = workspace().join(".venv/lib");
    let loaded = PathBuf::from(info["libtorch_lib_dir"].as_str().unwrap());
    assert!(
        loaded
            .canonicalize()
            .unwrap()
            .starts_with(torch_lib.canonicalize().unwrap()),
        "libtorch from {} (venv: {})",
        loaded.display(),
        torch_lib.display()
    );
    assert!(info["libtorch_built_for"]
        .as_str()
        .unwrap()
        .starts_with("2.13.0"));
}

#[test]
fn the_launcher_names_a_missing_python_a_missing_torch_and_another_release() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            PathBuf::from("/nonexistent/python3"),
            vec!["SCALEFREE_PYTHON=/nonexistent/python3 is not an executable file"],
        ),
        (
            PathBuf::from("python3-not-installed-anywhere"),
            vec![
                "no 'python3-not-installed-anywhere' on PATH",
                "set SCALEFREE_PYTHON",
            ],
        ),
        (
            fake_python(
                &dir.path().join("a"),
                "echo \"ModuleNotFoundError: No module named 'torch'\" >&2; exit 1",
            ),
            vec![
                "cannot import torch",
                "No module named 'torch'",
                "torch==2.13.0",
            ],
        ),
        (
            fake_python(
                &dir.path().join("b"),
                "echo 2.11.0+cu130; echo /opt/torch/lib",
            ),
            vec![
                "built for torch 2.13.0",
                "has torch 2.11.0+cu130",
                "make bundle TORCH_VERSION=2.11.0",
            ],
        ),
        (
            fake_python(
                &dir.path().join("c"),
                "echo 2.13.0+cu126; echo /nonexistent/torch/lib",
            ),
            vec!["has no /nonexistent/torch/lib/libtorch_cpu.so"],
        ),
    ];
    for (python, wanted) in cases {
        let out = in_bundle("./scalefree", &python)
            .arg("info")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let message = text(&out);
        for piece in wanted {
            assert!(message.contains(piece), "{piece:?} not in: {message}");
        }
    }
}

#[test]
fn in_a_bundle_missing_data_says_to_copy_it_not_to_run_make_data() {
    let empty = tempfile::tempdir().unwrap();
    let out = in_bundle("./scalefree", &venv_python())
        .env("SCALEFREE_DATA", empty.path())
        .arg("info")
        .output()
        .unwrap();
    let message = text(&out);
    assert!(out.status.success(), "{message}");
    assert!(
        message.contains("(missing: copy cifar10 there from a machine that has it"),
        "{message}"
    );
    assert!(!message.contains("run `make data`"), "{message}");
    let out = in_bundle("./scalefree", &venv_python())
        .env("SCALEFREE_DATA", empty.path())
        .args(["train", "--max-steps", "1"])
        .output()
        .unwrap();
    let message = text(&out);
    assert_eq!(out.status.code(), Some(1), "{message}");
    assert!(message.contains("copy cifar10 there"), "{message}");
    assert!(!message.contains("make data DATASET"), "{message}");
}

#[test]
fn gpu_sh_without_a_gpu_runs_the_cpu_parts_and_says_the_cuda_ones_were_skipped() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_cifar10(&dir.path().join("data/cifar10"), 512, 64);
    let results = dir.path().join("results");
    let out = in_bundle("bash", &venv_python())
        .env("SCALEFREE_DATA", dir.path().join("data"))
        .arg("bench/gpu.sh")
        .arg(&results)
        .args(["--quick", "--threads", "2"])
        .output()
        .unwrap();
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("skipped: GPU busy while training (torch sees no GPU on this machine)"),
        "{log}"
    );
    let report = read_json(&results.join("gpu.json"));
    assert_eq!(report["cuda_skipped"], "torch sees no GPU on this machine");
    let steps = report["steps"].as_array().unwrap();
    let status = |start: &str| {
        steps
            .iter()
            .find(|s| s["name"].as_str().unwrap().starts_with(start))
            .unwrap_or_else(|| panic!("no step {start}: {report}"))["status"]
            .clone()
    };
    for step in [
        "scalefree info",
        "check device (cpu",
        "optimizer on cpu vs the Python float64 reference",
        "train on cpu",
        "SIGTERM and --resume on cpu",
        "side by side with PyTorch on cpu",
    ] {
        assert_eq!(status(step), "passed", "{step}: {report}");
    }
    assert_eq!(status("GPU busy"), "skipped");
    let markdown = std::fs::read_to_string(results.join("gpu.md")).unwrap();
    assert!(
        markdown.contains("| GPU busy while training | skipped |"),
        "{markdown}"
    );
    // At most a few files: the report and the benchmark's own pair.
    let mut files: Vec<String> = std::fs::read_dir(&results)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["bench.json", "bench.md", "gpu.json", "gpu.md"]);
}

#[test]
fn a_slurm_job_submitted_from_a_bundle_runs_through_its_launcher() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_cifar10(&dir.path().join("data"), 64, 16);
    let experiment = dir.path().join("tiny.json");
    tiny_experiment(&experiment, "tiny", &dir.path().join("data"));
    // sbatch that accepts the job and prints its id.
    let fake_bin = dir.path().join("bin");
    std::fs::create_dir(&fake_bin).unwrap();
    let sbatch = fake_bin.join("sbatch");
    std::fs::write(&sbatch, "#!/bin/sh\necho 4242\n").unwrap();
    std::fs::set_permissions(&sbatch, std::fs::Permissions::from_mode(0o755)).unwrap();
    let runs = dir.path().join("runs");
    let out = in_bundle("./scalefree", &venv_python())
        .env(
            "PATH",
            format!("{}:/usr/local/bin:/usr/bin:/bin", fake_bin.display()),
        )
        .args(["sweep", "--backend", "slurm", "--runs"])
        .arg(&runs)
        .arg(&experiment)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let scripts: Vec<PathBuf> = std::fs::read_dir(runs.join("tiny/slurm"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "sbatch"))
        .collect();
    assert_eq!(scripts.len(), 1);
    let script = std::fs::read_to_string(&scripts[0]).unwrap();
    let (folder, _) = bundle();
    let launcher = folder.join("scalefree");
    // The task's run, then the summary run brought up to date: both through the launcher.
    for command in ["'train'", "sweep status"] {
        assert!(
            script.contains(&format!("'{}' {command} ", launcher.display())),
            "{script}"
        );
    }
}
