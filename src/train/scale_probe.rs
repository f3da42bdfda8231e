//! The gradient-scale probe: every `hist_every` steps, histograms of `log2|g|`,
//! `log2|Δx|`, `log2(|Δx|/η_0)` and `log2|x|` for each non-BN layer, their spreads, and
//! the merged counts that `scales.jsonl` keeps for the report (the paper's magnitude
//! histograms).
//!
//! Everything is counted on the device from the optimizer's flat buffers (a few ops per
//! layer); only the bin counts travel to the host.
use crate::scales::{log2_histograms, spread, Log2Histogram, ScaleSpread};
use anyhow::Result;
use models::LayerKind;
use optim::Adam;
use tch::Tensor;

/// The parts of one non-BN layer (weight, bias) in the optimizer's groups.
pub struct Layer {
    pub name: String,
    /// (group index, offset, numel)
    pub parts: Vec<(usize, i64, i64)>,
}

/// The layers whose scales are logged: every layer outside batch norm, its weight and
/// bias together, in the order of the optimizer's slots.
pub fn layers_of(opt: &Adam) -> Vec<Layer> {
    let mut layers: Vec<Layer> = Vec::new();
    for (g, group) in opt.groups().enumerate() {
        for slot in group
            .slots()
            .filter(|s| models::layer_kind(s.name()) != Some(LayerKind::BatchNorm))
        {
            let name = models::layer_name(slot.name()).to_string();
            match layers.iter_mut().find(|l| l.name == name) {
                Some(layer) => layer.parts.push((g, slot.offset(), slot.numel())),
                None => layers.push(Layer {
                    name,
                    parts: vec![(g, slot.offset(), slot.numel())],
                }),
            }
        }
    }
    layers
}

/// One logged step: per-layer histograms of each quantity and the spreads.
pub struct ScaleSnapshot {
    pub step: u64,
    pub epoch: u32,
    pub layer_names: Vec<String>,
    /// (`grad`, `update`, `update_over_lr`, `param`) with one histogram per layer.
    pub per_layer: [(&'static str, Vec<Log2Histogram>); 4],
    pub grad_spread: Option<ScaleSpread>,
    pub update_spread: Option<ScaleSpread>,
}

pub struct ScaleProbe {
    every: u64,
    lr0: f64,
    layers: Vec<Layer>,
    before: Option<Vec<Tensor>>,
    pending: Option<(Vec<Log2Histogram>, Vec<Log2Histogram>)>,
}

impl ScaleProbe {
    pub fn new(opt: &Adam, every: u64) -> Self {
        ScaleProbe {
            every,
            lr0: opt.config().lr,
            layers: layers_of(opt),
            before: None,
            pending: None,
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
        opt.sync_grads()?;
        let grads: Vec<Tensor> = opt.groups().map(|g| g.grads().shallow_clone()).collect();
        let values: Vec<Tensor> = opt.groups().map(|g| g.values().copy()).collect();
        let grad = self.per_layer(&grads.iter().collect::<Vec<_>>(), 1.0);
        let param = self.per_layer(&values.iter().collect::<Vec<_>>(), 1.0);
        self.before = Some(values);
        self.pending = Some((grad, param));
        Ok(())
    }

    /// After the step: the updates; everything measured at step `t`.
    pub fn after_step(&mut self, opt: &Adam, t: u64, epoch: u32) -> Option<ScaleSnapshot> {
        let (Some(before), Some((grad, param))) = (self.before.take(), self.pending.take()) else {
            return None;
        };
        let deltas: Vec<Tensor> = opt
            .groups()
            .zip(&before)
            .map(|(g, b)| g.values() - b)
            .collect();
        let delta_refs: Vec<&Tensor> = deltas.iter().collect();
        let update = self.per_layer(&delta_refs, 1.0);
        let update_over_lr = self.per_layer(&delta_refs, self.lr0);

        let grad_spread = spread(&grad);
        let update_spread = spread(&update);
        Some(ScaleSnapshot {
            step: t,
            epoch,
            layer_names: self.layers.iter().map(|l| l.name.clone()).collect(),
            per_layer: [
                ("grad", grad),
                ("update", update),
                ("update_over_lr", update_over_lr),
                ("param", param),
            ],
            grad_spread,
            update_spread,
        })
    }
}
