//! The command line: one subcommand per job, each with its arguments beside its code in
//! `commands/`; the help of every flag that is a run setting comes from the table of
//! settings ([`keys::SETTINGS`]), so it is written once.
use crate::commands::{check, info, models, report, sweep, train};
use crate::config::keys;
use clap::{Arg, CommandFactory, FromArgMatches, Parser, Subcommand};

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
    Train(Box<train::TrainArgs>),
    /// Check the paper's claims in minutes: AdamProx ≈ AdamW, scale-freeness, gradient scales.
    Check(check::CheckArgs),
    /// Run an experiment's grid, locally or on Slurm; `sweep status` shows where it stands.
    Sweep(sweep::SweepArgs),
    /// Figures and tables of an experiment from its run directories.
    Report(report::ReportArgs),
}

/// The command line with every setting's help from the table: `train`'s flags are the
/// settings, with the table's defaults; a check's flag that is a setting and has no help
/// of its own gets the setting's help, and the table's default unless the check has one
/// of its own (which clap shows).
///
/// Every command takes negative numbers as values (`--classes -5`), so that the flag's own
/// check says what is valid rather than clap calling `-5` an unexpected argument.
pub fn command() -> clap::Command {
    Cli::command().mut_subcommands(|sub| {
        let sub = sub
            .allow_negative_numbers(true)
            .mut_subcommands(|nested| nested.allow_negative_numbers(true));
        match sub.get_name() {
            "train" => with_setting_help(sub, true),
            "check" => sub.mut_subcommands(|check| with_setting_help(check, false)),
            _ => sub,
        }
    })
}

/// Parses the process's arguments (exits with clap's message on bad input or `--help`).
pub fn parse() -> Cli {
    let matches = command().get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

fn with_setting_help(command: clap::Command, with_defaults: bool) -> clap::Command {
    let ids: Vec<String> = command
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .collect();
    ids.iter().fold(command, |command, id| {
        let Some(setting) = keys::get(id) else {
            return command;
        };
        command.mut_arg(id, |arg: Arg| {
            let own_default = !arg.get_default_values().is_empty();
            match (with_defaults, arg.get_help().is_some()) {
                (true, _) => arg.help(setting.help_with_default()),
                (false, true) => arg,
                (false, false) if own_default => arg.help(setting.help),
                (false, false) => arg.help(setting.help_with_default()),
            }
        })
    })
}
