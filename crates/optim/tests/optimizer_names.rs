//! Every optimizer by name, and the refusals of bad input: an unknown name, a setting the
//! rule lacks, a placement the rule does not offer, a value out of range.
use adamw_prox::rules::{self, Sgd};
use adamw_prox::{OptimConfig, OptimError, Placement};
use tch::{nn, Device};

#[test]
fn every_name_builds_an_optimizer_that_steps_and_reports_its_name() {
    let vs = nn::VarStore::new(Device::Cpu);
    let w = vs.root().ones("w", &[3, 2]);
    for named in rules::names() {
        let mut opt = OptimConfig::named(named.name, 1e-2, 1e-3)
            .unwrap()
            .build(&vs)
            .unwrap();
        assert_eq!(opt.config().name(), named.name);
        assert_eq!(opt.config().placement, named.placement);
        opt.backward_step(&w.square().sum(tch::Kind::Float))
            .unwrap();
        assert_eq!(opt.step_count(), 1, "{}", named.name);
    }
}

#[test]
fn the_names_are_unique_and_the_papers_three_keep_theirs() {
    let names: Vec<&str> = rules::names().map(|n| n.name).collect();
    let unique: std::collections::BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(unique.len(), names.len(), "{names:?}");
    assert_eq!(&names[..3], ["adam-l2", "adamw", "adam-prox"]);
}

#[test]
fn an_unknown_name_is_refused_listing_every_name() {
    let err = OptimConfig::named("adamx", 1e-3, 0.0).unwrap_err();
    assert!(matches!(err, OptimError::UnknownOptimizer { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("`adamx`") && msg.contains("sgdw") && msg.contains("lion-prox"),
        "{msg}"
    );
}

#[test]
fn a_setting_the_rule_lacks_is_refused_naming_the_rule_and_its_settings() {
    let err = OptimConfig::named("adamw", 1e-3, 0.0)
        .unwrap()
        .set("momentum", 0.9)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the adam rule has no setting `momentum`; its settings are beta1, beta2, eps, amsgrad"
    );
    let err = OptimConfig::named("sgd", 1e-3, 0.0)
        .unwrap()
        .set("nesterov", 0.5)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("`nesterov` = 0.5: must be true or false"),
        "{err}"
    );
}

#[test]
fn a_placement_the_rule_does_not_offer_is_refused_listing_those_it_does() {
    let config = OptimConfig::new(Sgd::default(), Placement::L2ScaleFree, 1e-2, 1e-3);
    let err = config.validate().unwrap_err();
    assert!(matches!(err, OptimError::UnknownPlacement { .. }), "{err}");
    assert!(err.to_string().contains("L2, Decoupled, Proximal"), "{err}");
    let vs = nn::VarStore::new(Device::Cpu);
    let _w = vs.root().ones("w", &[3]);
    assert!(config.build(&vs).is_err(), "building validates");
}

#[test]
fn values_out_of_range_are_refused_naming_the_setting() {
    for (name, key, value) in [
        ("adamw", "beta1", 1.0),
        ("adamw", "eps", -1.0),
        ("sgd", "momentum", -0.1),
        ("rmsprop", "alpha", 1.5),
        ("adagrad", "lr_decay", f64::NAN),
        ("lion", "beta2", -0.5),
    ] {
        let err = OptimConfig::named(name, 1e-3, 0.0)
            .unwrap()
            .set(key, value)
            .unwrap_err();
        assert!(
            matches!(&err, OptimError::InvalidSetting { field, .. } if *field == key),
            "{name} {key}: {err}"
        );
    }
}

#[test]
fn each_rule_keeps_the_state_buffers_its_settings_need() {
    let state = |name: &str, key: &str, value: adamw_prox::Setting| {
        let config = OptimConfig::named(name, 1e-3, 0.0)
            .unwrap()
            .set(key, value)
            .unwrap();
        config.rule.state_names()
    };
    assert_eq!(state("sgd", "momentum", 0.0.into()), Vec::<&str>::new());
    assert_eq!(state("sgd", "momentum", 0.9.into()), ["momentum_buffer"]);
    assert_eq!(
        state("adamw", "amsgrad", true.into()),
        ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]
    );
    assert_eq!(
        state("rmsprop", "centered", true.into()),
        ["square_avg", "grad_avg"]
    );
    assert_eq!(state("lion", "beta1", 0.5.into()), ["exp_avg"]);
    assert_eq!(state("adagrad", "eps", 1e-10.into()), ["sum"]);
}
