//! `--precision`: bf16 trains on the CPU (float32 weights, loss and gradients; bfloat16
//! convolutions) and resumes bit for bit; f16 is refused on the CPU naming the flag; a
//! float16 trainer's loss scaler skips a step whose gradient overflowed.
mod train_support;

use models::ModelConfig;
use optim::{AdamConfig, DecayMode};
use scalefree::data::Batch;
use scalefree::train::{GradientHooks, Trainer, TrainerSpec};
use std::path::Path;
use std::process::Output;
use tch::{Device, Kind, Tensor};
use train_support::write_tiny_cifar10;
use train_support::{assert_same_run, read_json, scalefree, stderr, train_refused};

fn trainer(compute_kind: Kind, loss_mult: f64) -> Trainer {
    let spec = TrainerSpec {
        model: ModelConfig::new("resnet8", false, 10, 3).with_compute_kind(Some(compute_kind)),
        optimizer: AdamConfig::new(DecayMode::Decoupled, 1e-3, 1e-4).into(),
        kind: Kind::Float,
    };
    Trainer::new(&spec, Device::Cpu)
        .unwrap()
        .with_hooks(GradientHooks {
            loss_mult,
            ..Default::default()
        })
}

fn batch() -> Batch {
    let images = (Tensor::arange(8 * 3 * 32 * 32, (Kind::Float, Device::Cpu)) * 0.37)
        .sin()
        .view([8, 3, 32, 32]);
    Batch {
        images,
        labels: Tensor::arange(8, (Kind::Int64, Device::Cpu)).remainder(10),
        epoch: 0,
        index: 0,
    }
}

fn state(trainer: &Trainer) -> Vec<Vec<f32>> {
    let group = trainer.optimizer().group("all").unwrap();
    [group.values(), group.exp_avg(), group.exp_avg_sq()]
        .into_iter()
        .map(|t| Vec::<f32>::try_from(t).unwrap())
        .collect()
}

#[test]
fn bf16_keeps_weights_gradients_and_loss_in_float32() {
    let mut trainer = trainer(Kind::BFloat16, 1.0);
    let before = state(&trainer);
    trainer.backward(&batch()).unwrap();
    assert_eq!(trainer.flat_grads().kind(), Kind::Float);
    let stats = trainer.read_stats();
    assert!(
        stats[0].loss.is_finite() && stats[0].loss > 0.0,
        "{stats:?}"
    );
    trainer.apply().unwrap();
    assert_eq!(trainer.flat_values().kind(), Kind::Float);
    assert_ne!(state(&trainer), before, "the step was taken");
    assert!(
        trainer.loss_scaler().is_none(),
        "bfloat16 needs no loss scaling"
    );
}

#[test]
fn a_float16_overflow_skips_the_step_and_backs_the_scale_off() {
    // × 1e30 × the scale (2¹⁶) is beyond float16's range in the backward pass.
    let mut overflowing = trainer(Kind::Half, 1e30);
    let before = state(&overflowing);
    overflowing.backward(&batch()).unwrap();
    overflowing.apply().unwrap();
    assert_eq!(state(&overflowing), before, "weights and moments untouched");
    assert_eq!(overflowing.optimizer().step_count(), 0);
    assert_eq!(overflowing.skipped_steps(), 1);
    assert_eq!(overflowing.loss_scaler().unwrap().scale(), 32768.0);

    // At the initial scale (2¹⁶) this model's first gradient overflows float16 in its last
    // layer; the scale backs off until a step is taken, from the unscaled gradient.
    let mut backing_off = trainer(Kind::Half, 1.0);
    for attempt in 1..=10 {
        backing_off.backward(&batch()).unwrap();
        let rms = backing_off.layer_gradient_rms();
        backing_off.apply().unwrap();
        if backing_off.skipped_steps() == attempt {
            assert_eq!(backing_off.optimizer().step_count(), 0);
            continue;
        }
        assert!(
            rms.iter().all(|(_, r)| r.is_finite() && *r < 1e3),
            "{rms:?}"
        );
        assert_eq!(backing_off.optimizer().step_count(), 1);
        let scale = backing_off.loss_scaler().unwrap().scale();
        assert_eq!(scale, 65536.0 / 2f64.powi(attempt as i32 - 1));
        return;
    }
    panic!("ten steps skipped in a row");
}

#[test]
fn f16_on_the_cpu_is_refused_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let msg = train_refused(
        dir.path(),
        &dir.path().join("run"),
        &["--precision", "f16"],
        1,
    );
    assert!(
        msg.contains("--precision f16") && msg.contains("CUDA") && msg.contains("bf16"),
        "{msg}"
    );
    assert!(!dir.path().join("run/checkpoint").exists());
    let msg = train_refused(
        dir.path(),
        &dir.path().join("run2"),
        &["--precision", "fp8"],
        2,
    );
    assert!(
        msg.contains("fp32") && msg.contains("bf16") && msg.contains("f16"),
        "{msg}"
    );
    let file = dir.path().join("run.json");
    std::fs::write(&file, r#"{"precision": "half"}"#).unwrap();
    let config = file.to_str().unwrap();
    let msg = train_refused(
        dir.path(),
        &dir.path().join("run3"),
        &["--config", config],
        1,
    );
    assert!(msg.contains("precision"), "{msg}");
}

const FLAGS: [&str; 12] = [
    "--model",
    "resnet8",
    "--epochs",
    "3",
    "--batch-size",
    "32",
    "--hist-every",
    "2",
    "--seed",
    "5",
    "--precision",
    "bf16",
];

fn run(data: &Path, out: &Path, env: &[(&str, &str)], resume: bool) -> Output {
    let mut cmd = scalefree();
    cmd.args([
        "train",
        "--quiet",
        "--threads",
        "1",
        "--device",
        "cpu",
        "--data",
    ])
    .arg(data)
    .arg("--out")
    .arg(out)
    .args(FLAGS);
    if resume {
        cmd.arg("--resume");
    }
    cmd.envs(env.iter().copied());
    cmd.output().unwrap()
}

#[test]
fn a_bf16_run_killed_mid_epoch_resumes_to_the_same_bits() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 96, 20);
    let straight = dir.path().join("straight");
    let output = run(&data, &straight, &[], false);
    assert!(output.status.success(), "{}", stderr(&output));
    let config = read_json(&straight.join("config.json"));
    assert_eq!(config["precision"], "bf16");

    // Step 5 of 9: mid-epoch 2, after the checkpoint of epoch 1.
    let killed = dir.path().join("killed");
    let output = run(&data, &killed, &[("SCALEFREE_FAULT", "step:5")], false);
    assert!(!output.status.success(), "the fault killed the run");
    assert!(!killed.join("summary.json").exists());
    let output = run(&data, &killed, &[], true);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_same_run(&killed, &straight);

    // The same run in float32 is another run, with other weights.
    let float32 = dir.path().join("float32");
    let flags: Vec<&str> = FLAGS[..10].to_vec();
    let output = scalefree()
        .args([
            "train",
            "--quiet",
            "--threads",
            "1",
            "--device",
            "cpu",
            "--data",
        ])
        .arg(&data)
        .arg("--out")
        .arg(&float32)
        .args(flags)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let weights = |dir: &Path| std::fs::read(dir.join("checkpoint/model.safetensors")).unwrap();
    assert_ne!(weights(&float32), weights(&straight));
    let summary = |dir: &Path| read_json(&dir.join("summary.json"))["final_train_loss"].as_f64();
    let (a, b) = (summary(&straight).unwrap(), summary(&float32).unwrap());
    assert!((a - b).abs() < 0.1 * b, "bf16 loss {a} vs fp32 {b}");
}
