//! Which libtorch this binary was built for, and which one it runs on.
//!
//! A binary runs on whatever `libtorch_cpu.so` the dynamic linker finds: the build's own
//! (through the rpath) or, for a bundle on a cluster node, the one of the node's PyTorch
//! (the bundle's launcher puts it on `LD_LIBRARY_PATH`). The C++ ABI changes between
//! releases, so a binary built for 2.13 on 2.11's libraries (or the reverse) may start
//! and then fail anywhere; every command refuses to run on another release first.
use std::path::{Path, PathBuf};

include!("../build/libtorch_version.rs");

/// What `make` was told (`TORCH_VERSION`), as the build script read it from the libtorch
/// it linked against.
pub fn built_for() -> &'static str {
    option_env!("SCALEFREE_LIBTORCH_BUILT_FOR").unwrap_or("unknown")
}

/// The libtorch in use: its version and the directory `libtorch_cpu.so` was loaded from.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub version: String,
    pub lib_dir: PathBuf,
}

impl Loaded {
    /// Read from this process's memory map: the library that is mapped, not the one the
    /// build saw.
    pub fn detect() -> Option<Self> {
        let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
        let lib_dir = loaded_lib_dir(&maps)?;
        let version = libtorch_version_at(&lib_dir).unwrap_or_else(|| "unknown".to_string());
        Some(Loaded { version, lib_dir })
    }
}

/// The directory of the `libtorch_cpu.so` named in a `/proc/<pid>/maps` text.
fn loaded_lib_dir(maps: &str) -> Option<PathBuf> {
    maps.lines()
        .filter_map(mapped_path)
        .find(|path| path.ends_with("/libtorch_cpu.so"))
        .and_then(|path| Path::new(path).parent())
        .map(Path::to_path_buf)
}

/// The path of a maps line: everything after the fifth field (inode), spaces included.
fn mapped_path(line: &str) -> Option<&str> {
    let mut rest = line.trim_start();
    for _ in 0..5 {
        rest = rest[rest.find(char::is_whitespace)?..].trim_start();
    }
    (!rest.is_empty()).then_some(rest.trim_end())
}

/// `2.13.0+cu130` → `2.13.0`: the release decides the ABI, the CUDA flavour does not.
fn release(version: &str) -> &str {
    version.split('+').next().unwrap_or(version)
}

/// Refuses a libtorch of another release than the one the binary was built for. An
/// unknown version on either side (a libtorch without its version file) is let through.
pub fn check(built_for: &str, loaded: &Loaded) -> Result<(), String> {
    let known = |v: &str| v != "unknown";
    if !known(built_for) || !known(&loaded.version) {
        return Ok(());
    }
    if release(built_for) == release(&loaded.version) {
        return Ok(());
    }
    Err(format!(
        "this scalefree was built for libtorch {built_for} but runs on libtorch {} (from {}). \
         Build it for that version (`make build TORCH_VERSION={}`, or `make bundle \
         TORCH_VERSION={}` for another machine), or run it with a PyTorch {}: the bundle's \
         launcher takes it from `$SCALEFREE_PYTHON` (default python3).",
        loaded.version,
        loaded.lib_dir.display(),
        release(&loaded.version),
        release(&loaded.version),
        release(built_for),
    ))
}

/// [`check`] against the libtorch this process has loaded.
pub fn check_loaded() -> Result<(), String> {
    match Loaded::detect() {
        Some(loaded) => check(built_for(), &loaded),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(version: &str) -> Loaded {
        Loaded {
            version: version.to_string(),
            lib_dir: PathBuf::from("/nodes/py/torch/lib"),
        }
    }

    #[test]
    fn the_same_release_passes_whatever_its_cuda_flavour() {
        assert!(check("2.13.0+cu130", &loaded("2.13.0+cu126")).is_ok());
        assert!(check("2.11.0", &loaded("2.11.0+cpu")).is_ok());
    }

    #[test]
    fn another_release_is_refused_with_both_versions_and_the_fix() {
        let err = check("2.13.0+cu130", &loaded("2.11.0+cu130")).unwrap_err();
        assert!(err.contains("built for libtorch 2.13.0+cu130"), "{err}");
        assert!(err.contains("runs on libtorch 2.11.0+cu130"), "{err}");
        assert!(err.contains("/nodes/py/torch/lib"), "{err}");
        assert!(err.contains("TORCH_VERSION=2.11.0"), "{err}");
    }

    #[test]
    fn an_unknown_version_is_let_through() {
        assert!(check("unknown", &loaded("2.11.0")).is_ok());
        assert!(check("2.13.0", &loaded("unknown")).is_ok());
    }

    #[test]
    fn the_loaded_directory_comes_from_the_memory_map() {
        let maps = "7f00-7f10 r--p 00000000 fd:01 12 /usr/lib/libc.so.6\n\
                    7f20-7f30 r-xp 00000000 fd:01 34 /opt/py/site-packages/torch/lib/libtorch_cpu.so\n\
                    7f40-7f50 rw-p 00000000 00:00 0 \n";
        assert_eq!(
            loaded_lib_dir(maps),
            Some(PathBuf::from("/opt/py/site-packages/torch/lib"))
        );
        assert_eq!(
            loaded_lib_dir("7f40-7f50 rw-p 00000000 00:00 0 [heap]\n"),
            None
        );
        // A path with spaces, after the padding the kernel puts before paths.
        let spaced = "7f20-7f30 r-xp 00000000 fd:01 34                         \
                      /home/a user/my env/torch/lib/libtorch_cpu.so\n";
        assert_eq!(
            loaded_lib_dir(spaced),
            Some(PathBuf::from("/home/a user/my env/torch/lib"))
        );
    }

    #[test]
    fn versions_are_read_from_a_wheel_and_from_the_standalone_archive() {
        assert_eq!(
            parse_libtorch_version("version = 1\n__version__ = '2.11.0+cu130'\n").as_deref(),
            Some("2.11.0+cu130")
        );
        assert_eq!(
            parse_libtorch_version("2.13.0+cpu\n").as_deref(),
            Some("2.13.0+cpu")
        );
    }

    #[test]
    fn this_process_runs_on_the_libtorch_it_was_built_for() {
        let loaded = Loaded::detect().expect("libtorch_cpu.so is mapped");
        assert_eq!(release(&loaded.version), release(built_for()));
    }
}
