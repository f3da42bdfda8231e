//! What a variable's name says about its layer (see the crate docs for the scheme).

/// The kind of layer a parameter belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerKind {
    Conv,
    BatchNorm,
    Linear,
}

/// The tensors a layer owns: trainable `weight` and `bias`, BN's running-statistics buffers.
const TENSOR_NAMES: [&str; 4] = ["weight", "bias", "running_mean", "running_var"];

/// The layer a variable belongs to: its name without the final `.weight`, `.bias`,
/// `.running_mean` or `.running_var` (`stage2.block3.conv1.weight` → `stage2.block3.conv1`).
/// A name without such a suffix is returned whole.
pub fn layer_name(var_name: &str) -> &str {
    match var_name.rsplit_once('.') {
        Some((layer, tensor)) if TENSOR_NAMES.contains(&tensor) => layer,
        _ => var_name,
    }
}

/// The kind of layer a variable of these models belongs to, from its name: the layer's own
/// name (the last component of [`layer_name`]) starts with `conv`, `bn` or is `fc`.
/// Works under any prefix (`model.fc.weight`). `None` for a name outside the scheme.
pub fn layer_kind(var_name: &str) -> Option<LayerKind> {
    let layer = layer_name(var_name);
    let own = layer.rsplit('.').next().unwrap_or(layer);
    if own.starts_with("conv") {
        Some(LayerKind::Conv)
    } else if own.starts_with("bn") {
        Some(LayerKind::BatchNorm)
    } else if own == "fc" {
        Some(LayerKind::Linear)
    } else {
        None
    }
}
