//! What this binary runs on: its version, the libtorch it loaded and was built for, the
//! CPU threads and the GPUs. `scalefree info` prints it; every run directory records it
//! (`environment.json`).
use crate::libtorch;
use serde::Serialize;
use tch::Cuda;

#[derive(Serialize, Debug, Clone)]
pub struct Environment {
    pub scalefree_version: String,
    pub git_describe: String,
    /// The libtorch in use (found at run time).
    pub libtorch_version: String,
    pub libtorch_lib_dir: String,
    /// The libtorch the binary was built for (`TORCH_VERSION` at build time).
    pub libtorch_built_for: String,
    pub cpu_threads: i32,
    pub cuda_available: bool,
    pub cudnn_available: bool,
    pub gpus: Vec<String>,
}

impl Environment {
    pub fn detect() -> Self {
        let cuda_available = Cuda::is_available();
        let loaded = libtorch::Loaded::detect();
        Environment {
            scalefree_version: env!("CARGO_PKG_VERSION").to_string(),
            git_describe: option_env!("SCALEFREE_GIT_DESCRIBE")
                .unwrap_or("unknown")
                .to_string(),
            libtorch_version: loaded
                .as_ref()
                .map_or_else(|| "unknown".to_string(), |l| l.version.clone()),
            libtorch_lib_dir: loaded.as_ref().map_or_else(
                || "unknown".to_string(),
                |l| l.lib_dir.display().to_string(),
            ),
            libtorch_built_for: libtorch::built_for().to_string(),
            cpu_threads: tch::get_num_threads(),
            cuda_available,
            cudnn_available: cuda_available && Cuda::cudnn_is_available(),
            gpus: cuda_available.then(gpu_names).unwrap_or_default(),
        }
    }
}

/// The GPUs libtorch sees, counted only: touching one (an allocation) would open a CUDA
/// context on it, hundreds of MB on every GPU for every run, and fail on a GPU in
/// exclusive-process mode that another run holds. A run proves its own device by using it.
fn gpu_names() -> Vec<String> {
    (0..Cuda::device_count())
        .map(|i| format!("cuda:{i}"))
        .collect()
}
