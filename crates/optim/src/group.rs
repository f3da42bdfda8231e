//! Parameter groups: named tensors that share a weight decay `λ`.
use tch::nn::VarStore;
use tch::Tensor;

/// A set of named parameters with their own `λ` (or the config's when `None`).
///
/// ```
/// # use optim::ParamGroup;
/// let w = tch::Tensor::zeros([3, 2], tch::kind::FLOAT_CPU).set_requires_grad(true);
/// let b = tch::Tensor::zeros([3], tch::kind::FLOAT_CPU).set_requires_grad(true);
/// let decay = ParamGroup::new("weights").with_param("fc.weight", w);
/// let no_decay = ParamGroup::new("biases").with_param("fc.bias", b).with_weight_decay(0.0);
/// assert_eq!(decay.len() + no_decay.len(), 2);
/// ```
pub struct ParamGroup {
    pub name: String,
    pub weight_decay: Option<f64>,
    pub params: Vec<(String, Tensor)>,
}

impl ParamGroup {
    pub fn new(name: impl Into<String>) -> Self {
        ParamGroup {
            name: name.into(),
            weight_decay: None,
            params: Vec::new(),
        }
    }

    /// A group of unnamed tensors, called `param0`, `param1`, … in errors and state files.
    pub fn from_tensors(
        name: impl Into<String>,
        tensors: impl IntoIterator<Item = Tensor>,
    ) -> Self {
        let params = tensors
            .into_iter()
            .enumerate()
            .map(|(i, t)| (format!("param{i}"), t))
            .collect();
        ParamGroup {
            name: name.into(),
            weight_decay: None,
            params,
        }
    }

    /// All trainable variables of a `VarStore`, ordered by name.
    pub fn from_var_store(name: impl Into<String>, vs: &VarStore) -> Self {
        let mut params: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        ParamGroup {
            name: name.into(),
            weight_decay: None,
            params,
        }
    }

    /// Splits a `VarStore`'s trainable variables in two groups: `decay` (the config's `λ`)
    /// and `no_decay` (`λ = 0`) for the names where `no_decay` returns true, for example
    /// biases and batch-norm parameters. Empty groups are left out.
    pub fn split_var_store(vs: &VarStore, no_decay: impl Fn(&str) -> bool) -> Vec<ParamGroup> {
        let all = Self::from_var_store("all", vs);
        let (skip, keep): (Vec<_>, Vec<_>) =
            all.params.into_iter().partition(|(name, _)| no_decay(name));
        let mut groups = Vec::new();
        if !keep.is_empty() {
            groups.push(ParamGroup {
                name: "decay".into(),
                weight_decay: None,
                params: keep,
            });
        }
        if !skip.is_empty() {
            groups.push(ParamGroup {
                name: "no_decay".into(),
                weight_decay: Some(0.0),
                params: skip,
            });
        }
        groups
    }

    pub fn with_param(mut self, name: impl Into<String>, tensor: Tensor) -> Self {
        self.params.push((name.into(), tensor));
        self
    }

    pub fn with_weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = Some(weight_decay);
        self
    }

    pub fn len(&self) -> usize {
        self.params.len()
    }

    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }
}
