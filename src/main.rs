//! `scalefree`: the driver binary.
use clap::Parser;
use scalefree::cli::{Cli, Command};
use scalefree::info;

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info(args) => info::run(&args),
    };
    if let Err(err) = result {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}
