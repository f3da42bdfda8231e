//! Where results go: atomic file writes, JSON-lines files and TensorBoard event files;
//! TensorBoard and the terminal as a training session's observers.
pub mod atomic;
pub mod hparams;
pub mod jsonl;
pub mod progress;
pub mod run_board;
pub mod tensorboard;
