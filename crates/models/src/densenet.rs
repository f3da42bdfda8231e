//! DenseNet-BC for CIFAR (Huang et al. 2017): 3×3 conv 3→2k, three dense blocks of
//! bottleneck layers separated by compressing transitions, then BN-ReLU-pool-linear.
use crate::init::InitRng;
use crate::layers::{relu_in_place, Conv2d, Linear, OptionalBatchNorm};
use tch::{nn, Tensor};

const GROWTH: i64 = 12;
const BOTTLENECK_WIDTH: i64 = 4 * GROWTH;
const DENSE_BLOCKS: usize = 3;

/// The paper's conv init: N(0, 2 / (k·k·out_channels)), fan-out rather than fan-in.
fn conv(path: nn::Path, rng: &mut InitRng, channels: (i64, i64), kernel: i64) -> Conv2d {
    let std = (2.0 / (kernel * kernel * channels.1) as f64).sqrt();
    Conv2d::new(path, rng, channels, kernel, 1, std)
}

/// BN-ReLU-conv1×1-BN-ReLU-conv3×3, its `GROWTH` new channels concatenated to its input.
#[derive(Debug)]
struct Bottleneck {
    bn1: OptionalBatchNorm,
    conv1: Conv2d,
    bn2: OptionalBatchNorm,
    conv2: Conv2d,
}

impl Bottleneck {
    fn new(path: nn::Path, rng: &mut InitRng, in_channels: i64, bn: bool) -> Self {
        Bottleneck {
            bn1: OptionalBatchNorm::new(&path / "bn1", in_channels, bn),
            conv1: conv(&path / "conv1", rng, (in_channels, BOTTLENECK_WIDTH), 1),
            bn2: OptionalBatchNorm::new(&path / "bn2", BOTTLENECK_WIDTH, bn),
            conv2: conv(&path / "conv2", rng, (BOTTLENECK_WIDTH, GROWTH), 3),
        }
    }

    /// `xs` are the features so far, rectified already when the network has no BN (see
    /// [`DenseNetBc::forward_t`]); so is what this returns.
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let input = if self.bn1.is_present() {
            relu_in_place(self.bn1.forward_t(xs, train))
        } else {
            xs.shallow_clone()
        };
        let out = relu_in_place(self.bn2.forward_t(&self.conv1.forward(&input), train));
        let out = self.conv2.forward(&out);
        let out = if self.bn1.is_present() {
            out
        } else {
            relu_in_place(out)
        };
        Tensor::cat(&[xs, &out], 1)
    }
}

/// BN-ReLU-conv1×1-avgpool2, halving the channels (compression 0.5) and the resolution.
#[derive(Debug)]
struct Transition {
    bn: OptionalBatchNorm,
    conv: Conv2d,
}

impl Transition {
    /// Features in and out as [`Bottleneck::forward_t`] has them.
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let present = self.bn.is_present();
        let input = if present {
            relu_in_place(self.bn.forward_t(xs, train))
        } else {
            xs.shallow_clone()
        };
        let out = self
            .conv
            .forward(&input)
            .avg_pool2d([2, 2], [2, 2], [0, 0], false, true, None);
        if present {
            out
        } else {
            relu_in_place(out)
        }
    }
}

#[derive(Debug)]
pub(crate) struct DenseNetBc {
    conv1: Conv2d,
    /// Dense block `i` is followed by transition `i`, except the last.
    dense: Vec<Vec<Bottleneck>>,
    transitions: Vec<Transition>,
    bn_final: OptionalBatchNorm,
    fc: Linear,
}

impl DenseNetBc {
    pub(crate) fn new(
        path: &nn::Path,
        rng: &mut InitRng,
        layers_per_block: i64,
        bn: bool,
        classes: i64,
    ) -> Self {
        let mut channels = 2 * GROWTH;
        let conv1 = conv(path / "conv1", rng, (3, channels), 3);
        let mut dense = Vec::new();
        let mut transitions = Vec::new();
        for block in 1..=DENSE_BLOCKS {
            let block_path = path / format!("dense{block}");
            let layers = (1..=layers_per_block)
                .map(|layer| {
                    let bottleneck =
                        Bottleneck::new(&block_path / format!("layer{layer}"), rng, channels, bn);
                    channels += GROWTH;
                    bottleneck
                })
                .collect();
            dense.push(layers);
            if block < DENSE_BLOCKS {
                let trans_path = path / format!("trans{block}");
                let out_channels = channels / 2;
                transitions.push(Transition {
                    bn: OptionalBatchNorm::new(&trans_path / "bn", channels, bn),
                    conv: conv(&trans_path / "conv", rng, (channels, out_channels), 1),
                });
                channels = out_channels;
            }
        }
        let bn_final = OptionalBatchNorm::new(path / "bn_final", channels, bn);
        let fc = Linear::new(path / "fc", rng, (channels, classes), None);
        DenseNetBc {
            conv1,
            dense,
            transitions,
            bn_final,
            fc,
        }
    }

    /// Without BN every use of the features is rectified first (each layer's and each
    /// transition's BN-ReLU is then a ReLU, and so is the head's), so the network keeps
    /// them rectified: each layer rectifies its 12 new channels once instead of every
    /// later layer rectifying the whole concatenation again. The same values and
    /// gradients, with a fraction of the elementwise work and memory.
    pub(crate) fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut out = self.conv1.forward(xs);
        if !self.bn_final.is_present() {
            out = relu_in_place(out);
        }
        for (i, layers) in self.dense.iter().enumerate() {
            for layer in layers {
                out = layer.forward_t(&out, train);
            }
            if let Some(transition) = self.transitions.get(i) {
                out = transition.forward_t(&out, train);
            }
        }
        let out = if self.bn_final.is_present() {
            relu_in_place(self.bn_final.forward_t(&out, train))
        } else {
            out
        };
        // Global average pool: on 32×32 inputs the map is 8×8, so this is the paper's avgpool8.
        self.fc
            .forward(&out.mean_dim([2i64, 3].as_slice(), false, None))
    }
}
