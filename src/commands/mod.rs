//! The subcommands, on top of everything else: each reads its arguments, drives the
//! training core, the run directory or the reports, and prints.
pub mod check;
pub mod info;
pub mod models;
pub mod report;
pub mod sweep;
pub mod train;

/// `items` without repeats, in the order they first come.
pub fn distinct<T: PartialEq>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut out = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}
