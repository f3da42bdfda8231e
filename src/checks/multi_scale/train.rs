//! Training one seed's lanes in lockstep, each from the seed's run configuration with
//! its optimizer and gradient factors.
use super::{Lane, MultiScaleProgress, MultiScaleSettings, SeedResult, DEFAULT_SUBSET};
use crate::checks::input::Input;
use crate::config::OptimizerSettings;
use crate::config::{FactorSpec, RunConfig, TrainingConfig};
use crate::train::lockstep::{self, Flow, LaneObserver};
use crate::train::Session;
use anyhow::Result;
use optim::AdamConfig;
use tch::Kind;

/// Leaves out of each lane's training loss every step before the last epoch.
struct LastEpoch {
    starts_after: u64,
}

impl LaneObserver for LastEpoch {
    fn stepped(&mut self, t: u64, lanes: &mut [Session]) -> Result<Flow> {
        if t == self.starts_after {
            lanes.iter_mut().for_each(|lane| {
                lane.take_window();
            });
        }
        Ok(Flow::Continue)
    }
}

/// Trains every lane on `seed`'s initial weights and batches, in lockstep, and adds the
/// seed's results to the lanes; returns the input's description.
pub fn train_seed(
    settings: &MultiScaleSettings,
    seed: u64,
    lanes: &mut [Lane],
    factors: &[FactorSpec],
    progress: &mut dyn MultiScaleProgress,
) -> Result<String> {
    let mut setup = settings.setup.clone();
    setup.run.training.seed = seed;
    let input = Input::open(&setup, Some(DEFAULT_SUBSET))?;
    let steps_per_epoch = input.batches_per_epoch() as u64;
    let steps = settings.epochs as u64 * steps_per_epoch;
    let run = &setup.run;
    let mut sessions = Vec::new();
    for lane in lanes.iter() {
        let config = RunConfig {
            optimizer: OptimizerSettings::from_adam(
                &AdamConfig::new(
                    lane.optimizer
                        .decay_mode()
                        .expect("claim 4 compares the paper's"),
                    lane.lr,
                    lane.wd,
                )
                .eps(run.optimizer.adam_eps()),
            ),
            training: TrainingConfig {
                grad_factors: lane.factors.clone(),
                ..run.training.clone()
            },
            ..run.clone()
        };
        sessions.push(input.lane(&config, Kind::Float, steps)?);
    }
    if seed == 0 {
        progress.starting(&input, lanes, factors);
    }
    let mut last_epoch = LastEpoch {
        starts_after: (settings.epochs as u64 - 1) * steps_per_epoch,
    };
    let mut stream = input.stream();
    lockstep::run(
        &mut sessions,
        steps,
        || stream.next_batch(),
        &mut last_epoch,
    )?;
    for (lane, session) in lanes.iter_mut().zip(&mut sessions) {
        let diverged = session.diverged_at();
        let test_accuracy = match (diverged, input.eval_batches()) {
            (None, Some(batches)) => session.trainer().evaluate(batches)?.accuracy(),
            _ => None,
        };
        let result = SeedResult {
            seed,
            train_loss: session
                .take_window()
                .mean_loss()
                .filter(|_| diverged.is_none()),
            test_accuracy,
            diverged_at: diverged,
        };
        progress.seed_done(lane, &result);
        lane.seeds.push(result);
    }
    Ok(input.description.clone())
}
