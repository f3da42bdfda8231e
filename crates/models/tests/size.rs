//! A model's size is known from its name before it is built, and a model too large to
//! build (or with too many classes) is refused with its size, before any memory is taken.
use models::{parameter_count, parse_name, ModelConfig, ModelError, MAX_PARAMETERS};

#[test]
fn the_estimate_from_the_name_equals_the_count_of_the_built_model() {
    for name in [
        "resnet8",
        "resnet20",
        "resnet110",
        "densenet10",
        "densenet40",
        "densenet100",
    ] {
        for bn in [true, false] {
            for classes in [1, 10, 100] {
                let built = parameter_count(&ModelConfig::new(name, bn, classes, 0)).unwrap();
                let estimate = parse_name(name).unwrap().parameter_estimate(bn, classes);
                assert_eq!(estimate, built as f64, "{name}, bn {bn}, {classes} classes");
            }
        }
    }
}

#[test]
fn a_model_beyond_the_bound_is_refused_with_its_size_and_the_deepest_that_builds() {
    let Err(ModelError::TooLarge {
        parameters,
        largest,
        ..
    }) = parse_name("resnet600002")
    else {
        panic!("resnet600002 must be refused as too large");
    };
    assert!((9.7e9..9.8e9).contains(&parameters), "{parameters}");
    let deepest = parse_name(&largest).expect("the deepest buildable model builds");
    assert!(deepest.parameter_estimate(true, 0) <= MAX_PARAMETERS);
    let message = parse_name("resnet600002").unwrap_err().to_string();
    assert!(
        message.contains("9.7 billion trainable parameters")
            && message.contains("39 GB")
            && message.contains(&format!("that fits is {largest}")),
        "{message}"
    );
    assert!(matches!(
        parse_name("densenet60004"),
        Err(ModelError::TooLarge { .. })
    ));
    // Even the deepest name an i64 holds is refused at once, not counted layer by layer.
    assert!(matches!(
        parse_name("resnet9223372036854775802"),
        Err(ModelError::TooLarge { .. })
    ));
    assert!(parse_name("resnet1202").is_ok() && parse_name("densenet100").is_ok());
}

#[test]
fn more_classes_than_the_bound_are_refused_before_building() {
    let cfg = ModelConfig::new("resnet20", true, 100_000_000, 0);
    let e = cfg.architecture().unwrap_err();
    assert_eq!(
        e,
        ModelError::InvalidClasses {
            classes: 100_000_000
        }
    );
    assert!(e.to_string().contains("give 1 to 100000"), "{e}");
    assert!(ModelConfig::new("resnet20", true, 100_000, 0)
        .architecture()
        .is_ok());
}
