//! The three layer types both families are made of, with the variables named as
//! `naming` expects (`<layer>.weight`, `<layer>.bias`, BN buffers `<layer>.running_*`).
use crate::init::InitRng;
use tch::nn::{self, ModuleT};
use tch::Tensor;

/// `weight` in the dtype of the activations `xs` (a differentiable cast, for mixed
/// precision: see `Model::forward_t`), or itself when they already match.
fn in_kind_of(weight: &Tensor, xs: &Tensor) -> Tensor {
    if weight.kind() == xs.kind() {
        weight.shallow_clone()
    } else {
        weight.to_kind(xs.kind())
    }
}

/// A square convolution without bias; padding keeps the size for 3×3 at stride 1.
#[derive(Debug)]
pub(crate) struct Conv2d {
    weight: Tensor,
    stride: i64,
    padding: i64,
}

impl Conv2d {
    /// `init_std` is the standard deviation of the normal initial weights.
    pub(crate) fn new(
        path: nn::Path,
        rng: &mut InitRng,
        (in_channels, out_channels): (i64, i64),
        kernel: i64,
        stride: i64,
        init_std: f64,
    ) -> Self {
        let weight = rng.normal(
            &path,
            "weight",
            &[out_channels, in_channels, kernel, kernel],
            init_std,
        );
        Conv2d {
            weight,
            stride,
            padding: kernel / 2,
        }
    }

    pub(crate) fn forward(&self, xs: &Tensor) -> Tensor {
        xs.conv2d(
            &in_kind_of(&self.weight, xs),
            None::<Tensor>,
            [self.stride],
            [self.padding],
            [1],
            1,
        )
    }
}

/// A fully connected layer with bias.
#[derive(Debug)]
pub(crate) struct Linear {
    weight: Tensor,
    bias: Tensor,
}

impl Linear {
    /// Weight from N(0, `weight_std`²) when given, else U(±1/√fan_in) as PyTorch's default;
    /// bias U(±1/√fan_in) as PyTorch's default.
    pub(crate) fn new(
        path: nn::Path,
        rng: &mut InitRng,
        (inputs, outputs): (i64, i64),
        weight_std: Option<f64>,
    ) -> Self {
        let bound = 1.0 / (inputs as f64).sqrt();
        let weight = match weight_std {
            Some(std) => rng.normal(&path, "weight", &[outputs, inputs], std),
            None => rng.uniform(&path, "weight", &[outputs, inputs], bound),
        };
        let bias = rng.uniform(&path, "bias", &[outputs], bound);
        Linear { weight, bias }
    }

    pub(crate) fn forward(&self, xs: &Tensor) -> Tensor {
        xs.linear(
            &in_kind_of(&self.weight, xs),
            Some(in_kind_of(&self.bias, xs)),
        )
    }
}

/// ReLU written over `xs`, the fresh output of a convolution, a batch norm or a sum, whose
/// backward passes do not read it (a convolution keeps its input and weight, batch norm
/// its input and statistics, a sum nothing): the same values and gradients as `relu()`
/// without a new activation tensor per layer, which at depth is memory traffic a step
/// pays for twice (written forward, read backward).
pub(crate) fn relu_in_place(mut xs: Tensor) -> Tensor {
    let _ = xs.relu_();
    xs
}

/// A batch norm that is present or absent: a model without BN has no such variables at all.
#[derive(Debug)]
pub(crate) struct OptionalBatchNorm(Option<nn::BatchNorm>);

impl OptionalBatchNorm {
    /// Weight 1, bias 0, PyTorch's eps and momentum.
    pub(crate) fn new(path: nn::Path, channels: i64, present: bool) -> Self {
        let config = nn::BatchNormConfig {
            ws_init: nn::Init::Const(1.0),
            bs_init: nn::Init::Const(0.0),
            ..Default::default()
        };
        OptionalBatchNorm(present.then(|| nn::batch_norm2d(path, channels, config)))
    }

    pub(crate) fn is_present(&self) -> bool {
        self.0.is_some()
    }

    /// Batch statistics when `train`, running statistics otherwise; the identity when absent.
    pub(crate) fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        match &self.0 {
            Some(bn) => bn.forward_t(xs, train),
            None => xs.shallow_clone(),
        }
    }
}
