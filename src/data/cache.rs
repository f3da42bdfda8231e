//! A cache of decoded datasets: one file per (kind, source path) in the cache directory,
//! holding a fingerprint of the source and the raw uint8 data, so that the next load is a
//! plain read. A stale or foreign file is ignored and rewritten; so is a damaged one (its
//! SHA-256 differs from the header's, or a label is out of range), with a warning. Writes
//! go to a temporary file that is renamed into place, so a reader never sees half a cache.
use super::dataset::{Dataset, DatasetKind, Split, IMAGE_BYTES};
use super::error::DataError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Bumped whenever the file layout or the decoding changes.
const MAGIC: &[u8; 8] = b"SFCIFAR3";

/// The body is hashed in chunks of this size, in parallel; the checksum is the SHA-256 of
/// the chunks' SHA-256s.
const CHUNK: usize = 8 << 20;

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
    /// [`body_checksum`] of everything after the header.
    sha256: String,
}

/// What reading the cache found.
pub(crate) enum Cached {
    Hit(Dataset),
    /// No cache, or one of another source or version.
    Miss,
    /// A cache of this source whose bytes changed after it was written.
    Damaged(String),
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The checksum of the cache's body (images and labels of both splits, as stored).
fn body_checksum(parts: &[&[u8]]) -> String {
    use rayon::prelude::*;
    let chunks: Vec<&[u8]> = parts.iter().flat_map(|p| p.chunks(CHUNK)).collect();
    let digests: Vec<[u8; 32]> = chunks
        .par_iter()
        .map(|c| Sha256::digest(c).into())
        .collect();
    let mut all = Sha256::new();
    for d in &digests {
        all.update(d);
    }
    hex(&all.finalize())
}

fn label_bytes(labels: &[i64]) -> Vec<u8> {
    labels.iter().map(|&l| l as u8).collect()
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

    /// The cached dataset, if there is a cache of this source and it is intact.
    pub fn read(&self) -> Cached {
        let Ok(file) = File::open(&self.path) else {
            return Cached::Miss;
        };
        let Some((header, body)) = read_file(file) else {
            return Cached::Miss;
        };
        if header.fingerprint != self.fingerprint {
            return Cached::Miss;
        }
        let damaged = |why: String| Cached::Damaged(format!("{}: {why}", self.path.display()));
        let per_image = IMAGE_BYTES + 1 + header.coarse as usize;
        if body.len() != (header.train + header.test) * per_image {
            return damaged(format!(
                "{} bytes of data where its header says {}",
                body.len(),
                (header.train + header.test) * per_image
            ));
        }
        if body_checksum(&parts_of(&body, &header)) != header.sha256 {
            return damaged("its SHA-256 differs from the one it was written with".into());
        }
        // The training images stay where they were read; the rest is copied out.
        let mut images = body;
        let rest = images.split_off(header.train * IMAGE_BYTES);
        let (train, rest) = read_split(images, &rest, header.train, header.coarse);
        let (test_images, rest) = rest.split_at(header.test * IMAGE_BYTES);
        let (test, _) = read_split(test_images.to_vec(), rest, header.test, header.coarse);
        for (name, split) in [("train", &train), ("test", &test)] {
            let fine = header.classes.len() as i64;
            if let Some(i) = split.labels.iter().position(|&l| l >= fine) {
                return damaged(format!(
                    "{name} image {i} has label {}, but there are {fine} classes",
                    split.labels[i]
                ));
            }
            let coarse = header.coarse_classes.as_ref().map_or(0, |c| c.len()) as i64;
            if let Some(labels) = &split.coarse_labels {
                if let Some(i) = labels.iter().position(|&l| l >= coarse) {
                    return damaged(format!(
                        "{name} image {i} has coarse label {}, but there are {coarse} coarse classes",
                        labels[i]
                    ));
                }
            }
        }
        Cached::Hit(Dataset {
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
        let coarse = dataset.train.coarse_labels.is_some();
        let mut parts: Vec<Vec<u8>> = Vec::new();
        for split in [&dataset.train, &dataset.test] {
            parts.push(label_bytes(&split.labels));
            if coarse {
                parts.push(label_bytes(
                    split.coarse_labels.as_deref().unwrap_or_default(),
                ));
            }
        }
        let body: Vec<&[u8]> = {
            let mut labels = parts.iter();
            let mut body = Vec::new();
            for split in [&dataset.train, &dataset.test] {
                body.push(split.images.as_slice());
                body.push(labels.next().expect("fine labels").as_slice());
                if coarse {
                    body.push(labels.next().expect("coarse labels").as_slice());
                }
            }
            body
        };
        let header = Header {
            sha256: body_checksum(&body),
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
        for part in &body {
            w.write_all(part).map_err(io_error)?;
        }
        w.flush().map_err(io_error)?;
        drop(w);
        tmp.persist(&self.path)
            .map_err(|e| DataError::io(&self.path, e.error))?;
        Ok(())
    }
}

/// The body as it was written: per split, images, labels and (CIFAR-100) coarse labels.
fn parts_of<'a>(body: &'a [u8], header: &Header) -> Vec<&'a [u8]> {
    let mut parts = Vec::new();
    let mut rest = body;
    for n in [header.train, header.test] {
        let mut sizes = vec![n * IMAGE_BYTES, n];
        if header.coarse {
            sizes.push(n);
        }
        for size in sizes {
            let (part, after) = rest.split_at(size);
            parts.push(part);
            rest = after;
        }
    }
    parts
}

/// Reads the header and the body (everything after the header), or `None` when the file
/// is not a cache of this version.
fn read_file(file: File) -> Option<(Header, Vec<u8>)> {
    let len = file.metadata().ok()?.len();
    let mut r = BufReader::new(file);
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic).ok()?;
    if &magic != MAGIC {
        return None;
    }
    let mut header_len = [0u8; 8];
    r.read_exact(&mut header_len).ok()?;
    let header_len = u64::from_le_bytes(header_len);
    let mut header = vec![0u8; usize::try_from(header_len).ok().filter(|&n| n < 1 << 24)?];
    r.read_exact(&mut header).ok()?;
    let header: Header = serde_json::from_slice(&header).ok()?;
    let mut body = Vec::with_capacity(len.saturating_sub(16 + header_len) as usize);
    r.read_to_end(&mut body).ok()?;
    Some((header, body))
}

// Labels are stored as bytes: CIFAR has at most 100 classes. A split is its images, then
// its labels, then (CIFAR-100) its coarse labels.
fn read_split(images: Vec<u8>, labels: &[u8], n: usize, coarse: bool) -> (Split, &[u8]) {
    let to_labels = |bytes: &[u8]| bytes.iter().map(|&l| i64::from(l)).collect::<Vec<_>>();
    let (fine, rest) = labels.split_at(n);
    let (coarse_labels, rest) = if coarse {
        let (c, rest) = rest.split_at(n);
        (Some(to_labels(c)), rest)
    } else {
        (None, rest)
    };
    let split = Split {
        images,
        labels: to_labels(fine),
        coarse_labels,
    };
    (split, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dataset() -> Dataset {
        let split = |n: usize| Split {
            images: (0..n * IMAGE_BYTES).map(|i| (i % 251) as u8).collect(),
            labels: (0..n as i64).map(|i| i % 10).collect(),
            coarse_labels: None,
        };
        Dataset {
            kind: DatasetKind::Cifar10,
            classes: (0..10).map(|i| format!("c{i}")).collect(),
            coarse_classes: None,
            train: split(20),
            test: split(5),
        }
    }

    /// Overwrites one byte of the cache file, `from_end` bytes before its end.
    fn poke(path: &Path, from_end: usize, value: u8) {
        let mut bytes = std::fs::read(path).unwrap();
        let at = bytes.len() - from_end;
        bytes[at] = value;
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn a_cache_reads_back_and_a_changed_label_or_pixel_is_found_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(
            dir.path(),
            DatasetKind::Cifar10,
            Path::new("/x"),
            "f".into(),
        );
        cache.write(&dataset()).unwrap();
        let Cached::Hit(read) = cache.read() else {
            panic!("the cache just written is not read back");
        };
        assert_eq!(read.train.labels, dataset().train.labels);
        assert_eq!(read.test.images, dataset().test.images);

        // The last byte is the last test label: 200 is no class of CIFAR-10.
        poke(cache.path(), 1, 200);
        match cache.read() {
            Cached::Damaged(why) => assert!(why.contains("SHA-256"), "{why}"),
            _ => panic!("a label of 200 was not noticed"),
        }
        cache.write(&dataset()).unwrap();
        // A pixel of the last test image.
        poke(cache.path(), 5 + 100, 7);
        assert!(matches!(cache.read(), Cached::Damaged(_)));
    }
}
