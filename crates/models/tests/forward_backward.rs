//! A forward pass gives logits of the right shape, and a backward pass reaches every parameter.
use models::{Model, ModelConfig};
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

fn check_forward_backward(name: &str, bn: bool, classes: i64, device: Device) {
    let vs = VarStore::new(device);
    let model = Model::new(&vs.root(), &ModelConfig::new(name, bn, classes, 1)).unwrap();
    let images = Tensor::randn([3, 3, 32, 32], (Kind::Float, device));
    let labels = Tensor::from_slice(&[0i64, 1, classes - 1]).to(device);

    let logits = model.forward_t(&images, true);
    assert_eq!(logits.size(), [3, classes], "{name} bn={bn}");
    let loss = logits.cross_entropy_for_logits(&labels);
    assert!(
        loss.double_value(&[]).is_finite(),
        "{name} bn={bn}: loss {loss}"
    );
    loss.backward();

    let mut total = 0.0;
    for (var_name, var) in vs.variables() {
        if !var.requires_grad() {
            continue;
        }
        let grad = var.grad();
        assert!(grad.defined(), "{name} bn={bn}: no gradient for {var_name}");
        assert_eq!(grad.size(), var.size(), "{name} bn={bn}: {var_name}");
        assert!(grad.numel() > 0, "{name} bn={bn}: {var_name}");
        let norm = grad.abs().sum(Kind::Double).double_value(&[]);
        assert!(
            norm.is_finite(),
            "{name} bn={bn}: gradient of {var_name} is not finite"
        );
        total += norm;
    }
    assert!(total > 0.0, "{name} bn={bn}: all gradients are zero");
}

#[test]
fn resnet20_with_bn_gives_logits_and_gradients_for_every_parameter() {
    check_forward_backward("resnet20", true, 10, Device::Cpu);
}

#[test]
fn resnet20_without_bn_gives_logits_and_gradients_for_every_parameter() {
    check_forward_backward("resnet20", false, 10, Device::Cpu);
}

#[test]
fn densenet100_with_bn_gives_logits_and_gradients_for_every_parameter() {
    check_forward_backward("densenet100", true, 100, Device::Cpu);
}

#[test]
fn densenet100_without_bn_gives_logits_and_gradients_for_every_parameter() {
    check_forward_backward("densenet100", false, 100, Device::Cpu);
}

/// Runs only where CUDA is available; elsewhere it passes without doing anything.
#[test]
fn models_run_on_cuda_when_it_is_available() {
    if tch::Cuda::is_available() {
        for bn in [true, false] {
            check_forward_backward("resnet20", bn, 10, Device::Cuda(0));
            check_forward_backward("densenet100", bn, 100, Device::Cuda(0));
        }
    }
}

/// Channels-last changes the memory layout only: logits and gradients agree with NCHW.
#[test]
fn channels_last_gives_the_same_logits_and_gradients_as_nchw() {
    for (name, bn) in [("resnet20", true), ("densenet100", false)] {
        let images = Tensor::randn([2, 3, 32, 32], (Kind::Float, Device::Cpu));
        let labels = Tensor::from_slice(&[3i64, 7]);
        let run = |channels_last: bool| {
            let vs = VarStore::new(Device::Cpu);
            let cfg = ModelConfig::new(name, bn, 10, 4).with_channels_last(channels_last);
            let model = Model::new(&vs.root(), &cfg).unwrap();
            assert_eq!(model.channels_last(), channels_last);
            let logits = model.forward_t(&images, true);
            logits.cross_entropy_for_logits(&labels).backward();
            let eval = tch::no_grad(|| model.forward_t(&images, false));
            (logits.detach(), eval, vs.variables())
        };
        let (nchw_logits, nchw_eval, nchw_vars) = run(false);
        let (nhwc_logits, nhwc_eval, nhwc_vars) = run(true);
        assert!(
            nhwc_logits.allclose(&nchw_logits, 1e-4, 1e-5, false),
            "{name}"
        );
        assert!(nhwc_eval.allclose(&nchw_eval, 1e-4, 1e-5, false), "{name}");
        for (var_name, var) in &nchw_vars {
            if var.requires_grad() {
                let (a, b) = (var.grad(), nhwc_vars[var_name].grad());
                let scale = a.abs().max().double_value(&[]).max(1e-12);
                let diff = (&a - &b).abs().max().double_value(&[]);
                assert!(
                    diff <= 1e-3 * scale,
                    "{name} {var_name}: max diff {diff} vs scale {scale}"
                );
            }
        }
    }
}
