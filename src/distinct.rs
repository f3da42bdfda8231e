//! `items` without repeats, in the order they first come: the order a user wrote a list of
//! models, seeds or factors in is the order tables and figures show them.

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
