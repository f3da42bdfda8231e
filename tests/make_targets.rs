//! What the Makefile would run, read with `make -n` (nothing is executed): TensorBoard
//! serves this machine only unless `TB_HOST` asks for more, on every run or on one
//! experiment's folder; `make test-quick` names only test files that exist.
mod require;

use std::path::Path;
use std::process::Command;

/// `make -n <args>` in the repository, without the caller's make or TensorBoard settings.
fn make_n(args: &[&str]) -> Option<String> {
    let mut cmd = Command::new("make");
    cmd.arg("-n")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .env_remove("MAKELEVEL")
        .env_remove("TB_HOST")
        .env_remove("TB_PORT")
        .env_remove("EXPERIMENT");
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) => {
            require::skip_or_fail(
                "make_targets",
                &format!("cannot run make ({e})"),
                "install make",
            );
            return None;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "make -n {}: {text}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(text)
}

/// The line of `make -n` output that starts TensorBoard.
fn tensorboard_line(text: &str) -> &str {
    text.lines()
        .find(|l| l.contains("bin/tensorboard "))
        .unwrap_or_else(|| panic!("no tensorboard command in:\n{text}"))
}

#[test]
fn make_tensorboard_serves_this_machine_only_by_default() {
    let Some(text) = make_n(&["tensorboard"]) else {
        return;
    };
    let line = tensorboard_line(&text);
    assert!(
        line.ends_with("--logdir runs --host localhost --port 6006"),
        "{line}"
    );
    for exposed in ["--bind_all", "0.0.0.0", "::"] {
        assert!(!text.contains(exposed), "`{exposed}` in:\n{text}");
    }
}

#[test]
fn tb_host_and_tb_port_choose_where_tensorboard_listens() {
    let Some(text) = make_n(&["tensorboard", "TB_HOST=0.0.0.0", "TB_PORT=6100"]) else {
        return;
    };
    let line = tensorboard_line(&text);
    assert!(line.ends_with("--host 0.0.0.0 --port 6100"), "{line}");
    assert!(!text.contains("--bind_all"), "{text}");
}

#[test]
fn experiment_opens_one_experiments_folder_in_tensorboard() {
    let Some(text) = make_n(&["tensorboard", "EXPERIMENT=cifar10-quick"]) else {
        return;
    };
    let line = tensorboard_line(&text);
    assert!(
        line.ends_with("--logdir runs/cifar10-quick --host localhost --port 6006"),
        "{line}"
    );
    assert!(text.contains("test -d runs/cifar10-quick"), "{text}");
}

/// Every `--test NAME` of `make test-quick` is one test file of the workspace (`NAME.rs`
/// in the tests folder of the root package or of one of the crates), named once: a
/// renamed or deleted file fails here rather than in cargo's "no test target named".
#[test]
fn every_test_that_test_quick_names_is_a_test_file() {
    let Some(text) = make_n(&["test-quick"]) else {
        return;
    };
    let line = text
        .lines()
        .find(|l| l.contains(" test --release --workspace --lib "))
        .unwrap_or_else(|| panic!("no cargo test command in:\n{text}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let names: Vec<&str> = words
        .windows(2)
        .filter(|w| w[0] == "--test")
        .map(|w| w[1])
        .collect();
    assert!(names.len() >= 10, "{line}");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = vec![root.join("tests")];
    for krate in std::fs::read_dir(root.join("crates")).unwrap() {
        dirs.push(krate.unwrap().path().join("tests"));
    }
    for (i, name) in names.iter().enumerate() {
        assert!(
            !names[..i].contains(name),
            "`{name}` is named twice: {line}"
        );
        let files: Vec<_> = dirs
            .iter()
            .map(|dir| dir.join(format!("{name}.rs")))
            .filter(|file| file.is_file())
            .collect();
        assert_eq!(files.len(), 1, "`--test {name}` of test-quick: {files:?}");
    }
}
