//! Invalid settings and parameters are refused when the optimizer is built, with an
//! error that names the field or the parameter.
mod common;

use adamw_prox::{Adam, AdamConfig, OptimError, ParamGroup, Schedule};
use tch::{Device, Kind, Tensor};

fn trainable(shape: &[i64], kind: Kind) -> Tensor {
    Tensor::zeros(shape, (kind, Device::Cpu)).set_requires_grad(true)
}

fn build(config: AdamConfig) -> Result<Adam, OptimError> {
    config.build_groups(vec![
        ParamGroup::new("g").with_param("w", trainable(&[3], Kind::Float))
    ])
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
    let err = AdamConfig::adamw(1e-3, 0.0)
        .build_groups(vec![group])
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
    let mixed = ParamGroup::new("g")
        .with_param("a", trainable(&[3], Kind::Float))
        .with_param("b", trainable(&[3], Kind::Double));
    let err = AdamConfig::default()
        .build_groups(vec![mixed])
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("parameter `b`: is Double"),
        "{err}"
    );

    let integer =
        ParamGroup::new("g").with_param("counts", Tensor::zeros([3], (Kind::Int64, Device::Cpu)));
    let err = AdamConfig::default()
        .build_groups(vec![integer])
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .starts_with("parameter `counts`: has dtype Int64; a floating-point dtype"),
        "{err}"
    );

    let computed = trainable(&[3], Kind::Float) * 2.0;
    let err = AdamConfig::default()
        .build_groups(vec![ParamGroup::new("g").with_param("doubled", computed)])
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .starts_with("parameter `doubled`: is not a leaf tensor"),
        "{err}"
    );

    let err = AdamConfig::default()
        .build_groups(vec![ParamGroup::new("empty")])
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "parameter `empty`: the parameter group is empty"
    );
}

#[test]
fn a_tensor_passed_twice_is_refused_naming_both_places() {
    let shared = trainable(&[3], Kind::Float);
    let twice = ParamGroup::new("g")
        .with_param("a", shared.shallow_clone())
        .with_param("b", shared.shallow_clone());
    let err = AdamConfig::default()
        .build_groups(vec![twice])
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "parameter `b`: is the same tensor as `a` of this group (`g`); pass each tensor once"
    );

    let groups = vec![
        ParamGroup::new("decay").with_param("fc.weight", shared.shallow_clone()),
        ParamGroup::new("no_decay")
            .with_param("other", trainable(&[2], Kind::Float))
            .with_param("fc.weight again", shared.shallow_clone()),
    ];
    let err = AdamConfig::default().build_groups(groups).err().unwrap();
    assert_eq!(
        err.to_string(),
        "parameter `fc.weight again`: is the same tensor as `fc.weight` of group `decay`; \
         a tensor can be in one parameter group only"
    );

    let mut opt = AdamConfig::default()
        .build_groups(vec![
            ParamGroup::new("first").with_param("w", shared.shallow_clone())
        ])
        .unwrap();
    let err = opt
        .add_param_group(ParamGroup::new("second").with_param("w2", shared))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("is the same tensor as `w` of group `first`"),
        "{err}"
    );
    assert_eq!(opt.groups().count(), 1, "a refused group is not added");
}

#[test]
fn an_unknown_group_is_refused_listing_the_groups() {
    let groups = vec![
        ParamGroup::new("decay").with_param("w", trainable(&[3], Kind::Float)),
        ParamGroup::new("no_decay").with_param("b", trainable(&[3], Kind::Float)),
    ];
    let mut opt = AdamConfig::default().build_groups(groups).unwrap();
    let err = opt.set_group_lr("bias", 1e-3).unwrap_err();
    assert!(matches!(err, OptimError::UnknownGroup { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "no parameter group named `bias`; the groups are `decay`, `no_decay`"
    );
    assert!(opt.set_group_weight_decay("nope", 0.0).is_err());
    assert!(matches!(
        opt.set_group_weight_decay("decay", -1.0),
        Err(OptimError::InvalidSetting {
            field: "weight_decay",
            ..
        })
    ));
}

#[test]
fn out_of_range_clipping_and_kinds_are_refused_naming_the_argument() {
    let mut opt = build(AdamConfig::default()).unwrap();
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            opt.clip_grad_norm(bad),
            Err(OptimError::InvalidSetting {
                field: "max_norm",
                ..
            })
        ));
        assert!(matches!(
            opt.clip_grad_value(bad),
            Err(OptimError::InvalidSetting {
                field: "max_value",
                ..
            })
        ));
    }
    assert!(matches!(
        opt.set_kind(Kind::Int),
        Err(OptimError::InvalidSetting { field: "kind", .. })
    ));
}

#[test]
fn invalid_schedules_are_refused_naming_the_field() {
    assert!(Schedule::cosine(0)
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
fn a_schedule_that_cannot_be_evaluated_gives_no_step_size() {
    let empty = Schedule::cosine(0);
    assert_eq!(
        empty.try_lr_at(1e-3, 0).unwrap_err().to_string(),
        "invalid optimizer setting `total_steps` = 0: must be at least 1"
    );
    let panic = std::panic::catch_unwind(|| empty.lr_at(1e-3, 0)).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("`total_steps` = 0"), "{message}");
    let nested = Schedule::Warmup {
        warmup_steps: 5,
        from_zero: false,
        then: Box::new(empty),
    };
    assert!(nested.try_lr_at(1e-3, 10).is_err());
    assert!(Schedule::Constant.try_lr_at(-1e-3, 0).is_err());
    assert!(Schedule::Constant.try_lr_at(f64::NAN, 0).is_err());
}

#[test]
fn an_owned_schedule_is_validated_when_the_optimizer_is_built() {
    let config = AdamConfig::adamw(1e-3, 0.0).schedule(Schedule::Step {
        every: 10,
        gamma: 0.0,
    });
    assert_eq!(refused_field(config), "gamma");
    let config = AdamConfig::adamw(1e-3, 0.0).schedule(Schedule::cosine(0));
    assert_eq!(refused_field(config), "total_steps");
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
