//! `scalefree check device`: the arguments and the table of [`crate::checks::device`]
//! (the CUDA path against the CPU); exits 1 when a difference exceeds its tolerance.
use crate::checks::device::{self, DeviceSettings};
use crate::checks::verdict::device_label;
use crate::config::flag_values::model_name;
use crate::config::parse_device;
use crate::sinks::atomic::write_json_atomic;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use tch::Device;

#[derive(Args, Debug)]
pub struct DeviceArgs {
    /// The device to check against the CPU: cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Models whose forward and backward are compared (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "resnet20,densenet100", value_parser = model_name)]
    pub models: Vec<String>,
    /// Write the comparisons as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the reference problem's iterates on --device to this file (the format of
    /// bench/pytorch/reference_iterates.py).
    #[arg(long)]
    pub iterates: Option<PathBuf>,
}

pub fn run(args: &DeviceArgs) -> Result<i32> {
    let device = parse_device(&args.device).map_err(|e| anyhow::anyhow!("--device: {e}"))?;
    let label = device_label(device);
    if let Some(path) = &args.iterates {
        write_json_atomic(path, &device::reference_problem(device)?)?;
        println!("wrote {} (reference problem on {label})", path.display());
    }
    if device == Device::Cpu {
        println!("models: not compared (--device is the CPU itself)");
    }
    let settings = DeviceSettings {
        device,
        models: args.models.clone(),
    };
    let report = device::compare(&settings)?;
    println!(
        "{:<64} {:>12} {:>10}",
        "comparison", "rel. diff", "tolerance"
    );
    for c in &report.comparisons {
        let mark = if c.passed { "" } else { "  FAILED" };
        println!(
            "{:<64} {:>12.2e} {:>10.0e}{mark}",
            c.what, c.relative_difference, c.tolerance
        );
    }
    let failed = report.comparisons.iter().filter(|c| !c.passed).count();
    println!(
        "{}",
        if report.passed {
            format!("{label}: every comparison within its tolerance")
        } else {
            format!("{label}: {failed} comparison(s) beyond their tolerance")
        }
    );
    if let Some(path) = &args.json {
        write_json_atomic(path, &report)?;
        println!("wrote {}", path.display());
    }
    Ok(if report.passed { 0 } else { 1 })
}
