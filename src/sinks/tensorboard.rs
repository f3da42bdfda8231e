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
use crate::scales::{merge, Log2Histogram};
use crate::train::scale_probe::ScaleSnapshot;
use anyhow::{Context, Result};
use protobuf::Message;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};
use tensorboard_proto::event::{Event, SessionLog, SessionLog_SessionStatus};
use tensorboard_proto::summary::Summary;
use tensorboard_rs::masked_crc32c::masked_crc32c;
use tensorboard_rs::summary::{histogram_raw, scalar};

const PREFIX: &str = "events.out.tfevents.";

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
        let restarts = if resumed_after.is_some() { 2 } else { 0 };
        let first_step = resumed_after.unwrap_or(0) + 1;
        for _ in 0..restarts {
            let mut log = SessionLog::new();
            log.set_status(SessionLog_SessionStatus::START);
            let mut event = Event::new();
            event.set_session_log(log);
            board.write(event, first_step);
        }
        board.sync()?;
        Ok(board)
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
            .and_then(|data| {
                let len = (data.len() as u64).to_le_bytes();
                self.file.write_all(&len)?;
                self.file.write_all(&masked_crc32c(&len).to_le_bytes())?;
                self.file.write_all(&data)?;
                self.file.write_all(&masked_crc32c(&data).to_le_bytes())
            });
        if let Err(e) = result {
            self.error = Some(e);
        }
    }

    fn add_summary(&mut self, summary: Summary, step: u64) {
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

    /// A probe's snapshot: `hist/<quantity>/{all,<layer>}` and the spreads as
    /// `scale/…` scalars.
    pub fn scale_snapshot(&mut self, snapshot: &ScaleSnapshot) {
        let t = snapshot.step;
        for (kind, per_layer) in &snapshot.per_layer {
            self.log2_histogram(&format!("hist/{kind}/all"), &merge(per_layer), t);
            for (layer, h) in snapshot.layer_names.iter().zip(per_layer) {
                self.log2_histogram(&format!("hist/{kind}/{layer}"), h, t);
            }
        }
        if let Some(s) = &snapshot.grad_spread {
            self.scalar("scale/grad_log2_spread", s.spread, t);
            self.scalar("scale/layer_median_range", s.layer_median_range, t);
        }
        if let Some(s) = &snapshot.update_spread {
            self.scalar("scale/update_log2_spread", s.spread, t);
            self.scalar("scale/update_layer_median_range", s.layer_median_range, t);
        }
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
