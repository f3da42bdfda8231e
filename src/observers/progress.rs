//! The terminal as a training session's observer: a bar per epoch with the running loss
//! and accuracy, its rate and ETA; or, quiet (no terminal), one line per evaluation.
use crate::train::{Event, Observer};
use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    quiet: bool,
    epochs: u32,
    steps_per_epoch: u64,
    bar: ProgressBar,
}

impl Progress {
    pub fn new(quiet: bool, epochs: u32, steps_per_epoch: u64) -> Progress {
        Progress {
            quiet,
            epochs,
            steps_per_epoch,
            bar: ProgressBar::hidden(),
        }
    }

    fn epoch_bar(&self, epoch: u32, batch: u64) -> ProgressBar {
        if self.quiet {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(self.steps_per_epoch)
            .with_position(batch)
            .with_prefix(format!("epoch {}/{}", epoch + 1, self.epochs));
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} {msg} {per_sec} ETA {eta}",
            )
            .expect("the template is valid")
            .progress_chars("=> "),
        );
        bar
    }
}

impl Observer for Progress {
    fn observe(&mut self, event: &Event<'_>) -> Result<()> {
        match event {
            Event::EpochStarted { epoch, batch } => self.bar = self.epoch_bar(*epoch, *batch),
            Event::Progress { position } => {
                let tally = position.epoch_tally();
                self.bar.set_message(format!(
                    "loss {:.4} acc {:.3}",
                    tally.mean_loss().unwrap_or(0.0),
                    tally.accuracy().unwrap_or(0.0)
                ));
            }
            Event::BatchTaken { index } => self.bar.set_position(index + 1),
            Event::EpochEnded => self.bar.finish_and_clear(),
            Event::Evaluated(e) if self.quiet => println!(
                "epoch {:>3}/{} step {:>6}  train loss {:.4} acc {:.4}  {} loss {:.4} acc {:.4}  lr {:.2e}  {:.0} img/s",
                e.epoch, self.epochs, e.step, e.train_loss(), e.train_accuracy(), e.split,
                e.eval_loss(), e.eval_accuracy(), e.lr, e.images_per_s
            ),
            _ => {}
        }
        Ok(())
    }
}
