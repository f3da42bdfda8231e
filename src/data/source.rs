//! The files of a dataset source, a directory or a `.tar.gz` archive, seen the same way:
//! '/'-separated paths relative to the source, and their bytes.
use super::error::DataError;
use flate2::read::MultiGzDecoder;
use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

pub(crate) struct Entry {
    pub path: String,
    pub is_dir: bool,
    /// Size and modification time (ns since the epoch); directories only, to key the cache.
    pub stamp: (u64, u128),
}

pub(crate) enum Source {
    Dir {
        root: PathBuf,
        entries: Vec<Entry>,
    },
    Archive {
        path: PathBuf,
        entries: Vec<Entry>,
        contents: HashMap<String, Vec<u8>>,
    },
}

impl Source {
    /// Lists a directory tree (names and metadata only; nothing is read yet).
    pub fn walk_dir(root: &Path) -> Result<Source, DataError> {
        let mut entries = Vec::new();
        for item in walkdir::WalkDir::new(root).follow_links(true).min_depth(1) {
            let item = item.map_err(|e| {
                let path = e.path().unwrap_or(root).to_path_buf();
                DataError::io(path, e.into())
            })?;
            let meta = item
                .metadata()
                .map_err(|e| DataError::io(item.path(), e.into()))?;
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            let rel = item.path().strip_prefix(root).unwrap_or(item.path());
            entries.push(Entry {
                path: rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/"),
                is_dir: meta.is_dir(),
                stamp: (meta.len(), modified),
            });
        }
        Ok(Source::Dir {
            root: root.to_path_buf(),
            entries,
        })
    }

    /// Reads every regular file of a gzip-compressed tar archive into memory.
    pub fn read_archive(path: &Path) -> Result<Source, DataError> {
        let mut file = File::open(path).map_err(|e| DataError::io(path, e))?;
        let mut magic = [0u8; 2];
        if file.read_exact(&mut magic).is_err() || magic != GZIP_MAGIC {
            return Err(DataError::NotGzip {
                path: path.to_path_buf(),
            });
        }
        let file = File::open(path).map_err(|e| DataError::io(path, e))?;
        let archive_error = |e: std::io::Error| DataError::Archive {
            path: path.to_path_buf(),
            reason: damaged(&e),
        };
        let mut archive = tar::Archive::new(MultiGzDecoder::new(BufReader::new(file)));
        let mut entries = Vec::new();
        let mut contents = HashMap::new();
        for entry in archive.entries().map_err(archive_error)? {
            let mut entry = entry.map_err(archive_error)?;
            let name = entry.path().map_err(archive_error)?;
            let name = name
                .components()
                .filter(|c| !matches!(c, std::path::Component::CurDir))
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            let kind = entry.header().entry_type();
            if kind.is_dir() {
                entries.push(Entry {
                    path: name,
                    is_dir: true,
                    stamp: (0, 0),
                });
            } else if kind.is_file() {
                let mut data = Vec::with_capacity(entry.size() as usize);
                entry.read_to_end(&mut data).map_err(archive_error)?;
                entries.push(Entry {
                    path: name.clone(),
                    is_dir: false,
                    stamp: (0, 0),
                });
                contents.insert(name, data);
            }
        }
        // tar stops at its end-of-archive blocks, before the gzip trailer; only a decoder
        // read to its end compares the trailer's CRC-32 and length with what it inflated.
        std::io::copy(&mut archive.into_inner(), &mut std::io::sink()).map_err(|e| {
            DataError::Archive {
                path: path.to_path_buf(),
                reason: format!(
                    "{e}: the file is damaged (gzip's CRC-32 or length does not match its \
                     contents); download it again"
                ),
            }
        })?;
        Ok(Source::Archive {
            path: path.to_path_buf(),
            entries,
            contents,
        })
    }

    pub fn entries(&self) -> &[Entry] {
        match self {
            Source::Dir { entries, .. } | Source::Archive { entries, .. } => entries,
        }
    }

    /// Every folder, whether listed itself or only implied by the files in it.
    pub fn dirs(&self) -> BTreeSet<String> {
        let mut dirs = BTreeSet::new();
        for e in self.entries() {
            if e.is_dir {
                dirs.insert(e.path.clone());
            }
            let mut path = e.path.as_str();
            while let Some((parent, _)) = path.rsplit_once('/') {
                dirs.insert(parent.to_string());
                path = parent;
            }
        }
        dirs
    }

    pub fn is_file(&self, path: &str) -> bool {
        self.entries().iter().any(|e| !e.is_dir && e.path == path)
    }

    pub fn read(&self, path: &str) -> Result<Cow<'_, [u8]>, DataError> {
        match self {
            Source::Dir { root, .. } => {
                let full = root.join(path);
                std::fs::read(&full)
                    .map(Cow::Owned)
                    .map_err(|e| DataError::io(full, e))
            }
            Source::Archive { contents, .. } => contents
                .get(path)
                .map(|d| Cow::Borrowed(d.as_slice()))
                .ok_or_else(|| DataError::MissingFile {
                    file: self.describe(path),
                    why: "not a regular file in the archive".into(),
                }),
        }
    }

    /// How errors name `path`: a full path, or `ARCHIVE:MEMBER`.
    pub fn describe(&self, path: &str) -> String {
        match self {
            Source::Dir { root, .. } => root.join(path).display().to_string(),
            Source::Archive { path: archive, .. } => format!("{}:{path}", archive.display()),
        }
    }

    /// How errors name the source itself.
    pub fn origin(&self) -> String {
        match self {
            Source::Dir { root, .. } => root.display().to_string(),
            Source::Archive { path, .. } => path.display().to_string(),
        }
    }
}

/// `dir/name`, where the empty `dir` is the source's root.
pub(crate) fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// What tar or gzip said of a damaged archive, readable: tar quotes a damaged header's
/// raw bytes (`numeric field was not a number: \0\u{7}… when getting cksum for …`), which
/// a terminal would show as garbage, so anything unprintable becomes `?` and the text is
/// cut short.
fn damaged(e: &std::io::Error) -> String {
    let said: String = e
        .to_string()
        .chars()
        .map(|c| {
            if c.is_control() || c == '\u{fffd}' {
                '?'
            } else {
                c
            }
        })
        .take(160)
        .collect();
    format!("the archive is damaged ({said}); download it again, or check the copy you have")
}
