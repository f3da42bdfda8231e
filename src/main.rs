//! `scalefree`: the driver binary.
use scalefree::cli::Command;
use scalefree::commands::{check, info, models, report, sweep, train};
use scalefree::rundir::lock::Busy;
use scalefree::rundir::{RunDir, RunStatus};

// The binary's allocator: jemalloc in place of glibc's malloc, for libtorch's
// tensors too (the crate's unprefixed `malloc`/`free` are the ones the dynamic linker
// gives libtorch), keeping the memory it frees.
//
// Why: glibc serves an allocation above its mmap threshold (at most 32 MB) with a fresh
// mapping and unmaps it on free. A training step allocates and frees its activations
// (tens of MB each for DenseNet-BC-100 at batch 128) every step, so every step faults
// every page of them in again, and the kernel zeroes each one: measured on 2 cores of an
// AMD EPYC, DenseNet-BC-100 with BN in bf16, 10 steps: 9.7 s of system time in 22.3 s
// (`clear_page_erms` the top symbol of `perf`), 2.5 s with this allocator, 16.8 s in all.
// PyTorch's documentation gives the same advice for CPU training (jemalloc or tcmalloc
// by LD_PRELOAD); a binary can simply link it.
//
// `dirty_decay_ms:-1,muzzy_decay_ms:-1`: freed pages are never returned to the kernel, so
// the process stays at its peak, which a training step reaches every step anyway.
// jemalloc's default (return them after 10 s) measured slower than glibc here.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read when it starts (before `main`): a NUL-terminated C string.
#[export_name = "malloc_conf"]
pub static MALLOC_CONF: Option<&'static u8> = Some(&b"dirty_decay_ms:-1,muzzy_decay_ms:-1\0"[0]);

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
