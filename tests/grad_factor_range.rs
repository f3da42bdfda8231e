//! Gradient factors must stay in float32's normal range, whether drawn by `spread:D` or
//! read from a factors file: a smaller factor freezes its layer (the gradient underflows),
//! a larger one cannot be stored. `scalefree train` refuses both before training, naming
//! the setting or the layer and the valid range, and never panics.
mod train_support;

use train_support::train_refused;

/// `scalefree train --grad-factors FACTORS` on tiny data, refused with exit code `code`
/// (2: the flag's value is refused as it is parsed; 1: the run refuses it); returns stderr.
fn refused(dir: &std::path::Path, factors: &str, code: i32) -> String {
    let out = dir.join("run");
    train_refused(dir, &out, &["--grad-factors", factors], code)
}

#[test]
fn a_spread_beyond_float32s_range_is_refused_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let msg = refused(dir.path(), "spread:400", 2);
    assert!(
        msg.contains("--grad-factors")
            && msg.contains("spread:400")
            && msg.contains("from 0 to 37.9"),
        "{msg}"
    );
    assert!(!dir.path().join("run").exists(), "nothing is written");
}

#[test]
fn a_factor_file_outside_float32s_normal_range_is_refused_naming_the_layer() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("factors.json");
    for factor in ["1e-300", "1e300", "1e-39"] {
        std::fs::write(&file, format!("{{\"conv1\": {factor}, \"fc\": 2}}")).unwrap();
        let msg = refused(dir.path(), file.to_str().unwrap(), 1);
        assert!(
            msg.contains("factors.json")
                && msg.contains("factor of `conv1`")
                && msg.contains("1.18e-38 to 3.40e38"),
            "{factor}: {msg}"
        );
    }
}
