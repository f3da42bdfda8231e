//! Parameter groups: named tensors that share a weight decay `λ` and a step size.
use crate::rule::Setting;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tch::nn::{VarStore, Variables};
use tch::Tensor;

/// A set of named parameters with their own `λ` and step size (the config's when not set).
///
/// ```
/// # use adamw_prox::ParamGroup;
/// let w = tch::Tensor::zeros([3, 2], tch::kind::FLOAT_CPU).set_requires_grad(true);
/// let b = tch::Tensor::zeros([3], tch::kind::FLOAT_CPU).set_requires_grad(true);
/// let decay = ParamGroup::new("weights").with_param("fc.weight", w);
/// let no_decay = ParamGroup::new("biases").with_param("fc.bias", b).with_weight_decay(0.0);
/// assert_eq!(decay.len() + no_decay.len(), 2);
/// ```
pub struct ParamGroup {
    pub(crate) name: String,
    pub(crate) weight_decay: Option<f64>,
    pub(crate) lr: Option<f64>,
    pub(crate) torch_weight_decay: Option<f64>,
    pub(crate) settings: Vec<(String, Setting)>,
    pub(crate) params: Vec<(String, Tensor)>,
    /// The `VarStore`s the parameters were taken from: at each step the optimizer checks
    /// that none of their trainable variables is left out.
    pub(crate) stores: Vec<Arc<Mutex<Variables>>>,
}

impl ParamGroup {
    /// An empty group named `name`; add parameters with [`ParamGroup::with_param`].
    ///
    /// ```
    /// let group = adamw_prox::ParamGroup::new("head");
    /// assert!(group.is_empty() && group.name() == "head");
    /// ```
    pub fn new(name: impl Into<String>) -> Self {
        ParamGroup {
            name: name.into(),
            weight_decay: None,
            lr: None,
            torch_weight_decay: None,
            settings: Vec::new(),
            params: Vec::new(),
            stores: Vec::new(),
        }
    }

    /// A group of unnamed tensors, called `param0`, `param1`, … in errors and state files.
    ///
    /// ```
    /// use adamw_prox::ParamGroup;
    /// let x = tch::Tensor::zeros([5], tch::kind::DOUBLE_CPU).set_requires_grad(true);
    /// let group = ParamGroup::from_tensors("x", [x]);
    /// assert_eq!(group.param_names().collect::<Vec<_>>(), ["param0"]);
    /// ```
    pub fn from_tensors(
        name: impl Into<String>,
        tensors: impl IntoIterator<Item = Tensor>,
    ) -> Self {
        let mut group = Self::new(name);
        group.params = tensors
            .into_iter()
            .enumerate()
            .map(|(i, t)| (format!("param{i}"), t))
            .collect();
        group
    }

    /// All trainable variables of a `VarStore`, ordered by name, frozen ones included (as
    /// `torch.optim` takes `model.parameters()`: they are skipped while frozen).
    /// Variables without elements are left out: there is nothing to optimise in them.
    /// With several groups from one store, each variable must be in one group only
    /// ([`ParamGroup::split_var_store`] or [`ParamGroup::from_var_store_where`] do that).
    ///
    /// ```
    /// use adamw_prox::ParamGroup;
    /// let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    /// let _fc = tch::nn::linear(vs.root() / "fc", 4, 2, Default::default());
    /// let group = ParamGroup::from_var_store("all", &vs);
    /// assert_eq!(group.param_names().collect::<Vec<_>>(), ["fc.bias", "fc.weight"]);
    /// ```
    pub fn from_var_store(name: impl Into<String>, vs: &VarStore) -> Self {
        let mut group = Self::new(name);
        group.params = trainable_variables(vs);
        group.stores.push(vs.variables_.clone());
        group
    }

    /// Splits a `VarStore`'s trainable variables in two groups: `decay` (the config's `λ`)
    /// and `no_decay` (`λ = 0`) for the names where `no_decay` returns true, for example
    /// biases and batch-norm parameters. Empty groups are left out.
    ///
    /// ```
    /// use adamw_prox::ParamGroup;
    /// use tch::nn;
    /// let vs = nn::VarStore::new(tch::Device::Cpu);
    /// let _conv = nn::conv2d(vs.root() / "conv", 3, 8, 3, Default::default());
    /// let _bn = nn::batch_norm2d(vs.root() / "bn", 8, Default::default());
    /// let groups = ParamGroup::split_var_store(&vs, |name| {
    ///     name.ends_with(".bias") || name.starts_with("bn.")
    /// });
    /// let names: Vec<Vec<&str>> = groups.iter().map(|g| g.param_names().collect()).collect();
    /// assert_eq!(names, [vec!["conv.weight"], vec!["bn.bias", "bn.weight", "conv.bias"]]);
    /// ```
    pub fn split_var_store(vs: &VarStore, no_decay: impl Fn(&str) -> bool) -> Vec<ParamGroup> {
        let (skip, keep): (Vec<_>, Vec<_>) = trainable_variables(vs)
            .into_iter()
            .partition(|(name, _)| no_decay(name));
        let mut groups = Vec::new();
        for (name, params, weight_decay) in [("decay", keep, None), ("no_decay", skip, Some(0.0))] {
            if !params.is_empty() {
                let mut group = Self::new(name);
                group.params = params;
                group.weight_decay = weight_decay;
                group.stores.push(vs.variables_.clone());
                groups.push(group);
            }
        }
        groups
    }

    /// The trainable variables of a `VarStore` whose names `select` accepts, ordered by
    /// name, for groups of one's own (several learning rates, layer-wise decay). Together
    /// the groups must hold every trainable variable of the store, each once.
    ///
    /// ```
    /// use adamw_prox::{AdamConfig, ParamGroup};
    /// use tch::nn;
    /// let vs = nn::VarStore::new(tch::Device::Cpu);
    /// let _body = nn::linear(vs.root() / "body", 8, 8, Default::default());
    /// let _head = nn::linear(vs.root() / "head", 8, 2, Default::default());
    /// let is_head = |name: &str| name.starts_with("head.");
    /// let groups = vec![
    ///     ParamGroup::from_var_store_where("body", &vs, |n| !is_head(n)).with_lr(1e-4),
    ///     ParamGroup::from_var_store_where("head", &vs, is_head),
    /// ];
    /// let opt = AdamConfig::adamw(1e-3, 1e-5).build_groups(groups)?;
    /// assert_eq!(opt.group("body")?.lr(), 1e-4);
    /// assert_eq!(opt.group("head")?.lr(), 1e-3);
    /// # Ok::<(), adamw_prox::OptimError>(())
    /// ```
    pub fn from_var_store_where(
        name: impl Into<String>,
        vs: &VarStore,
        select: impl Fn(&str) -> bool,
    ) -> Self {
        let mut group = Self::new(name);
        group.params = trainable_variables(vs)
            .into_iter()
            .filter(|(name, _)| select(name))
            .collect();
        group.stores.push(vs.variables_.clone());
        group
    }

    /// Adds a parameter under `name` (used in errors and state files). It must be a leaf
    /// tensor of a floating-point dtype, on the same device and of the same dtype as the
    /// group's other parameters.
    ///
    /// ```
    /// let w = tch::Tensor::zeros([3], tch::kind::FLOAT_CPU).set_requires_grad(true);
    /// let group = adamw_prox::ParamGroup::new("g").with_param("w", w);
    /// assert_eq!(group.len(), 1);
    /// ```
    pub fn with_param(mut self, name: impl Into<String>, tensor: Tensor) -> Self {
        self.params.push((name.into(), tensor));
        self
    }

    /// This group's `λ` instead of the config's.
    ///
    /// ```
    /// use adamw_prox::{AdamConfig, ParamGroup};
    /// let b = tch::Tensor::zeros([3], tch::kind::FLOAT_CPU).set_requires_grad(true);
    /// let group = ParamGroup::new("biases").with_param("b", b).with_weight_decay(0.0);
    /// let opt = AdamConfig::adamw(1e-3, 1e-5).build_groups(vec![group])?;
    /// assert_eq!(opt.group("biases")?.weight_decay(), 0.0);
    /// # Ok::<(), adamw_prox::OptimError>(())
    /// ```
    pub fn with_weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = Some(weight_decay);
        self
    }

    /// This group's step size instead of the config's `lr` (`η_0`). An owned schedule
    /// scales it as it scales `η_0`; the decay is still measured against the config's
    /// `η_0` (`s_t = η_t/η_0`), which is PyTorch's `lr·weight_decay` with
    /// `weight_decay = λ/η_0`.
    ///
    /// ```
    /// use adamw_prox::{AdamConfig, ParamGroup};
    /// let w = tch::Tensor::zeros([3], tch::kind::FLOAT_CPU).set_requires_grad(true);
    /// let group = ParamGroup::new("head").with_param("w", w).with_lr(1e-2);
    /// let opt = AdamConfig::adamw(1e-3, 0.0).build_groups(vec![group])?;
    /// assert_eq!(opt.group("head")?.lr(), 1e-2);
    /// # Ok::<(), adamw_prox::OptimError>(())
    /// ```
    pub fn with_lr(mut self, lr: f64) -> Self {
        self.lr = Some(lr);
        self
    }

    /// This group's weight decay in PyTorch's units, as `torch.optim`'s group
    /// `{"params": …, "lr": lr_g, "weight_decay": wd}`: the group then decays as PyTorch's
    /// would with its own step size (for AdamW `lr_g,t·wd·x` per step). Converted to `λ`
    /// when the group is added (`λ = wd·η_0` for the decoupled and proximal decays, `η_0`
    /// being the config's step size; `λ = wd` for ℓ2). It replaces
    /// [`ParamGroup::with_weight_decay`].
    ///
    /// ```
    /// use adamw_prox::{AdamConfig, ParamGroup};
    /// let w = tch::Tensor::zeros([3], tch::kind::FLOAT_CPU).set_requires_grad(true);
    /// let head = ParamGroup::new("head").with_param("w", w).with_lr(1e-2).with_torch_weight_decay(0.1);
    /// let opt = AdamConfig::adamw(1e-3, 0.0).build_groups(vec![head])?;
    /// // λ = 0.1·η_0: with s_t = η_t/η_0 it removes 0.1·η_t = PyTorch's lr·weight_decay.
    /// assert!((opt.group("head")?.weight_decay() - 1e-4).abs() < 1e-18);
    /// # Ok::<(), adamw_prox::OptimError>(())
    /// ```
    pub fn with_torch_weight_decay(mut self, weight_decay: f64) -> Self {
        self.torch_weight_decay = Some(weight_decay);
        self
    }

    /// One of the rule's settings for this group only, by PyTorch's name (`beta1`,
    /// `eps`, `amsgrad`, `momentum`, …), as a key of a `torch.optim` parameter group.
    /// A key the rule lacks is refused when the group is added.
    ///
    /// ```
    /// use adamw_prox::{AdamConfig, ParamGroup};
    /// let w = tch::Tensor::zeros([3], tch::kind::FLOAT_CPU).set_requires_grad(true);
    /// let head = ParamGroup::new("head").with_param("w", w).with_setting("beta2", 0.95).with_setting("amsgrad", true);
    /// let opt = AdamConfig::adamw(1e-3, 0.0).build_groups(vec![head])?;
    /// assert!(opt.group("head")?.max_exp_avg_sq().is_some());
    /// # Ok::<(), adamw_prox::OptimError>(())
    /// ```
    pub fn with_setting(mut self, key: impl Into<String>, value: impl Into<Setting>) -> Self {
        self.settings.push((key.into(), value.into()));
        self
    }

    /// `beta1` and `beta2` of this group (PyTorch's group `betas`).
    pub fn with_betas(self, beta1: f64, beta2: f64) -> Self {
        self.with_setting("beta1", beta1)
            .with_setting("beta2", beta2)
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The parameters' names, in order.
    ///
    /// ```
    /// let w = tch::Tensor::zeros([3], tch::kind::FLOAT_CPU);
    /// let group = adamw_prox::ParamGroup::new("g").with_param("w", w);
    /// assert_eq!(group.param_names().collect::<Vec<_>>(), ["w"]);
    /// ```
    pub fn param_names(&self) -> impl Iterator<Item = &str> {
        self.params.iter().map(|(name, _)| name.as_str())
    }

    /// The number of parameters.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    /// Whether it has no parameters.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }
}

/// The store's trainable variables with their names, sorted by name. tch keeps the
/// trainable ones in a list without names; a variable's data pointer identifies it in
/// the named map (two distinct variables with elements never share their first element).
fn trainable_variables(vs: &VarStore) -> Vec<(String, Tensor)> {
    let variables = vs.variables_.lock().unwrap_or_else(|e| e.into_inner());
    let names: HashMap<usize, &String> = variables
        .named_variables
        .iter()
        .filter(|(_, t)| t.numel() > 0)
        .map(|(name, t)| (t.data_ptr() as usize, name))
        .collect();
    let mut params: Vec<(String, Tensor)> = variables
        .trainable_variables
        .iter()
        .filter(|v| v.tensor.numel() > 0)
        .filter_map(|v| {
            let name = names.get(&(v.tensor.data_ptr() as usize))?;
            Some(((*name).clone(), v.tensor.shallow_clone()))
        })
        .collect();
    params.sort_by(|a, b| a.0.cmp(&b.0));
    params
}
