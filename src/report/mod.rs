//! `scalefree report`: figures and tables from an experiment's run directories
//! (arriving with the experiments issue).
use clap::Args;

#[derive(Args, Debug)]
pub struct ReportArgs {}

pub fn run(_args: &ReportArgs) -> anyhow::Result<i32> {
    anyhow::bail!("`scalefree report` is not built yet")
}
