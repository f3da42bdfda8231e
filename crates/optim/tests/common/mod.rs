//! Helpers shared by the optimizer tests: an independent float64 reference written
//! straight from docs/paper.md#update-rules, and error measures.
#![allow(dead_code)]
use optim::DecayMode;
use tch::{Kind, Tensor};

/// docs/paper.md#update-rules, element by element in f64, with no shared code from the crate.
pub struct Reference {
    pub mode: DecayMode,
    pub lr0: f64,
    pub lambda: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub amsgrad: bool,
    pub x: Vec<f64>,
    m: Vec<f64>,
    v: Vec<f64>,
    vmax: Vec<f64>,
    t: i32,
}

impl Reference {
    pub fn new(mode: DecayMode, lr0: f64, lambda: f64, amsgrad: bool, x: Vec<f64>) -> Self {
        let n = x.len();
        Reference {
            mode,
            lr0,
            lambda,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            amsgrad,
            x,
            m: vec![0.0; n],
            v: vec![0.0; n],
            vmax: vec![0.0; n],
            t: 0,
        }
    }

    /// One step with data-loss gradient `g` at step size `lr` (`η_t`).
    // Indexed like the paper's per-coordinate formulas, on purpose.
    #[allow(clippy::needless_range_loop)]
    pub fn step(&mut self, g: &[f64], lr: f64) {
        self.t += 1;
        let s = lr / self.lr0;
        for i in 0..self.x.len() {
            let x = self.x[i];
            let h = match self.mode {
                DecayMode::L2 => g[i] + self.lambda * x,
                DecayMode::Decoupled | DecayMode::Proximal => g[i],
            };
            self.m[i] = self.beta1 * self.m[i] + (1.0 - self.beta1) * h;
            self.v[i] = self.beta2 * self.v[i] + (1.0 - self.beta2) * h * h;
            self.vmax[i] = self.vmax[i].max(self.v[i]);
            let m_hat = self.m[i] / (1.0 - self.beta1.powi(self.t));
            let v_used = if self.amsgrad {
                self.vmax[i]
            } else {
                self.v[i]
            };
            let v_hat = v_used / (1.0 - self.beta2.powi(self.t));
            let u = m_hat / (v_hat.sqrt() + self.eps);
            self.x[i] = match self.mode {
                DecayMode::L2 => x - lr * u,
                DecayMode::Decoupled => (1.0 - self.lambda * s) * x - lr * u,
                DecayMode::Proximal => (x - lr * u) / (1.0 + self.lambda * s),
            };
        }
    }
}

pub fn to_vec(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(t.to_kind(Kind::Double).flatten(0, -1)).unwrap()
}

/// `max_i |a_i − b_i| / max_i |b_i|`: the relative error of `a` in the max norm.
pub fn rel_error(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let diff = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    let scale = b.iter().map(|y| y.abs()).fold(0.0, f64::max);
    diff / scale
}

/// Standard normal samples from a seeded generator local to the call. Tests run in
/// parallel threads, so libtorch's global generator (`manual_seed`) cannot be shared.
pub fn gaussian(shape: &[i64], kind: Kind, seed: u64) -> Tensor {
    let n: i64 = shape.iter().product();
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut uniform = move || {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        ((state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let values: Vec<f64> = (0..n)
        .map(|_| (-2.0 * uniform().ln()).sqrt() * (2.0 * std::f64::consts::PI * uniform()).cos())
        .collect();
    Tensor::from_slice(&values).view(shape).to_kind(kind)
}

/// Parameters of mixed shapes, so that flat-buffer offsets matter.
pub fn mixed_params(kind: Kind, seed: u64) -> Vec<Tensor> {
    [vec![7, 5], vec![13], vec![2, 3, 4], vec![1]]
        .into_iter()
        .enumerate()
        .map(|(i, shape)| gaussian(&shape, kind, seed * 100 + i as u64).set_requires_grad(true))
        .collect()
}

pub fn flat_values(params: &[Tensor]) -> Vec<f64> {
    params.iter().flat_map(to_vec).collect()
}
