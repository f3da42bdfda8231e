//! Batches for training and evaluation, prepared ahead in a background thread.
//!
//! Batch `i` of epoch `e` is a pure function of (split, config, e, i): the order of epoch
//! `e` depends only on (seed, e) and each image's augmentation only on (seed, e, position),
//! so any number of threads gives the same batches, and [`Loader::epoch_from`] resumes a
//! checkpointed run with exactly the batches it would have seen.
use super::augment::{shuffled_order, Augment, Normalizer};
use super::dataset::{DatasetKind, Split, CHANNELS, IMAGE_BYTES, IMAGE_SIZE};
use super::error::DataError;
use rayon::prelude::*;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;
use tch::{Device, Kind, Tensor};

#[derive(Clone, Debug, PartialEq)]
pub struct LoaderConfig {
    /// Images per batch.
    pub batch_size: usize,
    /// Visit the images in a new random order each epoch (otherwise in split order).
    pub shuffle: bool,
    /// Random crop with zero padding and random horizontal flip.
    pub augment: bool,
    /// Drop the last batch of an epoch when it is smaller than `batch_size`.
    pub drop_last: bool,
    /// Seeds the order and the augmentation.
    pub seed: u64,
    /// Batches prepared ahead of the consumer (at least 1).
    pub prefetch: usize,
    /// Where batches are delivered; from pinned memory, asynchronously, on CUDA.
    pub device: Device,
}

impl LoaderConfig {
    /// Training: batch 128, shuffled, augmented, last partial batch kept.
    pub fn train(seed: u64) -> LoaderConfig {
        LoaderConfig {
            batch_size: 128,
            shuffle: true,
            augment: true,
            drop_last: false,
            seed,
            prefetch: 3,
            device: Device::Cpu,
        }
    }

    /// Evaluation: batch 128, split order, normalisation only.
    pub fn test() -> LoaderConfig {
        LoaderConfig {
            shuffle: false,
            augment: false,
            ..LoaderConfig::train(0)
        }
    }
}

/// One batch: `images` [B, 3, 32, 32] f32 (normalised), `labels` [B] int64.
#[derive(Debug)]
pub struct Batch {
    pub images: Tensor,
    pub labels: Tensor,
    pub epoch: u64,
    /// Index of this batch within its epoch.
    pub index: usize,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.labels.size()[0] as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Clone)]
pub struct Loader {
    split: Arc<Split>,
    normalizer: Normalizer,
    config: LoaderConfig,
}

impl Loader {
    /// A loader over `split`, normalised with the statistics of `kind`.
    pub fn new(
        split: impl Into<Arc<Split>>,
        kind: DatasetKind,
        config: LoaderConfig,
    ) -> Result<Loader, DataError> {
        if config.batch_size == 0 || config.prefetch == 0 {
            return Err(DataError::InvalidArgument(format!(
                "batch size ({}) and prefetch ({}) must be at least 1",
                config.batch_size, config.prefetch
            )));
        }
        Ok(Loader {
            split: split.into(),
            normalizer: Normalizer::new(kind.mean(), kind.std()),
            config,
        })
    }

    pub fn config(&self) -> &LoaderConfig {
        &self.config
    }

    pub fn split(&self) -> &Split {
        &self.split
    }

    /// Batches in one epoch.
    pub fn batches_per_epoch(&self) -> usize {
        let (n, b) = (self.split.len(), self.config.batch_size);
        if self.config.drop_last {
            n / b
        } else {
            n.div_ceil(b)
        }
    }

    /// Indices into the split, in the order epoch `epoch` visits them.
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        if self.config.shuffle {
            shuffled_order(self.split.len(), self.config.seed, epoch)
        } else {
            (0..self.split.len()).collect()
        }
    }

    /// Batch `index` of epoch `epoch`, built now on the current rayon pool.
    pub fn batch(&self, epoch: u64, index: usize) -> Result<Batch, DataError> {
        self.check_index(index)?;
        let host = self.host_batch(&self.order(epoch), epoch, index)?;
        to_device(host, self.config.device)
    }

    /// The batches of epoch `epoch`.
    pub fn epoch(&self, epoch: u64) -> Batches {
        self.epoch_from(epoch, 0)
    }

    /// The batches of epoch `epoch` from batch `start` on: resuming at (epoch, start) gives
    /// what iterating epoch `epoch` from the beginning gives from its `start`-th batch.
    pub fn epoch_from(&self, epoch: u64, start: usize) -> Batches {
        let end = self.batches_per_epoch();
        let (tx, rx) = sync_channel(self.config.prefetch);
        let loader = self.clone();
        let worker = std::thread::Builder::new()
            .name("data-prefetch".into())
            .spawn(move || {
                let order = loader.order(epoch);
                for index in start..end {
                    let batch = loader.host_batch(&order, epoch, index);
                    let failed = batch.is_err();
                    // A send fails only when the consumer is gone: stop quietly.
                    if tx.send(batch).is_err() || failed {
                        return;
                    }
                }
            })
            .expect("cannot start the data prefetch thread");
        Batches {
            rx: Some(rx),
            worker: Some(worker),
            device: self.config.device,
            remaining: end.saturating_sub(start),
        }
    }

    fn check_index(&self, index: usize) -> Result<(), DataError> {
        if index >= self.batches_per_epoch() {
            return Err(DataError::InvalidArgument(format!(
                "batch {index} is past the {} batches of an epoch",
                self.batches_per_epoch()
            )));
        }
        Ok(())
    }

    /// Builds a batch in host memory (pinned for CUDA): augment and normalise each image
    /// straight from uint8 into the f32 batch tensor, in parallel over the images. The
    /// pixels are written once, into the tensor itself; pinning for CUDA is the one copy.
    fn host_batch(&self, order: &[usize], epoch: u64, index: usize) -> Result<Batch, DataError> {
        let b = self.config.batch_size;
        let first = index * b;
        let positions = first..(first + b).min(order.len());
        let count = positions.len();
        let size = IMAGE_SIZE as i64;
        let mut images = Tensor::f_empty(
            [count as i64, CHANNELS as i64, size, size],
            (Kind::Float, Device::Cpu),
        )?;
        // SAFETY: `images` is a new contiguous f32 CPU tensor of count × IMAGE_BYTES
        // elements (count ≥ 1: the index is within the epoch) that nothing else
        // references while the slice lives; every element is written below.
        let pixels = unsafe {
            std::slice::from_raw_parts_mut(images.data_ptr() as *mut f32, count * IMAGE_BYTES)
        };
        pixels
            .par_chunks_mut(IMAGE_BYTES)
            .zip(positions.clone())
            .for_each(|(out, position)| {
                let aug = if self.config.augment {
                    Augment::draw(self.config.seed, epoch, position)
                } else {
                    Augment::NONE
                };
                self.normalizer
                    .apply(self.split.image(order[position]), aug, out);
            });
        let labels: Vec<i64> = positions.map(|p| self.split.labels[order[p]]).collect();
        let mut labels = Tensor::f_from_slice(&labels)?;
        if self.config.device.is_cuda() {
            images = pinned(&images, self.config.device)?;
            labels = pinned(&labels, self.config.device)?;
        }
        Ok(Batch {
            images,
            labels,
            epoch,
            index,
        })
    }
}

/// A copy of the CPU tensor `host` in page-locked memory, from which a copy to the CUDA
/// `device` is asynchronous. Through libtorch's `_pin_memory` with the device's type:
/// `pin_memory(device)` (what tch's `pin_memory` calls) warns on every call in libtorch
/// 2.13 that its device argument is deprecated, about four lines per batch.
pub fn pinned(host: &Tensor, device: Device) -> Result<Tensor, DataError> {
    Ok(host.f_internal_pin_memory(device)?)
}

/// Moves a host batch to `device`; from pinned memory the copy is asynchronous and ordered
/// on the device's current stream before the work that uses it.
fn to_device(batch: Batch, device: Device) -> Result<Batch, DataError> {
    if device == Device::Cpu {
        return Ok(batch);
    }
    Ok(Batch {
        images: batch
            .images
            .f_to_device_(device, Kind::Float, true, false)?,
        labels: batch
            .labels
            .f_to_device_(device, Kind::Int64, true, false)?,
        ..batch
    })
}

/// The batches of one epoch, in order. Dropping it stops the background thread.
pub struct Batches {
    rx: Option<Receiver<Result<Batch, DataError>>>,
    worker: Option<JoinHandle<()>>,
    device: Device,
    remaining: usize,
}

impl Iterator for Batches {
    type Item = Result<Batch, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        let Ok(batch) = self.rx.as_ref()?.recv() else {
            // The worker stopped early only if it panicked: pass the panic on.
            if let Some(Err(panic)) = self.worker.take().map(JoinHandle::join) {
                std::panic::resume_unwind(panic);
            }
            return None;
        };
        self.remaining = self.remaining.saturating_sub(1);
        if batch.is_err() {
            self.remaining = 0;
        }
        Some(batch.and_then(|b| to_device(b, self.device)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Batches {}

impl Drop for Batches {
    fn drop(&mut self) {
        // Closing the channel first unblocks a worker waiting to send.
        drop(self.rx.take());
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}
