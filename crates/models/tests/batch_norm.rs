//! With BN: batch statistics in training, running statistics in evaluation.
//! Without BN: no BN variables at all.
use models::{Model, ModelConfig};
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

fn build(name: &str, bn: bool) -> (VarStore, Model) {
    let vs = VarStore::new(Device::Cpu);
    let model = Model::new(&vs.root(), &ModelConfig::new(name, bn, 10, 5)).unwrap();
    (vs, model)
}

#[test]
fn without_bn_there_are_no_bn_parameters_or_buffers() {
    for name in ["resnet20", "densenet100"] {
        let (vs, _) = build(name, false);
        let bn_like: Vec<_> = vs
            .variables()
            .into_keys()
            .filter(|n| n.contains("bn") || n.contains("running"))
            .collect();
        assert!(bn_like.is_empty(), "{name}: {bn_like:?}");
        assert!(
            vs.variables().values().all(|v| v.requires_grad()),
            "{name}: a non-trainable buffer exists"
        );
    }
}

#[test]
fn with_bn_every_bn_layer_has_weight_bias_and_running_statistics() {
    for name in ["resnet20", "densenet100"] {
        let (vs, _) = build(name, true);
        let vars = vs.variables();
        let weights: Vec<_> = vars
            .keys()
            .filter(|n| {
                models::layer_kind(n) == Some(models::LayerKind::BatchNorm)
                    && n.ends_with(".weight")
            })
            .collect();
        assert!(!weights.is_empty());
        for w in weights {
            let layer = models::layer_name(w);
            for tensor in ["bias", "running_mean", "running_var"] {
                assert!(
                    vars.contains_key(&format!("{layer}.{tensor}")),
                    "{name}: {layer}.{tensor} missing"
                );
            }
            assert!(
                vars[w].equal(&Tensor::ones_like(&vars[w])),
                "{name}: {w} should start at 1"
            );
            assert!(
                vars[&format!("{layer}.bias")].equal(&Tensor::zeros_like(&vars[w])),
                "{name}: {layer}.bias should start at 0"
            );
        }
    }
}

/// Sample 0 in two batches whose other samples differ.
fn first_sample_outputs(model: &Model, train: bool) -> (Tensor, Tensor) {
    let first = Tensor::randn([1, 3, 32, 32], (Kind::Float, Device::Cpu));
    let batch_a = Tensor::cat(
        &[
            &first,
            &Tensor::randn([3, 3, 32, 32], (Kind::Float, Device::Cpu)),
        ],
        0,
    );
    let batch_b = Tensor::cat(
        &[
            &first,
            &(Tensor::randn([3, 3, 32, 32], (Kind::Float, Device::Cpu)) * 3.0 + 1.0),
        ],
        0,
    );
    tch::no_grad(|| {
        (
            model.forward_t(&batch_a, train).get(0),
            model.forward_t(&batch_b, train).get(0),
        )
    })
}

#[test]
fn with_bn_an_eval_output_does_not_depend_on_the_rest_of_the_batch_but_a_train_output_does() {
    for name in ["resnet20", "densenet100"] {
        let (_vs, model) = build(name, true);
        let (a, b) = first_sample_outputs(&model, false);
        assert!(a.allclose(&b, 1e-5, 1e-5, false), "{name} eval: {a} vs {b}");
        let (a, b) = first_sample_outputs(&model, true);
        assert!(
            !a.allclose(&b, 1e-3, 1e-3, false),
            "{name} train: the batch should matter"
        );
    }
}

#[test]
fn without_bn_train_and_eval_give_the_same_per_sample_output() {
    let (_vs, model) = build("resnet20", false);
    let (a, b) = first_sample_outputs(&model, true);
    assert!(a.allclose(&b, 1e-5, 1e-5, false));
    let images = Tensor::randn([2, 3, 32, 32], (Kind::Float, Device::Cpu));
    let (train, eval) = tch::no_grad(|| {
        (
            model.forward_t(&images, true),
            model.forward_t(&images, false),
        )
    });
    assert!(train.equal(&eval));
}

#[test]
fn training_updates_the_running_statistics_and_eval_does_not() {
    let (vs, model) = build("resnet20", true);
    let running_mean = || vs.variables()["stage1.block1.bn1.running_mean"].copy();
    let before = running_mean();
    let images = Tensor::randn([4, 3, 32, 32], (Kind::Float, Device::Cpu));
    let _ = tch::no_grad(|| model.forward_t(&images, false));
    assert!(running_mean().equal(&before));
    let _ = tch::no_grad(|| model.forward_t(&images, true));
    assert!(!running_mean().equal(&before));
}
