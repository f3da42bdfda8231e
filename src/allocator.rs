//! The `scalefree` binary's allocator: jemalloc in place of glibc's malloc, for libtorch's
//! tensors too (the crate's unprefixed `malloc`/`free` are the ones the dynamic linker
//! gives libtorch), keeping the memory it frees.
//!
//! Why: glibc serves an allocation above its mmap threshold (at most 32 MB) with a fresh
//! mapping and unmaps it on free. A training step allocates and frees its activations
//! (tens of MB each for DenseNet-BC-100 at batch 128) every step, so every step faults
//! every page of them in again, and the kernel zeroes each one: measured on 2 cores of an
//! AMD EPYC, DenseNet-BC-100 with BN in bf16, 10 steps: 9.7 s of system time in 22.3 s
//! (`clear_page_erms` the top symbol of `perf`), 1.3 s with this allocator, 17.8 s in all.
//! PyTorch's documentation gives the same advice for CPU training (jemalloc or tcmalloc
//! by LD_PRELOAD); a binary can simply link it.
//!
//! `dirty_decay_ms:-1,muzzy_decay_ms:-1`: freed pages are never returned to the kernel, so
//! the process stays at its peak, which a training step reaches every step anyway.
//! jemalloc's default (return them after 10 s) measured slower than glibc here.

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read when it starts (before `main`): a NUL-terminated C string.
#[export_name = "malloc_conf"]
pub static MALLOC_CONF: Option<&'static u8> = Some(&b"dirty_decay_ms:-1,muzzy_decay_ms:-1\0"[0]);
