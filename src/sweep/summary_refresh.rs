//! A local sweep's summary run for TensorBoard, rewritten whenever runs end, on a thread
//! of its own: drawing the report's figures for a large grid takes seconds, which the
//! sweep's loop would otherwise spend with GPUs idle. One rewrite at a time; runs that end
//! during one ask for the next, and the sweep waits for the last before it ends.
use crate::experiment::{ExperimentDir, Plan};
use std::thread::JoinHandle;

pub struct SummaryRefresh {
    plan: Plan,
    folder: ExperimentDir,
    /// The rewrite under way; it answers why it failed, if it did.
    worker: Option<JoinHandle<Option<String>>>,
    /// Runs ended since the rewrite under way began.
    wanted: bool,
}

/// Rewrites the summary run now; why it could not, if it could not.
fn rewrite(plan: &Plan, folder: &ExperimentDir) -> Option<String> {
    crate::report::refresh_summary_run(plan, folder)
        .err()
        .map(|e| format!("the summary run for TensorBoard was not written: {e:#}"))
}

impl SummaryRefresh {
    pub fn new(plan: &Plan, folder: &ExperimentDir) -> SummaryRefresh {
        SummaryRefresh {
            plan: plan.clone(),
            folder: folder.clone(),
            worker: None,
            wanted: false,
        }
    }

    /// Asks for a rewrite (a run ended); it starts once the one under way is done.
    pub fn request(&mut self) {
        self.wanted = true;
    }

    /// Collects a finished rewrite (saying why it failed) and starts the next if asked.
    pub fn poll(&mut self, say: &dyn Fn(String)) {
        if self.worker.as_ref().is_some_and(|w| w.is_finished()) {
            self.collect(say);
        }
        if self.worker.is_none() && self.wanted {
            self.wanted = false;
            let (plan, folder) = (self.plan.clone(), self.folder.clone());
            self.worker = Some(std::thread::spawn(move || rewrite(&plan, &folder)));
        }
    }

    fn collect(&mut self, say: &dyn Fn(String)) {
        if let Some(worker) = self.worker.take() {
            match worker.join() {
                Ok(Some(why)) => say(why),
                Ok(None) => {}
                Err(_) => {
                    say("the summary run for TensorBoard was not written (it panicked)".into())
                }
            }
        }
    }

    /// Waits for the rewrite under way, then does the one still asked for.
    pub fn finish(&mut self, say: &dyn Fn(String)) {
        self.collect(say);
        if self.wanted {
            self.wanted = false;
            if let Some(why) = rewrite(&self.plan, &self.folder) {
                say(why);
            }
        }
    }

    /// A rewrite now, on this thread (the sweep's start).
    pub fn now(plan: &Plan, folder: &ExperimentDir, say: &dyn Fn(String)) {
        if let Some(why) = rewrite(plan, folder) {
            say(why);
        }
    }
}
