//! What every check shares with `scalefree train`: the run configuration its lanes are
//! built from ([`Setup`]), the ε that stands in for ε = 0, and the settings every report
//! repeats ([`CommonSettings`]).
use super::input::Input;
use super::verdict::device_label;
use crate::config::OptimizerSettings;
use crate::config::RunConfig;
use crate::optimizers::Method;
use optim::AdamConfig;
use serde::Serialize;
use tch::Kind;

/// A check's lanes as `scalefree train` would run them.
#[derive(Clone, Debug)]
pub struct Setup {
    /// The lanes' run configuration: the data section (dataset, path, training subset,
    /// batch size), the model, the optimizer (η_0, λ, β1, β2, ε), the seed, the
    /// precision, the device and the threads. Each check varies the optimizer (and claim
    /// 4 the gradient factors, scale-free the loss multiplier) from lane to lane.
    pub run: RunConfig,
    /// Standard-normal images and uniformly random labels instead of the data set (also
    /// used, with a note, when no data path is given and the default one is missing).
    pub random_input: bool,
}

impl Setup {
    /// A lane's run configuration: the setup's, with `optimizer`.
    pub fn lane(&self, optimizer: AdamConfig) -> RunConfig {
        RunConfig {
            optimizer: OptimizerSettings::from_adam(&optimizer),
            ..self.run.clone()
        }
    }

    /// The setup's optimizer with decay `mode` and ε as a lane in `kind` runs it (ε = 0
    /// as [`zero_eps`]).
    pub fn optimizer(&self, mode: Method, eps: f64, kind: Kind) -> AdamConfig {
        AdamConfig {
            decay: mode
                .decay_mode()
                .expect("the checks compare the paper's three"),
            eps: effective_eps(eps, kind),
            ..self.run.optimizer.adam()
        }
    }
}

/// The ε that stands in for ε = 0. A literal 0 turns every coordinate whose gradient has
/// been exactly 0 so far (a dead ReLU channel) into `0/0 = NaN`; a tiny ε makes those
/// `0/ε = 0` and is far below `√v̂` of any other coordinate: 1e-300 in float64, 1e-30 in
/// float32 (where, with ε that small, a gradient below ~1e-22 whose square underflows to 0
/// gets a huge step: ε = 0 is not a float32 setting). The run configuration refuses
/// ε = 0 for training; the checks are where it is studied.
pub fn zero_eps(kind: Kind) -> f64 {
    if kind == Kind::Double {
        1e-300
    } else {
        1e-30
    }
}

/// The ε the optimizer is given for a requested ε.
pub fn effective_eps(eps: f64, kind: Kind) -> f64 {
    if eps == 0.0 {
        zero_eps(kind)
    } else {
        eps
    }
}

/// The settings every check reports, beside its own.
#[derive(Debug, Serialize)]
pub struct CommonSettings {
    /// `cifar10` (with the subset, if any) or `random`.
    pub input: String,
    pub batch_size: usize,
    pub lr: f64,
    pub wd: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub seed: u64,
    pub device: String,
}

impl CommonSettings {
    pub fn new(input: &Input, run: &RunConfig) -> Self {
        let optimizer = run.optimizer.adam();
        CommonSettings {
            input: input.description.clone(),
            batch_size: input.batch_size,
            lr: optimizer.lr,
            wd: optimizer.weight_decay,
            beta1: optimizer.beta1,
            beta2: optimizer.beta2,
            seed: input.seed,
            device: device_label(input.device),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eps_zero_runs_as_a_stand_in_of_the_lanes_dtype_and_other_eps_as_given() {
        assert_eq!(effective_eps(0.0, Kind::Double), 1e-300);
        assert_eq!(effective_eps(0.0, Kind::Float), 1e-30);
        assert_eq!(effective_eps(1e-8, Kind::Double), 1e-8);
    }

    #[test]
    fn a_lanes_optimizer_keeps_the_setups_settings_but_mode_and_eps() {
        let run = RunConfig {
            optimizer: OptimizerSettings::from_adam(
                &AdamConfig::adamw(2e-3, 5e-4).eps(1e-8).betas(0.8, 0.99),
            ),
            ..Default::default()
        };
        let setup = Setup {
            run,
            random_input: true,
        };
        let prox = setup.optimizer(Method::ADAM_PROX, 0.0, Kind::Float);
        let expected = AdamConfig::adam_prox(2e-3, 5e-4)
            .eps(1e-30)
            .betas(0.8, 0.99);
        assert_eq!(prox, expected);
        assert_eq!(setup.lane(prox.clone()).optimizer.adam(), prox);
    }
}
