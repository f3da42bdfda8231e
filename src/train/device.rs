//! The run's device beyond where tensors live: waiting for it, so that a measured time is
//! the device's work and not the time it took to queue it, cuDNN's algorithm choice, and
//! the CPU threads of libtorch and the data pipeline.
use tch::Device;

/// Set to `0` to keep cuDNN's benchmark mode off on CUDA (see [`configure`]).
pub const CUDNN_BENCHMARK_VAR: &str = "SCALEFREE_CUDNN_BENCHMARK";

/// Waits until `device` has finished the work queued on it (on the CPU, work is done
/// when the call that queued it returns).
pub fn synchronize(device: Device) {
    if let Device::Cuda(index) = device {
        tch::Cuda::synchronize(index as i64);
    }
}

/// On CUDA, cuDNN's benchmark mode: the first convolution of each shape times the
/// candidate algorithms and keeps the fastest (shapes are fixed here, so that happens in
/// the first steps only). The fastest can differ between runs, so results are not
/// reproducible bit for bit; `SCALEFREE_CUDNN_BENCHMARK=0` lets cuDNN's heuristics choose
/// instead. Returns whether benchmark mode is on.
pub fn configure(device: Device) -> bool {
    let on = device.is_cuda() && std::env::var(CUDNN_BENCHMARK_VAR).as_deref() != Ok("0");
    if device.is_cuda() {
        tch::Cuda::cudnn_set_benchmark(on);
    }
    on
}

/// The CPUs this process may use (cgroup quotas and affinity included).
pub fn available_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Refuses more threads than this process has CPUs: they would only slow each other (and
/// every other process) down, and tens of thousands cannot even be started.
pub fn refuse_more_threads_than_cpus(threads: Option<usize>) -> anyhow::Result<()> {
    let cpus = available_cpus();
    match threads {
        Some(n) if n > cpus => anyhow::bail!(
            "invalid `threads` = {n} (--threads): this machine gives this process {cpus} CPU{}, \
             so at most {cpus} threads help; give at most {cpus} (or leave it out for one per CPU)",
            if cpus == 1 { "" } else { "s" }
        ),
        _ => Ok(()),
    }
}

/// Sizes libtorch's thread pool and rayon's (the data pipeline's) to `threads`, when given.
pub fn set_threads(threads: Option<usize>) {
    if let Some(n) = threads {
        tch::set_num_threads(n as i32);
        // Only the first call in a process can size rayon's global pool.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    }
}
