//! Model names, errors and variable names.
use models::{
    layer_kind, layer_name, parse_name, Architecture, LayerKind, Model, ModelConfig, ModelError,
};
use tch::nn::VarStore;
use tch::Device;

#[test]
fn any_resnet_depth_6n_plus_2_and_densenet_depth_6n_plus_4_parses() {
    assert_eq!(
        parse_name("resnet20").unwrap(),
        Architecture::ResNet { depth: 20 }
    );
    assert_eq!(
        parse_name("resnet8").unwrap(),
        Architecture::ResNet { depth: 8 }
    );
    assert_eq!(
        parse_name("resnet1202").unwrap(),
        Architecture::ResNet { depth: 1202 }
    );
    assert_eq!(
        parse_name("densenet100").unwrap(),
        Architecture::DenseNetBc { depth: 100 }
    );
    assert_eq!(
        parse_name("densenet40").unwrap(),
        Architecture::DenseNetBc { depth: 40 }
    );
    assert_eq!(
        parse_name("densenet100").unwrap().to_string(),
        "densenet100"
    );
    assert_eq!(parse_name("resnet110").unwrap().units_per_stage(), 18);
}

#[test]
fn unknown_names_and_impossible_depths_are_errors_that_list_the_valid_choices() {
    let message = parse_name("resnet21").unwrap_err().to_string();
    assert_eq!(
        message,
        "unknown model `resnet21`: ResNet depth must be 6n+2 (resnet20, resnet32, resnet44, resnet56, \
         resnet110, resnet218, resnet1202), DenseNet-BC depth 6n+4 (densenet100)"
    );
    for bad in [
        "resnet2",
        "resnet",
        "resnet-20",
        "resnet020",
        "ResNet20",
        "densenet101",
        "densenet4",
        "vgg16",
        "",
        "resnet20 ",
    ] {
        assert_eq!(
            parse_name(bad),
            Err(ModelError::UnknownModel { name: bad.into() }),
            "{bad:?}"
        );
    }
    let vs = VarStore::new(Device::Cpu);
    assert!(matches!(
        Model::new(&vs.root(), &ModelConfig::new("resnet21", true, 10, 0)),
        Err(ModelError::UnknownModel { .. })
    ));
    assert_eq!(
        Model::new(&vs.root(), &ModelConfig::new("resnet20", true, 0, 0)).unwrap_err(),
        ModelError::InvalidClasses { classes: 0 }
    );
    assert!(
        vs.variables().is_empty(),
        "a failed build must not leave variables behind"
    );
}

#[test]
fn model_config_round_trips_through_json_and_channels_last_defaults_to_off() {
    let cfg = ModelConfig::new("densenet100", false, 100, 7).with_channels_last(true);
    let json = serde_json::to_string(&cfg).unwrap();
    assert_eq!(
        json,
        r#"{"name":"densenet100","bn":false,"classes":100,"seed":7,"channels_last":true}"#
    );
    assert_eq!(serde_json::from_str::<ModelConfig>(&json).unwrap(), cfg);
    let without: ModelConfig =
        serde_json::from_str(r#"{"name":"resnet20","bn":true,"classes":10,"seed":0}"#).unwrap();
    assert_eq!(without, ModelConfig::new("resnet20", true, 10, 0));
    assert!(!without.channels_last);

    let arch: Architecture = serde_json::from_str(r#""resnet56""#).unwrap();
    assert_eq!(arch, Architecture::ResNet { depth: 56 });
    assert!(serde_json::from_str::<Architecture>(r#""resnet57""#).is_err());
}

fn variable_names(name: &str, bn: bool) -> Vec<String> {
    let vs = VarStore::new(Device::Cpu);
    Model::new(&vs.root(), &ModelConfig::new(name, bn, 10, 0)).unwrap();
    vs.variables().into_keys().collect()
}

#[test]
fn resnet_variables_are_named_by_stage_block_and_layer() {
    let names = variable_names("resnet20", true);
    for expected in [
        "conv1.weight",
        "bn1.weight",
        "bn1.running_var",
        "stage1.block1.conv1.weight",
        "stage2.block3.conv1.weight",
        "stage2.block3.bn2.bias",
        "stage3.block3.bn2.running_mean",
        "fc.weight",
        "fc.bias",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
    assert!(!names
        .iter()
        .any(|n| n.starts_with("stage4") || n.contains("block4")));
}

#[test]
fn densenet_variables_are_named_by_block_layer_and_transition() {
    let names = variable_names("densenet100", true);
    for expected in [
        "conv1.weight",
        "dense1.layer7.bn2.bias",
        "dense1.layer7.conv1.weight",
        "dense3.layer16.conv2.weight",
        "trans1.conv.weight",
        "trans2.bn.running_var",
        "bn_final.weight",
        "fc.bias",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing");
    }
    assert!(!names
        .iter()
        .any(|n| n.starts_with("trans3") || n.contains("layer17")));
}

#[test]
fn layer_kind_and_layer_name_read_the_names_back() {
    let cases = [
        ("conv1.weight", LayerKind::Conv, "conv1"),
        (
            "stage2.block3.conv1.weight",
            LayerKind::Conv,
            "stage2.block3.conv1",
        ),
        ("trans1.conv.weight", LayerKind::Conv, "trans1.conv"),
        ("bn1.weight", LayerKind::BatchNorm, "bn1"),
        (
            "stage2.block3.bn2.bias",
            LayerKind::BatchNorm,
            "stage2.block3.bn2",
        ),
        (
            "dense1.layer7.bn2.running_mean",
            LayerKind::BatchNorm,
            "dense1.layer7.bn2",
        ),
        ("bn_final.weight", LayerKind::BatchNorm, "bn_final"),
        ("fc.weight", LayerKind::Linear, "fc"),
        ("model.fc.bias", LayerKind::Linear, "model.fc"),
        (
            "model.stage1.block1.conv2.weight",
            LayerKind::Conv,
            "model.stage1.block1.conv2",
        ),
    ];
    for (name, kind, layer) in cases {
        assert_eq!(layer_kind(name), Some(kind), "{name}");
        assert_eq!(layer_name(name), layer, "{name}");
    }
    assert_eq!(layer_kind("stage1.block1.weight"), None);
    assert_eq!(layer_name("step"), "step");
}

#[test]
fn every_variable_of_every_model_has_a_kind_that_matches_its_shape() {
    for name in ["resnet20", "densenet100"] {
        let vs = VarStore::new(Device::Cpu);
        Model::new(&(vs.root() / "model"), &ModelConfig::new(name, true, 10, 0)).unwrap();
        for (var_name, var) in vs.variables() {
            assert!(var_name.starts_with("model."));
            let dims = var.dim();
            match layer_kind(&var_name) {
                Some(LayerKind::Conv) => assert_eq!(dims, 4, "{var_name}"),
                Some(LayerKind::BatchNorm) => assert_eq!(dims, 1, "{var_name}"),
                Some(LayerKind::Linear) => {
                    assert!(dims == 2 || var_name.ends_with(".bias"), "{var_name}")
                }
                None => panic!("{var_name} has no kind"),
            }
        }
    }
}
