//! What a run directory says about its run.
use crate::run::metrics::{RunStatus, Summary};
use std::path::Path;

#[derive(Clone, Debug, PartialEq)]
pub enum RunState {
    /// Nothing written yet.
    Pending,
    /// Started, no summary: running now, or stopped without one (killed, crashed).
    Started,
    Finished(Summary),
}

impl RunState {
    pub fn of(dir: &Path) -> RunState {
        match Summary::read(&dir.join("summary.json")) {
            Ok(summary) => RunState::Finished(summary),
            Err(_) if dir.join("config.json").exists() => RunState::Started,
            Err(_) => RunState::Pending,
        }
    }

    /// Completed and diverged runs are final; a sweep skips them.
    pub fn is_final(&self) -> bool {
        matches!(self, RunState::Finished(s) if s.status != RunStatus::Interrupted)
    }

    /// A run that already wrote its directory continues from its checkpoint.
    pub fn needs_resume(&self) -> bool {
        !matches!(self, RunState::Pending)
    }

    pub fn label(&self) -> &'static str {
        match self {
            RunState::Pending => "pending",
            RunState::Started => "started",
            RunState::Finished(s) => match s.status {
                RunStatus::Completed => "completed",
                RunStatus::Diverged => "diverged",
                RunStatus::Interrupted => "interrupted",
            },
        }
    }
}
