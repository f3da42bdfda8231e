//! Claim 4's instrument: the gradient-factor intervention and what it must do exactly,
//! its logging, and `scalefree check multi-scale` on problems whose answer is known.
mod train_support;

use models::ModelConfig;
use optim::{AdamConfig, DecayMode, ParamGroup};
use scalefree::data::Batch;
use scalefree::train::factors::{self, LayerFactors};
use scalefree::train::{Trainer, TrainerSpec};
use std::collections::HashMap;
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};
use train_support::{
    read_json, scalefree, stderr, stdout, train, venv_python, workspace, write_tiny_cifar10,
};

/// ε = 0 in float64, as the scale-free check runs it: a tiny ε keeps coordinates whose
/// gradient has always been 0 at 0/ε instead of 0/0.
const EPS_ZERO: f64 = 1e-300;

fn batch(i: i64) -> Batch {
    // Seeding and drawing under a lock: the tests run on parallel threads, and libtorch
    // has one global generator.
    static GENERATOR: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _drawing = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    tch::manual_seed(100 + i);
    Batch {
        images: Tensor::randn([8, 3, 32, 32], (Kind::Double, Device::Cpu)),
        labels: Tensor::randint(10, [8], (Kind::Int64, Device::Cpu)),
        epoch: 0,
        index: i as usize,
    }
}

fn model() -> ModelConfig {
    ModelConfig::new("resnet8", false, 10, 3)
}

fn trainer(mode: DecayMode, factors: Option<&LayerFactors>) -> Trainer {
    let spec = TrainerSpec {
        model: model(),
        optimizer: AdamConfig::new(mode, 1e-2, 5e-3).eps(EPS_ZERO).into(),
        kind: Kind::Double,
    };
    let mut t = Trainer::new(&spec, Device::Cpu).unwrap();
    if let Some(f) = factors {
        t.set_layer_factors(f).unwrap();
    }
    t
}

/// One training step of `trainer` on `b`.
fn step(trainer: &mut Trainer, b: &Batch) {
    trainer.backward(b).unwrap();
    trainer.apply().unwrap();
}

fn relative_distance(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).norm().double_value(&[]) / b.norm().double_value(&[])
}

#[test]
fn with_eps_zero_no_layer_factors_change_adamw_or_adamprox() {
    for mode in [DecayMode::Decoupled, DecayMode::Proximal] {
        let mut plain = trainer(mode, None);
        let factors = factors::spread(&plain.layers(), 4.0, 1);
        let mut scaled = trainer(mode, Some(&factors));
        for i in 0..12 {
            step(&mut plain, &batch(i));
            step(&mut scaled, &batch(i));
        }
        let d = relative_distance(&scaled.flat_values(), &plain.flat_values());
        assert!(d < 1e-9, "{mode}: {d:e}");
    }
    // The same factors do move Adam-ℓ2.
    let mut plain = trainer(DecayMode::L2, None);
    let factors = factors::spread(&plain.layers(), 4.0, 1);
    let mut scaled = trainer(DecayMode::L2, Some(&factors));
    for i in 0..12 {
        step(&mut plain, &batch(i));
        step(&mut scaled, &batch(i));
    }
    let d = relative_distance(&scaled.flat_values(), &plain.flat_values());
    assert!(d > 1e-4, "Adam-ℓ2 moved only {d:e}");
}

#[test]
fn adam_l2_with_layer_factors_is_adam_l2_with_per_layer_decay_lambda_over_c() {
    let (lr, wd) = (1e-2, 5e-3);
    let mut with_factors = trainer(DecayMode::L2, None);
    let layers = scalefree::train::scale_probe::layers_of(with_factors.optimizer());
    let names: Vec<String> = layers.iter().map(|l| l.name.clone()).collect();
    let factors = factors::spread(&names, 3.0, 2);
    with_factors.set_layer_factors(&factors).unwrap();

    // The same model, no factors, one group per layer with λ/c_l.
    let mut vs = VarStore::new(Device::Cpu);
    let net = models::Model::new(&vs.root(), &model()).unwrap();
    vs.double();
    let variables = vs.variables();
    let c: HashMap<&str, f64> = factors.iter().map(|(n, c)| (n.as_str(), *c)).collect();
    let mut groups: Vec<ParamGroup> = Vec::new();
    for (name, tensor) in &variables {
        let layer = models::layer_name(name);
        let decay = wd / c.get(layer).copied().unwrap_or(1.0);
        groups.push(
            ParamGroup::new(name.clone())
                .with_param(name.clone(), tensor.shallow_clone())
                .with_weight_decay(decay),
        );
    }
    let mut per_layer = AdamConfig::adam_l2(lr, wd)
        .eps(EPS_ZERO)
        .build_groups(groups)
        .unwrap();
    for i in 0..12 {
        let b = batch(i);
        step(&mut with_factors, &b);
        per_layer.zero_grad();
        net.forward_t(&b.images, true)
            .cross_entropy_for_logits(&b.labels)
            .backward();
        per_layer.step().unwrap();
    }
    let trained = with_factors.var_store().variables();
    let mut worst: f64 = 0.0;
    for (name, tensor) in &variables {
        worst = worst.max(relative_distance(&trained[name], tensor));
    }
    assert!(worst < 1e-9, "largest relative difference {worst:e}");
}

#[test]
fn spread_factors_repeat_from_their_seed_and_are_logged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 64, 20);
    let out = dir.path().join("run");
    let args = [
        "--model",
        "resnet8",
        "--epochs",
        "1",
        "--batch-size",
        "32",
        "--grad-factors",
        "spread:2",
        "--factor-seed",
        "5",
    ];
    let output = train(&data, &out, &args);
    assert!(output.status.success(), "{}", stderr(&output));
    let logged = read_json(&out.join("grad_factors.json"));
    let logged: Vec<(String, f64)> = logged
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["layer"].as_str().unwrap().to_string(),
                r["factor"].as_f64().unwrap(),
            )
        })
        .collect();
    let names: Vec<String> = logged.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(logged, factors::spread(&names, 2.0, 5));
    assert!(names.iter().any(|n| n == "fc") && !names.iter().any(|n| n.contains("bn")));

    let read = venv_python()
        .arg(workspace().join("tests/read_tensorboard.py"))
        .arg(out.join("tb"))
        .output()
        .unwrap();
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let events: serde_json::Value = serde_json::from_slice(&read.stdout).unwrap();
    for (name, factor) in &logged {
        let series = &events["scalars"][format!("factors/log10/{name}")];
        assert!(
            (series[0][1].as_f64().unwrap() - factor.log10()).abs() < 1e-5,
            "{name}"
        );
    }
    // The run name says which factors it used.
    let config = read_json(&out.join("config.json"));
    assert_eq!(config["grad_factors"], "spread:2");
}

fn multi_scale(data: &std::path::Path, json: &std::path::Path, factors: &str) -> serde_json::Value {
    let output = scalefree()
        .args([
            "check",
            "multi-scale",
            "--model",
            "resnet8",
            "--factors",
            factors,
            "--seeds",
            "3",
            "--epochs",
            "10",
            "--batch-size",
            "32",
            "--device",
            "cpu",
            "--threads",
            "2",
            "--l2",
            "0.003,0.0005",
            "--adamw",
            "0.001,0.00005",
        ])
        .arg("--data")
        .arg(data)
        .arg("--json")
        .arg(json)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    assert!(stdout(&output).contains("claim 4"), "{}", stdout(&output));
    read_json(json)
}

#[test]
fn the_multi_scale_check_finds_the_effect_where_it_is_certain_and_not_where_it_cannot_exist() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 256, 40);
    // Every layer's gradient × 1e-4: Adam-ℓ2's decay becomes λ·1e4 everywhere and its
    // weights shrink by about η per step, to nothing within the run; AdamW's update does
    // not see the factors at all.
    let layers = trainer(DecayMode::L2, None).layers();
    let tiny: serde_json::Map<String, serde_json::Value> =
        layers.iter().map(|l| (l.clone(), 1e-4.into())).collect();
    let file = dir.path().join("tiny-factors.json");
    std::fs::write(&file, serde_json::to_string(&tiny).unwrap()).unwrap();
    let report = multi_scale(&data, &dir.path().join("tiny.json"), file.to_str().unwrap());
    assert_eq!(
        report["outcome"], "SUPPORTED",
        "{}",
        report["verdict"]["line"]
    );
    assert!(dir.path().join("tiny.png").is_file());
    assert_eq!(report["lanes"].as_array().unwrap().len(), 4);
    // No spread at all: the lanes are identical, the change exactly 0.
    let report = multi_scale(&data, &dir.path().join("zero.json"), "spread:0");
    assert_eq!(
        report["outcome"], "NOT_SUPPORTED",
        "{}",
        report["verdict"]["line"]
    );
    let change = &report["changes"][0]["train_loss"];
    assert_eq!(change["mean"], 0.0, "{change}");
}
