//! Settings `scalefree train` refuses as it reads them, never silently replacing them: a
//! float flag that is not finite (NaN, ±inf, out of range), also over a run file that sets
//! it; a run file value out of float range, naming the file; and a run file that mixes the
//! flat and the sectioned forms, saying which key is where.
mod train_support;

use serde_json::json;

use train_support::run_scalefree;

const FLOAT_FLAGS: [&str; 8] = [
    "--lr",
    "--wd",
    "--beta1",
    "--beta2",
    "--eps",
    "--loss-mult",
    "--val-fraction",
    "--step-gamma",
];

#[test]
fn a_non_finite_float_flag_is_refused_naming_it_not_replaced_by_the_default() {
    for flag in FLOAT_FLAGS {
        for value in ["NaN", "nan", "inf", "-inf", "1e309"] {
            let (code, out) = run_scalefree(&["train", flag, value, "--print-config"]);
            assert_ne!(code, Some(0), "{flag} {value} was accepted: {out}");
            assert!(
                out.contains(flag) && out.contains("finite"),
                "{flag} {value}: {out}"
            );
            assert!(!out.contains("panicked"), "{out}");
        }
    }
    // Over a run file that sets the value, too.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("run.json");
    std::fs::write(&file, json!({"lr": 0.002}).to_string()).unwrap();
    let (code, out) = run_scalefree(&[
        "train",
        "--config",
        file.to_str().unwrap(),
        "--lr",
        "inf",
        "--print-config",
    ]);
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("--lr"), "{out}");
}

#[test]
fn a_run_file_value_out_of_float_range_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("run.json");
    std::fs::write(&file, r#"{"lr": 1e309}"#).unwrap();
    let (code, out) = run_scalefree(&[
        "train",
        "--config",
        file.to_str().unwrap(),
        "--print-config",
    ]);
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("run.json") && out.contains("`lr`"), "{out}");
}

#[test]
fn a_run_file_mixing_flat_keys_and_sections_says_which_key_is_where() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mixed.json");
    std::fs::write(&file, r#"{"lr": 2e-3, "optimizer": {"lr": 3e-3}}"#).unwrap();
    let (code, out) = run_scalefree(&[
        "train",
        "--config",
        file.to_str().unwrap(),
        "--print-config",
    ]);
    assert_ne!(code, Some(0), "{out}");
    assert!(
        out.contains("mixed.json")
            && out.contains("mixes the two forms")
            && out.contains("`lr` at the top")
            && out.contains("`optimizer` as sections"),
        "{out}"
    );
    assert!(!out.contains("unknown variant"), "{out}");
}
