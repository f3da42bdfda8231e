//! TensorBoard event files under the run's `tb/`, written with tensorboard-rs.
//!
//! Event files are append-only streams by TensorBoard's design (its reader ignores a
//! torn last record), so they are the one output not written by rename. On resume, a
//! `SessionLog.START` event at the first step after the checkpoint tells TensorBoard to
//! drop what the interrupted process logged past that point, so no step appears twice.
use crate::scales::{merge, Log2Histogram};
use crate::train::scale_probe::ScaleSnapshot;
use anyhow::{Context, Result};
use std::path::Path;
use tensorboard_proto::event::{Event, SessionLog, SessionLog_SessionStatus};
use tensorboard_rs::summary::{histogram_raw, scalar};
use tensorboard_rs::summary_writer::FileWriter;

pub struct Board {
    writer: FileWriter,
}

impl Board {
    /// Opens a new event file in `dir`; `resumed_after` is the step of the checkpoint a
    /// resumed run continues from.
    pub fn open(dir: &Path, resumed_after: Option<u64>) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut writer = FileWriter::new(dir);
        if let Some(step) = resumed_after {
            let mut log = SessionLog::new();
            log.set_status(SessionLog_SessionStatus::START);
            let mut event = Event::new();
            event.set_session_log(log);
            writer.add_event(&event, step as usize + 1);
        }
        Ok(Board { writer })
    }

    pub fn scalar(&mut self, tag: &str, value: f64, step: u64) {
        self.writer
            .add_summary(scalar(tag, value as f32), step as usize);
    }

    /// A `log2|x|` histogram, one bucket per octave, zeros in the bucket left of the lowest.
    pub fn log2_histogram(&mut self, tag: &str, histogram: &Log2Histogram, step: u64) {
        let (limits, counts) = histogram.tensorboard_buckets();
        let filled: Vec<usize> = counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0.0)
            .map(|(i, _)| i)
            .collect();
        let (Some(&first), Some(&last)) = (filled.first(), filled.last()) else {
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
        self.writer.add_summary(summary, step as usize);
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

    pub fn flush(&mut self) {
        self.writer.flush();
    }
}
