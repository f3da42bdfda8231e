//! Initial weights are a function of the seed alone.
use models::{Model, ModelConfig};
use std::collections::HashMap;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

fn initial_weights(name: &str, bn: bool, seed: u64) -> HashMap<String, Tensor> {
    let vs = VarStore::new(Device::Cpu);
    Model::new(&vs.root(), &ModelConfig::new(name, bn, 10, seed)).unwrap();
    vs.variables()
}

#[test]
fn the_same_seed_gives_bitwise_identical_weights_even_when_built_in_parallel_threads() {
    for name in ["resnet20", "densenet100"] {
        let here = initial_weights(name, true, 11);
        let there: Vec<_> = (0..2)
            .map(|_| std::thread::spawn(move || initial_weights(name, true, 11)))
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect();
        for other in there {
            assert_eq!(here.len(), other.len());
            for (var_name, value) in &here {
                assert!(value.equal(&other[var_name]), "{name}: {var_name} differs");
            }
        }
    }
}

#[test]
fn different_seeds_give_different_weights_for_every_conv_and_linear_layer() {
    let a = initial_weights("resnet20", false, 1);
    let b = initial_weights("resnet20", false, 2);
    for (var_name, value) in &a {
        assert!(
            !value.equal(&b[var_name]),
            "{var_name} is the same for seeds 1 and 2"
        );
    }
}

/// Kaiming-normal: std √(2/fan_in) for ResNet convs and the classifier; DenseNet convs
/// N(0, 2/(k·k·out)); uniform ±1/√fan_in biases (and DenseNet classifier weights).
#[test]
fn initial_weights_have_the_papers_scales() {
    let std = |t: &Tensor| t.to_kind(Kind::Double).std(true).double_value(&[]);
    let max_abs = |t: &Tensor| t.abs().max().double_value(&[]);
    let close = |got: f64, want: f64| (got / want - 1.0).abs() < 0.05;

    let resnet = initial_weights("resnet56", true, 0);
    let conv = &resnet["stage3.block9.conv2.weight"]; // fan_in 64·9
    assert!(close(std(conv), (2.0f64 / 576.0).sqrt()), "{}", std(conv));
    assert!(close(
        std(&resnet["stage2.block1.conv1.weight"]),
        (2.0f64 / 144.0).sqrt()
    ));
    assert!(
        close(std(&resnet["fc.weight"]), (2.0f64 / 64.0).sqrt()),
        "{}",
        std(&resnet["fc.weight"])
    );
    assert!(max_abs(&resnet["fc.bias"]) <= 1.0 / 8.0);
    assert!(
        resnet["fc.weight"]
            .mean(Kind::Double)
            .double_value(&[])
            .abs()
            < 0.05
    );

    let densenet = initial_weights("densenet100", false, 0);
    let conv = &densenet["dense3.layer16.conv2.weight"]; // 3·3·12 fan-out
    assert!(close(std(conv), (2.0f64 / 108.0).sqrt()), "{}", std(conv));
    let conv = &densenet["dense2.layer1.conv1.weight"]; // 1·1·48 fan-out
    assert!(close(std(conv), (2.0f64 / 48.0).sqrt()), "{}", std(conv));
    let bound = 1.0 / 342f64.sqrt();
    assert!(
        max_abs(&densenet["fc.weight"]) <= bound && max_abs(&densenet["fc.weight"]) > 0.95 * bound
    );
    assert!(max_abs(&densenet["fc.bias"]) <= bound);
}
