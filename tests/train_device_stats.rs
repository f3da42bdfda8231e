//! Statistics kept on the device between reads (`Trainer::backward` and `read_stats`,
//! and evaluation's single read) report bit for bit what reading every step reports, and
//! still find where a run diverged.
use models::Model;
use models::ModelConfig;
use optim::{AdamConfig, DecayMode};
use scalefree::data::{Batch, DatasetKind, Loader, LoaderConfig, Split};
use scalefree::train::{GradientHooks, StepStats, Tally, Trainer, TrainerSpec};
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

fn batch(i: i64, size: i64) -> Batch {
    // Seeding and drawing under a lock: the tests run on parallel threads, and libtorch
    // has one global generator.
    static GENERATOR: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _drawing = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    tch::manual_seed(200 + i);
    Batch {
        images: Tensor::randn([size, 3, 32, 32], (Kind::Float, Device::Cpu)),
        labels: Tensor::randint(10, [size], (Kind::Int64, Device::Cpu)),
        epoch: 0,
        index: i as usize,
    }
}

fn trainer(lr: f64) -> Trainer {
    let spec = TrainerSpec {
        model: ModelConfig::new("resnet8", false, 10, 5),
        optimizer: AdamConfig::new(DecayMode::Decoupled, lr, 1e-4).into(),
        kind: Kind::Float,
    };
    Trainer::new(&spec, Device::Cpu).unwrap()
}

/// One step, its statistics read at once (before the step is applied).
fn step_read_at_once(trainer: &mut Trainer, b: &Batch) -> StepStats {
    trainer.backward(b).unwrap();
    let [stats] = trainer.read_stats()[..] else {
        panic!("one step was queued");
    };
    trainer.apply().unwrap();
    stats
}

/// A run that diverges within a few steps (as the end-to-end divergence test makes one).
fn diverging() -> Trainer {
    trainer(1e9).with_hooks(GradientHooks {
        loss_mult: 1e30,
        ..Default::default()
    })
}

fn bits(tally: &Tally) -> [u64; 3] {
    [
        tally.loss_sum.to_bits(),
        tally.correct.to_bits(),
        tally.seen.to_bits(),
    ]
}

#[test]
fn queued_steps_read_every_few_steps_give_the_same_float64_sums_bit_for_bit() {
    // Batch sizes vary (a last partial batch) so that loss × batch is not a plain sum.
    let sizes = [16, 16, 12, 16, 9, 16, 16];
    let mut reading = trainer(1e-3);
    let mut queued = trainer(1e-3);
    let (mut every_step, mut every_third) = (Tally::default(), Tally::default());
    let mut per_step: Vec<StepStats> = Vec::new();
    let mut read_back: Vec<StepStats> = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        let b = batch(i as i64, size);
        let stats = step_read_at_once(&mut reading, &b);
        assert!(stats.loss.is_finite(), "step {i} diverged");
        every_step.add(&stats);
        per_step.push(stats);
        queued.backward(&b).unwrap();
        queued.apply().unwrap();
        if (i + 1) % 3 == 0 {
            read_back.extend(queued.read_stats());
        }
    }
    assert_eq!(queued.unread_steps(), 1);
    read_back.extend(queued.read_stats());
    assert_eq!(queued.unread_steps(), 0);
    for stats in &read_back {
        every_third.add(stats);
    }
    assert_eq!(read_back, per_step, "per-step losses and counts");
    assert_eq!(bits(&every_third), bits(&every_step));
    assert!(every_step.correct > 0.0 && every_step.loss_sum > 0.0);
    // The weights went the same way.
    assert!(queued.flat_values().equal(&reading.flat_values()));
}

#[test]
fn evaluation_read_once_sums_as_reading_every_batch() {
    let n = 45;
    let split = Split {
        images: (0..n * 3072).map(|i| (i * 7 % 251) as u8).collect(),
        labels: (0..n as i64).map(|i| i % 10).collect(),
        coarse_labels: None,
    };
    let config = LoaderConfig {
        batch_size: 20,
        ..LoaderConfig::test()
    };
    let loader = Loader::new(split, DatasetKind::Cifar10, config).unwrap();
    let once = trainer(1e-3).evaluate(loader.epoch(0)).unwrap();
    // What evaluation did before, on the same freshly initialised model: read each
    // batch's loss and correct count at once.
    let vs = VarStore::new(Device::Cpu);
    let model = Model::new(&vs.root(), &ModelConfig::new("resnet8", false, 10, 5)).unwrap();
    let _no_grad = tch::no_grad_guard();
    let mut each = Tally::default();
    for b in loader.epoch(0) {
        let b = b.unwrap();
        let logits = model.forward_t(&b.images, false);
        each.add(&StepStats {
            loss: logits.cross_entropy_for_logits(&b.labels).double_value(&[]),
            correct: logits
                .argmax(-1, false)
                .eq_tensor(&b.labels)
                .sum(Kind::Float)
                .double_value(&[]),
            seen: b.len() as f64,
            state_finite: true,
        });
    }
    assert_eq!(each.seen, 45.0);
    assert_eq!(bits(&once), bits(&each));
}

#[test]
fn a_non_finite_loss_is_found_at_its_step_when_read_later() {
    let mut reading = diverging();
    let mut queued = diverging();
    let mut first_bad = None;
    for i in 0..30 {
        let b = batch(i, 16);
        if !step_read_at_once(&mut reading, &b).loss.is_finite() {
            first_bad = Some(i as usize);
            break;
        }
    }
    let first_bad = first_bad.expect("diverges within 30 steps");
    for i in 0..=first_bad as i64 + 2 {
        let b = batch(i, 16);
        queued.backward(&b).unwrap();
        queued.apply().unwrap();
    }
    let stats = queued.read_stats();
    let found = stats.iter().position(|s| !s.loss.is_finite());
    assert_eq!(found, Some(first_bad), "{stats:?}");
    assert!(queued.has_diverged());
    assert!(queued.backward(&batch(99, 16)).is_err());
}
