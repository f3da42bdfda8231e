//! A model's size from its name alone, before any tensor exists: its trainable parameters
//! counted from the architecture, so that a name too large to build is refused at once
//! instead of filling the memory while it is built (`resnet600002` is a valid 6n+2 name).
use crate::architecture::Architecture;

/// The most trainable parameters of a model that is built: 400 MB of float32 weights,
/// five times the paper's largest model (ResNet-1202, 19.4 million). Training needs at
/// least four times the weights (gradients, Adam's two moments), before activations.
pub const MAX_PARAMETERS: f64 = 100e6;

/// The most output classes: CIFAR has 10 or 100, ImageNet-21k 21,841.
pub const MAX_CLASSES: i64 = 100_000;

const RESNET_WIDTHS: [f64; 3] = [16.0, 32.0, 64.0];
const DENSENET_GROWTH: f64 = 12.0;
const DENSENET_BOTTLENECK: f64 = 4.0 * DENSENET_GROWTH;

impl Architecture {
    /// Trainable parameters with or without BN for `classes` outputs, as `f64` so that any
    /// depth a name can hold is counted without overflow (exact below 2^53).
    pub fn parameter_estimate(&self, bn: bool, classes: i64) -> f64 {
        let n = self.units_per_stage() as f64;
        let classes = classes as f64;
        // A BN layer has a scale and a shift per channel.
        let bn_of = |channels: f64| if bn { 2.0 * channels } else { 0.0 };
        let conv = |c_in: f64, c_out: f64, kernel: f64| c_in * c_out * kernel * kernel;
        match self {
            Architecture::ResNet { .. } => {
                let mut total = conv(3.0, 16.0, 3.0) + bn_of(16.0);
                let mut c_in = 16.0;
                for w in RESNET_WIDTHS {
                    let first = conv(c_in, w, 3.0) + conv(w, w, 3.0) + 2.0 * bn_of(w);
                    let rest = 2.0 * (conv(w, w, 3.0) + bn_of(w));
                    total += first + (n - 1.0) * rest;
                    c_in = w;
                }
                total + 64.0 * classes + classes
            }
            Architecture::DenseNetBc { .. } => {
                let mut channels = 2.0 * DENSENET_GROWTH;
                let mut total = conv(3.0, channels, 3.0);
                for block in 1..=3 {
                    // Layer i of the block sees `channels + growth·i` input channels.
                    let inputs = n * channels + DENSENET_GROWTH * n * (n - 1.0) / 2.0;
                    let per_input = DENSENET_BOTTLENECK + if bn { 2.0 } else { 0.0 };
                    let fixed = bn_of(DENSENET_BOTTLENECK)
                        + conv(DENSENET_BOTTLENECK, DENSENET_GROWTH, 3.0);
                    total += per_input * inputs + n * fixed;
                    channels += DENSENET_GROWTH * n;
                    if block < 3 {
                        let out = (channels / 2.0).floor();
                        total += bn_of(channels) + conv(channels, out, 1.0);
                        channels = out;
                    }
                }
                total + bn_of(channels) + channels * classes + classes
            }
        }
    }

    /// The float32 values autograd keeps per image for a training step's backward pass
    /// (activations), from the architecture: what makes a deep DenseNet need tens of GB
    /// at a batch size its parameters would never suggest (its concatenations grow with
    /// the square of the depth).
    ///
    /// Counted per layer from the shapes, then scaled to what was measured on the CPU
    /// (peak resident memory of 2 steps at batch 128 and 512, minus the process's size
    /// without a model, 2026-12-06): ResNet-56 holds 2.1 (without BN) and 3.8 (with BN)
    /// tensors of each block's output size per block; DenseNet-BC-100 holds 0.58 and 0.74
    /// of the layer-by-layer count below. An estimate, good to tell 2 GB from 200 GB.
    pub fn activation_estimate(&self, bn: bool) -> f64 {
        let n = self.units_per_stage() as f64;
        let sides = [32.0f64, 16.0, 8.0];
        match self {
            Architecture::ResNet { .. } => {
                let per_block = if bn { 3.8 } else { 2.1 };
                let stem = 16.0 * 32.0 * 32.0 * if bn { 3.0 } else { 2.0 };
                let blocks: f64 = RESNET_WIDTHS
                    .iter()
                    .zip(sides)
                    .map(|(w, side)| n * per_block * w * side * side)
                    .sum();
                stem + blocks
            }
            Architecture::DenseNetBc { .. } => {
                let measured = if bn { 0.74 } else { 0.58 };
                let mut channels = 2.0 * DENSENET_GROWTH;
                let mut total = channels * 32.0 * 32.0;
                for (block, side) in sides.into_iter().enumerate() {
                    // Layer i sees c_i = channels + growth·i channels: BN and ReLU outputs
                    // of them, the bottleneck's outputs, and the concatenation it makes.
                    let inputs = n * channels + DENSENET_GROWTH * n * (n - 1.0) / 2.0;
                    let (per_input, per_layer) = if bn { (3.0, 168.0) } else { (2.0, 120.0) };
                    total += (per_input * inputs + per_layer * n) * side * side;
                    channels += DENSENET_GROWTH * n;
                    if block < 2 {
                        total += 2.5 * channels * side * side;
                        channels = (channels / 2.0).floor();
                    }
                }
                measured * total
            }
        }
    }

    /// The deepest model of this family within [`MAX_PARAMETERS`].
    pub fn largest_buildable(&self) -> Architecture {
        let of_units = |units: i64| match self {
            Architecture::ResNet { .. } => Architecture::ResNet {
                depth: 6 * units + 2,
            },
            Architecture::DenseNetBc { .. } => Architecture::DenseNetBc {
                depth: 6 * units + 4,
            },
        };
        let fits = |units: i64| of_units(units).parameter_estimate(true, 0) <= MAX_PARAMETERS;
        let (mut lo, mut hi) = (1i64, 1i64 << 32);
        while lo < hi {
            let mid = lo + (hi - lo + 1) / 2;
            if fits(mid) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        of_units(lo)
    }
}

/// `9.7 billion`, `19.4 million`, `80,000`.
pub(crate) fn count_text(n: f64) -> String {
    if n >= 1e9 {
        format!("{:.1} billion", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.1} million", n / 1e6)
    } else {
        format!("{n:.0}")
    }
}

/// `233 GB`, `400 MB`: the size of `parameters` float32 weights.
pub(crate) fn float32_bytes_text(parameters: f64) -> String {
    let bytes = 4.0 * parameters;
    if bytes >= 1e9 {
        format!("{:.0} GB", bytes / 1e9)
    } else {
        format!("{:.0} MB", bytes / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Elements per image as measured (see [`Architecture::activation_estimate`]), within
    /// a quarter.
    #[test]
    fn the_activation_estimate_is_near_what_was_measured() {
        let close = |name: &str, bn: bool, measured: f64| {
            let arch: Architecture = name.parse().unwrap();
            let estimate = arch.activation_estimate(bn);
            assert!(
                (estimate / measured - 1.0).abs() < 0.25,
                "{name} bn={bn}: {estimate:.3e} vs {measured:.3e}"
            );
        };
        close("resnet56", false, 0.54e6);
        close("resnet56", true, 0.97e6);
        close("densenet100", false, 4.9e6);
        close("densenet100", true, 9.2e6);
        // Deep DenseNets grow with the square of their depth.
        let deep: Architecture = "densenet1000".parse().unwrap();
        assert!(deep.activation_estimate(false) > 50.0 * 4.9e6);
    }
}
