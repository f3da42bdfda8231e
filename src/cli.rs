//! The command line: one subcommand per job, each with its arguments beside its code in
//! `commands/`.
use crate::commands::{check, info, models, report, sweep, train};
use clap::{Parser, Subcommand};

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
    Info(info::InfoArgs),
    /// List the paper's models with their parameter counts, with and without BN.
    Models(models::ModelsArgs),
    /// Train one run: writes runs/<name>/ (config, metrics, summary, checkpoints, TensorBoard).
    #[command(allow_negative_numbers = true)]
    Train(Box<train::TrainArgs>),
    /// Check the paper's claims in minutes: AdamProx ≈ AdamW, scale-freeness, gradient scales.
    Check(check::CheckArgs),
    /// Run an experiment's grid, locally or on Slurm; `sweep status` shows where it stands.
    Sweep(sweep::SweepArgs),
    /// Figures and tables of an experiment from its run directories.
    Report(report::ReportArgs),
}
