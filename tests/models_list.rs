//! `scalefree models`: the catalog as a table and as JSON, with the paper's counts.
mod train_support;

use train_support::{scalefree, stderr};

#[test]
fn models_lists_every_paper_model_with_its_counts_as_json_and_table() {
    let output = scalefree()
        .args(["models", "--json", "--classes", "100"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let catalog: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let names: Vec<&str> = catalog
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "resnet20",
            "resnet32",
            "resnet44",
            "resnet56",
            "resnet110",
            "resnet218",
            "resnet1202",
            "densenet100"
        ]
    );
    // docs/paper.md#parameter-counts, CIFAR-100 columns.
    let densenet = &catalog[7];
    assert_eq!(densenet["params_bn"], 800_032);
    assert_eq!(densenet["params_no_bn"], 776_044);

    let table = scalefree().arg("models").output().unwrap();
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("resnet110         1,727,962      1,719,866"),
        "{text}"
    );

    let refused = scalefree()
        .args(["models", "--classes", "0"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("--classes"));
}
