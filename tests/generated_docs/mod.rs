//! A section of a document generated from the code, between two markers: the tests
//! compare it, and `SCALEFREE_BLESS=1` writes it.
use std::path::Path;

/// Asserts that the text between `begin` and `end` in the repository's `doc` is
/// `generated`; with `SCALEFREE_BLESS=1` writes it there instead. `regenerate` is the
/// command the failure tells the reader to run.
pub fn assert_generated(doc: &str, begin: &str, end: &str, generated: &str, regenerate: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(doc);
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text.find(begin).expect("the BEGIN marker") + begin.len();
    let stop = text.find(end).expect("the END marker");
    let generated = format!("\n\n{generated}\n");
    if std::env::var_os("SCALEFREE_BLESS").is_some() {
        let updated = format!("{}{generated}{}", &text[..start], &text[stop..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    assert_eq!(
        text[start..stop],
        generated,
        "{doc}'s generated section differs from the code: run `{regenerate}` to regenerate it"
    );
}
