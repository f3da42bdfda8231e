//! Whether a training step fits in this machine's memory, told before anything is built:
//! a model whose activations need more than there is would otherwise grow for minutes
//! until the kernel's out-of-memory killer ends it, with nothing said.
use crate::config::RunConfig;
use anyhow::{bail, Result};

/// What the process holds without a model: libtorch, the decoded CIFAR images, the
/// loaders (measured: 0.78–0.83 GB peak for ResNet-8 on CIFAR-10, 2026-12-06).
const BASE_BYTES: f64 = 0.8e9;

/// Bytes kept per trainable parameter: the weight and its gradient in the flat buffers,
/// and the rule's state buffers (Adam's two moments, and AMSGrad's maximum when on).
fn bytes_per_parameter(config: &RunConfig) -> f64 {
    4.0 * (2.0 + config.optimizer.state_buffers() as f64)
}

/// A training step's memory in bytes: (base, parameters with optimizer state, activations).
pub fn step_estimate(config: &RunConfig, classes: i64) -> Result<(f64, f64, f64)> {
    let arch = models::parse_name(&config.model.name)?;
    let bn = config.model.bn;
    let parameters = arch.parameter_estimate(bn, classes) * bytes_per_parameter(config);
    let activations = 4.0 * arch.activation_estimate(bn) * config.data.batch_size as f64;
    Ok((BASE_BYTES, parameters, activations))
}

/// The memory this process may still use: the least of what the system has available,
/// what its cgroup allows, and its address-space limit.
pub fn available_bytes() -> Option<f64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib = |text: &str, key: &str| -> Option<f64> {
        let line = text.lines().find(|l| l.starts_with(key))?;
        line.split_whitespace().nth(1)?.parse::<f64>().ok()
    };
    let mut available = kib(&meminfo, "MemAvailable:")? * 1024.0;
    let cgroup = |file: &str| -> Option<f64> {
        std::fs::read_to_string(format!("/sys/fs/cgroup/{file}"))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    if let (Some(max), Some(current)) = (cgroup("memory.max"), cgroup("memory.current")) {
        available = available.min(max - current);
    }
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: reads this process's own limit into a local.
    if unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut limit) } == 0
        && limit.rlim_cur != libc::RLIM_INFINITY
    {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let used = kib(&status, "VmSize:")? * 1024.0;
        available = available.min(limit.rlim_cur as f64 - used);
    }
    Some(available.max(0.0))
}

fn gb(bytes: f64) -> String {
    format!("{:.1} GB", bytes / 1e9)
}

/// Refuses a run on the CPU whose step would not fit in the memory this process may use,
/// saying what it would need, what there is, and the largest batch that would fit.
pub fn refuse_what_does_not_fit(config: &RunConfig, classes: i64) -> Result<()> {
    let Some(available) = available_bytes() else {
        return Ok(()); // not Linux: nothing to compare with
    };
    let (base, parameters, activations) = step_estimate(config, classes)?;
    let need = base + parameters + activations;
    if need <= available {
        return Ok(());
    }
    let per_image = activations / config.data.batch_size as f64;
    let room = available - base - parameters;
    let advice = match (room / per_image).floor() {
        largest if largest >= 1.0 => {
            format!("at --batch-size {largest} or less it would fit, or use a smaller model")
        }
        _ => "even one image per batch does not fit: use a smaller model".to_string(),
    };
    bail!(
        "--model {}{} at --batch-size {} needs about {} for a training step ({} for the \
         process, {} for the parameters and the optimizer's state, {} for the activations), \
         and this machine lets this process use {}; {advice}",
        config.model.name,
        if config.model.bn { " --bn" } else { "" },
        config.data.batch_size,
        gb(need),
        gb(base),
        gb(parameters),
        gb(activations),
        gb(available),
    )
}
