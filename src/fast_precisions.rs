//! Which `--precision`s train fast on this machine, for `scalefree info`. Every precision
//! runs anywhere it is allowed (bf16 without native support is emulated by libtorch,
//! slower than fp32); the fast ones are those the hardware computes natively.
use serde::Serialize;
use std::process::Command;

/// The precisions and why they are fast (or not) here.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct FastPrecisions {
    /// The CPU's bfloat16 instructions that libtorch's kernels use (x86: `avx512_bf16`,
    /// `amx_bf16`; ARM: `bf16`), as /proc/cpuinfo lists them.
    pub cpu_bf16_features: Vec<String>,
    /// Each GPU's compute capability as `nvidia-smi` reports it (bf16 tensor cores from
    /// 8.0, f16 from 7.0).
    pub gpu_compute_capabilities: Vec<String>,
    /// `cpu: fp32, bf16` and `cuda: fp32, bf16, f16`, as fast here.
    pub fast: Vec<String>,
}

const CPU_BF16_FLAGS: [&str; 3] = ["avx512_bf16", "amx_bf16", "bf16"];

impl FastPrecisions {
    pub fn detect() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let capabilities = gpu_compute_capabilities();
        FastPrecisions::from_parts(&cpuinfo, capabilities)
    }

    /// From /proc/cpuinfo's text and the GPUs' compute capabilities (`8.6`).
    pub fn from_parts(cpuinfo: &str, capabilities: Vec<String>) -> Self {
        let cpu_bf16_features: Vec<String> = cpuinfo
            .lines()
            .filter(|line| line.starts_with("flags") || line.starts_with("Features"))
            .take(1)
            .flat_map(|line| {
                line.split_once(':')
                    .map_or("", |(_, v)| v)
                    .split_whitespace()
            })
            .filter(|flag| CPU_BF16_FLAGS.contains(flag))
            .map(str::to_string)
            .collect();
        let mut cpu = vec!["fp32"];
        if !cpu_bf16_features.is_empty() {
            cpu.push("bf16");
        }
        let mut fast = vec![format!("cpu: {}", cpu.join(", "))];
        for (i, capability) in capabilities.iter().enumerate() {
            let major: u32 = capability
                .split('.')
                .next()
                .and_then(|m| m.parse().ok())
                .unwrap_or(0);
            let mut gpu = vec!["fp32"];
            if major >= 8 {
                gpu.push("bf16");
            }
            if major >= 7 {
                gpu.push("f16");
            }
            fast.push(format!("cuda:{i}: {}", gpu.join(", ")));
        }
        FastPrecisions {
            cpu_bf16_features,
            gpu_compute_capabilities: capabilities,
            fast,
        }
    }
}

/// `nvidia-smi --query-gpu=compute_cap` (drivers from 510 on); none without it. Asking the
/// driver keeps libtorch from opening a CUDA context on every GPU.
fn gpu_compute_capabilities() -> Vec<String> {
    Command::new("nvidia-smi")
        .args(["--query-gpu=compute_cap", "--format=csv,noheader"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_is_fast_on_a_cpu_with_avx512_bf16_and_on_gpus_from_ampere() {
        let cpuinfo = "processor\t: 0\nflags\t\t: fpu sse avx512f avx512_bf16 amx_tile\n\
                       processor\t: 1\nflags\t\t: fpu sse avx512f avx512_bf16 amx_tile\n";
        let p = FastPrecisions::from_parts(cpuinfo, vec!["8.0".into(), "7.5".into()]);
        assert_eq!(p.cpu_bf16_features, ["avx512_bf16"]);
        assert_eq!(
            p.fast,
            [
                "cpu: fp32, bf16",
                "cuda:0: fp32, bf16, f16",
                "cuda:1: fp32, f16"
            ]
        );
    }

    #[test]
    fn without_bf16_instructions_only_fp32_is_fast_on_the_cpu() {
        let p = FastPrecisions::from_parts("flags\t\t: fpu sse avx2 avx512f\n", vec![]);
        assert!(p.cpu_bf16_features.is_empty());
        assert_eq!(p.fast, ["cpu: fp32"]);
    }
}
