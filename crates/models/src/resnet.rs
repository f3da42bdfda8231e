//! CIFAR ResNet (He et al. 2016, §4.2): 3×3 conv 16 → three stages of basic blocks with
//! 16, 32, 64 channels → global average pool → linear, with option-A shortcuts.
use crate::init::InitRng;
use crate::layers::{relu_in_place, Conv2d, Linear, OptionalBatchNorm};
use tch::{nn, Tensor};

const STAGE_WIDTHS: [i64; 3] = [16, 32, 64];

/// The shortcut of a downsampling block ("option A"): every second pixel of the input,
/// with `planes / 4` channels of zeros added on each side of the channel dimension, so
/// that `planes / 2` input channels become `planes`. It adds no parameters.
pub fn option_a_shortcut(xs: &Tensor, planes: i64) -> Tensor {
    let pad = planes / 4;
    xs.slice(2, 0, None, 2)
        .slice(3, 0, None, 2)
        .constant_pad_nd([0, 0, 0, 0, pad, pad])
}

/// Kaiming-normal with fan-in and ReLU gain, the paper's init for conv and linear weights.
fn kaiming_std(fan_in: i64) -> f64 {
    (2.0 / fan_in as f64).sqrt()
}

#[derive(Debug)]
struct BasicBlock {
    conv1: Conv2d,
    bn1: OptionalBatchNorm,
    conv2: Conv2d,
    bn2: OptionalBatchNorm,
    /// Output channels when this block halves the resolution (and doubles the channels).
    downsample_to: Option<i64>,
}

impl BasicBlock {
    fn new(
        path: nn::Path,
        rng: &mut InitRng,
        in_planes: i64,
        planes: i64,
        stride: i64,
        bn: bool,
    ) -> Self {
        let conv1 = Conv2d::new(
            &path / "conv1",
            rng,
            (in_planes, planes),
            3,
            stride,
            kaiming_std(in_planes * 9),
        );
        let bn1 = OptionalBatchNorm::new(&path / "bn1", planes, bn);
        let conv2 = Conv2d::new(
            &path / "conv2",
            rng,
            (planes, planes),
            3,
            1,
            kaiming_std(planes * 9),
        );
        let bn2 = OptionalBatchNorm::new(&path / "bn2", planes, bn);
        let downsample_to = (stride != 1 || in_planes != planes).then_some(planes);
        BasicBlock {
            conv1,
            bn1,
            conv2,
            bn2,
            downsample_to,
        }
    }

    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let out = relu_in_place(self.bn1.forward_t(&self.conv1.forward(xs), train));
        let mut out = self.bn2.forward_t(&self.conv2.forward(&out), train);
        let shortcut = match self.downsample_to {
            Some(planes) => option_a_shortcut(xs, planes),
            None => xs.shallow_clone(),
        };
        let _ = out.g_add_(&shortcut);
        relu_in_place(out)
    }
}

#[derive(Debug)]
pub(crate) struct ResNet {
    conv1: Conv2d,
    bn1: OptionalBatchNorm,
    blocks: Vec<BasicBlock>,
    fc: Linear,
}

impl ResNet {
    pub(crate) fn new(
        path: &nn::Path,
        rng: &mut InitRng,
        blocks_per_stage: i64,
        bn: bool,
        classes: i64,
    ) -> Self {
        let conv1 = Conv2d::new(path / "conv1", rng, (3, 16), 3, 1, kaiming_std(3 * 9));
        let bn1 = OptionalBatchNorm::new(path / "bn1", 16, bn);
        let mut blocks = Vec::new();
        let mut in_planes = 16;
        for (stage, planes) in STAGE_WIDTHS.into_iter().enumerate() {
            let stage_path = path / format!("stage{}", stage + 1);
            for block in 0..blocks_per_stage {
                let stride = if stage > 0 && block == 0 { 2 } else { 1 };
                let block_path = &stage_path / format!("block{}", block + 1);
                blocks.push(BasicBlock::new(
                    block_path, rng, in_planes, planes, stride, bn,
                ));
                in_planes = planes;
            }
        }
        let fc = Linear::new(
            path / "fc",
            rng,
            (in_planes, classes),
            Some(kaiming_std(in_planes)),
        );
        ResNet {
            conv1,
            bn1,
            blocks,
            fc,
        }
    }

    pub(crate) fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut out = relu_in_place(self.bn1.forward_t(&self.conv1.forward(xs), train));
        for block in &self.blocks {
            out = block.forward_t(&out, train);
        }
        // Global average pool: the paper's avg_pool2d over the whole (8×8) feature map.
        self.fc
            .forward(&out.mean_dim([2i64, 3].as_slice(), false, None))
    }
}
