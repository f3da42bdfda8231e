//! Saving and loading the optimizer state: an interrupted run continues bit for bit,
//! and a state that does not fit is refused with the first mismatch named.
mod common;

use adamw_prox::{Adam, AdamConfig, DecayMode, OptimError, ParamGroup};
use common::{gaussian, mixed_params};
use std::path::PathBuf;
use tch::{Device, Kind, Tensor};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("optim-state-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn groups(params: &[Tensor]) -> Vec<ParamGroup> {
    vec![
        ParamGroup::new("decay")
            .with_param("w0", params[0].shallow_clone())
            .with_param("w2", params[2].shallow_clone()),
        ParamGroup::new("no_decay")
            .with_weight_decay(0.0)
            .with_param("b1", params[1].shallow_clone())
            .with_param("b3", params[3].shallow_clone()),
    ]
}

fn train(opt: &mut Adam, params: &[Tensor], steps: std::ops::Range<u64>) {
    for step in steps {
        let loss = params.iter().enumerate().fold(
            Tensor::zeros([], (Kind::Float, Device::Cpu)),
            |acc, (i, p)| {
                let g = gaussian(&p.size(), Kind::Float, 100 * step + i as u64);
                acc + (p * g).sum(Kind::Float) + (p * p).sum(Kind::Float)
            },
        );
        opt.zero_grad();
        loss.backward();
        opt.set_lr(1e-2 * 0.99f64.powi(step as i32)).unwrap();
        opt.step().unwrap();
    }
}

fn bits(params: &[Tensor]) -> Vec<u32> {
    params
        .iter()
        .flat_map(|p| Vec::<f32>::try_from(p.flatten(0, -1)).unwrap())
        .map(f32::to_bits)
        .collect()
}

#[test]
fn save_load_and_continue_equals_an_uninterrupted_run_bit_for_bit() {
    for mode in DecayMode::ALL {
        for amsgrad in [false, true] {
            let config = AdamConfig::new(mode, 1e-2, 1e-2).amsgrad(amsgrad);
            let straight = mixed_params(Kind::Float, 1);
            let mut opt = config.clone().build_groups(groups(&straight)).unwrap();
            train(&mut opt, &straight, 0..40);

            let path = temp_dir("resume").join(format!("{mode}-{amsgrad}.safetensors"));
            let first = mixed_params(Kind::Float, 1);
            let mut opt = config.clone().build_groups(groups(&first)).unwrap();
            train(&mut opt, &first, 0..20);
            opt.save_state(&path).unwrap();
            let saved_values: Vec<Tensor> = first.iter().map(|p| p.detach().copy()).collect();
            drop(opt);

            // A fresh process would rebuild the model from its checkpoint and the optimizer
            // from its state file.
            let resumed = mixed_params(Kind::Float, 999);
            tch::no_grad(|| {
                for (p, v) in resumed.iter().zip(&saved_values) {
                    p.shallow_clone().copy_(v);
                }
            });
            let mut opt = config.build_groups(groups(&resumed)).unwrap();
            opt.load_state(&path).unwrap();
            assert_eq!(opt.step_count(), 20);
            train(&mut opt, &resumed, 20..40);
            assert_eq!(bits(&resumed), bits(&straight), "{mode} amsgrad={amsgrad}");
        }
    }
}

fn saved_state(name: &str) -> PathBuf {
    let params = mixed_params(Kind::Float, 1);
    let mut opt = AdamConfig::adamw(1e-2, 1e-2)
        .build_groups(groups(&params))
        .unwrap();
    train(&mut opt, &params, 0..3);
    let path = temp_dir("mismatch").join(format!("{name}.safetensors"));
    opt.save_state(&path).unwrap();
    path
}

fn load_error(opt: &mut Adam, path: &PathBuf) -> String {
    let err = opt
        .load_state(path)
        .expect_err("a mismatched state must be refused");
    assert!(matches!(err, OptimError::StateMismatch { .. }), "{err:?}");
    err.to_string()
}

#[test]
fn a_state_for_other_shapes_is_refused_naming_the_parameter() {
    let path = saved_state("shape");
    let mut params = mixed_params(Kind::Float, 1);
    params[2] = Tensor::zeros([2, 3, 5], (Kind::Float, Device::Cpu)).set_requires_grad(true);
    let mut opt = AdamConfig::adamw(1e-2, 1e-2)
        .build_groups(groups(&params))
        .unwrap();
    let before = opt.step_count();
    let msg = load_error(&mut opt, &path);
    assert!(
        msg.contains("`w2` [2, 3, 4] in the state, `w2` [2, 3, 5] here"),
        "{msg}"
    );
    assert!(msg.contains(path.to_str().unwrap()), "{msg}");
    assert_eq!(
        opt.step_count(),
        before,
        "nothing is changed by a refused load"
    );
}

#[test]
fn a_state_for_another_dtype_is_refused() {
    let path = saved_state("dtype");
    let params = mixed_params(Kind::Double, 1);
    let mut opt = AdamConfig::adamw(1e-2, 1e-2)
        .build_groups(groups(&params))
        .unwrap();
    let msg = load_error(&mut opt, &path);
    assert!(
        msg.contains("dtype Float in the state, Double here"),
        "{msg}"
    );
}

#[test]
fn a_state_with_another_parameter_count_is_refused() {
    let path = saved_state("count");
    let params = mixed_params(Kind::Float, 1);
    let fewer = vec![
        ParamGroup::new("decay").with_param("w0", params[0].shallow_clone()),
        ParamGroup::new("no_decay").with_param("b1", params[1].shallow_clone()),
    ];
    let mut opt = AdamConfig::adamw(1e-2, 1e-2).build_groups(fewer).unwrap();
    let msg = load_error(&mut opt, &path);
    assert!(
        msg.contains("group 0 (`decay`) has 2 parameters in the state, 1 here"),
        "{msg}"
    );
}

#[test]
fn a_state_saved_with_other_settings_is_refused_naming_the_field() {
    let path = saved_state("settings");
    let params = mixed_params(Kind::Float, 1);
    let mut opt = AdamConfig::adam_prox(1e-2, 1e-2)
        .build_groups(groups(&params))
        .unwrap();
    let msg = load_error(&mut opt, &path);
    assert!(
        msg.contains("saved with decay = adamw, but this optimizer has decay = adam-prox"),
        "{msg}"
    );
    let mut opt = AdamConfig::adamw(1e-2, 1e-2)
        .amsgrad(true)
        .build_groups(groups(&params))
        .unwrap();
    let msg = load_error(&mut opt, &path);
    assert!(msg.contains("amsgrad"), "{msg}");
}

#[test]
fn a_missing_or_foreign_file_is_refused_with_its_path() {
    let params = mixed_params(Kind::Float, 1);
    let mut opt = AdamConfig::adamw(1e-2, 1e-2)
        .build_groups(groups(&params))
        .unwrap();
    let missing = temp_dir("missing").join("nope.safetensors");
    assert!(load_error(&mut opt, &missing).contains("no such file"));
    let garbage = temp_dir("garbage").join("garbage.safetensors");
    std::fs::write(&garbage, b"this is not a state file").unwrap();
    let msg = load_error(&mut opt, &garbage);
    assert!(
        msg.contains("garbage.safetensors") && msg.contains("not a readable optimizer state"),
        "{msg}"
    );
}

#[test]
fn saving_leaves_no_temporary_file_behind() {
    let path = saved_state("atomic");
    let dir = path.parent().unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// How an interrupted run's optimizer state travels to the resumed one.
#[derive(Clone, Copy, Debug)]
enum Via {
    File,
    Writer,
    NamedTensorsInACheckpoint,
}

/// As `train`, with `b3` frozen for steps 15..25, so that its own step count lags.
fn train_freezing(opt: &mut Adam, params: &[Tensor], steps: std::ops::Range<u64>) {
    for step in steps {
        let _ = params[3].set_requires_grad(!(15..25).contains(&step));
        train(opt, params, step..step + 1);
    }
}

#[test]
fn resuming_through_a_writer_or_a_checkpoint_equals_an_uninterrupted_run() {
    let dir = temp_dir("via");
    for via in [Via::File, Via::Writer, Via::NamedTensorsInACheckpoint] {
        for mode in DecayMode::ALL {
            for amsgrad in [false, true] {
                let config = AdamConfig::new(mode, 1e-2, 1e-2).amsgrad(amsgrad);
                let straight = mixed_params(Kind::Float, 1);
                let mut opt = config.clone().build_groups(groups(&straight)).unwrap();
                train_freezing(&mut opt, &straight, 0..40);

                let first = mixed_params(Kind::Float, 1);
                let mut opt = config.clone().build_groups(groups(&first)).unwrap();
                train_freezing(&mut opt, &first, 0..20);
                let mut bytes = Vec::new();
                let checkpoint = dir.join(format!("{mode}-{amsgrad}.safetensors"));
                match via {
                    Via::File => opt.save_state(&checkpoint).unwrap(),
                    Via::Writer => opt.write_state(&mut bytes).unwrap(),
                    Via::NamedTensorsInACheckpoint => {
                        let mut entries: Vec<(String, Tensor)> = first
                            .iter()
                            .enumerate()
                            .map(|(i, p)| (format!("model.p{i}"), p.detach().copy()))
                            .collect();
                        entries.extend(opt.state_tensors("optimizer."));
                        Tensor::write_safetensors(&entries, &checkpoint).unwrap();
                    }
                }
                let saved_values: Vec<Tensor> = first.iter().map(|p| p.detach().copy()).collect();
                drop(opt);

                let resumed = mixed_params(Kind::Float, 999);
                tch::no_grad(|| {
                    for (p, v) in resumed.iter().zip(&saved_values) {
                        p.shallow_clone().copy_(v);
                    }
                });
                let mut opt = config.build_groups(groups(&resumed)).unwrap();
                match via {
                    Via::File => opt.load_state(&checkpoint).unwrap(),
                    Via::Writer => opt.read_state(bytes.as_slice()).unwrap(),
                    Via::NamedTensorsInACheckpoint => {
                        let entries = Tensor::read_safetensors(&checkpoint).unwrap();
                        opt.load_state_tensors("optimizer.", &entries).unwrap();
                    }
                }
                let counts: Vec<Vec<u64>> =
                    opt.groups().map(|g| g.step_counts().collect()).collect();
                assert_eq!(counts, [vec![20, 20], vec![20, 15]], "{via:?}");
                train_freezing(&mut opt, &resumed, 20..40);
                assert_eq!(
                    bits(&resumed),
                    bits(&straight),
                    "{via:?} {mode} amsgrad={amsgrad}"
                );
            }
        }
    }
}

#[test]
fn a_state_with_another_prefix_is_refused_naming_the_missing_entry() {
    let params = mixed_params(Kind::Float, 1);
    let mut opt = AdamConfig::adamw(1e-2, 1e-2)
        .build_groups(groups(&params))
        .unwrap();
    train(&mut opt, &params, 0..2);
    let entries = opt.state_tensors("opt.");
    let err = opt.load_state_tensors("optimizer.", &entries).unwrap_err();
    assert_eq!(
        err.to_string(),
        "optimizer state (prefix `optimizer.`): no `optimizer.meta` entry; not written by this \
         optimizer (or with another prefix)"
    );
}

#[test]
fn a_version_1_state_still_loads() {
    let params = mixed_params(Kind::Float, 1);
    let mut opt = AdamConfig::adamw(1e-2, 1e-2)
        .build_groups(groups(&params))
        .unwrap();
    train(&mut opt, &params, 0..3);
    // What version 1 wrote: one step count and one step size for every group.
    let meta = serde_json::json!({
        "format": "scalefree-optim-state",
        "version": 1,
        "config": opt.config(),
        "lr": 2.5e-3,
        "step": 3,
        "groups": [
            {"name": "decay", "weight_decay": 1e-2, "dtype": "Float",
             "params": [{"name": "w0", "shape": [7, 5]}, {"name": "w2", "shape": [2, 3, 4]}]},
            {"name": "no_decay", "weight_decay": 0.0, "dtype": "Float",
             "params": [{"name": "b1", "shape": [13]}, {"name": "b3", "shape": [1]}]},
        ],
    });
    let mut entries = opt.state_tensors("");
    entries[0].1 = Tensor::from_slice(&serde_json::to_vec(&meta).unwrap());

    let fresh_params = mixed_params(Kind::Float, 1);
    let mut fresh = AdamConfig::adamw(1e-2, 1e-2)
        .build_groups(groups(&fresh_params))
        .unwrap();
    fresh.load_state_tensors("", &entries).unwrap();
    assert_eq!(fresh.step_count(), 3);
    assert!(fresh.groups().all(|g| g.lr() == 2.5e-3));
    for (old, new) in opt.groups().zip(fresh.groups()) {
        assert!(new.step_counts().all(|t| t == 3));
        assert_eq!(
            bits(&[old.exp_avg_sq().shallow_clone()]),
            bits(&[new.exp_avg_sq().shallow_clone()])
        );
    }
}

#[test]
fn a_state_written_with_the_kernel_in_its_config_still_loads() {
    // Version 0.1.0 of the crate wrote the implementation override as part of the
    // config (`"kernel": "auto"` or `"tensor-ops"`); it is no longer written, and read
    // where it is.
    let params = mixed_params(Kind::Float, 1);
    let mut opt = AdamConfig::adamw(1e-2, 1e-2)
        .build_groups(groups(&params))
        .unwrap();
    train(&mut opt, &params, 0..3);
    let mut entries = opt.state_tensors("");
    let written: serde_json::Value =
        serde_json::from_slice(&Vec::<u8>::try_from(&entries[0].1).unwrap()).unwrap();
    assert!(
        written["config"].get("kernel").is_none(),
        "the kernel is not saved: {written}"
    );
    for kernel in ["auto", "tensor-ops"] {
        let mut old = written.clone();
        old["config"]["kernel"] = kernel.into();
        entries[0].1 = Tensor::from_slice(&serde_json::to_vec(&old).unwrap());
        let fresh_params = mixed_params(Kind::Float, 1);
        let mut fresh = AdamConfig::adamw(1e-2, 1e-2)
            .build_groups(groups(&fresh_params))
            .unwrap();
        fresh.load_state_tensors("", &entries).unwrap();
        assert_eq!(fresh.step_count(), 3, "{kernel}");
    }
}

#[test]
fn a_config_with_the_kernel_field_still_reads_and_is_written_without_it() {
    let old = serde_json::json!({
        "decay": "adamw", "lr": 1e-3, "weight_decay": 1e-5, "beta1": 0.9, "beta2": 0.999,
        "eps": 1e-8, "amsgrad": false, "kernel": "tensor-ops",
    });
    let config: AdamConfig = serde_json::from_value(old).unwrap();
    assert_eq!(
        config,
        AdamConfig::adamw(1e-3, 1e-5).kernel(adamw_prox::Kernel::TensorOps)
    );
    let written = serde_json::to_value(&config).unwrap();
    assert!(written.get("kernel").is_none(), "{written}");
    let again: AdamConfig = serde_json::from_value(written).unwrap();
    assert_eq!(again, AdamConfig::adamw(1e-3, 1e-5));
}
