//! What the checks' in-process tests share: a tiny setup (ResNet-8 without BN on random
//! input, one CPU thread).
use super::setup::Setup;
use crate::config::{ModelChoice, OptimizerSettings, RunConfig};
use optim::AdamConfig;

/// ResNet-8 without BN on batches of `batch` random images, on the CPU with one thread;
/// AdamW with η_0 = 1e-3, λ = `wd`, ε = `eps`.
pub fn tiny_setup(batch: usize, wd: f64, eps: f64) -> Setup {
    let mut run = RunConfig {
        model: ModelChoice {
            name: "resnet8".into(),
            bn: false,
        },
        optimizer: OptimizerSettings::from_adam(&AdamConfig::adamw(1e-3, wd).eps(eps)),
        ..Default::default()
    };
    run.data.batch_size = batch;
    run.runtime.device = "cpu".into();
    run.runtime.threads = Some(1);
    Setup {
        run,
        random_input: true,
    }
}
