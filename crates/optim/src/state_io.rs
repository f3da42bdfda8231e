//! The optimizer's state as bytes: safetensors (the format of `Tensor::write_safetensors`)
//! to any writer or from any reader, and to a file atomically.
use crate::error::{OptimError, Result};
use crate::optimizer::Adam;
use safetensors::{Dtype, SafeTensors, View};
use std::borrow::Cow;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use tch::Tensor;

/// One tensor's bytes, for the serializer.
struct Bytes {
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

impl View for &Bytes {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.data)
    }
    fn data_len(&self) -> usize {
        self.data.len()
    }
}

fn to_bytes(tensor: &Tensor) -> Result<Bytes> {
    let tensor = tensor.contiguous();
    let numel = tensor.numel();
    let mut data = vec![0u8; numel * tensor.kind().elt_size_in_bytes()];
    tensor.f_copy_data_u8(&mut data, numel)?;
    Ok(Bytes {
        dtype: Dtype::try_from(tensor.kind())?,
        shape: tensor.size().iter().map(|&d| d as usize).collect(),
        data,
    })
}

fn serialize(entries: &[(String, Tensor)]) -> Result<Vec<u8>> {
    let bytes = entries
        .iter()
        .map(|(name, t)| Ok((name.as_str(), to_bytes(t)?)))
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(bytes.iter().map(|(n, b)| (*n, b)), &None).map_err(|e| OptimError::Io {
        context: "serialising the optimizer state".into(),
        source: std::io::Error::other(e.to_string()),
    })
}

fn deserialize(bytes: &[u8]) -> std::result::Result<Vec<(String, Tensor)>, String> {
    let file = SafeTensors::deserialize(bytes).map_err(|e| e.to_string())?;
    file.tensors()
        .into_iter()
        .map(|(name, view)| Ok((name, Tensor::try_from(view).map_err(|e| e.to_string())?)))
        .collect()
}

impl Adam {
    /// Writes the state (the named tensors of [`Adam::state_tensors`] without prefix) in
    /// the safetensors format.
    ///
    /// ```
    /// use adamw_prox::AdamConfig;
    /// use tch::{nn, Device, Kind};
    /// let vs = nn::VarStore::new(Device::Cpu);
    /// let w = vs.root().ones("w", &[4]);
    /// let mut opt = AdamConfig::adamw(1e-2, 0.0).build(&vs)?;
    /// opt.backward_step(&w.square().sum(Kind::Float))?;
    /// let mut bytes = Vec::new();
    /// opt.write_state(&mut bytes)?;
    /// let mut resumed = AdamConfig::adamw(1e-2, 0.0).build(&vs)?;
    /// resumed.read_state(bytes.as_slice())?;
    /// assert_eq!(resumed.step_count(), 1);
    /// # Ok::<(), adamw_prox::OptimError>(())
    /// ```
    pub fn write_state<W: Write>(&self, mut writer: W) -> Result<()> {
        let bytes = serialize(&self.state_entries("", false))?;
        writer
            .write_all(&bytes)
            .and_then(|()| writer.flush())
            .map_err(|source| OptimError::Io {
                context: "writing the optimizer state".into(),
                source,
            })
    }

    /// Restores a state written by [`Adam::write_state`] or [`Adam::save_state`] for the
    /// same parameters and settings. Nothing is changed unless the whole state fits.
    /// See [`Adam::write_state`] for an example.
    pub fn read_state<R: Read>(&mut self, reader: R) -> Result<()> {
        self.read_state_from("from a reader", reader)
    }

    fn read_state_from<R: Read>(&mut self, origin: &str, mut reader: R) -> Result<()> {
        let mut bytes = Vec::new();
        reader
            .read_to_end(&mut bytes)
            .map_err(|source| OptimError::Io {
                context: format!("reading the optimizer state {origin}"),
                source,
            })?;
        let entries = deserialize(&bytes).map_err(|e| OptimError::StateMismatch {
            origin: origin.to_string(),
            problem: format!("not a readable optimizer state ({e})"),
        })?;
        self.load_entries(origin, "", &entries)
    }

    /// Writes the state to `path` atomically (a temporary file, then a rename). The file
    /// is safetensors; its format version and what reads it are in the README.
    ///
    /// ```
    /// use adamw_prox::AdamConfig;
    /// use tch::{nn, Device, Kind};
    /// let vs = nn::VarStore::new(Device::Cpu);
    /// let w = vs.root().ones("w", &[4]);
    /// let mut opt = AdamConfig::adamw(1e-2, 0.0).build(&vs)?;
    /// opt.backward_step(&w.square().sum(Kind::Float))?;
    /// let path = std::env::temp_dir().join(format!("adam-{}.safetensors", std::process::id()));
    /// opt.save_state(&path)?;
    ///
    /// let mut resumed = AdamConfig::adamw(1e-2, 0.0).build(&vs)?;
    /// resumed.load_state(&path)?;
    /// assert_eq!(resumed.step_count(), 1);
    /// // Another optimizer is refused, naming the difference.
    /// let mut other = AdamConfig::adam_l2(1e-2, 0.0).build(&vs)?;
    /// assert!(other.load_state(&path).is_err());
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), adamw_prox::OptimError>(())
    /// ```
    pub fn save_state(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let tmp = temporary_path(path);
        let io = |context: String| move |source| OptimError::Io { context, source };
        let file =
            std::fs::File::create(&tmp).map_err(io(format!("creating {}", tmp.display())))?;
        self.write_state(BufWriter::new(file))?;
        std::fs::rename(&tmp, path).map_err(io(format!(
            "moving {} to {}",
            tmp.display(),
            path.display()
        )))
    }

    /// Restores a state written by [`Adam::save_state`] or [`Adam::write_state`] (see
    /// there for an example). Nothing is changed unless the whole state fits.
    pub fn load_state(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        match std::fs::File::open(path) {
            Ok(file) => self.read_state_from(&origin, std::io::BufReader::new(file)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(OptimError::StateMismatch {
                origin,
                problem: "no such file".into(),
            }),
            Err(source) => Err(OptimError::Io {
                context: format!("opening {origin}"),
                source,
            }),
        }
    }
}

fn temporary_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".tmp{}", std::process::id()));
    path.with_file_name(name)
}
