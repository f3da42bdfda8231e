//! The tensor-op kernel: a fixed handful of libtorch ops over each group's flat
//! buffers, whatever the number of parameters. This is the CUDA path; on CPU it is
//! available through `Kernel::TensorOps` so that CI, which has no GPU, tests it too.
use crate::coefficients::StepCoefficients;
use tch::Tensor;

pub fn step(
    c: &StepCoefficients,
    params: &mut Tensor,
    grads: &Tensor,
    exp_avg: &mut Tensor,
    exp_avg_sq: &mut Tensor,
    max_exp_avg_sq: Option<&mut Tensor>,
) {
    let _no_grad = tch::no_grad_guard();
    let h = if c.l2 != 0.0 {
        grads + &*params * c.l2
    } else {
        grads.shallow_clone()
    };
    let _ = exp_avg
        .g_mul_scalar_(c.beta1)
        .g_add_(&(&h * c.one_minus_beta1));
    let _ = exp_avg_sq
        .g_mul_scalar_(c.beta2)
        .g_add_(&(&h * c.one_minus_beta2 * &h));
    let second_moment = match max_exp_avg_sq {
        Some(vmax) => {
            let larger = vmax.maximum(exp_avg_sq);
            vmax.copy_(&larger);
            vmax.shallow_clone()
        }
        None => exp_avg_sq.shallow_clone(),
    };
    let denom = second_moment.sqrt() / c.sqrt_bias_correction2 + c.eps;
    if c.pre_scale != 1.0 {
        let _ = params.g_mul_scalar_(c.pre_scale);
    }
    let _ = params.g_sub_(&(&*exp_avg * c.step_size / denom));
    if c.post_divisor != 1.0 {
        let _ = params.g_div_scalar_(c.post_divisor);
    }
}
