//! The table of settings is the one place a setting is described: the help of `train`'s
//! flags, its defaults, `--print-config` and docs/training.md's list all come from it.
mod generated_docs;

use scalefree::config::keys::{markdown_table, SETTINGS};
use scalefree::config::RunConfig;
use std::process::Command;

const BEGIN: &str =
    "<!-- BEGIN settings: generated from src/config/keys.rs, do not edit by hand -->";
const END: &str = "<!-- END settings -->";

/// docs/training.md's list of settings is the table's, as generated; with
/// `SCALEFREE_BLESS=1` this test writes it there.
#[test]
fn the_docs_list_of_settings_is_the_table() {
    generated_docs::assert_generated(
        "docs/training.md",
        BEGIN,
        END,
        &markdown_table(),
        "SCALEFREE_BLESS=1 cargo test --release --test settings_table",
    );
}

#[test]
fn every_flag_of_every_command_has_help() {
    let mut missing = Vec::new();
    let root = scalefree::cli::command();
    let mut stack = vec![(String::from("scalefree"), root)];
    while let Some((path, command)) = stack.pop() {
        for arg in command.get_arguments() {
            let builtin = ["help", "version"].contains(&arg.get_id().as_str());
            if !builtin && arg.get_help().is_none() && arg.get_long_help().is_none() {
                missing.push(format!("{path} {}", arg.get_id()));
            }
        }
        for sub in command.get_subcommands() {
            stack.push((format!("{path} {}", sub.get_name()), sub.clone()));
        }
    }
    assert!(missing.is_empty(), "flags without help: {missing:?}");
}

/// `train --help` shows every setting's default, and it is what `--print-config` prints
/// when nothing is given.
#[test]
fn train_help_shows_each_default_and_print_config_agrees() {
    let bin = env!("CARGO_BIN_EXE_scalefree");
    let help = Command::new(bin)
        .args(["train", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout).to_string();
    let dir = tempfile::tempdir().unwrap();
    let printed = Command::new(bin)
        .args(["train", "--print-config"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(printed.status.success(), "{printed:?}");
    let printed: serde_json::Value = serde_json::from_slice(&printed.stdout).unwrap();
    // clap wraps long help lines: compare without line breaks and indentation.
    let flat_help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    for setting in SETTINGS.iter() {
        let shown = format!("[default: {}]", setting.default_text());
        let shown = shown.split_whitespace().collect::<Vec<_>>().join(" ");
        let flagged = flat_help.contains(&format!("{} ", setting.flag()));
        assert_eq!(flagged, setting.has_flag, "{}: a flag?", setting.flag());
        assert!(
            !setting.has_flag || flat_help.contains(&shown),
            "`train --help` lacks {} with {shown}:\n{help}",
            setting.flag()
        );
        assert_eq!(
            printed[setting.key],
            setting.default_value(),
            "--print-config's {} differs from the default --help shows",
            setting.key
        );
    }
    let defaults = serde_json::to_value(RunConfig::default()).unwrap();
    assert_eq!(printed, defaults);
}
