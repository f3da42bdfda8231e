//! Where a check's batches come from: the (augmented, shuffled) training set, as
//! `scalefree train` reads it, or Gaussian random input.
use super::options::InputArgs;
use crate::data::{self, Batch, Batches, Loader, LoaderConfig};
use anyhow::{bail, Result};
use tch::{Device, Kind, Tensor};

enum Source {
    Data(Box<Loader>),
    Random {
        batch_size: usize,
        seed: u64,
        device: Device,
    },
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
}

impl Input {
    pub fn open(args: &InputArgs, batch_size: usize, device: Device) -> Result<Input> {
        Input::open_with_default_subset(args, batch_size, device, None)
    }

    /// As [`Input::open`]; without `--train-subset`, at most `default_subset` images.
    pub fn open_with_default_subset(
        args: &InputArgs,
        batch_size: usize,
        device: Device,
        default_subset: Option<usize>,
    ) -> Result<Input> {
        let kind = args.dataset.kind();
        let classes = kind.num_classes() as i64;
        let random = || Input {
            source: Source::Random {
                batch_size,
                seed: args.seed,
                device,
            },
            classes,
            eval: None,
            description: "random".into(),
        };
        if args.random_input {
            return Ok(random());
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
            return Ok(random());
        }
        let dataset = data::open(kind, &source)?;
        // The same training split and subset as `scalefree train --train-subset`.
        let subset = args
            .train_subset
            .or(default_subset.map(|n| n.min(dataset.train.len())));
        let splits = data::splits(&dataset, 0.0, subset, args.seed)?;
        let mut description = kind.name().to_string();
        if subset.is_some() {
            description = format!("{description} (subset of {})", splits.train.len());
        }
        if splits.train.is_empty() {
            bail!("--data {}: the training set is empty", source.display());
        }
        let config = LoaderConfig {
            batch_size,
            device,
            ..LoaderConfig::train(args.seed)
        };
        let eval_config = LoaderConfig {
            batch_size: 500,
            device,
            ..LoaderConfig::test()
        };
        Ok(Input {
            source: Source::Data(Box::new(Loader::new(splits.train, kind, config)?)),
            eval: Some(Loader::new(splits.eval, kind, eval_config)?),
            classes: splits.classes,
            description,
        })
    }

    /// Batches in one pass over the training set (a fixed number for random input).
    pub fn batches_per_epoch(&self) -> usize {
        match &self.source {
            Source::Data(loader) => loader.batches_per_epoch(),
            Source::Random { .. } => RANDOM_BATCHES_PER_EPOCH,
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
            Source::Random {
                batch_size,
                seed,
                device,
            } => Ok(random_batch(
                *batch_size,
                self.input.classes,
                *seed,
                index,
                *device,
            )),
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
fn random_batch(batch_size: usize, classes: i64, seed: u64, index: u64, device: Device) -> Batch {
    let mixed =
        seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03);
    tch::manual_seed((mixed >> 1) as i64);
    let b = batch_size as i64;
    let images = Tensor::randn([b, 3, 32, 32], (Kind::Float, Device::Cpu)).to_device(device);
    let labels = Tensor::randint(classes, [b], (Kind::Int64, Device::Cpu)).to_device(device);
    Batch {
        images,
        labels,
        epoch: 0,
        index: index as usize,
    }
}
