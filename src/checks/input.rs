//! Where a check's batches come from (the augmented, shuffled training set, as
//! `scalefree train` reads it, or Gaussian random input) and how its lanes are built
//! from their run configuration.
use super::setup::Setup;
use crate::config::RunConfig;
use crate::data::{self, Batch, Batches, Loader};
use crate::train::{GradientHooks, Session, Trainer, TrainerSpec};
use anyhow::{bail, Result};
use tch::{Device, Kind, Tensor};

enum Source {
    Data(Box<Loader>),
    Random,
}

/// Batches that make an "epoch" of random input.
const RANDOM_BATCHES_PER_EPOCH: usize = 10;

pub struct Input {
    source: Source,
    /// The test split, when the input is a dataset.
    eval: Option<Loader>,
    pub classes: i64,
    /// `cifar10` (with the subset, if any) or `random`, for the printout and the JSON.
    pub description: String,
    pub batch_size: usize,
    /// The seed of the batches and of the models built for them.
    pub seed: u64,
    pub device: Device,
}

impl Input {
    /// Applies the setup's threads and device and opens its input, in batches of its
    /// batch size and, without a training subset, of at most `default_subset` training
    /// images.
    pub fn open(setup: &Setup, default_subset: Option<usize>) -> Result<Input> {
        let run = &setup.run;
        crate::train::device::refuse_more_threads_than_cpus(run.runtime.threads)?;
        crate::train::device::set_threads(run.runtime.threads);
        let device = crate::config::parse_device(&run.runtime.device)?;
        let batch_size = run.data.batch_size;
        let kind = run.data.dataset.kind();
        let classes = kind.num_classes() as i64;
        let random = |description: &str| Input {
            source: Source::Random,
            eval: None,
            classes,
            description: description.into(),
            batch_size,
            seed: run.training.seed,
            device,
        };
        if setup.random_input {
            return Ok(random("random"));
        }
        let source = run.data_source();
        if !source.exists() {
            if run.data.path.is_some() {
                bail!("--data {}: no such file or directory", source.display());
            }
            eprintln!(
                "note: no {} at {} (run `make data` or pass --data); using random input as with --random-input",
                kind.name(),
                source.display()
            );
            return Ok(random("random"));
        }
        let dataset = data::open(kind, &source)?;
        // The same training split and subset as `scalefree train --train-subset`.
        let subset = run
            .data
            .train_subset
            .or(default_subset.map(|n| n.min(dataset.train.len())));
        let splits = data::splits(&dataset, 0.0, subset, run.training.seed)?;
        let description = match subset {
            Some(_) => format!("{} (subset of {})", kind.name(), splits.train.len()),
            None => kind.name().to_string(),
        };
        if splits.train.is_empty() {
            bail!("--data {}: the training set is empty", source.display());
        }
        let loaders = data::loaders(splits, kind, batch_size, run.training.seed, device)?;
        Ok(Input {
            source: Source::Data(Box::new(loaders.train)),
            eval: Some(loaders.eval),
            classes: loaders.classes,
            ..random(&description)
        })
    }

    /// The trainer of a lane as `scalefree train` builds the trainer of `config` (layout
    /// `auto`: channels-last on the CPU, which only changes speed; every lane of a check
    /// uses the same layout), with its loss multiplier and gradient factors, its weights
    /// and optimizer in `kind` (float32, or float64 where a check needs it: a run
    /// configuration always trains in float32).
    pub fn trainer(&self, config: &RunConfig, kind: Kind) -> Result<Trainer> {
        let spec = TrainerSpec {
            kind,
            ..TrainerSpec::from_run(config, self.classes, self.device)
        };
        let training = &config.training;
        let mut trainer = Trainer::new(&spec, self.device)?.with_hooks(GradientHooks {
            loss_mult: training.loss_mult,
            ..Default::default()
        });
        trainer.use_factors(&training.grad_factors, training.factor_seed)?;
        Ok(trainer)
    }

    /// A lane of `steps` steps: a session of [`Input::trainer`].
    pub fn lane(&self, config: &RunConfig, kind: Kind, steps: u64) -> Result<Session> {
        Ok(Session::lane(self.trainer(config, kind)?, steps))
    }

    /// Batches in one pass over the training set (a fixed number for random input).
    pub fn batches_per_epoch(&self) -> usize {
        match &self.source {
            Source::Data(loader) => loader.batches_per_epoch(),
            Source::Random => RANDOM_BATCHES_PER_EPOCH,
        }
    }

    /// The test set's batches, when the input is a dataset.
    pub fn eval_batches(&self) -> Option<Batches> {
        self.eval.as_ref().map(|loader| loader.epoch(0))
    }

    /// The batches from the first one on; every stream of an input yields the same batches.
    pub fn stream(&self) -> BatchStream<'_> {
        BatchStream {
            input: self,
            epoch: 0,
            batches: None,
            drawn: 0,
        }
    }
}

pub struct BatchStream<'a> {
    input: &'a Input,
    epoch: u64,
    batches: Option<Batches>,
    drawn: u64,
}

impl BatchStream<'_> {
    pub fn next_batch(&mut self) -> Result<Batch> {
        let index = self.drawn;
        self.drawn += 1;
        match &self.input.source {
            Source::Random => Ok(random_batch(self.input, index)),
            Source::Data(loader) => loop {
                let batches = self.batches.get_or_insert_with(|| loader.epoch(self.epoch));
                match batches.next() {
                    Some(batch) => return Ok(batch?),
                    None => {
                        self.batches = None;
                        self.epoch += 1;
                    }
                }
            },
        }
    }
}

/// Batch `index` of the random input: drawn on the CPU from a generator seeded by
/// (seed, index), so it is the same on every device.
fn random_batch(input: &Input, index: u64) -> Batch {
    let (seed, device, classes) = (input.seed, input.device, input.classes);
    let mixed =
        seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03);
    tch::manual_seed((mixed >> 1) as i64);
    let b = input.batch_size as i64;
    let images = Tensor::randn([b, 3, 32, 32], (Kind::Float, Device::Cpu)).to_device(device);
    let labels = Tensor::randint(classes, [b], (Kind::Int64, Device::Cpu)).to_device(device);
    Batch {
        images,
        labels,
        epoch: 0,
        index: index as usize,
    }
}
