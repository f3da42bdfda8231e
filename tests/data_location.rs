//! Where datasets are looked for without `--data`: decided when the command runs, from
//! `$SCALEFREE_DATA` or `data/` in the current directory, never from where the binary was
//! built; `scalefree info` says where.
mod train_support;

use std::path::Path;
use std::process::Command;
use train_support::{scalefree, stderr, stdout, write_tiny_cifar10};

/// `scalefree` run in `cwd`, with `SCALEFREE_DATA` set to `data` (or removed).
fn scalefree_in(cwd: &Path, data: Option<&Path>) -> Command {
    let mut cmd = scalefree();
    cmd.current_dir(cwd).env_remove("SCALEFREE_CACHE_DIR");
    match data {
        Some(dir) => cmd.env("SCALEFREE_DATA", dir),
        None => cmd.env_remove("SCALEFREE_DATA"),
    };
    cmd
}

#[test]
fn info_says_data_is_looked_for_in_the_current_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path().canonicalize().unwrap();
    let out = scalefree_in(&cwd, None).arg("info").output().unwrap();
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    let dir = cwd.join("data");
    for line in [
        format!(
            "data folder      {} (data/ in the current directory; SCALEFREE_DATA overrides)",
            dir.display()
        ),
        format!(
            "  cifar10        {} (missing: run `make data` (or `make data DATASET=cifar10`), or --data PATH)",
            dir.join("cifar10").display()
        ),
        format!("  cache          {}", dir.join("cache").display()),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "no line `{line}` in:\n{text}"
        );
    }
    // Nothing points into the source tree the binary was built from.
    let built_in = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    assert!(!text.contains(&built_in.display().to_string()), "{text}");
}

#[test]
fn info_json_follows_scalefree_data() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().canonicalize().unwrap().join("datasets");
    std::fs::create_dir_all(data.join("cifar10")).unwrap();
    let out = scalefree_in(tmp.path(), Some(&data))
        .args(["info", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let d = &json["data"];
    assert_eq!(d["dir"], data.display().to_string(), "{json:#}");
    assert_eq!(d["dir_from"], "SCALEFREE_DATA");
    assert_eq!(d["cifar10"], data.join("cifar10").display().to_string());
    assert_eq!(d["cifar10_found"], true);
    assert_eq!(d["cifar100_found"], false);
    assert_eq!(d["cache_dir"], data.join("cache").display().to_string());
    // The environment fields stay at the top level (`make cifar10` greps cuda_available).
    assert!(json["cuda_available"].is_boolean(), "{json:#}");
}

#[test]
fn train_without_data_reads_scalefree_data_else_the_current_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path().canonicalize().unwrap();
    let train = |data: Option<&Path>, out: &str| {
        scalefree_in(&cwd, data)
            .args(["train", "--quiet", "--threads", "1", "--device", "cpu"])
            .args(["--model", "resnet8", "--epochs", "1", "--max-steps", "2"])
            .args([
                "--batch-size",
                "16",
                "--eval-every",
                "0",
                "--hist-every",
                "0",
            ])
            .arg("--out")
            .arg(cwd.join(out))
            .output()
            .unwrap()
    };

    // No data anywhere: the error names <current directory>/data/cifar10.
    let out = train(None, "runs/none");
    assert!(!out.status.success());
    let missing = cwd.join("data").join("cifar10");
    assert!(
        stderr(&out).contains(&missing.display().to_string()),
        "{}",
        stderr(&out)
    );

    // SCALEFREE_DATA names a folder holding cifar10/: it trains from there.
    let data = cwd.join("elsewhere");
    write_tiny_cifar10(&data.join("cifar10"), 64, 20);
    let out = train(Some(&data), "runs/var");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(cwd.join("runs/var/summary.json").is_file());
    assert!(
        data.join("cache").is_dir(),
        "the cache goes beside the data"
    );

    // The current directory's data/cifar10, without the variable.
    write_tiny_cifar10(&cwd.join("data").join("cifar10"), 64, 20);
    let out = train(None, "runs/cwd");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(cwd.join("runs/cwd/summary.json").is_file());
    assert!(
        cwd.join("data").join("cache").is_dir(),
        "no cache beside data/cifar10"
    );
}
