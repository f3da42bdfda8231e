//! The table of optimizers (src/optimizers.rs) covers every optimizer of the crate, and
//! docs/optimizers.md's table is generated from it.
use scalefree::optimizers::{markdown_table, Method, ROWS};
mod generated_docs;

use std::collections::BTreeSet;

const BEGIN: &str =
    "<!-- BEGIN optimizers: generated from src/optimizers.rs, do not edit by hand -->";
const END: &str = "<!-- END optimizers -->";

#[test]
fn every_optimizer_of_the_crate_has_a_row_and_every_row_is_one_of_the_crates() {
    let crate_names: Vec<&str> = optim::rules::names().map(|n| n.name).collect();
    let table_names: Vec<&str> = Method::all().map(Method::name).collect();
    assert_eq!(
        crate_names.iter().collect::<BTreeSet<_>>(),
        table_names.iter().collect::<BTreeSet<_>>(),
        "add a row to src/optimizers.rs for each rule of crates/optim/src/rules"
    );
    for row in ROWS {
        let rule = optim::rules::family(row.family).expect("a family of the crate");
        for shown in row.names {
            let (family, _) = optim::rules::find(shown.name).expect("a name of the crate");
            assert_eq!(
                (family.new)().family(),
                (rule.new)().family(),
                "{}",
                shown.name
            );
        }
        let keys: BTreeSet<&str> = (rule.new)().settings().iter().map(|(k, _)| *k).collect();
        let listed: BTreeSet<&str> = row.settings.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, listed, "the {} row's settings", row.family);
    }
}

#[test]
fn the_paper_three_keep_their_names_and_order() {
    let names: Vec<&str> = Method::PAPER.iter().map(|m| m.name()).collect();
    assert_eq!(names, ["adam-l2", "adamw", "adam-prox"]);
    assert!(Method::ADAM_L2 < Method::ADAMW && Method::ADAMW < Method::ADAM_PROX);
    assert_eq!(Method::ADAMW.display_name(), "AdamW");
    // The factorial's two other arms, by name.
    assert_eq!(Method::ADAM_L2_SCALEFREE.name(), "adam-l2-scalefree");
    assert_eq!(Method::ADAMW_NOT_SCALEFREE.name(), "adamw-not-scalefree");
}

#[test]
fn every_optimizer_has_its_own_display_name_and_colour() {
    let displays: BTreeSet<&str> = Method::all().map(Method::display_name).collect();
    let colours: BTreeSet<(u8, u8, u8)> = Method::all().map(Method::color).collect();
    let count = Method::all().count();
    assert_eq!((displays.len(), colours.len()), (count, count));
}

#[test]
fn an_unknown_optimizer_name_is_refused_listing_the_valid_ones() {
    let err = "adamx".parse::<Method>().unwrap_err();
    assert!(
        err.contains("`adamx`") && err.contains("adamw") && err.contains("lion"),
        "{err}"
    );
}

/// docs/optimizers.md's table is the generated one; with `SCALEFREE_BLESS=1` this test
/// writes it there.
#[test]
fn the_docs_table_of_optimizers_is_the_generated_one() {
    generated_docs::assert_generated(
        "docs/optimizers.md",
        BEGIN,
        END,
        &markdown_table().unwrap(),
        "SCALEFREE_BLESS=1 cargo test --release --test optimizer_table",
    );
}
