//! The models against their architecture written out here op by op with plain
//! out-of-place tensor calls, on the same weights, in float64: the forward pass (with its
//! ReLUs in place, and DenseNet without BN keeping its features rectified) computes the
//! same function, and its backward pass the same gradients.
use models::{Model, ModelConfig};
use std::collections::HashMap;
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

type Weights = HashMap<String, Tensor>;

fn conv(w: &Weights, name: &str, xs: &Tensor, stride: i64) -> Tensor {
    let weight = &w[&format!("{name}.weight")];
    let padding = weight.size()[2] / 2;
    xs.conv2d(weight, None::<Tensor>, [stride], [padding], [1], 1)
}

/// Batch norm in training mode (batch statistics), or nothing when the model has none.
fn bn(w: &Weights, name: &str, xs: &Tensor) -> Tensor {
    match w.get(&format!("{name}.weight")) {
        Some(weight) => xs.batch_norm(
            Some(weight),
            Some(&w[&format!("{name}.bias")]),
            None::<&Tensor>,
            None::<&Tensor>,
            true,
            0.1,
            1e-5,
            false,
        ),
        None => xs.shallow_clone(),
    }
}

fn head(w: &Weights, xs: &Tensor) -> Tensor {
    xs.mean_dim([2i64, 3].as_slice(), false, None)
        .linear(&w["fc.weight"], Some(&w["fc.bias"]))
}

fn resnet(w: &Weights, xs: &Tensor, blocks_per_stage: usize) -> Tensor {
    let mut out = bn(w, "bn1", &conv(w, "conv1", xs, 1)).relu();
    for stage in 1..=3 {
        for block in 1..=blocks_per_stage {
            let p = format!("stage{stage}.block{block}");
            let stride = if stage > 1 && block == 1 { 2 } else { 1 };
            let inner = bn(
                w,
                &format!("{p}.bn1"),
                &conv(w, &format!("{p}.conv1"), &out, stride),
            );
            let inner = inner.relu();
            let inner = bn(
                w,
                &format!("{p}.bn2"),
                &conv(w, &format!("{p}.conv2"), &inner, 1),
            );
            let planes = inner.size()[1];
            let shortcut = if planes == out.size()[1] {
                out.shallow_clone()
            } else {
                models::option_a_shortcut(&out, planes)
            };
            out = (inner + shortcut).relu();
        }
    }
    head(w, &out)
}

fn densenet(w: &Weights, xs: &Tensor, layers_per_block: usize) -> Tensor {
    let mut out = conv(w, "conv1", xs, 1);
    for block in 1..=3 {
        for layer in 1..=layers_per_block {
            let p = format!("dense{block}.layer{layer}");
            let new = conv(
                w,
                &format!("{p}.conv1"),
                &bn(w, &format!("{p}.bn1"), &out).relu(),
                1,
            );
            let new = conv(
                w,
                &format!("{p}.conv2"),
                &bn(w, &format!("{p}.bn2"), &new).relu(),
                1,
            );
            out = Tensor::cat(&[&out, &new], 1);
        }
        if block < 3 {
            let p = format!("trans{block}");
            out = conv(
                w,
                &format!("{p}.conv"),
                &bn(w, &format!("{p}.bn"), &out).relu(),
                1,
            )
            .avg_pool2d([2, 2], [2, 2], [0, 0], false, true, None);
        }
    }
    head(w, &bn(w, "bn_final", &out).relu())
}

/// (logits, every gradient in the var store's order) of `name` and of its written-out
/// twin, on the same weights and images.
fn both(name: &str, bn: bool, written_out: impl Fn(&Weights, &Tensor) -> Tensor) {
    let mut vs = VarStore::new(Device::Cpu);
    let model = Model::new(&vs.root(), &ModelConfig::new(name, bn, 10, 7)).unwrap();
    vs.set_kind(Kind::Double);
    let images = (Tensor::arange(4 * 3 * 32 * 32, (Kind::Double, Device::Cpu)) * 0.37)
        .sin()
        .view([4, 3, 32, 32]);
    let labels = Tensor::from_slice(&[3i64, 7, 0, 9]);
    let weights: Weights = vs.variables();
    let names: Vec<String> = {
        let mut names: Vec<String> = weights
            .iter()
            .filter(|(_, v)| v.requires_grad())
            .map(|(n, _)| n.clone())
            .collect();
        names.sort();
        names
    };
    let grads_of = |logits: &Tensor| -> (Tensor, Vec<Tensor>) {
        for n in &names {
            let mut grad = weights[n].grad();
            if grad.defined() {
                let _ = grad.zero_();
            }
        }
        logits.cross_entropy_for_logits(&labels).backward();
        let grads = names.iter().map(|n| weights[n].grad().copy()).collect();
        (logits.detach(), grads)
    };
    let (ours, our_grads) = grads_of(&model.forward_t(&images, true));
    let (theirs, their_grads) = grads_of(&written_out(&weights, &images));
    let close = |a: &Tensor, b: &Tensor| {
        let d = (a - b).abs().max().double_value(&[]);
        let scale = b.abs().max().double_value(&[]).max(1e-300);
        d / scale
    };
    assert!(
        close(&ours, &theirs) < 1e-12,
        "{name} bn={bn}: logits differ"
    );
    for ((n, a), b) in names.iter().zip(&our_grads).zip(&their_grads) {
        assert!(
            close(a, b) < 1e-10,
            "{name} bn={bn}: gradient of {n} differs"
        );
    }
}

#[test]
fn resnets_compute_the_written_out_function_and_gradients() {
    for bn in [false, true] {
        both("resnet14", bn, |w, xs| resnet(w, xs, 2));
    }
}

#[test]
fn densenets_compute_the_written_out_function_and_gradients() {
    for bn in [false, true] {
        both("densenet16", bn, |w, xs| densenet(w, xs, 2));
    }
}
