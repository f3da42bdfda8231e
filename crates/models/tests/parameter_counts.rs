//! The parameter counts of docs/paper.md#parameter-counts, exactly, from the built models.
use models::{catalog, parameter_count, trainable_parameter_count, Model, ModelConfig};
use tch::{nn::VarStore, Device};

/// (model, CIFAR-10 BN, CIFAR-10 no BN, CIFAR-100 BN, CIFAR-100 no BN)
const TABLE: [(&str, i64, i64, i64, i64); 8] = [
    ("resnet20", 269_722, 268_346, 275_572, 274_196),
    ("resnet32", 464_154, 461_882, 470_004, 467_732),
    ("resnet44", 658_586, 655_418, 664_436, 661_268),
    ("resnet56", 853_018, 848_954, 858_868, 854_804),
    ("resnet110", 1_727_962, 1_719_866, 1_733_812, 1_725_716),
    ("resnet218", 3_477_850, 3_461_690, 3_483_700, 3_467_540),
    ("resnet1202", 19_421_274, 19_331_642, 19_427_124, 19_337_492),
    ("densenet100", 769_162, 745_174, 800_032, 776_044),
];

fn count(name: &str, bn: bool, classes: i64) -> i64 {
    parameter_count(&ModelConfig::new(name, bn, classes, 0)).unwrap()
}

#[test]
fn every_model_matches_the_papers_table_with_and_without_bn_for_10_and_100_classes() {
    for (name, c10_bn, c10, c100_bn, c100) in TABLE {
        assert_eq!(count(name, true, 10), c10_bn, "{name}, CIFAR-10, BN");
        assert_eq!(count(name, false, 10), c10, "{name}, CIFAR-10, no BN");
        assert_eq!(count(name, true, 100), c100_bn, "{name}, CIFAR-100, BN");
        assert_eq!(count(name, false, 100), c100, "{name}, CIFAR-100, no BN");
    }
}

#[test]
fn the_catalog_lists_the_papers_models_in_order_with_their_counts() {
    let entries = catalog(10).unwrap();
    let listed: Vec<_> = entries
        .iter()
        .map(|e| (e.name, e.params_bn, e.params_no_bn))
        .collect();
    let expected: Vec<_> = TABLE
        .iter()
        .map(|&(name, bn, no_bn, _, _)| (name, bn, no_bn))
        .collect();
    assert_eq!(listed, expected);
}

/// `parameter_count` builds with zero weights; a seeded build must count the same.
#[test]
fn a_seeded_build_has_the_same_count_as_the_table() {
    for (name, c10_bn, c10, _, _) in [TABLE[0], TABLE[7]] {
        for (bn, expected) in [(true, c10_bn), (false, c10)] {
            let vs = VarStore::new(Device::Cpu);
            Model::new(&vs.root(), &ModelConfig::new(name, bn, 10, 9)).unwrap();
            assert_eq!(trainable_parameter_count(&vs), expected, "{name} bn={bn}");
        }
    }
}
