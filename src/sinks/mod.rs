//! Where results go: atomic file writes, JSON-lines files and TensorBoard event files.
pub mod atomic;
pub mod jsonl;
pub mod tensorboard;
