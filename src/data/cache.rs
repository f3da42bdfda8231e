//! A cache of decoded datasets: one file per (kind, source path) in the cache directory,
//! holding a fingerprint of the source and the raw uint8 data, so that the next load is a
//! plain read. A stale, foreign or damaged file is ignored and rewritten; writes go to a
//! temporary file that is renamed into place, so a reader never sees half a cache.
use super::dataset::{Dataset, DatasetKind, Split, IMAGE_BYTES};
use super::error::DataError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Bumped whenever the file layout or the decoding changes.
const MAGIC: &[u8; 8] = b"SFCIFAR2";

pub(crate) struct Cache {
    path: PathBuf,
    fingerprint: String,
}

#[derive(Serialize, Deserialize)]
struct Header {
    fingerprint: String,
    kind: DatasetKind,
    classes: Vec<String>,
    coarse_classes: Option<Vec<String>>,
    train: usize,
    test: usize,
    coarse: bool,
}

/// Hex SHA-256 of `text`.
pub(crate) fn digest(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Cache {
    /// The cache of `kind` read from `source` (a canonical path), valid while the source's
    /// `fingerprint` stays the same.
    pub fn new(dir: &Path, kind: DatasetKind, source: &Path, fingerprint: String) -> Cache {
        let name = &digest(&source.display().to_string())[..16];
        Cache {
            path: dir.join(format!("{kind}-{name}.bin")),
            fingerprint,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The cached dataset, or `None` when there is no valid cache for this fingerprint.
    pub fn read(&self) -> Option<Dataset> {
        let file = File::open(&self.path).ok()?;
        let expected_len = file.metadata().ok()?.len();
        let mut r = BufReader::new(file);
        let mut magic = [0u8; 8];
        r.read_exact(&mut magic).ok()?;
        if &magic != MAGIC {
            return None;
        }
        let mut len = [0u8; 8];
        r.read_exact(&mut len).ok()?;
        let header_len = u64::from_le_bytes(len);
        let mut header = vec![0u8; usize::try_from(header_len).ok().filter(|&n| n < 1 << 24)?];
        r.read_exact(&mut header).ok()?;
        let header: Header = serde_json::from_slice(&header).ok()?;
        if header.fingerprint != self.fingerprint {
            return None;
        }
        let per_image = IMAGE_BYTES as u64 + 1 + header.coarse as u64;
        let body = (header.train + header.test) as u64 * per_image;
        if 16 + header_len + body != expected_len {
            return None;
        }
        let train = read_split(&mut r, header.train, header.coarse)?;
        let test = read_split(&mut r, header.test, header.coarse)?;
        Some(Dataset {
            kind: header.kind,
            classes: header.classes,
            coarse_classes: header.coarse_classes,
            train,
            test,
        })
    }

    pub fn write(&self, dataset: &Dataset) -> Result<(), DataError> {
        let dir = self
            .path
            .parent()
            .expect("a cache file lies in a directory");
        std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
        let header = Header {
            fingerprint: self.fingerprint.clone(),
            kind: dataset.kind,
            classes: dataset.classes.clone(),
            coarse_classes: dataset.coarse_classes.clone(),
            train: dataset.train.len(),
            test: dataset.test.len(),
            coarse: dataset.train.coarse_labels.is_some(),
        };
        let header = serde_json::to_vec(&header).expect("the header serializes");
        let tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| DataError::io(dir, e))?;
        let io_error = |e| DataError::io(tmp.path(), e);
        let mut w = BufWriter::new(tmp.as_file());
        w.write_all(MAGIC).map_err(io_error)?;
        w.write_all(&(header.len() as u64).to_le_bytes())
            .map_err(io_error)?;
        w.write_all(&header).map_err(io_error)?;
        let coarse = dataset.train.coarse_labels.is_some();
        for split in [&dataset.train, &dataset.test] {
            write_split(&mut w, split, coarse).map_err(io_error)?;
        }
        w.flush().map_err(io_error)?;
        drop(w);
        tmp.persist(&self.path)
            .map_err(|e| DataError::io(&self.path, e.error))?;
        Ok(())
    }
}

// Labels are stored as bytes: CIFAR has at most 100 classes.
fn write_split(w: &mut impl Write, split: &Split, coarse: bool) -> std::io::Result<()> {
    w.write_all(&split.images)?;
    w.write_all(&split.labels.iter().map(|&l| l as u8).collect::<Vec<_>>())?;
    if coarse {
        let labels = split.coarse_labels.as_deref().unwrap_or_default();
        w.write_all(&labels.iter().map(|&l| l as u8).collect::<Vec<_>>())?;
    }
    Ok(())
}

fn read_split(r: &mut impl Read, n: usize, coarse: bool) -> Option<Split> {
    let mut images = vec![0u8; n * IMAGE_BYTES];
    r.read_exact(&mut images).ok()?;
    let mut read_labels = || -> Option<Vec<i64>> {
        let mut bytes = vec![0u8; n];
        r.read_exact(&mut bytes).ok()?;
        Some(bytes.into_iter().map(i64::from).collect())
    };
    let labels = read_labels()?;
    let coarse_labels = if coarse { Some(read_labels()?) } else { None };
    Some(Split {
        images,
        labels,
        coarse_labels,
    })
}
