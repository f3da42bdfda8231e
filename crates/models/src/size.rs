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
