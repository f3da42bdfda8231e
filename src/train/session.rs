//! A training session: one [`Trainer`] with everything its loop keeps (where it stands,
//! the learning-rate schedule, the deferred statistics reads, the scale probe, the step
//! timer and the stop rule). [`Session::run`] takes steps and evaluations until the run
//! ends, and tells its observers what happened; what they make of it (the run
//! directory's files, TensorBoard, a progress bar) is theirs. The checks step several
//! sessions side by side instead ([`super::lockstep`]).
use super::device;
use super::factors::LayerFactors;
use super::scale_probe::{ScaleProbe, ScaleSnapshot};
use super::step_timing::{StepTimer, StepTiming};
use super::tally::{StepStats, Tally};
use super::trainer::{Position, Trainer};
use crate::data::{Batch, Loader};
use anyhow::Result;
use optim::Schedule;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tch::Device;

/// Steps between reads of the training statistics from the device: each read waits for
/// the device (see [`super::PendingStats`]). The first step is read too, and every step
/// whose scales are logged.
pub const READ_EVERY: u64 = 20;

/// A batch's loss goes to TensorBoard at step 1 and every this many steps (steps that are
/// read anyway, [`READ_EVERY`]); `losses.jsonl` has it at least as often.
pub const BATCH_LOSS_EVERY: u64 = READ_EVERY;

/// Whether step `step`'s batch loss goes to TensorBoard.
pub fn records_batch_loss(step: u64) -> bool {
    step == 1 || step.is_multiple_of(BATCH_LOSS_EVERY)
}

/// How a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Every planned step was taken (and evaluated, if evaluation is on).
    Completed,
    /// A training loss was not finite.
    Diverged,
    /// A stop was requested (SIGINT, SIGTERM); the last checkpoint is where it stopped.
    Interrupted,
}

/// How far a session goes and what it does on the way.
#[derive(Clone, Debug)]
pub struct Plan {
    pub epochs: u32,
    pub steps_per_epoch: u64,
    /// The last step: `epochs × steps_per_epoch`, or fewer with `max_steps`.
    pub total_steps: u64,
    /// η_0 and the schedule that makes η_t of it.
    pub lr0: f64,
    pub schedule: Schedule,
    /// Evaluate every this many epochs and after the last step (0: never).
    pub eval_every: u32,
    /// Log gradient scales at step 1 and every this many steps (0: never).
    pub hist_every: u64,
}

impl Plan {
    /// `steps` steps at the constant η_0 of `lr0`, without evaluation or scale logging:
    /// a check's lane.
    pub fn constant(lr0: f64, steps: u64) -> Plan {
        Plan {
            epochs: 1,
            steps_per_epoch: steps.max(1),
            total_steps: steps,
            lr0,
            schedule: Schedule::Constant,
            eval_every: 0,
            hist_every: 0,
        }
    }
}

/// A shared flag that asks a running session to stop at the end of its current step.
#[derive(Clone, Debug, Default)]
pub struct StopRequest(Arc<AtomicBool>);

impl StopRequest {
    /// A flag that SIGINT and SIGTERM raise (once per process: a second handler is not
    /// installed, and a second session of the process shares nothing with the first).
    pub fn on_signals() -> StopRequest {
        let stop = StopRequest::default();
        let flag = stop.0.clone();
        let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
        stop
    }

    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// One evaluation: the partial epoch's training statistics and the evaluation split's.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// Epochs begun (1-based: the epoch this evaluation ends or interrupts).
    pub epoch: u32,
    pub step: u64,
    pub train: Tally,
    /// `test`, or `validation` when part of the training set is held out.
    pub split: &'static str,
    pub eval: Tally,
    pub lr: f64,
    /// Training time across resumes.
    pub wall_s: f64,
    pub images_per_s: f64,
    /// A float16 run's loss scaler: its scale and the steps it skipped so far.
    pub loss_scaler: Option<optim::LossScaler>,
}

impl Evaluation {
    /// The training statistics' mean loss (0 before any step is read).
    pub fn train_loss(&self) -> f64 {
        self.train.mean_loss().unwrap_or(0.0)
    }

    pub fn train_accuracy(&self) -> f64 {
        self.train.accuracy().unwrap_or(0.0)
    }

    /// The evaluation split's mean loss (0 for a split without images).
    pub fn eval_loss(&self) -> f64 {
        self.eval.mean_loss().unwrap_or(0.0)
    }

    pub fn eval_accuracy(&self) -> f64 {
        self.eval.accuracy().unwrap_or(0.0)
    }
}

/// The last evaluation a resumed session's run already recorded.
#[derive(Clone, Copy, Debug)]
pub struct LastEvaluation {
    pub step: u64,
    pub images_per_s: f64,
}

/// What a session's run came to.
#[derive(Clone, Debug)]
pub struct Ending {
    pub status: RunStatus,
    /// Where it diverged, or how to continue an interrupted run.
    pub message: Option<String>,
    pub position: Position,
    /// Wall time across resumes.
    pub wall_s: f64,
    /// Images per second of this process, or (if it trained none) of the last evaluation.
    pub images_per_s: f64,
    pub timing: StepTiming,
}

/// What happened in a session, in the order it happened.
pub enum Event<'a> {
    /// An epoch's steps begin, at batch `batch` of it.
    EpochStarted {
        epoch: u32,
        batch: u64,
    },
    /// Step `step`'s statistics were read from the device (reads come in step order).
    StepRead {
        step: u64,
        stats: &'a StepStats,
    },
    /// The statistics read so far, after a read in the middle of an epoch.
    Progress {
        position: &'a Position,
    },
    /// The per-layer gradient factors in use, known from step `step` on.
    FactorsFixed {
        factors: &'a LayerFactors,
        step: u64,
    },
    /// The gradient scales of a logged step.
    Scales(&'a ScaleSnapshot),
    /// Batch `index` (0-based) of the epoch has been stepped on.
    BatchTaken {
        index: u64,
    },
    /// The epoch's steps are over (it may have ended early).
    EpochEnded,
    Evaluated(&'a Evaluation),
    /// Everything up to `position` should be saved, so that a resumed run misses nothing.
    CheckpointDue {
        trainer: &'a Trainer,
        position: &'a Position,
    },
    /// The loss became non-finite at `step`; nothing from that step on is counted.
    Diverged {
        step: u64,
        loss: f64,
    },
    /// A stop was requested, and honoured after `step`.
    StopRequested {
        step: u64,
    },
    /// The session's run is over.
    Ended(&'a Ending),
}

/// Something that follows a session: it sees every [`Event`], in order, and may fail the
/// run (a write that failed).
pub trait Observer {
    fn observe(&mut self, event: &Event<'_>) -> Result<()>;
}

fn tell(observers: &mut [&mut dyn Observer], event: Event<'_>) -> Result<()> {
    observers.iter_mut().try_for_each(|o| o.observe(&event))
}

/// The batches a session trains and evaluates on.
pub struct SessionData<'a> {
    pub train: &'a Loader,
    pub eval: &'a Loader,
    pub eval_split: &'static str,
}

/// A trainer and its loop's state: see the module's documentation.
pub struct Session {
    trainer: Trainer,
    plan: Plan,
    position: Position,
    last_evaluation: Option<LastEvaluation>,
    probe: ScaleProbe,
    timer: StepTimer,
    device: Device,
    stop: StopRequest,
    /// This process's start, training time and images, for wall time and rates.
    started: Instant,
    train_seconds: f64,
    images_this_process: u64,
    factors_told: bool,
    /// Statistics read since [`Session::take_window`] (a check's measuring interval).
    window: Tally,
    diverged_at: Option<u64>,
    message: Option<String>,
}

impl Session {
    pub fn new(trainer: Trainer, plan: Plan, device: Device, stop: StopRequest) -> Session {
        let probe = ScaleProbe::new(trainer.optimizer(), plan.hist_every);
        Session {
            trainer,
            plan,
            position: Position::default(),
            last_evaluation: None,
            probe,
            timer: StepTimer::default(),
            device,
            stop,
            started: Instant::now(),
            train_seconds: 0.0,
            images_this_process: 0,
            factors_told: false,
            window: Tally::default(),
            diverged_at: None,
            message: None,
        }
    }

    /// A check's lane: `steps` steps at the trainer's own constant η_0, on the device of
    /// its weights, stopped by nothing but the check.
    pub fn lane(trainer: Trainer, steps: u64) -> Session {
        let plan = Plan::constant(trainer.optimizer().config().lr, steps);
        let device = trainer.var_store().device();
        Session::new(trainer, plan, device, StopRequest::default())
    }

    /// Continues from a checkpoint's position (the trainer already holds its state), with
    /// the run's last recorded evaluation.
    pub fn resume_at(
        &mut self,
        position: Position,
        last_evaluation: Option<LastEvaluation>,
    ) -> Result<()> {
        if let Some(scaler) = &position.loss_scaler {
            self.trainer.set_loss_scaler(scaler.clone())?;
        }
        self.position = position;
        self.last_evaluation = last_evaluation;
        Ok(())
    }

    pub fn trainer(&self) -> &Trainer {
        &self.trainer
    }

    pub fn trainer_mut(&mut self) -> &mut Trainer {
        &mut self.trainer
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn position(&self) -> &Position {
        &self.position
    }

    /// The step at which the loss stopped being finite.
    pub fn diverged_at(&self) -> Option<u64> {
        self.diverged_at
    }

    /// The statistics read since the last call (or the start), and a new window.
    pub fn take_window(&mut self) -> Tally {
        std::mem::take(&mut self.window)
    }

    fn reached_end(&self) -> bool {
        self.position.epoch >= self.plan.epochs || self.position.step >= self.plan.total_steps
    }

    /// Trains to the plan's end (or a stop or divergence), evaluating and asking for
    /// checkpoints as planned. A run is complete only once its final evaluation is done:
    /// a run stopped after its last step but before it evaluates when resumed.
    pub fn run(
        &mut self,
        data: &SessionData,
        observers: &mut [&mut dyn Observer],
    ) -> Result<RunStatus> {
        let mut status = RunStatus::Completed;
        if self.stop.is_requested() {
            status = RunStatus::Interrupted; // asked to stop before the first step
        }
        while status == RunStatus::Completed && !self.reached_end() {
            status = self.run_epoch(data.train, observers)?;
            if status == RunStatus::Completed {
                self.close_epoch(data, observers)?;
            }
        }
        if status == RunStatus::Completed && self.plan.eval_every > 0 {
            self.evaluate_if_missed(data, observers)?;
        }
        if status == RunStatus::Interrupted {
            self.checkpoint_due(observers)?;
            self.message = Some(format!(
                "interrupted at step {}; `--resume` continues from here",
                self.position.step
            ));
        }
        let ending = Ending {
            status,
            message: self.message.take(),
            position: self.position.clone(),
            wall_s: self.position.wall_s + self.started.elapsed().as_secs_f64(),
            images_per_s: self.images_per_s(),
            timing: self.timer.timing(),
        };
        tell(observers, Event::Ended(&ending))?;
        Ok(status)
    }

    /// The epoch's remaining batches, each queued on the device before the step before it
    /// runs (on the CPU there is nothing to copy: order and content are the same either way).
    fn run_epoch(
        &mut self,
        train: &Loader,
        observers: &mut [&mut dyn Observer],
    ) -> Result<RunStatus> {
        let (epoch, batch) = (self.position.epoch, self.position.batch);
        tell(observers, Event::EpochStarted { epoch, batch })?;
        // The epoch's clock starts with the device idle (nothing earlier is timed in it).
        device::synchronize(self.device);
        let epoch_started = Instant::now();
        self.timer.resume();
        // Steps queued so far; `position` counts those whose statistics have been read.
        let mut queued = self.position.step;
        let mut batches = train.epoch_from(epoch as u64, batch as usize);
        let mut next = batches.next();
        let mut status = RunStatus::Completed;
        while let Some(batch) = next.take() {
            let batch = batch?;
            next = batches.next();
            queued += 1;
            if let Some(end) = self.train_step(&batch, queued, observers)? {
                status = end;
                break;
            }
        }
        drop(batches);
        if status != RunStatus::Diverged && self.read_stats(observers)? {
            status = RunStatus::Diverged;
        }
        device::synchronize(self.device);
        tell(observers, Event::EpochEnded)?;
        self.train_seconds += epoch_started.elapsed().as_secs_f64();
        Ok(status)
    }

    /// Step `t` on `batch`: the statistics read when due (so that, as at every read, a
    /// non-finite loss stops the run before its step is applied or logged), the scales
    /// around the step when due. Returns how the epoch ends, if it ends here.
    fn train_step(
        &mut self,
        batch: &Batch,
        t: u64,
        observers: &mut [&mut dyn Observer],
    ) -> Result<Option<RunStatus>> {
        self.queue_backward(batch, t)?;
        let log_scales = self.probe.due(t);
        if t == 1 || t.is_multiple_of(READ_EVERY) || log_scales {
            if self.read_stats(observers)? {
                return Ok(Some(RunStatus::Diverged));
            }
            let position = &self.position;
            tell(observers, Event::Progress { position })?;
        }
        self.tell_factors(t, observers)?;
        if log_scales {
            self.apply_with_scales(t, observers)?;
        } else {
            self.trainer.apply()?;
        }
        self.images_this_process += batch.len() as u64;
        let index = batch.index as u64;
        tell(observers, Event::BatchTaken { index })?;
        crate::fault::point_then("step", || self.stop.is_requested());
        let stopping = self.stop.is_requested();
        let last_here =
            stopping || t >= self.plan.total_steps || index + 1 >= self.plan.steps_per_epoch;
        // A stretch of timed steps must start and end with the device done (the time
        // between is then the device's, however the steps were queued).
        if last_here || self.timer.ends_warmup() {
            device::synchronize(self.device);
        }
        self.timer.step_done(batch.len());
        if stopping {
            tell(observers, Event::StopRequested { step: t })?;
            return Ok(Some(RunStatus::Interrupted));
        }
        Ok((t >= self.plan.total_steps).then_some(RunStatus::Completed))
    }

    fn queue_backward(&mut self, batch: &Batch, t: u64) -> Result<()> {
        let lr = self.plan.schedule.lr_at(self.plan.lr0, t - 1);
        self.trainer.set_lr(lr)?;
        self.trainer.backward(batch)
    }

    /// The optimizer step with the scale probe around it; the logging clock runs while the
    /// device is done with everything queued before it.
    fn apply_with_scales(&mut self, t: u64, observers: &mut [&mut dyn Observer]) -> Result<()> {
        device::synchronize(self.device);
        let started = Instant::now();
        self.probe.before_step(self.trainer.optimizer_mut())?;
        let mut logging: Duration = started.elapsed();
        self.trainer.apply()?;
        device::synchronize(self.device);
        let started = Instant::now();
        let epoch = self.position.epoch;
        if let Some(snapshot) = self.probe.after_step(self.trainer.optimizer(), t, epoch) {
            tell(observers, Event::Scales(&snapshot))?;
        }
        logging += started.elapsed();
        self.timer.scale_log_took(logging);
        Ok(())
    }

    /// The factors, once they are known (an `equalize` intervention fixes them on its first
    /// batch); told once per process.
    fn tell_factors(&mut self, t: u64, observers: &mut [&mut dyn Observer]) -> Result<()> {
        if !self.factors_told {
            self.factors_told = true;
            if let Some(factors) = self.trainer.layer_factors() {
                tell(observers, Event::FactorsFixed { factors, step: t })?;
            }
        }
        Ok(())
    }

    /// Reads the queued steps' statistics into the position, in step order; at a
    /// non-finite loss it stops there (that step and the ones after it are not counted)
    /// and returns true.
    fn read_stats(&mut self, observers: &mut [&mut dyn Observer]) -> Result<bool> {
        for stats in self.trainer.read_stats() {
            let step = self.position.step + 1;
            if !stats.loss.is_finite() || !stats.state_finite {
                self.diverged_at = Some(step);
                self.message = Some(match stats.loss.is_finite() {
                    false => format!("loss became {} at step {step}", stats.loss),
                    true => format!(
                        "the optimizer's second moment had overflowed to infinity by step \
                         {step}: the loss multiplier squares the gradients past the float \
                         range, so every update would be 0; use a smaller --loss-mult"
                    ),
                });
                let loss = stats.loss;
                tell(observers, Event::Diverged { step, loss })?;
                return Ok(true);
            }
            self.position.advance(&stats);
            self.window.add(&stats);
            tell(
                observers,
                Event::StepRead {
                    step,
                    stats: &stats,
                },
            )?;
        }
        Ok(false)
    }

    /// After an epoch's steps: the evaluation when due, the next epoch, a checkpoint.
    fn close_epoch(
        &mut self,
        data: &SessionData,
        observers: &mut [&mut dyn Observer],
    ) -> Result<()> {
        let epoch_finished = self.position.batch >= self.plan.steps_per_epoch;
        let last = self.position.step >= self.plan.total_steps
            || (epoch_finished && self.position.epoch + 1 >= self.plan.epochs);
        if !(epoch_finished || last) {
            return Ok(());
        }
        let eval_every = self.plan.eval_every;
        if eval_every > 0 && (last || (self.position.epoch + 1).is_multiple_of(eval_every)) {
            let rate = self.images_this_process as f64 / self.train_seconds.max(1e-9);
            self.evaluate(data, rate, observers)?;
        }
        if epoch_finished {
            self.position.next_epoch();
        }
        self.checkpoint_due(observers)
    }

    /// The last step was taken, but the process that took it stopped before evaluating.
    fn evaluate_if_missed(
        &mut self,
        data: &SessionData,
        observers: &mut [&mut dyn Observer],
    ) -> Result<()> {
        if self.last_evaluation.map(|e| e.step) == Some(self.position.step) {
            return Ok(());
        }
        self.evaluate(data, self.images_per_s(), observers)?;
        if self.position.batch >= self.plan.steps_per_epoch {
            self.position.next_epoch();
        }
        self.checkpoint_due(observers)
    }

    fn evaluate(
        &mut self,
        data: &SessionData,
        images_per_s: f64,
        observers: &mut [&mut dyn Observer],
    ) -> Result<()> {
        let eval = self.trainer.evaluate(data.eval.epoch(0))?;
        crate::fault::point("eval");
        let evaluation = Evaluation {
            epoch: self.position.epoch + 1,
            step: self.position.step,
            train: self.position.epoch_tally(),
            split: data.eval_split,
            eval,
            lr: self.trainer.lr(),
            wall_s: self.position.wall_s + self.started.elapsed().as_secs_f64(),
            images_per_s,
            loss_scaler: self.trainer.loss_scaler().cloned(),
        };
        tell(observers, Event::Evaluated(&evaluation))?;
        self.last_evaluation = Some(LastEvaluation {
            step: evaluation.step,
            images_per_s,
        });
        Ok(())
    }

    /// Images per second of this process, or (if it trained none) of the last evaluation.
    fn images_per_s(&self) -> f64 {
        match self.images_this_process {
            0 => self.last_evaluation.map_or(0.0, |e| e.images_per_s),
            n => n as f64 / self.train_seconds.max(1e-9),
        }
    }

    fn checkpoint_due(&mut self, observers: &mut [&mut dyn Observer]) -> Result<()> {
        let mut position = self.position.clone();
        position.wall_s += self.started.elapsed().as_secs_f64();
        position.loss_scaler = self.trainer.loss_scaler().cloned();
        let trainer = &self.trainer;
        tell(
            observers,
            Event::CheckpointDue {
                trainer,
                position: &position,
            },
        )
    }

    /// A lane's backward on `batch`, its statistics read at once (a lane's divergence is
    /// seen at the step it happens); nothing once the lane has diverged.
    pub fn lane_backward(&mut self, batch: &Batch) -> Result<()> {
        if self.diverged_at.is_some() {
            return Ok(());
        }
        let t = self.position.step + 1;
        self.queue_backward(batch, t)?;
        self.read_stats(&mut [])?;
        Ok(())
    }

    /// A lane's optimizer step on the gradient of its last backward.
    pub fn lane_apply(&mut self) -> Result<()> {
        if self.diverged_at.is_none() {
            self.trainer.apply()?;
        }
        Ok(())
    }
}
