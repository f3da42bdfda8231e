//! `scalefree`: the driver binary.
mod allocator;

use scalefree::cli::Command;
use scalefree::commands::{check, info, models, report, sweep, train};
use scalefree::rundir::lock::Busy;
use scalefree::rundir::{RunDir, RunStatus};

/// Exit codes: 0 completed, 1 error, 2 usage, 3 diverged, 75 the run directory (or the
/// experiment) is being written by another process, 130 interrupted.
fn main() {
    // Die quietly on a closed pipe (`scalefree sweep x --dry-run | head`), as CLI tools do.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = scalefree::cli::parse();
    // `info` lists both versions before refusing; every other command refuses at once.
    if !matches!(cli.command, Command::Info(_)) {
        if let Err(mismatch) = scalefree::libtorch::check_loaded() {
            eprintln!("error: {mismatch}");
            std::process::exit(1);
        }
    }
    let result = match cli.command {
        Command::Info(args) => info::run(&args).map(|_| 0),
        Command::Models(args) => models::run(&args).map(|_| 0),
        Command::Check(args) => check::run(&args),
        Command::Report(args) => report::run(&args),
        Command::Sweep(args) => sweep::run(&args),
        Command::Train(args) => train::run(&args).map(|outcome| {
            let code = match outcome.status {
                RunStatus::Completed => 0,
                RunStatus::Diverged => 3,
                RunStatus::Interrupted => 130,
            };
            if code != 0 {
                eprintln!(
                    "run {:?}: see {}",
                    outcome.status,
                    RunDir::new(&outcome.run_dir).summary_path().display()
                );
            }
            code
        }),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            let busy = err
                .chain()
                .any(|cause| cause.downcast_ref::<Busy>().is_some());
            std::process::exit(if busy { Busy::EXIT_CODE } else { 1 });
        }
    }
}
