//! TensorBoard event files under the run's `tb/`: TensorBoard's record format (length,
//! masked CRC-32C, event, CRC) written here, synchronously, with tensorboard-rs building
//! the summaries.
//!
//! Event files are append-only streams by TensorBoard's design (its reader ignores a torn
//! last record), so they are the one output not written by rename. Each process writes its
//! own file, named to sort after every file already in the folder (TensorBoard reads them
//! in name order). A training run's process begins its file with `SessionLog.START` at the
//! first step it will log: TensorBoard then drops whatever earlier processes logged from
//! that step on (a run resumed from an earlier checkpoint, or restarted from the
//! beginning), so no step is shown twice. The event is written twice because the loader of
//! TensorBoard's web page takes the first START it sees as the start of the run, not a
//! restart. [`Board::sync`] puts everything logged so far on the disk; a checkpoint is
//! taken only after it.
use crate::scales::Log2Histogram;
use anyhow::{Context, Result};
use protobuf::Message;
use protobuf::RepeatedField;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};
use tensorboard_proto::event::{Event, SessionLog, SessionLog_SessionStatus};
use tensorboard_proto::layout::Layout;
use tensorboard_proto::summary::{
    Summary, SummaryMetadata, SummaryMetadata_PluginData, Summary_Image, Summary_Value,
};
use tensorboard_proto::tensor::TensorProto;
use tensorboard_proto::tensor_shape::TensorShapeProto;
use tensorboard_proto::types::DataType;
use tensorboard_rs::masked_crc32c::masked_crc32c;
use tensorboard_rs::summary::{histogram_raw, scalar};

const PREFIX: &str = "events.out.tfevents.";
/// Where a file is written before it is put in place: a name without `tfevents`, which
/// TensorBoard does not read.
const PARTIAL: &str = "partial.events";

/// The event files in `dir`.
fn event_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    Ok(entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(PREFIX))
        .map(|e| e.path())
        .collect())
}

/// A summary of one string (a scalar string tensor) for the plugin `plugin`.
fn string_summary(tag: &str, plugin: &str, bytes: Vec<u8>) -> Summary {
    let mut tensor = TensorProto::new();
    tensor.set_dtype(DataType::DT_STRING);
    tensor.set_tensor_shape(TensorShapeProto::new());
    tensor.set_string_val(RepeatedField::from_vec(vec![bytes]));
    plugin_tensor_summary(tag, plugin, None, tensor)
}

/// The summary of `tag` holding `tensor`, for the plugin `plugin` with its `content`
/// (the plugin's own serialised data, if it has any).
pub(super) fn plugin_tensor_summary(
    tag: &str,
    plugin: &str,
    content: Option<Vec<u8>>,
    tensor: TensorProto,
) -> Summary {
    let mut data = SummaryMetadata_PluginData::new();
    data.set_plugin_name(plugin.into());
    if let Some(content) = content {
        data.set_content(content);
    }
    let mut metadata = SummaryMetadata::new();
    metadata.set_plugin_data(data);
    let mut value = Summary_Value::new();
    value.set_tag(tag.into());
    value.set_metadata(metadata);
    value.set_tensor(tensor);
    let mut summary = Summary::new();
    summary.set_value(RepeatedField::from_vec(vec![value]));
    summary
}

fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// One record of an event file: the length, its masked CRC-32C, the event, its CRC.
fn record(data: &[u8]) -> Vec<u8> {
    let len = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc32c(data).to_le_bytes());
    out
}

/// `bytes` (an event file) with the summary values tagged `from` tagged `to` instead, for
/// each pair of `renames`, and how many were; other records, and a torn last one, are
/// kept byte for byte.
fn renamed(bytes: &[u8], renames: &[(&str, &str)]) -> (Vec<u8>, usize) {
    let (mut out, mut count, mut at) = (Vec::with_capacity(bytes.len()), 0, 0);
    while at + 12 <= bytes.len() {
        let len = u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes")) as usize;
        let Some(end) = (at + 12).checked_add(len).filter(|e| e + 4 <= bytes.len()) else {
            break;
        };
        let data = &bytes[at + 12..end];
        let mut event = Event::parse_from_bytes(data).ok();
        let mut changed = 0;
        if let Some(event) = event.as_mut().filter(|e| e.has_summary()) {
            for value in event.mut_summary().mut_value().iter_mut() {
                if let Some((_, to)) = renames.iter().find(|(from, _)| value.get_tag() == *from) {
                    value.set_tag(to.to_string());
                    changed += 1;
                }
            }
        }
        match event.filter(|_| changed > 0).map(|e| e.write_to_bytes()) {
            Some(Ok(data)) => out.extend_from_slice(&record(&data)),
            _ => out.extend_from_slice(&bytes[at..end + 4]),
        }
        count += changed;
        at = end + 4;
    }
    out.extend_from_slice(&bytes[at..]);
    (out, count)
}

/// Renames summary tags in every event file of `dir`: each value tagged `from` is tagged
/// `to`, for each pair of `renames` (the HParams session of a run withdrawn from its
/// experiment, or put back). A file holding none is left as it is; the others are
/// rewritten whole under a name TensorBoard does not read and renamed over themselves.
/// Returns how many values were renamed.
pub fn rename_tags(dir: &Path, renames: &[(&str, &str)]) -> Result<usize> {
    let mut total = 0;
    for path in event_files(dir)? {
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let (out, count) = renamed(&bytes, renames);
        if count == 0 {
            continue;
        }
        let partial = dir.join(format!("{PARTIAL}.{}", std::process::id()));
        crate::sinks::atomic::write_atomic(&partial, &out)?;
        std::fs::rename(&partial, &path).with_context(|| {
            format!("cannot rename {} to {}", partial.display(), path.display())
        })?;
        total += count;
    }
    Ok(total)
}

pub struct Board {
    file: BufWriter<File>,
    path: PathBuf,
    /// The first write error; reported by [`Board::sync`] (logging calls do not fail).
    error: Option<std::io::Error>,
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).replace(['.', '/'], "_");
    if ok && !name.is_empty() {
        name
    } else {
        "localhost".into()
    }
}

/// A new event file's name: TensorBoard's pattern, with a time stamp later than that of
/// every event file in `dir`, so that it sorts (and is read) after them.
fn new_file_name(dir: &Path) -> Result<String> {
    let mut seconds = now() as u64;
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let stamp = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('.').next())
            .and_then(|digits| digits.parse::<u64>().ok());
        if let Some(stamp) = stamp {
            seconds = seconds.max(stamp + 1);
        }
    }
    Ok(format!(
        "{PREFIX}{seconds:010}.{}.{}.0",
        hostname(),
        std::process::id()
    ))
}

impl Board {
    /// Opens a new event file in `dir`. `resumed_after`: for a training run, the step it
    /// continues from (0 from the beginning): everything an earlier process logged after it
    /// is dropped. `None` (the checks) leaves what is in the folder as it is.
    pub fn open(dir: &Path, resumed_after: Option<u64>) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join(new_file_name(dir)?);
        Board::create(path, resumed_after.map(|step| step + 1))
    }

    /// A new event file at `path`, starting with `SessionLog.START` at `restart_at` when
    /// given: TensorBoard then drops what the files before it logged from that step on.
    fn create(path: PathBuf, restart_at: Option<u64>) -> Result<Self> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        let mut board = Board {
            file: BufWriter::new(file),
            path,
            error: None,
        };
        let mut version = Event::new();
        version.set_file_version("brain.Event:2".into());
        board.write(version, 0);
        if let Some(step) = restart_at {
            for _ in 0..2 {
                let mut log = SessionLog::new();
                log.set_status(SessionLog_SessionStatus::START);
                let mut event = Event::new();
                event.set_session_log(log);
                board.write(event, step);
            }
        }
        board.sync()?;
        Ok(board)
    }

    /// An event file that is to replace every event file in `dir` (a summary written
    /// anew each time): written under a name TensorBoard does not read, and put in place
    /// by [`Board::publish`]. It restarts at step 0, so that a TensorBoard that read the
    /// file it replaces drops all of that file.
    pub fn replacing(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        // Named after the process: a sweep and a report may each be writing one.
        let partial = dir.join(format!("{PARTIAL}.{}", std::process::id()));
        remove_if_present(&partial)?;
        Board::create(partial, Some(0))
    }

    /// Puts a [`Board::replacing`] file in place under an event file's name, then removes
    /// the event files it replaces; returns its path.
    pub fn publish(mut self) -> Result<PathBuf> {
        self.sync()?;
        let dir = self
            .path
            .parent()
            .expect("an event file is in a folder")
            .to_path_buf();
        let path = dir.join(new_file_name(&dir)?);
        std::fs::rename(&self.path, &path).with_context(|| {
            format!(
                "cannot rename {} to {}",
                self.path.display(),
                path.display()
            )
        })?;
        for old in event_files(&dir)? {
            if old != path {
                remove_if_present(&old)?;
            }
        }
        Ok(path)
    }

    /// Writes `summary` at `step` alone in a small event file beside this board's, named
    /// after it with `.<suffix>` (so that it sorts after it, and before the next
    /// process's), written whole and then renamed into place.
    pub fn write_beside(&self, suffix: &str, summary: Summary, step: u64) -> Result<PathBuf> {
        let dir = self.path.parent().expect("an event file is in a folder");
        let partial = dir.join(PARTIAL);
        remove_if_present(&partial)?;
        let mut side = Board::create(partial, None)?;
        side.add_summary(summary, step);
        side.sync()?;
        let mut name = self.path.file_name().expect("a file").to_os_string();
        name.push(format!(".{suffix}"));
        let path = dir.join(name);
        std::fs::rename(&side.path, &path).with_context(|| {
            format!(
                "cannot rename {} to {}",
                side.path.display(),
                path.display()
            )
        })?;
        Ok(path)
    }

    /// Removes the event files in `dir` that [`Board::write_beside`] wrote with `suffix`.
    pub fn remove_beside(dir: &Path, suffix: &str) -> Result<()> {
        if !dir.exists() {
            return Ok(());
        }
        let ending = format!(".{suffix}");
        for path in event_files(dir)? {
            if path.to_string_lossy().ends_with(&ending) {
                remove_if_present(&path)?;
            }
        }
        Ok(())
    }

    /// The event file this board writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(&mut self, mut event: Event, step: u64) {
        if self.error.is_some() {
            return;
        }
        event.set_wall_time(now());
        event.set_step(step as i64);
        let result = event
            .write_to_bytes()
            .map_err(std::io::Error::other)
            .and_then(|data| self.file.write_all(&record(&data)));
        if let Err(e) = result {
            self.error = Some(e);
        }
    }

    /// Logs a summary built elsewhere (the HParams ones, [`super::hparams`]).
    pub fn add_summary(&mut self, summary: Summary, step: u64) {
        let mut event = Event::new();
        event.set_summary(summary);
        self.write(event, step);
    }

    pub fn scalar(&mut self, tag: &str, value: f64, step: u64) {
        self.add_summary(scalar(tag, value as f32), step);
    }

    /// [`Board::scalar`] when there is a value.
    pub fn scalar_if_any(&mut self, tag: &str, value: Option<f64>, step: u64) {
        if let Some(value) = value {
            self.scalar(tag, value, step);
        }
    }

    /// A Markdown text (TensorBoard's text plugin).
    pub fn text(&mut self, tag: &str, markdown: &str, step: u64) {
        let summary = string_summary(tag, "text", markdown.as_bytes().to_vec());
        self.add_summary(summary, step);
    }

    /// A PNG image as it is (TensorBoard's images plugin), `width` × `height` pixels.
    pub fn png(&mut self, tag: &str, png: Vec<u8>, width: u32, height: u32, step: u64) {
        let mut image = Summary_Image::new();
        image.set_width(width as i32);
        image.set_height(height as i32);
        image.set_colorspace(3);
        image.set_encoded_image_string(png);
        let mut value = Summary_Value::new();
        value.set_tag(tag.into());
        value.set_image(image);
        let mut summary = Summary::new();
        summary.set_value(RepeatedField::from_vec(vec![value]));
        self.add_summary(summary, step);
    }

    /// The custom-scalars dashboard's layout (read from the last one logged).
    pub fn custom_scalars_layout(&mut self, layout: &Layout, step: u64) {
        let bytes = layout
            .write_to_bytes()
            .expect("an in-memory message serialises");
        let summary = string_summary("custom_scalars__config__", "custom_scalars", bytes);
        self.add_summary(summary, step);
    }

    /// A `log2|x|` histogram, one bucket per octave, zeros in the bucket left of the lowest.
    pub fn log2_histogram(&mut self, tag: &str, histogram: &Log2Histogram, step: u64) {
        let (limits, counts) = histogram.tensorboard_buckets();
        let filled = |c: &f64| *c > 0.0;
        let (Some(first), Some(last)) = (
            counts.iter().position(filled),
            counts.iter().rposition(filled),
        ) else {
            return;
        };
        // Bucket i covers (limits[i-1], limits[i]]; report centres for the summary statistics.
        let centre = |i: usize| limits[i] - 0.5;
        let num: f64 = counts.iter().sum();
        let sum: f64 = counts.iter().enumerate().map(|(i, c)| c * centre(i)).sum();
        let sum_squares: f64 = counts
            .iter()
            .enumerate()
            .map(|(i, c)| c * centre(i) * centre(i))
            .sum();
        let summary = histogram_raw(
            tag,
            limits[first] - 1.0,
            limits[last],
            num,
            sum,
            sum_squares,
            &limits,
            &counts,
        );
        self.add_summary(summary, step);
    }

    /// Hands what was logged to the operating system (a write error is kept for
    /// [`Board::sync`]).
    pub fn flush(&mut self) {
        if self.error.is_none() {
            if let Err(e) = self.file.flush() {
                self.error = Some(e);
            }
        }
    }

    /// Puts everything logged so far on the disk, or says why it could not.
    pub fn sync(&mut self) -> Result<()> {
        crate::fault::point("tensorboard:sync");
        self.flush();
        if self.error.is_none() {
            if let Err(e) = self.file.get_ref().sync_data() {
                self.error = Some(e);
            }
        }
        match &self.error {
            None => Ok(()),
            Some(e) => Err(anyhow::anyhow!(
                "cannot write the TensorBoard events {}: {e}",
                self.path.display()
            )),
        }
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        self.flush();
    }
}
