//! `scalefree info`: what this binary runs on (the [`Environment`] every run directory
//! records too) and where it looks for data.
use crate::data::{self, DatasetKind};
use crate::environment::Environment;
use crate::fast_precisions::FastPrecisions;
use crate::libtorch;
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Args)]
pub struct InfoArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Where datasets are looked for when no `--data` is given, as `scalefree info` prints it.
#[derive(Serialize, Debug, Clone)]
pub struct DataLocations {
    /// `$SCALEFREE_DATA` when set, else `data` in the current directory.
    pub dir: PathBuf,
    /// What chose `dir`: `"SCALEFREE_DATA"` or `"current directory"`.
    pub dir_from: String,
    pub cifar10: PathBuf,
    pub cifar10_found: bool,
    pub cifar100: PathBuf,
    pub cifar100_found: bool,
    /// `$SCALEFREE_CACHE_DIR` when set, else `<dir>/cache`.
    pub cache_dir: PathBuf,
}

impl DataLocations {
    pub fn detect() -> Self {
        let set = |var| std::env::var_os(var).is_some_and(|v| !v.is_empty());
        let cifar10 = data::default_source(DatasetKind::Cifar10);
        let cifar100 = data::default_source(DatasetKind::Cifar100);
        DataLocations {
            dir: data::data_dir(),
            dir_from: if set(data::DATA_DIR_VAR) {
                data::DATA_DIR_VAR.to_string()
            } else {
                "current directory".to_string()
            },
            cifar10_found: cifar10.exists(),
            cifar10,
            cifar100_found: cifar100.exists(),
            cifar100,
            cache_dir: data::default_cache_dir(),
        }
    }
}

pub fn run(args: &InfoArgs) -> anyhow::Result<()> {
    let env = Environment::detect();
    let data = DataLocations::detect();
    let precisions = FastPrecisions::detect();
    if args.json {
        #[derive(Serialize)]
        struct Info<'a> {
            #[serde(flatten)]
            env: &'a Environment,
            data: &'a DataLocations,
            precisions: &'a FastPrecisions,
        }
        let info = Info {
            env: &env,
            data: &data,
            precisions: &precisions,
        };
        println!("{}", serde_json::to_string_pretty(&info)?);
    } else {
        println!(
            "scalefree        {} ({})",
            env.scalefree_version, env.git_describe
        );
        println!(
            "libtorch         {} at {}",
            env.libtorch_version, env.libtorch_lib_dir
        );
        println!("built for        libtorch {}", env.libtorch_built_for);
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
        let features = match precisions.cpu_bf16_features.as_slice() {
            [] => "no bfloat16 instructions: bf16 runs, emulated, slower".to_string(),
            flags => flags.join(", "),
        };
        println!(
            "fast precisions  {} (CPU: {features})",
            precisions.fast.join("; ")
        );
        let how = if data.dir_from == data::DATA_DIR_VAR {
            format!("from {}", data::DATA_DIR_VAR)
        } else {
            format!(
                "data/ in the current directory; {} overrides",
                data::DATA_DIR_VAR
            )
        };
        println!("data folder      {} ({how})", data.dir.display());
        for (kind, path, found) in [
            (DatasetKind::Cifar10, &data.cifar10, data.cifar10_found),
            (DatasetKind::Cifar100, &data.cifar100, data.cifar100_found),
        ] {
            let name = kind.name();
            let state = if found {
                "found".to_string()
            } else {
                format!("missing: {}, or --data PATH", crate::data::how_to_get(kind))
            };
            println!("  {name:<14} {} ({state})", path.display());
        }
        println!("  cache          {}", data.cache_dir.display());
    }
    // Printed first, refused after: the listing shows both versions side by side.
    libtorch::check_loaded().map_err(anyhow::Error::msg)
}
