//! Command-line interface: one subcommand per job.
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "scalefree",
    version,
    about = "Adam-l2, AdamW and AdamProx on CIFAR ResNets and DenseNets"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Print versions, the libtorch in use, CPU threads, CUDA/cuDNN availability and GPUs.
    Info(InfoArgs),
}

#[derive(Args)]
pub struct InfoArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}
