//! Reading the JSON files users write by hand (run files, experiment files, gradient
//! factors): some editors, on Windows in particular, start a UTF-8 file with a byte-order
//! mark, which JSON parsers refuse as "expected value at line 1 column 1".

/// The text of `path`, without a leading UTF-8 byte-order mark.
pub fn read_text(path: &std::path::Path) -> std::io::Result<String> {
    let text = std::fs::read_to_string(path)?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_byte_order_mark_is_dropped_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.json");
        std::fs::write(&path, "\u{feff}{\"lr\": 1e-3}").unwrap();
        assert_eq!(super::read_text(&path).unwrap(), "{\"lr\": 1e-3}");
        std::fs::write(&path, "{\"x\": \"\u{feff}\"}").unwrap();
        assert_eq!(super::read_text(&path).unwrap(), "{\"x\": \"\u{feff}\"}");
    }
}
