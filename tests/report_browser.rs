//! The report's page in a real browser (headless Chromium): every image loads.
mod report_support;
mod require;

use report_support::{expected_pngs, write_experiment, EXPERIMENT};
use scalefree::commands::report::{generate, ReportArgs};
use std::path::{Path, PathBuf};
use std::process::Command;

const BROWSERS: [&str; 3] = ["chromium", "chromium-browser", "google-chrome"];
const BROWSER_TEST: &str = "every_image_of_the_page_loads_in_headless_chromium";

/// A headless-capable Chromium on PATH, or `None` when the test is to be skipped.
fn chromium() -> Option<PathBuf> {
    let found = require::on_path(&BROWSERS);
    if found.is_none() {
        require::skip_or_fail(
            BROWSER_TEST,
            &format!("no browser on PATH (looked for {})", BROWSERS.join(", ")),
            "install chromium (as root: apt-get install chromium; `make test` does it when run \
             as root)",
        );
    }
    found
}

/// The page's DOM after its load event, as headless Chromium serialises it.
fn dump_dom(browser: &Path, page: &Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--allow-file-access-from-files",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", browser.display()));
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn attribute<'a>(dom: &'a str, name: &str) -> Option<&'a str> {
    let start = dom.find(&format!("{name}=\""))? + name.len() + 2;
    Some(&dom[start..start + dom[start..].find('"')?])
}

#[test]
fn every_image_of_the_page_loads_in_headless_chromium() {
    let Some(browser) = chromium() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    write_experiment(&runs);
    let written = generate(&ReportArgs {
        experiment: EXPERIMENT.into(),
        runs: runs.clone(),
        out: tmp.path().join("report"),
    })
    .unwrap();
    let page = written.dir.canonicalize().unwrap().join("index.html");
    let dom = dump_dom(&browser, &page);
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
