//! The tensor-op kernel: a fixed handful of libtorch ops over a range of a group's flat
//! buffers, whatever the number of parameters in it. This is the CUDA path; on CPU it is
//! available through `Kernel::TensorOps` so that CI, which has no GPU, tests it too.
//!
//! The arguments are handles to (views of) the flat buffers: the ops write through them.
use crate::coefficients::StepCoefficients;
use tch::Tensor;

pub struct Buffers<'a> {
    pub params: &'a Tensor,
    pub grads: &'a Tensor,
    pub exp_avg: &'a Tensor,
    pub exp_avg_sq: &'a Tensor,
    pub max_exp_avg_sq: Option<&'a Tensor>,
}

pub fn step(c: &StepCoefficients, b: Buffers<'_>) {
    let _no_grad = tch::no_grad_guard();
    let mut params = b.params.shallow_clone();
    let h = if c.l2 != 0.0 {
        b.grads + &params * c.l2
    } else {
        b.grads.shallow_clone()
    };
    let mut exp_avg = b.exp_avg.shallow_clone();
    let _ = exp_avg
        .g_mul_scalar_(c.beta1)
        .g_add_(&(&h * c.one_minus_beta1));
    let mut exp_avg_sq = b.exp_avg_sq.shallow_clone();
    let _ = exp_avg_sq
        .g_mul_scalar_(c.beta2)
        .g_add_(&(&h * c.one_minus_beta2 * &h));
    let second_moment = match b.max_exp_avg_sq {
        Some(vmax) => {
            let larger = vmax.maximum(&exp_avg_sq);
            vmax.shallow_clone().copy_(&larger);
            vmax.shallow_clone()
        }
        None => exp_avg_sq,
    };
    let denom = second_moment.sqrt() / c.sqrt_bias_correction2 + c.eps;
    if c.pre_scale != 1.0 {
        let _ = params.g_mul_scalar_(c.pre_scale);
    }
    let _ = params.g_sub_(&(&exp_avg * c.step_size / denom));
    if c.post_divisor != 1.0 {
        let _ = params.g_div_scalar_(c.post_divisor);
    }
}
