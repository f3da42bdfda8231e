//! Seeded initial values for weights.
//!
//! Values come from a ChaCha8 stream owned by the model being built, not from libtorch's
//! global generator: that one is shared by every thread of the process, so models built
//! concurrently (parallel tests, sweeps) would not be reproducible from their seed.
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{nn, Tensor};

pub(crate) struct InitRng {
    /// `None`: every value 0, for counting parameters, where drawing ResNet-1202's 19M
    /// normals would take ten times longer than the rest of building it.
    stream: Option<ChaCha8Rng>,
}

impl InitRng {
    pub(crate) fn new(seed: u64) -> Self {
        InitRng {
            stream: Some(ChaCha8Rng::seed_from_u64(seed)),
        }
    }

    pub(crate) fn zeros() -> Self {
        InitRng { stream: None }
    }

    /// A trainable variable `name` under `path` drawn from N(0, std²).
    pub(crate) fn normal(
        &mut self,
        path: &nn::Path,
        name: &str,
        shape: &[i64],
        std: f64,
    ) -> Tensor {
        let Some(stream) = &mut self.stream else {
            return path.zeros(name, shape);
        };
        let n = numel(shape);
        let mut values = Vec::with_capacity(n + 1);
        while values.len() < n {
            let (a, b) = standard_normal_pair(stream);
            values.extend([(std * a) as f32, (std * b) as f32]);
        }
        values.truncate(n);
        path.var_copy(name, &Tensor::from_slice(&values).view(shape))
    }

    /// A trainable variable `name` under `path` drawn from U(−bound, bound).
    pub(crate) fn uniform(
        &mut self,
        path: &nn::Path,
        name: &str,
        shape: &[i64],
        bound: f64,
    ) -> Tensor {
        let Some(stream) = &mut self.stream else {
            return path.zeros(name, shape);
        };
        let values: Vec<f32> = (0..numel(shape))
            .map(|_| (bound * (2.0 * stream.random::<f64>() - 1.0)) as f32)
            .collect();
        path.var_copy(name, &Tensor::from_slice(&values).view(shape))
    }
}

/// Box–Muller, written out rather than taken from `rand_distr` so that a dependency
/// update cannot change the weights a given seed produces.
fn standard_normal_pair(stream: &mut ChaCha8Rng) -> (f64, f64) {
    // 1 − u lies in (0, 1], so the logarithm is finite.
    let radius = (-2.0 * (1.0 - stream.random::<f64>()).ln()).sqrt();
    let (sin, cos) = (std::f64::consts::TAU * stream.random::<f64>()).sin_cos();
    (radius * cos, radius * sin)
}

fn numel(shape: &[i64]) -> usize {
    shape.iter().product::<i64>() as usize
}
