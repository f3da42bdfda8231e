// Reading libtorch's version from its installation, shared by the build script (the
// version a binary is built for) and the binary (the version it runs on) through
// `include!`, so that both read it the same way.

/// The version recorded beside libtorch's `lib` directory: `version.py` in a PyTorch
/// wheel (`__version__ = '2.13.0+cu130'`), `build-version` in the standalone libtorch
/// archive (`2.13.0+cu130`).
pub fn libtorch_version_at(lib_dir: &std::path::Path) -> Option<String> {
    let root = lib_dir.parent()?;
    ["version.py", "build-version"]
        .iter()
        .find_map(|name| std::fs::read_to_string(root.join(name)).ok())
        .and_then(|text| parse_libtorch_version(&text))
}

fn parse_libtorch_version(text: &str) -> Option<String> {
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("__version__") {
            let version = rest.trim_start_matches([' ', '=', ':']).trim();
            return Some(version.trim_matches(['\'', '"']).to_string());
        }
    }
    let first = text.lines().next()?.trim();
    (!first.is_empty()).then(|| first.to_string())
}
