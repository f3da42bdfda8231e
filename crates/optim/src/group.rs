//! Parameter groups: named tensors that share a weight decay `λ` and a step size.
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
    pub(crate) params: Vec<(String, Tensor)>,
    /// The `VarStore`s the parameters were taken from: at each step the optimizer checks
    /// that none of their trainable variables is left out.
    pub(crate) stores: Vec<Arc<Mutex<Variables>>>,
}

impl ParamGroup {
    pub fn new(name: impl Into<String>) -> Self {
        ParamGroup {
            name: name.into(),
            weight_decay: None,
            lr: None,
            params: Vec::new(),
            stores: Vec::new(),
        }
    }

    /// A group of unnamed tensors, called `param0`, `param1`, … in errors and state files.
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
    pub fn from_var_store(name: impl Into<String>, vs: &VarStore) -> Self {
        let mut group = Self::new(name);
        group.params = trainable_variables(vs);
        group.stores.push(vs.variables_.clone());
        group
    }

    /// Splits a `VarStore`'s trainable variables in two groups: `decay` (the config's `λ`)
    /// and `no_decay` (`λ = 0`) for the names where `no_decay` returns true, for example
    /// biases and batch-norm parameters. Empty groups are left out.
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

    pub fn with_param(mut self, name: impl Into<String>, tensor: Tensor) -> Self {
        self.params.push((name.into(), tensor));
        self
    }

    /// This group's `λ` instead of the config's.
    pub fn with_weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = Some(weight_decay);
        self
    }

    /// This group's step size instead of the config's `lr` (`η_0`). An owned schedule
    /// scales it as it scales `η_0`; the decay is still measured against the config's
    /// `η_0` (`s_t = η_t/η_0`), which is PyTorch's `lr·weight_decay` with
    /// `weight_decay = λ/η_0`.
    pub fn with_lr(mut self, lr: f64) -> Self {
        self.lr = Some(lr);
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The parameters' names, in order.
    pub fn param_names(&self) -> impl Iterator<Item = &str> {
        self.params.iter().map(|(name, _)| name.as_str())
    }

    pub fn len(&self) -> usize {
        self.params.len()
    }

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
