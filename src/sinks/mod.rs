//! Writers, and nothing that knows of a training run: atomic file writes, JSON-lines
//! files, TensorBoard event files and HParams summaries. The session's observers that use
//! them live in `crate::observers`.
pub mod atomic;
pub mod hparams;
pub mod jsonl;
pub mod tensorboard;
