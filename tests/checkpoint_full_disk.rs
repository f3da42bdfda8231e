//! A checkpoint written onto a full disk (a real one: a tmpfs too small for it) fails with
//! a message naming the file, and leaves no partial `checkpoint.new/` holding the space.
//! Mounting needs root; as another user the test prints that it was skipped and why,
//! unless `CI=true`, which makes it fail. Root where mounting is forbidden (some
//! containers) skips with its reason.
mod require;
mod train_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use train_support::{stderr, train, write_tiny_cifar10};

const TEST: &str = "a_checkpoint_that_does_not_fit_leaves_no_partial_files";

/// A tmpfs of `size` mounted at a fresh folder, unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::Builder::new()
            .prefix("scalefree-full-disk-")
            .tempdir()
            .unwrap()
            .keep();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if mounted {
            Some(SmallDisk(dir))
        } else {
            let _ = std::fs::remove_dir(&dir);
            None
        }
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn a_checkpoint_that_does_not_fit_leaves_no_partial_files() {
    if !require::is_root() {
        require::skip_or_fail(
            TEST,
            "mounting a small tmpfs needs root",
            "run the tests as root",
        );
        return;
    }
    let Some(disk) = SmallDisk::mount("400k") else {
        // Root in a container whose mount namespace forbids mounting: a property of the
        // machine, not something `make test` can install, so said and skipped even in CI.
        eprintln!("{TEST}: skipped: cannot mount a small tmpfs here (the mount namespace does not allow it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 40, 10);
    let out = disk.path().join("run");
    let output = train(
        &data,
        &out,
        &["--model", "resnet8", "--epochs", "1", "--batch-size", "32"],
    );
    let msg = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{msg}");
    assert!(
        msg.contains("checkpoint.new") && msg.contains("No space left on device"),
        "{msg}"
    );
    assert!(
        !out.join("checkpoint.new").exists(),
        "a partial checkpoint.new/ is left: {:?}",
        std::fs::read_dir(out.join("checkpoint.new"))
            .map(|d| d.map(|e| e.unwrap().file_name()).collect::<Vec<_>>())
    );
}
