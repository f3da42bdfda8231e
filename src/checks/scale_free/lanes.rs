//! Building scale-free's runs: for each ε and optimizer, the reference (loss × 1) first,
//! then each rescaling, each a lane of the run configuration.
use super::{Run, ScaleFreeSettings, Scaling};
use crate::checks::input::Input;
use crate::checks::setup::effective_eps;
use crate::config::OptimizerSettings;
use crate::config::{RunConfig, TrainingConfig};
use crate::optimizers::Method;
use crate::train::{GradientHooks, Session};
use anyhow::Result;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

/// The runs, each with its lane.
pub struct Lanes {
    pub runs: Vec<Run>,
    /// The index of each run's reference.
    pub references: Vec<usize>,
    pub sessions: Vec<Session>,
}

/// The fixed per-coordinate factors `10^U(−decades, decades)`, from the seed.
pub fn coordinate_factors(numel: i64, decades: f64, seed: u64, device: Device) -> Tensor {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5CA1_EF5E_ED00_0000);
    let factors: Vec<f32> = (0..numel)
        .map(|_| 10f64.powf(decades * (2.0 * rng.random::<f64>() - 1.0)) as f32)
        .collect();
    Tensor::from_slice(&factors).to_device(device)
}

pub fn build(
    settings: &ScaleFreeSettings,
    input: &Input,
    eps_values: &[f64],
    scalings: &[Scaling],
) -> Result<Lanes> {
    let setup = &settings.setup;
    let dtypes = settings.dtypes();
    // The factors are drawn once, for the model's number of parameters, from the seed.
    let adamw = setup.lane(setup.optimizer(Method::ADAMW, 1e-8, Kind::Float));
    let numel = input.trainer(&adamw, Kind::Float)?.flat_values().numel() as i64;
    let seed = setup.run.training.seed;
    let factors = coordinate_factors(numel, settings.coord_decades, seed, input.device);
    let mut lanes = Lanes {
        runs: Vec::new(),
        references: Vec::new(),
        sessions: Vec::new(),
    };
    for &eps in eps_values {
        let kind = dtypes.kind_for(eps);
        for mode in Method::PAPER {
            let reference = lanes.runs.len();
            for &scaling in scalings {
                // The loss multiplier is the run configuration's; per-coordinate factors
                // are a gradient hook it cannot express.
                let config = RunConfig {
                    optimizer: OptimizerSettings::from_adam(&setup.optimizer(mode, eps, kind)),
                    training: TrainingConfig {
                        loss_mult: match scaling {
                            Scaling::Loss { factor } => factor,
                            Scaling::Coordinates { .. } => 1.0,
                        },
                        ..setup.run.training.clone()
                    },
                    ..setup.run.clone()
                };
                let mut trainer = input.trainer(&config, kind)?;
                if let Scaling::Coordinates { .. } = scaling {
                    trainer = trainer.with_hooks(GradientHooks {
                        coordinate_factors: Some(factors.to_kind(kind)),
                        ..Default::default()
                    });
                }
                lanes.sessions.push(Session::lane(trainer, settings.steps));
                lanes.references.push(reference);
                lanes.runs.push(Run {
                    optimizer: mode,
                    eps,
                    eps_used: effective_eps(eps, kind),
                    precision: dtypes.name_for(eps),
                    scaling,
                    label: scaling.label(),
                    reference: scaling.is_reference(),
                    deviations: Vec::new(),
                    final_deviation: None,
                    max_deviation: None,
                    train_loss: None,
                    train_accuracy: None,
                    diverged_at: None,
                });
            }
        }
    }
    Ok(lanes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinate_factors_span_the_requested_decades_and_repeat_by_seed() {
        let f = coordinate_factors(100_000, 3.0, 7, Device::Cpu);
        let log10 = f.log10();
        assert!(log10.min().double_value(&[]) >= -3.0 - 1e-6);
        assert!(log10.max().double_value(&[]) <= 3.0 + 1e-6);
        assert!(log10.min().double_value(&[]) < -2.9 && log10.max().double_value(&[]) > 2.9);
        assert!(f.equal(&coordinate_factors(100_000, 3.0, 7, Device::Cpu)));
        assert!(!f.equal(&coordinate_factors(100_000, 3.0, 8, Device::Cpu)));
        assert_eq!(f.kind(), Kind::Float);
    }
}
