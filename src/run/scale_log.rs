//! Gradient-scale logging (docs/paper.md#figures): every `hist_every` steps, histograms of
//! `log2|g|`, `log2|Δx|`, `log2(|Δx|/η_0)` and `log2|x|` for each non-BN layer and for all
//! of them merged, the spreads as scalars, and one `scales.jsonl` row for the report.
//!
//! Everything is counted on the device from the optimizer's flat buffers (a few ops per
//! layer); only the bin counts travel to the host.
use super::tensorboard::Board;
use crate::scales::{log2_histograms, merge, spread, Log2Histogram, ScaleSpread, LOW_OCTAVE};
use anyhow::Result;
use optim::Adam;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use tch::Tensor;

/// The parts of one layer (weight, bias) in the optimizer's groups.
struct Layer {
    name: String,
    /// (group index, offset, numel)
    parts: Vec<(usize, i64, i64)>,
}

/// What `scales.jsonl` holds per logged step: spreads and merged octave counts.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ScaleRow {
    pub step: u64,
    pub epoch: u32,
    pub lowest_octave: i64,
    pub grad_spread: Option<SpreadRow>,
    pub update_spread: Option<SpreadRow>,
    /// Counts per octave from `lowest_octave` up, and the number of exact zeros.
    pub grad_octaves: Vec<f64>,
    pub grad_zeros: f64,
    pub update_octaves: Vec<f64>,
    pub update_zeros: f64,
    pub update_over_lr_octaves: Vec<f64>,
    pub update_over_lr_zeros: f64,
    pub param_octaves: Vec<f64>,
    pub param_zeros: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SpreadRow {
    pub p01: f64,
    pub p50: f64,
    pub p99: f64,
    pub spread: f64,
    pub layer_median_range: f64,
}

impl From<ScaleSpread> for SpreadRow {
    fn from(s: ScaleSpread) -> Self {
        SpreadRow {
            p01: s.p01,
            p50: s.p50,
            p99: s.p99,
            spread: s.spread,
            layer_median_range: s.layer_median_range,
        }
    }
}

pub struct ScaleLogger {
    every: u64,
    lr0: f64,
    layers: Vec<Layer>,
    before: Option<Vec<Tensor>>,
    pending: Option<(Vec<Log2Histogram>, Vec<Log2Histogram>)>,
    rows: Vec<ScaleRow>,
    path: PathBuf,
}

impl ScaleLogger {
    /// `excluded` says which parameters to leave out (batch-norm ones); `layer_of` maps a
    /// parameter name to its layer's name.
    pub fn new(
        opt: &Adam,
        every: u64,
        path: PathBuf,
        rows: Vec<ScaleRow>,
        excluded: impl Fn(&str) -> bool,
        layer_of: impl Fn(&str) -> String,
    ) -> Self {
        let mut layers: Vec<Layer> = Vec::new();
        for (g, group) in opt.groups().enumerate() {
            for slot in group.slots().filter(|s| !excluded(&s.name)) {
                let name = layer_of(&slot.name);
                match layers.iter_mut().find(|l| l.name == name) {
                    Some(layer) => layer.parts.push((g, slot.offset, slot.numel)),
                    None => layers.push(Layer {
                        name,
                        parts: vec![(g, slot.offset, slot.numel)],
                    }),
                }
            }
        }
        ScaleLogger {
            every,
            lr0: opt.config().lr,
            layers,
            before: None,
            pending: None,
            rows,
            path,
        }
    }

    /// Whether step `t` (1-based, about to be taken) is logged: the first and every
    /// `every`-th.
    pub fn due(&self, t: u64) -> bool {
        self.every > 0 && !self.layers.is_empty() && (t == 1 || t.is_multiple_of(self.every))
    }

    fn per_layer(&self, flats: &[&Tensor], divide_by: f64) -> Vec<Log2Histogram> {
        let per_group: Vec<Vec<Log2Histogram>> = flats
            .iter()
            .enumerate()
            .map(|(g, flat)| {
                let segments: Vec<(i64, i64)> = self
                    .layers
                    .iter()
                    .flat_map(|l| l.parts.iter().filter(|p| p.0 == g).map(|p| (p.1, p.2)))
                    .collect();
                log2_histograms(flat, &segments, divide_by)
            })
            .collect();
        // Reassemble per layer, in the order the segments were listed for each group.
        let mut cursors = vec![0usize; flats.len()];
        self.layers
            .iter()
            .map(|layer| {
                let mut h = Log2Histogram::empty();
                for part in &layer.parts {
                    h.add(&per_group[part.0][cursors[part.0]]);
                    cursors[part.0] += 1;
                }
                h
            })
            .collect()
    }

    /// Before the optimizer step: gradients and parameters, and a copy of the values.
    pub fn before_step(&mut self, opt: &mut Adam) -> Result<()> {
        opt.sync_buffers()?;
        let grads: Vec<Tensor> = opt.groups().map(|g| g.grads().shallow_clone()).collect();
        let values: Vec<Tensor> = opt.groups().map(|g| g.values().copy()).collect();
        let grad = self.per_layer(&grads.iter().collect::<Vec<_>>(), 1.0);
        let param = self.per_layer(&values.iter().collect::<Vec<_>>(), 1.0);
        self.before = Some(values);
        self.pending = Some((grad, param));
        Ok(())
    }

    /// After the step: the updates; writes everything for step `t`.
    pub fn after_step(&mut self, opt: &Adam, board: &mut Board, t: u64, epoch: u32) -> Result<()> {
        let (Some(before), Some((grad, param))) = (self.before.take(), self.pending.take()) else {
            return Ok(());
        };
        let deltas: Vec<Tensor> = opt
            .groups()
            .zip(&before)
            .map(|(g, b)| g.values() - b)
            .collect();
        let delta_refs: Vec<&Tensor> = deltas.iter().collect();
        let update = self.per_layer(&delta_refs, 1.0);
        let update_over_lr = self.per_layer(&delta_refs, self.lr0);

        for (kind, per_layer) in [
            ("grad", &grad),
            ("update", &update),
            ("update_over_lr", &update_over_lr),
            ("param", &param),
        ] {
            board.log2_histogram(&format!("hist/{kind}/all"), &merge(per_layer), t);
            for (layer, h) in self.layers.iter().zip(per_layer.iter()) {
                board.log2_histogram(&format!("hist/{kind}/{}", layer.name), h, t);
            }
        }
        let grad_spread = spread(&grad);
        let update_spread = spread(&update);
        if let Some(s) = &grad_spread {
            board.scalar("scale/grad_log2_spread", s.spread, t);
            board.scalar("scale/layer_median_range", s.layer_median_range, t);
        }
        if let Some(s) = &update_spread {
            board.scalar("scale/update_log2_spread", s.spread, t);
            board.scalar("scale/update_layer_median_range", s.layer_median_range, t);
        }
        let (g, u, ul, p) = (
            merge(&grad),
            merge(&update),
            merge(&update_over_lr),
            merge(&param),
        );
        self.rows.push(ScaleRow {
            step: t,
            epoch,
            lowest_octave: LOW_OCTAVE,
            grad_spread: grad_spread.map(Into::into),
            update_spread: update_spread.map(Into::into),
            grad_octaves: g.octaves(),
            grad_zeros: g.zeros,
            update_octaves: u.octaves(),
            update_zeros: u.zeros,
            update_over_lr_octaves: ul.octaves(),
            update_over_lr_zeros: ul.zeros,
            param_octaves: p.octaves(),
            param_zeros: p.zeros,
        });
        super::jsonl::write_jsonl(&self.path, &self.rows)
    }

    pub fn last(&self) -> Option<&ScaleRow> {
        self.rows.last()
    }
}

pub fn read_scale_rows(path: &std::path::Path) -> Result<Vec<ScaleRow>> {
    super::jsonl::read_jsonl(path, "scales row")
}
