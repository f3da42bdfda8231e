//! The README's table "Optimizers by name" is `rules::names()`: every name in order, with
//! its rule, its placement, and its summary split at `; ` into summary and invariance.
use adamw_prox::rules;

/// The table's rows under the heading, as cells without their backticks.
fn rows(readme: &str) -> Vec<Vec<String>> {
    readme
        .lines()
        .skip_while(|l| *l != "## Optimizers by name")
        .skip(1)
        .take_while(|l| !l.starts_with("## "))
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            l.trim_start_matches("| ")
                .trim_end_matches(" |")
                .split(" | ")
                .map(|cell| cell.trim_matches('`').to_string())
                .collect()
        })
        .collect()
}

#[test]
fn the_readme_lists_every_optimizer_name_as_rules_names_has_it() {
    let readme = include_str!("../README.md");
    let rows = rows(readme);
    let expected: Vec<Vec<String>> = rules::names()
        .map(|named| {
            let (family, _) = rules::find(named.name).unwrap();
            // The struct's name, from its Debug form: `Adam { beta1: … }`.
            let rule = format!("{:?}", (family.new)());
            let rule = rule.split([' ', '{']).next().unwrap();
            let (summary, invariance) = named
                .summary
                .split_once("; ")
                .unwrap_or_else(|| panic!("`{}`'s summary has no `; `", named.name));
            vec![
                named.name.to_string(),
                format!("rules::{rule}"),
                format!("{:?}", named.placement),
                summary.to_string(),
                invariance.to_string(),
            ]
        })
        .collect();
    for (i, row) in expected.iter().enumerate() {
        assert_eq!(rows.get(i), Some(row), "row {i} of the README's table");
    }
    assert_eq!(rows.len(), expected.len(), "{rows:?}");
}
