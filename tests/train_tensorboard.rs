//! The TensorBoard event files of a run, read back with TensorBoard's own Python reader:
//! scalars and histograms are there under their tags, at the right steps, with the values
//! the run reported elsewhere.
mod train_support;

use train_support::{read_json, stderr, train, venv_python, workspace, write_tiny_cifar10};

#[test]
fn tensorboard_reads_the_scalars_and_histograms_at_their_steps() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 96, 20);
    let out = dir.path().join("run");
    // 3 batches per epoch, 2 epochs: histograms at steps 1, 2, 4 and 6.
    let output = train(
        &data,
        &out,
        &[
            "--epochs",
            "2",
            "--batch-size",
            "32",
            "--hist-every",
            "2",
            "--bn",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));

    let read = venv_python()
        .arg(workspace().join("tests/read_tensorboard.py"))
        .arg(out.join("tb"))
        .output()
        .unwrap();
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let events: serde_json::Value = serde_json::from_slice(&read.stdout).unwrap();
    let scalars = &events["scalars"];
    let histograms = &events["histograms"];

    let steps = |series: &serde_json::Value| -> Vec<u64> {
        series
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e[0].as_u64().unwrap())
            .collect()
    };
    for tag in [
        "train/loss",
        "train/accuracy",
        "test/loss",
        "test/accuracy",
        "opt/lr",
        "perf/images_per_s",
    ] {
        assert_eq!(steps(&scalars[tag]), vec![3, 6], "{tag}");
    }
    // The logged values are those of metrics.jsonl.
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(metrics.lines().last().unwrap()).unwrap();
    let logged = scalars["test/accuracy"][1][1].as_f64().unwrap();
    assert!((logged - last["test_accuracy"].as_f64().unwrap()).abs() < 1e-6);
    let lr = scalars["opt/lr"][0][1].as_f64().unwrap();
    assert!((lr - 1e-3).abs() < 1e-9);

    for tag in [
        "scale/grad_log2_spread",
        "scale/layer_median_range",
        "scale/update_log2_spread",
        "scale/update_layer_median_range",
    ] {
        assert_eq!(steps(&scalars[tag]), vec![1, 2, 4, 6], "{tag}");
    }
    for kind in ["grad", "update", "update_over_lr", "param"] {
        let merged = &histograms[format!("hist/{kind}/all")];
        assert_eq!(steps(merged), vec![1, 2, 4, 6], "hist/{kind}/all");
        // One bucket for zeros, then one per octave from 2^-27 to 2^13.
        let limits = merged[0][1].as_array().unwrap();
        assert_eq!(limits.len(), 42);
        assert_eq!(limits[0].as_f64(), Some(-28.0));
        assert_eq!(limits[41].as_f64(), Some(14.0));
        // Every non-BN layer has its own histogram, and no BN layer has one.
        assert!(
            histograms
                .get(format!("hist/{kind}/stage3.block3.conv2"))
                .is_some(),
            "{kind}"
        );
        assert!(
            histograms.get(format!("hist/{kind}/fc")).is_some(),
            "{kind}"
        );
        assert!(histograms
            .as_object()
            .unwrap()
            .keys()
            .all(|k| !k.contains(".bn") && !k.ends_with("/bn1")));
    }
    // ResNet-20 has 19 conv layers and fc; the merged histogram counts all their weights.
    let conv_and_fc_params = 268_346.0;
    let counts: f64 = histograms["hist/param/all"][0][2]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_f64().unwrap())
        .sum();
    assert_eq!(counts, conv_and_fc_params);
    let summary = read_json(&out.join("summary.json"));
    assert_eq!(summary["status"], "completed");
}

/// TensorBoard (the loader of its web page, and the classic one) shows each step once
/// after a run restarts from an earlier point than the one its last process reached: from
/// the beginning after a kill inside its first checkpoint, and again after `checkpoint/`
/// was deleted from a finished run; and it shows what the run that never stopped shows.
#[test]
fn a_run_restarted_from_an_earlier_point_shows_each_step_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 96, 20);
    // 3 batches per epoch, 3 epochs: evaluations at steps 3, 6 and 9.
    let flags = [
        "--model",
        "resnet8",
        "--epochs",
        "3",
        "--batch-size",
        "32",
        "--hist-every",
        "2",
    ];
    let straight = dir.path().join("straight");
    assert!(train(&data, &straight, &flags).status.success());

    let resume = [&flags[..], &["--resume"]].concat();
    let deleted = dir.path().join("deleted");
    assert!(train(&data, &deleted, &flags).status.success());
    std::fs::remove_dir_all(deleted.join("checkpoint")).unwrap();
    let output = train(&data, &deleted, &resume);
    assert!(output.status.success(), "{}", stderr(&output));

    check_shown_once(&straight, &deleted);

    let restarted = dir.path().join("restarted");
    // SIGKILL inside the first checkpoint write (test hook, src/fault.rs), after the
    // evaluation at step 3 went to TensorBoard: no checkpoint is complete.
    let killed =
        train_support::train_with_fault(&data, &restarted, "checkpoint:optimizer:1", &flags);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&killed.status),
        Some(9)
    );
    assert!(!restarted.join("checkpoint").exists());
    let output = train(&data, &restarted, &resume);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("starting from the beginning"));

    check_shown_once(&straight, &restarted);
}

/// What TensorBoard shows of `run` is what it shows of `straight`, every step once.
fn check_shown_once(straight: &std::path::Path, run: &std::path::Path) {
    let shown = train_support::tensorboard_ui(&[straight, run]);
    let expected = &shown[straight.display().to_string()];
    assert_eq!(
        train_support::tensorboard_steps(expected)
            .into_iter()
            .find(|(tag, _)| tag == "scalars:test/accuracy")
            .unwrap()
            .1,
        vec![3, 6, 9]
    );
    let events = &shown[run.display().to_string()];
    assert_eq!(
        train_support::tensorboard_steps(events),
        train_support::tensorboard_steps(expected),
        "steps TensorBoard shows for {}",
        run.display()
    );
    assert_eq!(
        train_support::tensorboard_without_timing(events),
        train_support::tensorboard_without_timing(expected),
        "values TensorBoard shows for {}",
        run.display()
    );
    // The classic reader agrees.
    let classic = venv_python()
        .arg(workspace().join("tests/read_tensorboard.py"))
        .arg(run.join("tb"))
        .output()
        .unwrap();
    let classic: serde_json::Value = serde_json::from_slice(&classic.stdout).unwrap();
    let steps = |e: &serde_json::Value| -> Vec<u64> {
        e.as_array()
            .unwrap()
            .iter()
            .map(|x| x[0].as_u64().unwrap())
            .collect()
    };
    assert_eq!(steps(&classic["scalars"]["test/accuracy"]), vec![3, 6, 9]);
    assert_eq!(
        steps(&classic["histograms"]["hist/grad/all"]),
        vec![1, 2, 4, 6, 8],
        "{}",
        run.display()
    );
}
