//! The factorial's experiment files fix the verdict rule before any run: factorial-cpu
//! expands to the design docs/factorial.md describes and carries its rule into the plan;
//! a rule out of range is refused naming the key; the docs quote the rule as the code
//! words it.
use scalefree::experiment::Experiment;
use scalefree::stats::factorial::FactorialRule;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
mod generated_docs;

const BEGIN: &str =
    "<!-- BEGIN factorial-rule: generated from src/stats/factorial.rs, do not edit by hand -->";
const END: &str = "<!-- END factorial-rule -->";

fn experiment(name: &str) -> (Experiment, std::path::PathBuf) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("experiments/{name}.json"));
    (Experiment::read(&path).unwrap(), path)
}

#[test]
fn factorial_cpu_is_the_documented_design_with_its_rule() {
    let (exp, path) = experiment("factorial-cpu");
    let runs = tempfile::tempdir().unwrap();
    let plan = exp.expand(&path, runs.path()).unwrap();
    assert_eq!(plan.factorial, Some(FactorialRule { margin: 0.5 }));
    assert_eq!(plan.runs.len(), 120);
    // Per arm: one (η_0, λ), five factor settings, six seeds.
    let mut arms: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut factors = BTreeSet::new();
    let mut seeds = BTreeSet::new();
    for run in &plan.runs {
        let opt = &run.config.optimizer;
        arms.entry(opt.method.name().to_string())
            .or_default()
            .insert(format!("{} {}", opt.lr, opt.weight_decay));
        factors.insert(run.config.training.grad_factors.to_string());
        seeds.insert(run.config.training.seed);
        assert_eq!(run.config.training.epochs, 5);
    }
    let names: Vec<&str> = arms.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "adam-l2",
            "adam-l2-scalefree",
            "adamw",
            "adamw-not-scalefree"
        ]
    );
    assert!(
        arms.values().all(|settings| settings.len() == 1),
        "{arms:?}"
    );
    assert_eq!(factors.len(), 5, "{factors:?}");
    assert_eq!(seeds, (0..6).collect());
}

#[test]
fn a_margin_out_of_range_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.json");
    std::fs::write(
        &path,
        r#"{"name": "bad", "factorial": {"margin": 1.5},
            "grids": [{"optimizer": ["adamw"], "seed": [0]}]}"#,
    )
    .unwrap();
    let err = Experiment::read(&path)
        .unwrap()
        .expand(&path, dir.path())
        .unwrap_err();
    let text = format!("{err:#}");
    assert!(
        text.contains("bad.json") && text.contains("factorial.margin") && text.contains("(0, 1)"),
        "{text}"
    );
    std::fs::write(
        &path,
        r#"{"name": "bad", "factorial": {"margin": 0.5, "alpha": 1}, "grids": []}"#,
    )
    .unwrap();
    let text = format!("{:#}", Experiment::read(&path).unwrap_err());
    assert!(
        text.contains("factorial") && text.contains("alpha"),
        "{text}"
    );
}

#[test]
fn the_gpu_and_pilot_files_expand_with_the_same_rule() {
    for name in ["paper-factorial", "factorial-pilot"] {
        let (exp, path) = experiment(name);
        let runs = tempfile::tempdir().unwrap();
        let plan = exp.expand(&path, runs.path()).unwrap();
        assert_eq!(
            plan.factorial,
            Some(FactorialRule { margin: 0.5 }),
            "{name}"
        );
    }
}

#[test]
fn the_docs_quote_the_rule_as_the_code_words_it() {
    let (exp, _) = experiment("factorial-cpu");
    generated_docs::assert_generated(
        "docs/factorial.md",
        BEGIN,
        END,
        &{
            let rule = exp.factorial.unwrap();
            format!("{}\n\n{}", rule.text(), rule.natural_text())
        },
        "SCALEFREE_BLESS=1 cargo test --release --test factorial_files",
    );
}
