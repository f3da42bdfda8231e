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

#[test]
fn too_many_classes_are_refused_naming_the_flag_and_the_range() {
    let output = scalefree()
        .args(["models", "--classes", "100000000"])
        .output()
        .unwrap();
    let msg = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{msg}");
    assert!(
        msg.contains("--classes") && msg.contains("from 2 to 100000"),
        "{msg}"
    );
    assert!(
        !msg.contains("libtorch") && !msg.contains("frame #"),
        "{msg}"
    );
}

#[test]
fn a_model_too_large_to_build_is_refused_at_once_saying_how_large_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    // Capped at 4 GB of address space: before the bound, building it filled the memory.
    let mut child = std::process::Command::new("bash")
        .arg("-c")
        .arg("ulimit -v 4000000; exec \"$@\"")
        .arg("bash")
        .arg(env!("CARGO_BIN_EXE_scalefree"))
        .args([
            "train",
            "--model",
            "resnet600002",
            "--device",
            "cpu",
            "--out",
        ])
        .arg(&out)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            panic!("train --model resnet600002 still running after a minute");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let output = child.wait_with_output().unwrap();
    let msg = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{msg}");
    assert!(
        msg.contains("`resnet600002` is too large to build")
            && msg.contains("9.7 billion trainable parameters")
            && msg.contains("up to 100.0 million parameters")
            && msg.contains("resnet"),
        "{msg}"
    );
    assert!(!out.exists(), "nothing is written");
}
