//! The report's page in a real browser (headless Chromium): every image loads.
mod browser;
mod report_support;
mod require;

use report_support::{expected_pngs, write_experiment, EXPERIMENT};
use scalefree::report::generate;

const BROWSER_TEST: &str = "every_image_of_the_page_loads_in_headless_chromium";

fn attribute<'a>(dom: &'a str, name: &str) -> Option<&'a str> {
    let start = dom.find(&format!("{name}=\""))? + name.len() + 2;
    Some(&dom[start..start + dom[start..].find('"')?])
}

#[test]
fn every_image_of_the_page_loads_in_headless_chromium() {
    let Some(browser) = browser::chromium(BROWSER_TEST) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    write_experiment(&runs);
    let written = generate(EXPERIMENT, &runs, &tmp.path().join("report")).unwrap();
    let page = written.dir.canonicalize().unwrap().join("index.html");
    let url = format!("file://{}", page.display());
    let dom = browser::dump_dom(&browser, &url, 5000, &[]);
    let total = expected_pngs().len();
    let loaded = attribute(&dom, "data-images")
        .unwrap_or_else(|| panic!("the page's load script did not run:\n{dom}"));
    assert_eq!(
        loaded,
        format!("{total}/{total}"),
        "images that did not load: {:?}",
        attribute(&dom, "data-broken-images")
    );
    assert!(
        dom.contains("<table>") && dom.contains("AdamW − Adam-ℓ2"),
        "the summary table is not on the page"
    );
}

#[test]
fn without_a_browser_the_browser_test_is_skipped_outside_ci_and_fails_in_ci() {
    let empty = tempfile::tempdir().unwrap();
    let path = empty.path().to_str().unwrap();
    let out = require::rerun_test(BROWSER_TEST, &[("PATH", Some(path))]);
    out.assert_passed();
    let needle = format!("SKIPPED {BROWSER_TEST}: no browser on PATH");
    assert!(out.text.contains(&needle), "{}", out.text);
    assert!(out.text.contains("install chromium"), "{}", out.text);

    let out = require::rerun_test(BROWSER_TEST, &[("PATH", Some(path)), ("CI", Some("true"))]);
    out.assert_failed();
    assert!(
        out.text.contains("no browser on PATH") && out.text.contains("CI=true requires it"),
        "{}",
        out.text
    );
}
