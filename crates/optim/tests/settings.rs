//! Invalid settings and parameters are refused when the optimizer is built, with an
//! error that names the field or the parameter.
mod common;

use adamw_prox::{Adam, AdamConfig, OptimError, ParamGroup, Schedule};
use tch::{Device, Kind, Tensor};

fn trainable(shape: &[i64], kind: Kind) -> Tensor {
    Tensor::zeros(shape, (kind, Device::Cpu)).set_requires_grad(true)
}

fn build(config: AdamConfig) -> Result<Adam, OptimError> {
    Adam::new(
        config,
        vec![ParamGroup::new("g").with_param("w", trainable(&[3], Kind::Float))],
    )
}

fn refused_field(config: AdamConfig) -> &'static str {
    match build(config) {
        Err(OptimError::InvalidSetting { field, .. }) => field,
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("an invalid setting was accepted"),
    }
}

#[test]
fn out_of_range_settings_are_refused_naming_the_field() {
    assert_eq!(refused_field(AdamConfig::adamw(-1e-3, 0.0)), "lr");
    assert_eq!(refused_field(AdamConfig::adamw(0.0, 0.0)), "lr");
    assert_eq!(refused_field(AdamConfig::adamw(f64::NAN, 0.0)), "lr");
    assert_eq!(
        refused_field(AdamConfig::adamw(1e-3, -1e-4)),
        "weight_decay"
    );
    assert_eq!(
        refused_field(AdamConfig::adamw(1e-3, 0.0).betas(1.0, 0.999)),
        "beta1"
    );
    assert_eq!(
        refused_field(AdamConfig::adamw(1e-3, 0.0).betas(-0.1, 0.999)),
        "beta1"
    );
    assert_eq!(
        refused_field(AdamConfig::adamw(1e-3, 0.0).betas(0.9, 1.5)),
        "beta2"
    );
    assert_eq!(
        refused_field(AdamConfig::adamw(1e-3, 0.0).eps(-1e-8)),
        "eps"
    );
    let msg = build(AdamConfig::adamw(1e-3, 0.0).betas(0.9, 1.0))
        .err()
        .unwrap()
        .to_string();
    assert_eq!(
        msg,
        "invalid optimizer setting `beta2` = 1: must be in [0, 1)"
    );
}

#[test]
fn valid_edge_settings_are_accepted() {
    assert!(build(AdamConfig::adamw(1e-3, 0.0).betas(0.0, 0.0).eps(0.0)).is_ok());
}

#[test]
fn a_negative_group_decay_or_lr_is_refused() {
    let group = ParamGroup::new("g")
        .with_param("w", trainable(&[3], Kind::Float))
        .with_weight_decay(-1.0);
    let err = Adam::new(AdamConfig::adamw(1e-3, 0.0), vec![group])
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            OptimError::InvalidSetting {
                field: "weight_decay",
                ..
            }
        ),
        "{err}"
    );
    let mut opt = build(AdamConfig::adamw(1e-3, 0.0)).unwrap();
    assert!(matches!(
        opt.set_lr(-1.0),
        Err(OptimError::InvalidSetting { field: "lr", .. })
    ));
    assert!(opt.set_lr(0.0).is_ok(), "a schedule may reach zero");
}

#[test]
fn parameters_that_cannot_be_optimised_are_refused_by_name() {
    let frozen = Tensor::zeros([3], (Kind::Float, Device::Cpu));
    let err = Adam::new(
        AdamConfig::default(),
        vec![ParamGroup::new("g").with_param("frozen", frozen)],
    )
    .err()
    .unwrap();
    assert!(
        err.to_string()
            .starts_with("parameter `frozen`: does not require grad"),
        "{err}"
    );

    let mixed = ParamGroup::new("g")
        .with_param("a", trainable(&[3], Kind::Float))
        .with_param("b", trainable(&[3], Kind::Double));
    let err = Adam::new(AdamConfig::default(), vec![mixed]).err().unwrap();
    assert!(
        err.to_string().contains("parameter `b`: is Double"),
        "{err}"
    );

    let shared = trainable(&[3], Kind::Float);
    let twice = ParamGroup::new("g")
        .with_param("a", shared.shallow_clone())
        .with_param("b", shared);
    let err = Adam::new(AdamConfig::default(), vec![twice]).err().unwrap();
    assert!(
        err.to_string().contains("shares its memory with `a`"),
        "{err}"
    );

    let err = Adam::new(AdamConfig::default(), vec![ParamGroup::new("empty")])
        .err()
        .unwrap();
    assert!(err.to_string().contains("empty"), "{err}");
}

#[test]
fn invalid_schedules_are_refused_naming_the_field() {
    assert!(Schedule::Cosine { total_steps: 0 }
        .validate()
        .unwrap_err()
        .to_string()
        .contains("`total_steps`"));
    assert!(Schedule::Step {
        every: 10,
        gamma: -0.5
    }
    .validate()
    .unwrap_err()
    .to_string()
    .contains("`gamma`"));
    assert!(Schedule::Step {
        every: 0,
        gamma: 0.5
    }
    .validate()
    .unwrap_err()
    .to_string()
    .contains("`every`"));
    assert!(Schedule::warmup_cosine(10, 100).validate().is_ok());
}

#[test]
fn schedules_give_the_documented_step_sizes() {
    let lr0 = 1e-3;
    assert_eq!(Schedule::Constant.lr_at(lr0, 12345), lr0);
    let step = Schedule::Step {
        every: 10,
        gamma: 0.1,
    };
    assert_eq!(step.lr_at(lr0, 9), lr0);
    assert!((step.lr_at(lr0, 10) - 1e-4).abs() < 1e-18);
    let warm = Schedule::warmup_cosine(4, 104);
    assert_eq!(warm.lr_at(lr0, 0), lr0 / 4.0);
    assert_eq!(warm.lr_at(lr0, 3), lr0);
    assert_eq!(warm.lr_at(lr0, 4), lr0);
    assert!((warm.lr_at(lr0, 54) - lr0 / 2.0).abs() < 1e-15);
    assert_eq!(warm.lr_at(lr0, 104), 0.0);
}
