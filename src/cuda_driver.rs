//! Why libtorch may see no GPU on a GPU machine: the torch wheel's CUDA runtime is newer
//! than the NVIDIA driver supports. libtorch then says so once on stderr and reports no
//! device, and `--device auto` (or a sweep's default) would quietly train on the CPU.
//! When `nvidia-smi` lists GPUs that libtorch cannot see, runs that would have used them
//! stop here and say how to get a matching wheel (`make clean-venv && make setup TORCH_CUDA=…`).
use anyhow::{bail, Result};
use std::process::Command;

/// What `nvidia-smi` says about the machine.
#[derive(Clone, Debug, PartialEq)]
pub struct DriverReport {
    /// `name, driver version` per GPU.
    pub gpus: Vec<(String, String)>,
    /// The newest CUDA the driver supports (`CUDA Version` in its banner), when shown.
    pub driver_cuda: Option<String>,
}

/// `nvidia-smi`'s GPUs, or `None` when it is missing, fails or lists none.
pub fn nvidia_smi() -> Option<DriverReport> {
    let listed = Command::new("nvidia-smi")
        .args(["--query-gpu=name,driver_version", "--format=csv,noheader"])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let gpus: Vec<(String, String)> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter_map(|line| {
            let (name, driver) = line.rsplit_once(',')?;
            Some((name.trim().to_string(), driver.trim().to_string()))
        })
        .collect();
    if gpus.is_empty() {
        return None;
    }
    let banner = Command::new("nvidia-smi").output().ok();
    let driver_cuda = banner.and_then(|o| {
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        let rest = &text[text.find("CUDA Version:")? + "CUDA Version:".len()..];
        rest.split_whitespace()
            .next()
            .map(|v| v.trim_end_matches('|').to_string())
    });
    Some(DriverReport { gpus, driver_cuda })
}

/// The CUDA version the torch wheel was built for (`cuda = '12.8'` in its version.py): of
/// the libtorch this process loaded (in a bundle, the node's), else of the build's.
pub fn wheel_cuda() -> Option<String> {
    let lib = crate::libtorch::Loaded::detect()
        .map(|loaded| loaded.lib_dir)
        .or_else(|| option_env!("SCALEFREE_LIBTORCH_LIB").map(std::path::PathBuf::from))?;
    let text = std::fs::read_to_string(lib.parent()?.join("version.py")).ok()?;
    text.lines()
        .filter(|line| line.starts_with("cuda"))
        .find_map(|line| {
            let value = line.split_once('=')?.1.trim().trim_matches(['\'', '"']);
            (!value.is_empty() && value != "None").then(|| value.to_string())
        })
}

/// Why the GPUs `nvidia-smi` lists are not usable here, when libtorch sees none of them.
pub fn unusable_gpus() -> Option<String> {
    if tch::Cuda::device_count() > 0 {
        return None;
    }
    let report = nvidia_smi()?;
    let (name, driver) = &report.gpus[0];
    let driver_cuda = report.driver_cuda.as_deref().map_or(String::new(), |v| {
        format!(", which supports CUDA up to {v}")
    });
    let wheel = wheel_cuda().map_or("the torch wheel's CUDA runtime".to_string(), |v| {
        format!("the torch wheel's CUDA runtime ({v})")
    });
    let at_most = report.driver_cuda.as_deref().map_or(String::new(), |v| {
        format!("; here at most cu{}", v.replace('.', ""))
    });
    // Run through a bundle's launcher, the libtorch is that of SCALEFREE_PYTHON's torch.
    let remedy = if std::env::var_os("SCALEFREE_LAUNCHER").is_some() {
        format!(
            "Point SCALEFREE_PYTHON at a Python whose torch is built for a CUDA the driver \
             supports (a +cuXYZ build{at_most}) and the same release as this bundle"
        )
    } else {
        format!(
            "Install a torch wheel built for a CUDA the driver supports, `make clean-venv && \
             make setup TORCH_CUDA=cuXYZ` (the Makefile's TORCH_CUDA chooses the wheel's CUDA \
             flavour, e.g. cu126{at_most})"
        )
    };
    Some(format!(
        "nvidia-smi lists {} GPU(s) ({name}, driver {driver}{driver_cuda}) but libtorch sees \
         none: {wheel} is most likely newer than this driver supports. {remedy}, or update \
         the NVIDIA driver. To train on the CPU anyway, pass --device cpu.",
        report.gpus.len()
    ))
}

/// Stops a run that would use a GPU (`what`: the setting that asked for one) when
/// `nvidia-smi` lists GPUs that libtorch cannot see.
pub fn refuse_unusable_gpus(what: &str) -> Result<()> {
    match unusable_gpus() {
        Some(why) => bail!("{what}: {why}"),
        None => Ok(()),
    }
}
