//! Where a check's batches come from: the (augmented, shuffled) training set, as
//! `scalefree train` reads it, or Gaussian random input.
use super::options::InputArgs;
use crate::data::{self, Batch, Batches, Loader};
use crate::train::{Session, Trainer, TrainerSpec};
use anyhow::{bail, Result};
use models::ModelConfig;
use optim::AdamConfig;
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
    /// `--seed`: of the batches and of the models built for them.
    pub seed: u64,
    pub device: Device,
}

impl Input {
    /// Applies `--threads` and `--device` and opens the input, in batches of `--batch-size`
    /// (else `default_batch`) and, without `--train-subset`, of at most `default_subset`
    /// training images.
    pub fn open(
        args: &InputArgs,
        default_batch: usize,
        default_subset: Option<usize>,
    ) -> Result<Input> {
        let device = args.set_threads_and_device()?;
        let batch_size = args.batch_size.unwrap_or(default_batch);
        let kind = args.dataset.kind();
        let classes = kind.num_classes() as i64;
        let random = |description: &str| Input {
            source: Source::Random,
            eval: None,
            classes,
            description: description.into(),
            batch_size,
            seed: args.seed,
            device,
        };
        if args.random_input {
            return Ok(random("random"));
        }
        let source = args
            .data
            .clone()
            .unwrap_or_else(|| data::default_source(kind));
        if !source.exists() {
            if args.data.is_some() {
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
        let subset = args
            .train_subset
            .or(default_subset.map(|n| n.min(dataset.train.len())));
        let splits = data::splits(&dataset, 0.0, subset, args.seed)?;
        let description = match subset {
            Some(_) => format!("{} (subset of {})", kind.name(), splits.train.len()),
            None => kind.name().to_string(),
        };
        if splits.train.is_empty() {
            bail!("--data {}: the training set is empty", source.display());
        }
        let loaders = data::loaders(splits, kind, batch_size, args.seed, device)?;
        Ok(Input {
            source: Source::Data(Box::new(loaders.train)),
            eval: Some(loaders.eval),
            classes: loaders.classes,
            ..random(&description)
        })
    }

    /// The model as `scalefree train` builds it by default, from `--seed` (layout `auto`:
    /// channels-last on the CPU, which only changes speed; every run of a check uses the
    /// same layout).
    pub fn model(&self, name: &str, bn: bool) -> ModelConfig {
        ModelConfig::new(name, bn, self.classes, self.seed)
            .with_channels_last(crate::config::Layout::Auto.channels_last_on(self.device))
    }

    /// A trainer of `model` with `optimizer` in `kind` (float32 or float64), on the device.
    pub fn trainer(&self, model: &ModelConfig, adam: AdamConfig, kind: Kind) -> Result<Trainer> {
        let spec = TrainerSpec {
            model: model.clone(),
            optimizer: adam,
            kind,
        };
        Trainer::new(&spec, self.device)
    }

    /// A lane of `steps` steps: a session of [`Input::trainer`].
    pub fn lane(
        &self,
        model: &ModelConfig,
        adam: AdamConfig,
        kind: Kind,
        steps: u64,
    ) -> Result<Session> {
        Ok(Session::lane(self.trainer(model, adam, kind)?, steps))
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
