//! `scalefree check`: the paper's claims as commands (arriving with the checks issue).
use clap::Args;

#[derive(Args, Debug)]
pub struct CheckArgs {}

pub fn run(_args: &CheckArgs) -> anyhow::Result<i32> {
    anyhow::bail!("`scalefree check` is not built yet")
}
