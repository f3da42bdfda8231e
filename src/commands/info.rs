//! `scalefree info`: what this binary runs on, also recorded in every run directory.
use clap::Args;
use serde::Serialize;
use tch::Cuda;

#[derive(Args)]
pub struct InfoArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize, Debug, Clone)]
pub struct Environment {
    pub scalefree_version: String,
    pub git_describe: String,
    pub libtorch_version: String,
    pub libtorch_lib_dir: String,
    pub cpu_threads: i32,
    pub cuda_available: bool,
    pub cudnn_available: bool,
    pub gpus: Vec<String>,
}

impl Environment {
    pub fn detect() -> Self {
        let cuda_available = Cuda::is_available();
        Environment {
            scalefree_version: env!("CARGO_PKG_VERSION").to_string(),
            git_describe: option_env!("SCALEFREE_GIT_DESCRIBE")
                .unwrap_or("unknown")
                .to_string(),
            libtorch_version: libtorch_version(),
            libtorch_lib_dir: option_env!("SCALEFREE_LIBTORCH_LIB")
                .unwrap_or("unknown")
                .to_string(),
            cpu_threads: tch::get_num_threads(),
            cuda_available,
            cudnn_available: cuda_available && Cuda::cudnn_is_available(),
            gpus: if cuda_available {
                gpu_names()
            } else {
                Vec::new()
            },
        }
    }
}

fn libtorch_version() -> String {
    // The version file sits next to libtorch's lib directory in both the wheel and the
    // standalone libtorch distribution.
    let lib = option_env!("SCALEFREE_LIBTORCH_LIB").unwrap_or("");
    let root = std::path::Path::new(lib).parent();
    for candidate in ["version.py", "build-version"] {
        if let Some(text) = root.and_then(|r| std::fs::read_to_string(r.join(candidate)).ok()) {
            if let Some(v) = parse_version(&text) {
                return v;
            }
        }
    }
    "unknown".to_string()
}

fn parse_version(text: &str) -> Option<String> {
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("__version__") {
            return Some(
                rest.trim_start_matches([' ', '=', ':'])
                    .trim()
                    .trim_matches(['\'', '"'])
                    .to_string(),
            );
        }
    }
    let first = text.lines().next()?.trim();
    (!first.is_empty()).then(|| first.to_string())
}

fn gpu_names() -> Vec<String> {
    (0..Cuda::device_count())
        .map(|i| {
            // tch has no device-name query; allocating on the device proves it is usable.
            let ok = tch::Tensor::zeros([1], (tch::Kind::Float, tch::Device::Cuda(i as usize)))
                .numel()
                == 1;
            format!("cuda:{i}{}", if ok { "" } else { " (unusable)" })
        })
        .collect()
}

pub fn run(args: &InfoArgs) -> anyhow::Result<()> {
    let env = Environment::detect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&env)?);
    } else {
        println!(
            "scalefree        {} ({})",
            env.scalefree_version, env.git_describe
        );
        println!(
            "libtorch         {} at {}",
            env.libtorch_version, env.libtorch_lib_dir
        );
        println!("CPU threads      {}", env.cpu_threads);
        println!("CUDA available   {}", env.cuda_available);
        println!("cuDNN available  {}", env.cudnn_available);
        println!(
            "GPUs             {}",
            if env.gpus.is_empty() {
                "none".to_string()
            } else {
                env.gpus.join(", ")
            }
        );
    }
    Ok(())
}
