//! What a local sweep shows while it runs: without a terminal, a line per ended run with
//! its result, the runs ended of the total, the elapsed time and an ETA; in a terminal
//! (a pseudo-terminal from `script`), one bar with the running run's step.
mod require;
mod train_support;

use std::path::Path;
use std::process::Command;
use train_support::{scalefree, stderr, stdout, tiny_experiment, write_tiny_cifar10};

#[test]
fn without_a_terminal_each_ended_run_is_a_line_with_its_result_count_elapsed_and_eta() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 64, 20);
    let experiment = dir.path().join("tiny.json");
    tiny_experiment(&experiment, "tiny", &data);
    let out = scalefree()
        .arg("sweep")
        .arg(&experiment)
        .arg("--runs")
        .arg(dir.path().join("runs"))
        .args(["--jobs", "1", "--threads", "1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    let ended: Vec<&str> = text.lines().filter(|l| l.starts_with("finished")).collect();
    assert_eq!(ended.len(), 4, "{text}");
    for (k, line) in ended.iter().enumerate() {
        assert!(
            line.contains(": test accuracy ") && line.contains(" % after 1 epoch, "),
            "{line}"
        );
        assert!(
            line.contains(&format!("({}/4 runs ended, elapsed ", k + 1)),
            "{line}"
        );
        // Every run but the last leaves work to estimate.
        assert_eq!(line.contains(", ETA "), k < 3, "{line}");
    }
}

/// The output `command` writes to a pseudo-terminal (`script`), or `None` (skipped) where
/// there is no `script`.
fn on_a_terminal(test: &str, command: &str) -> Option<String> {
    if require::on_path(&["script"]).is_none() {
        require::skip_or_fail(
            test,
            "no `script` on PATH to run the sweep on a pseudo-terminal",
            "install util-linux (bsdutils on Debian)",
        );
        return None;
    }
    let out = Command::new("script")
        .args(["-qfec", command, "/dev/null"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    Some(stdout(&out))
}

fn shell_quoted(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

#[test]
fn in_a_terminal_one_bar_shows_the_running_runs_step_and_the_tally() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 64, 20);
    // Runs of 40 small steps each, long enough for the bar to be drawn while one runs.
    let experiment = dir.path().join("slow.json");
    let spec = serde_json::json!({
        "name": "slow",
        "base": { "data": data, "epochs": 5, "batch_size": 8, "hist_every": 0,
                  "model": "resnet8" },
        "grids": [ { "optimizer": ["adamw", "adam-l2"] } ]
    });
    std::fs::write(&experiment, spec.to_string()).unwrap();
    let binary = scalefree().get_program().to_owned();
    let command = format!(
        "{} sweep {} --runs {} --jobs 1 --threads 1",
        shell_quoted(Path::new(&binary)),
        shell_quoted(&experiment),
        shell_quoted(&dir.path().join("runs"))
    );
    let test = "in_a_terminal_one_bar_shows_the_running_runs_step_and_the_tally";
    let Some(screen) = on_a_terminal(test, &command) else {
        return;
    };
    assert!(
        screen.contains("/2 runs ended, elapsed "),
        "no tally on the bar: {screen}"
    );
    let name = train_support::plan_run_dirs(&dir.path().join("runs"), "slow")[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        screen.contains(&format!("{name} step ")) && screen.contains("/40, "),
        "the running run's step is not on the bar: {screen}"
    );
    assert!(screen.contains(" steps/s"), "{screen}");
    // On a terminal the ended run's line is left above the bar without the tally (the
    // line of the screen holds the bar's last drawing before it).
    let finished = format!("finished {name}:");
    let at = screen
        .find(&finished)
        .unwrap_or_else(|| panic!("no finished line: {screen}"));
    let ended = screen[at..].lines().next().unwrap();
    assert!(ended.contains(" % after 5 epochs, "), "{ended}");
    assert!(!ended.contains("runs ended"), "{ended}");
}
