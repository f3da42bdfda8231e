//! Every optimizer of the table through `scalefree train`: a rule's own settings are
//! flags and run-file keys, recorded in the run's files; a setting its rule lacks, an
//! unknown name or a value out of range is refused naming the flag; resuming with
//! another optimizer is refused, and a resumed run of any rule ends with the same bits.
mod train_support;

use train_support::{
    assert_same_run, read_json, setting, stderr, train, train_refused, write_tiny_cifar10, TINY_RUN,
};

#[test]
fn a_setting_that_the_rule_lacks_is_refused_naming_the_flag_and_the_rules_own() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let msg = train_refused(
        dir.path(),
        &out,
        &["--optimizer", "adamw", "--momentum", "0.9"],
        1,
    );
    assert!(
        msg.contains("--momentum is not a setting of --optimizer adamw (the adam rule)")
            && msg.contains("--beta1, --beta2, --eps, --amsgrad"),
        "{msg}"
    );
    let msg = train_refused(dir.path(), &out, &["--optimizer", "sgd", "--amsgrad"], 1);
    assert!(
        msg.contains("--amsgrad is not a setting of --optimizer sgd"),
        "{msg}"
    );
    assert!(!out.exists(), "nothing is written for a refused run");
}

#[test]
fn an_unknown_optimizer_is_refused_listing_every_name() {
    let dir = tempfile::tempdir().unwrap();
    let msg = train_refused(
        dir.path(),
        &dir.path().join("run"),
        &["--optimizer", "adamx"],
        2,
    );
    assert!(
        msg.contains("unknown optimizer `adamx`")
            && msg.contains("adam-l2-scalefree")
            && msg.contains("lion")
            && msg.contains("adagrad-prox"),
        "{msg}"
    );
}

#[test]
fn a_rule_setting_out_of_range_or_in_a_bad_combination_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let msg = train_refused(
        dir.path(),
        &out,
        &["--optimizer", "sgd", "--dampening", "2"],
        1,
    );
    assert!(
        msg.contains("invalid `dampening` = 2: must be in [0, 1]"),
        "{msg}"
    );
    let msg = train_refused(dir.path(), &out, &["--optimizer", "sgd", "--nesterov"], 1);
    assert!(
        msg.contains("`nesterov`") && msg.contains("momentum > 0"),
        "{msg}"
    );
    let msg = train_refused(
        dir.path(),
        &out,
        &["--optimizer", "rmsprop", "--alpha", "1"],
        1,
    );
    assert!(
        msg.contains("invalid `alpha` = 1: must be in [0, 1)"),
        "{msg}"
    );
}

#[test]
fn every_family_trains_and_its_settings_are_recorded_and_resume_keeps_the_optimizer() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 64, 10);
    let runs: [&[&str]; 5] = [
        &["--optimizer", "sgd", "--momentum", "0.9", "--nesterov"],
        &["--optimizer", "lion", "--beta2", "0.98"],
        &["--optimizer", "rmsprop", "--centered"],
        &["--optimizer", "adagrad", "--lr-decay", "0.01"],
        &["--optimizer", "adamw-not-scalefree"],
    ];
    for flags in runs {
        let out = dir.path().join(flags[1]);
        let args = [&TINY_RUN[..], &["--epochs", "1", "--lr", "1e-3"], flags].concat();
        let output = train(&data, &out, &args);
        assert!(output.status.success(), "{flags:?}: {}", stderr(&output));
        let config = read_json(&out.join("config.json"));
        assert_eq!(setting(&config, "optimizer"), flags[1], "{flags:?}");
        if flags.len() > 2 {
            let key = flags[2].trim_start_matches("--").replace('-', "_");
            assert_ne!(
                setting(&config, &key),
                serde_json::Value::Null,
                "{flags:?}: {config}"
            );
        }
        let summary = read_json(&out.join("summary.json"));
        assert_eq!(summary["status"], "completed", "{flags:?}: {summary}");
    }
    // The sgd run's directory holds an sgd run: resuming it as another optimizer is not
    // the same run.
    let out = dir.path().join("sgd");
    let args = [
        &TINY_RUN[..],
        &["--epochs", "2", "--resume", "--optimizer", "adamw"],
    ]
    .concat();
    let output = train(&data, &out, &args);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("optimizer"), "{}", stderr(&output));
}

#[test]
fn an_sgd_and_a_lion_run_resumed_from_their_checkpoints_end_with_the_same_bits() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 64, 10);
    for optimizer in [
        &["--optimizer", "sgd", "--momentum", "0.9"][..],
        &["--optimizer", "lion"],
    ] {
        let run = |out: &std::path::Path, epochs: &str, extra: &[&str]| {
            let args = [
                &TINY_RUN[..],
                &["--lr", "1e-3", "--epochs", epochs],
                optimizer,
                extra,
            ]
            .concat();
            let output = train(&data, out, &args);
            assert!(
                output.status.success(),
                "{optimizer:?}: {}",
                stderr(&output)
            );
        };
        let (straight, resumed) = (dir.path().join("straight"), dir.path().join("resumed"));
        run(&straight, "2", &[]);
        run(&resumed, "1", &[]);
        run(&resumed, "2", &["--resume"]);
        assert_same_run(&resumed, &straight);
        std::fs::remove_dir_all(&straight).unwrap();
        std::fs::remove_dir_all(&resumed).unwrap();
    }
}
