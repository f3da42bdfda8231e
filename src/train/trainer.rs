//! [`Trainer`]: one model with its optimizer, trained as the paper trains: forward in
//! training mode, cross-entropy, backward of `loss × multiplier`, the gradient hooks,
//! then one optimizer step.
use super::factors::{self, LayerFactors};
use super::scale_probe::layers_of;
use super::tally::{PendingStats, StepStats, Tally};
use crate::config::FactorSpec;
use crate::config::RunConfig;
use crate::data::{Batch, Batches};
use anyhow::{bail, Result};
use models::{Model, ModelConfig};
use optim::{Adam, LossScaler, OptimConfig};
use serde::{Deserialize, Serialize};
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

/// What a trainer is made of.
#[derive(Clone, Debug)]
pub struct TrainerSpec {
    pub model: ModelConfig,
    pub optimizer: OptimConfig,
    /// `Float` (as `scalefree train`) or `Double`: weights, activations, gradients, moments.
    /// With the model's compute kind set (mixed precision), convolutions and matrix
    /// products run in that dtype on these weights; float16 trains with loss scaling.
    pub kind: Kind,
}

impl TrainerSpec {
    /// The trainer of a run: its model (in the layout its device trains fastest with),
    /// its optimizer, in float32.
    pub fn from_run(config: &RunConfig, classes: i64, device: Device) -> TrainerSpec {
        TrainerSpec {
            model: ModelConfig::new(
                &config.model.name,
                config.model.bn,
                classes,
                config.training.seed,
            )
            .with_channels_last(config.runtime.layout.channels_last_on(device))
            .with_compute_kind(config.training.precision.compute_kind()),
            optimizer: config
                .optimizer
                .optim_config()
                .expect("a validated configuration builds its optimizer"),
            kind: Kind::Float,
        }
    }
}

/// What happens to the gradient between backward and the step: the one place where the
/// checks (and users) rescale it.
#[derive(Debug)]
pub struct GradientHooks {
    /// The gradients see the loss × this; reported losses are not multiplied.
    pub loss_mult: f64,
    /// Each coordinate of the flat gradient (the optimizer's single group) × its factor.
    pub coordinate_factors: Option<Tensor>,
    /// Measure `1/rms(g_l)` per layer on the next batch and fix those as the layer
    /// factors (the `equalize` intervention).
    pub equalize_next_batch: bool,
}

impl Default for GradientHooks {
    fn default() -> Self {
        GradientHooks {
            loss_mult: 1.0,
            coordinate_factors: None,
            equalize_next_batch: false,
        }
    }
}

/// Where a run's loop stands, with the partial epoch's running statistics, so that a run
/// resumed mid-epoch reports exactly what an uninterrupted one would. Saved in every
/// checkpoint as `trainer.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// The epoch in progress (0-based) and the next batch within it.
    pub epoch: u32,
    pub batch: u64,
    /// Optimizer steps taken.
    pub step: u64,
    pub epoch_loss_sum: f64,
    pub epoch_correct: f64,
    pub epoch_seen: f64,
    /// Training time spent before this checkpoint, for wall time across resumes.
    pub wall_s: f64,
    pub images_seen: u64,
    /// The loss scaler of a float16 run (its scale and skipped steps), absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_scaler: Option<LossScaler>,
    /// The last finished epoch's training statistics (absent before the first ends, and in
    /// checkpoints written before they were kept): a run that never evaluates
    /// (`eval_every` 0) still has a final training loss.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_epoch: Option<Tally>,
}

impl Position {
    /// The partial epoch's sums as a tally.
    pub fn epoch_tally(&self) -> Tally {
        Tally {
            loss_sum: self.epoch_loss_sum,
            correct: self.epoch_correct,
            seen: self.epoch_seen,
        }
    }

    /// A step has been taken within the epoch.
    pub fn advance(&mut self, stats: &StepStats) {
        self.step += 1;
        self.batch += 1;
        self.epoch_loss_sum += stats.loss * stats.seen;
        self.epoch_correct += stats.correct;
        self.epoch_seen += stats.seen;
        self.images_seen += stats.seen as u64;
    }

    /// The training statistics of the epoch in progress, or of the last finished one
    /// when none of this epoch's steps has been taken.
    pub fn latest_train_tally(&self) -> Option<Tally> {
        let current = self.epoch_tally();
        match current.seen > 0.0 {
            true => Some(current),
            false => self.last_epoch,
        }
    }

    pub fn next_epoch(&mut self) {
        if self.epoch_seen > 0.0 {
            self.last_epoch = Some(self.epoch_tally());
        }
        self.epoch += 1;
        self.batch = 0;
        self.epoch_loss_sum = 0.0;
        self.epoch_correct = 0.0;
        self.epoch_seen = 0.0;
    }
}

pub struct Trainer {
    vs: VarStore,
    model: Model,
    opt: Adam,
    kind: Kind,
    hooks: GradientHooks,
    /// The per-layer factors behind `hooks.coordinate_factors`, when they are per layer.
    layer_factors: Option<LayerFactors>,
    diverged: bool,
    /// Statistics of [`Trainer::backward`] steps, not read yet.
    pending: PendingStats,
    /// Float16: dynamic loss scaling, and whether the last backward's gradients were finite.
    scaler: Option<LossScaler>,
    grads_finite: bool,
}

impl Trainer {
    /// Builds the model on `device` and its optimizer over every parameter (the paper
    /// decays all of them, BN and biases included: one group with the config's λ).
    pub fn new(spec: &TrainerSpec, device: Device) -> Result<Trainer> {
        let mut vs = VarStore::new(device);
        let model = Model::new(&vs.root(), &spec.model)?;
        if spec.kind == Kind::Double {
            vs.double();
        }
        let opt = spec.optimizer.clone().build(&vs)?;
        // Float16's range (down to 6e-8) flushes small gradients to zero without a scale;
        // bfloat16 has float32's range and needs none.
        let scaler = (spec.model.compute_kind == Some(Kind::Half)).then(LossScaler::default);
        Ok(Trainer {
            vs,
            model,
            opt,
            kind: spec.kind,
            hooks: GradientHooks::default(),
            layer_factors: None,
            diverged: false,
            pending: PendingStats::default(),
            scaler,
            grads_finite: true,
        })
    }

    pub fn with_hooks(mut self, hooks: GradientHooks) -> Trainer {
        self.hooks = hooks;
        self
    }

    /// Forward and backward of `loss × multiplier` on `batch`, then the gradient hooks;
    /// the gradient is then in the optimizer's flat buffer, to read or change before
    /// [`Trainer::apply`]. Nothing waits for the device: the loss and the correct count
    /// stay there until [`Trainer::read_stats`], and a non-finite loss is seen only then
    /// (the steps queued after it are taken: the run is lost either way; read before
    /// applying to leave the weights as they were before it).
    pub fn backward(&mut self, batch: &Batch) -> Result<()> {
        if self.diverged {
            bail!("the trainer has diverged: it takes no more steps");
        }
        let (logits, loss) = self.forward_loss(batch);
        let state_finite = (self.hooks.loss_mult > 1.0).then(|| self.state_is_finite());
        self.pending
            .push(&loss, &logits, &batch.labels, state_finite);
        self.backward_of(&loss)
    }

    /// Whether the optimizer's second moment is finite, as a 0-d flag on the device: a
    /// multiplied loss can square the gradients past the float range, after which the
    /// second moment is infinite and every update 0, with a finite loss.
    fn state_is_finite(&self) -> Tensor {
        tch::no_grad(|| {
            let sums: Vec<Tensor> = self
                .opt
                .groups()
                .flat_map(|g| {
                    // Adam's second moment is where squared gradients overflow first (the
                    // one sum the check took before other rules); other rules: every buffer.
                    let names = match g.state("exp_avg_sq") {
                        Some(_) => vec!["exp_avg_sq"],
                        None => g.state_names(),
                    };
                    names
                        .into_iter()
                        .filter_map(|name| g.state(name).map(|s| s.sum(Kind::Double)))
                        .collect::<Vec<_>>()
                })
                .collect();
            if sums.is_empty() {
                // A rule without state (SGD without momentum) has nothing to overflow.
                return Tensor::from(true).to_device(self.vs.device());
            }
            Tensor::stack(&sums, 0).sum(Kind::Double).isfinite()
        })
    }

    /// The statistics of the queued steps since the last read, in order (one copy from
    /// the device). After a non-finite loss the trainer takes no more steps.
    pub fn read_stats(&mut self) -> Vec<StepStats> {
        let stats = self.pending.read();
        if stats.iter().any(|s| !s.loss.is_finite() || !s.state_finite) {
            self.diverged = true;
        }
        stats
    }

    /// Steps queued whose statistics are not read yet.
    pub fn unread_steps(&self) -> usize {
        self.pending.len()
    }

    fn forward_loss(&self, batch: &Batch) -> (Tensor, Tensor) {
        let logits = if batch.images.kind() == self.kind {
            self.model.forward_t(&batch.images, true)
        } else {
            self.model.forward_t(&batch.images.to_kind(self.kind), true)
        };
        let loss = logits.cross_entropy_for_logits(&batch.labels);
        (logits, loss)
    }

    fn backward_of(&mut self, loss: &Tensor) -> Result<()> {
        self.opt.zero_grad();
        let multiplier = self.hooks.loss_mult * self.scaler.as_ref().map_or(1.0, LossScaler::scale);
        if multiplier == 1.0 {
            loss.backward()
        } else {
            (loss * multiplier).backward()
        }
        // Moves freshly created gradients into the flat buffer, where the hooks (and the
        // checks) find them.
        self.opt.sync_grads()?;
        if let Some(scaler) = &self.scaler {
            // The hooks, the logged scales and the step see the unscaled float32 gradient.
            self.grads_finite = scaler.unscale(&mut self.opt)?;
        }
        if self.hooks.equalize_next_batch {
            self.hooks.equalize_next_batch = false;
            let factors = self
                .layer_gradient_rms()
                .into_iter()
                .map(|(name, rms)| (name, if rms > 0.0 { 1.0 / rms } else { 1.0 }))
                .collect();
            self.set_layer_factors(&factors)?;
        }
        if let Some(factors) = &self.hooks.coordinate_factors {
            tch::no_grad(|| {
                let _ = self.flat_grads().g_mul_(factors);
            });
        }
        Ok(())
    }

    /// The optimizer step on the gradient of the last [`Trainer::backward`] (none once a
    /// read has seen a non-finite loss).
    ///
    /// With loss scaling, a gradient that is not finite skips the step (the weights, the
    /// moments and the optimizer's step count stay) and backs the scale off.
    pub fn apply(&mut self) -> Result<()> {
        if self.diverged {
            return Ok(());
        }
        match &mut self.scaler {
            None => self.opt.step()?,
            Some(scaler) => {
                if self.grads_finite {
                    self.opt.step()?;
                }
                scaler.update(self.grads_finite);
            }
        }
        Ok(())
    }

    /// The loss scaler of a float16 trainer.
    pub fn loss_scaler(&self) -> Option<&LossScaler> {
        self.scaler.as_ref()
    }

    /// Restores a float16 trainer's loss scaler (from a checkpoint); a trainer without
    /// loss scaling refuses one.
    pub fn set_loss_scaler(&mut self, scaler: LossScaler) -> Result<()> {
        if self.scaler.is_none() {
            bail!("the checkpoint has a loss scaler (a float16 run), but this run trains without");
        }
        self.scaler = Some(scaler);
        Ok(())
    }

    /// Steps skipped for a non-finite (scaled) gradient.
    pub fn skipped_steps(&self) -> u64 {
        self.scaler.as_ref().map_or(0, LossScaler::skipped_steps)
    }

    /// Loss and accuracy over `batches` in evaluation mode, read from the device once at
    /// the end.
    pub fn evaluate(&self, batches: Batches) -> Result<Tally> {
        let _no_grad = tch::no_grad_guard();
        let mut pending = PendingStats::default();
        for batch in batches {
            let batch = batch?;
            let logits = self.model.forward_t(&batch.images, false);
            let loss = logits.cross_entropy_for_logits(&batch.labels);
            pending.push(&loss, &logits, &batch.labels, None);
        }
        let mut tally = Tally::default();
        for stats in pending.read() {
            tally.add(&stats);
        }
        Ok(tally)
    }

    /// The layers that gradient factors and scale logging see: conv and linear layers,
    /// weight and bias together, batch norm left out.
    pub fn layers(&self) -> Vec<String> {
        layers_of(&self.opt).into_iter().map(|l| l.name).collect()
    }

    /// Sets the factors a run's [`FactorSpec`] names (`equalize` waits for the first batch).
    pub fn use_factors(&mut self, spec: &FactorSpec, seed: u64) -> Result<()> {
        match spec {
            FactorSpec::None => Ok(()),
            FactorSpec::Spread { decades } => {
                self.set_layer_factors(&factors::spread(&self.layers(), *decades, seed))
            }
            FactorSpec::Equalize => {
                self.hooks.equalize_next_batch = true;
                Ok(())
            }
            FactorSpec::File(path) => {
                self.set_layer_factors(&factors::read_file(path, &self.layers())?)
            }
        }
    }

    /// Multiplies each layer's gradient by its factor from the next backward on.
    pub fn set_layer_factors(&mut self, factors: &LayerFactors) -> Result<()> {
        let layers = layers_of(&self.opt);
        let values = self.flat_values();
        let coordinates = Tensor::ones([values.numel() as i64], (self.kind, values.device()));
        for (layer, (name, factor)) in layers.iter().zip(factors) {
            if layer.name != *name {
                bail!(
                    "gradient factors name `{name}` where the model has `{}`",
                    layer.name
                );
            }
            for &(_, offset, numel) in &layer.parts {
                let _ = coordinates.narrow(0, offset, numel).fill_(*factor);
            }
        }
        if factors.len() != layers.len() {
            bail!(
                "{} gradient factors for a model of {} layers",
                factors.len(),
                layers.len()
            );
        }
        self.hooks.coordinate_factors = Some(coordinates);
        self.hooks.equalize_next_batch = false;
        self.layer_factors = Some(factors.clone());
        Ok(())
    }

    /// The per-layer factors in use, once they are known.
    pub fn layer_factors(&self) -> Option<&LayerFactors> {
        self.layer_factors.as_ref()
    }

    /// `rms(g_l)` per layer of the gradient in the flat buffer, in float64.
    pub fn layer_gradient_rms(&self) -> Vec<(String, f64)> {
        let grads = self.flat_grads();
        layers_of(&self.opt)
            .into_iter()
            .map(|layer| {
                let (mut sum, mut count) = (0.0, 0i64);
                for &(_, offset, numel) in &layer.parts {
                    let part = grads.narrow(0, offset, numel).to_kind(Kind::Double);
                    sum += (&part * &part).sum(Kind::Double).double_value(&[]);
                    count += numel;
                }
                (layer.name, (sum / count.max(1) as f64).sqrt())
            })
            .collect()
    }

    pub fn set_lr(&mut self, lr: f64) -> Result<()> {
        Ok(self.opt.set_lr(lr)?)
    }

    pub fn has_diverged(&self) -> bool {
        self.diverged
    }

    pub fn var_store(&self) -> &VarStore {
        &self.vs
    }

    pub fn optimizer(&self) -> &Adam {
        &self.opt
    }

    pub fn optimizer_mut(&mut self) -> &mut Adam {
        &mut self.opt
    }

    /// The parameters as the optimizer's single flat buffer (a view: writing to it
    /// writes the weights).
    pub fn flat_values(&self) -> Tensor {
        self.single_group().values().shallow_clone()
    }

    /// The gradient as the optimizer's single flat buffer (a view).
    pub fn flat_grads(&self) -> Tensor {
        self.single_group().grads().shallow_clone()
    }

    /// η_t of the next step (the trainer's one group).
    pub fn lr(&self) -> f64 {
        self.single_group().scheduled_lr()
    }

    fn single_group(&self) -> optim::GroupView<'_> {
        let mut groups = self.opt.groups();
        let group = groups.next().expect("the trainer's optimizer has a group");
        debug_assert!(groups.next().is_none(), "a trainer has one parameter group");
        group
    }
}
