//! `index.html`: the whole report on one page, every path relative so the directory can
//! be moved or served as is.
use super::figure::Figure;
use super::section::Table;
use super::table::{counts_text, table_cells, Report, TABLE_NOTE};

/// The text with HTML's special characters as entities.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes what a file name could hold that a URL path cannot.
fn href(file: &str) -> String {
    let mut out = String::new();
    for b in file.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

const STYLE: &str = "
body { font-family: 'DejaVu Sans', sans-serif; margin: 2em auto; max-width: 1500px; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
th, td { border: 1px solid #bbb; padding: 0.35em 0.6em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #444; max-width: 1100px; }
.note { font-size: 0.9em; color: #444; max-width: 1100px; }
code { font-size: 0.95em; }
";

/// Marks on `<body>` how many images loaded, for checking the page in a headless browser.
const IMAGE_CHECK: &str = "
window.addEventListener('load', function () {
  var images = Array.prototype.slice.call(document.images);
  var broken = images.filter(function (i) { return !(i.complete && i.naturalWidth > 0); });
  document.body.dataset.images = (images.length - broken.length) + '/' + images.length;
  document.body.dataset.brokenImages = broken.map(function (i) { return i.getAttribute('src'); }).join(' ');
});
";

fn figure_html(f: &Figure) -> String {
    format!(
        "<figure id=\"{id}\"><a href=\"{src}\"><img src=\"{src}\" width=\"{w}\" height=\"{h}\" alt=\"{alt}\" \
         loading=\"eager\"></a><figcaption>{caption}</figcaption></figure>\n",
        id = escape(f.file.trim_end_matches(".png")),
        src = href(&f.file),
        w = f.width,
        h = f.height,
        alt = escape(&f.caption),
        caption = escape(&f.caption),
    )
}

/// A heading and the list of `items` (HTML), or nothing when there are none.
fn list(heading: &str, items: impl Iterator<Item = String>) -> String {
    let items: String = items.map(|item| format!("<li>{item}</li>\n")).collect();
    if items.is_empty() {
        return items;
    }
    format!("<h2>{heading}</h2>\n<ul>\n{items}</ul>\n")
}

/// The figures by kind under their headings: the three every report has (saying so where
/// none is drawn yet), then those an experiment may have, with a heading only where it has them.
fn figures_html(report: &Report) -> String {
    let mut body = String::new();
    for (kind, heading) in [
        ("heatmap", "Final test error over (η₀, λ)"),
        ("curves", "Training curves of the best settings"),
        ("histogram", "Magnitude histograms (all non-BN layers)"),
    ] {
        let figures: Vec<&Figure> = report.figures.iter().filter(|f| f.kind == kind).collect();
        body.push_str(&format!("<h2>{}</h2>\n", escape(heading)));
        if figures.is_empty() {
            let why = match kind {
                "histogram" => "No best run has logged scales (scales.jsonl) yet.",
                _ => "No finished run yet.",
            };
            body.push_str(&format!("<p class=\"note\">{why}</p>\n"));
        }
        for f in figures {
            body.push_str(&figure_html(f));
        }
    }
    // Figures an experiment may or may not have: a heading only where it has them.
    for (kind, heading) in [
        ("factorial", "The factorial's dose response"),
        ("natural-gap", "The natural gap over training"),
        (
            "gap-vs-spread",
            "The AdamW − Adam-ℓ2 gap against the gradient spread",
        ),
    ] {
        let figures: Vec<&Figure> = report.figures.iter().filter(|f| f.kind == kind).collect();
        if !figures.is_empty() {
            body.push_str(&format!("<h2>{}</h2>\n", escape(heading)));
        }
        for f in figures {
            body.push_str(&figure_html(f));
        }
    }
    body
}

pub fn render(report: &Report) -> String {
    let title = format!("{} — scalefree report", report.experiment);
    let mut body = format!("<h1>{}</h1>\n", escape(&report.experiment));
    if !report.description.is_empty() {
        body.push_str(&format!("<p>{}</p>\n", escape(&report.description)));
    }
    body.push_str(&format!(
        "<p class=\"note\">Experiment file <code>{}</code>. Runs: {}. Also as <a href=\"summary.md\">summary.md</a> \
         and <a href=\"summary.json\">summary.json</a>.</p>\n",
        escape(&report.source.display().to_string()),
        escape(&counts_text(&report.counts))
    ));
    let claim4 = report.claim4.iter().map(|row| escape(&row.line));
    body.push_str(&list("Claim 4: the gradient-factor intervention", claim4));
    if !report.claim4.is_empty() {
        let note = escape(super::table::CLAIM4_NOTE);
        body.push_str(&format!("<p class=\"note\">{note}</p>\n"));
    }
    for section in super::table::sections(report) {
        body.push_str(&section.html());
    }

    body.push_str("<h2>Best settings</h2>\n");
    let (header, rows) = table_cells(report);
    body.push_str(&Table { header, rows }.html());
    body.push_str(&format!("<p class=\"note\">{}</p>\n", escape(TABLE_NOTE)));
    let sources: Vec<String> = report
        .groups
        .iter()
        .filter_map(|g| {
            let s = g.grad_spread_at_init.as_ref()?;
            Some(format!(
                "<li>{}: <code>{}</code> ({}, step {})</li>",
                escape(&g.label),
                escape(&s.run),
                escape(&s.from),
                s.step
            ))
        })
        .collect();
    if !sources.is_empty() {
        body.push_str(&format!(
            "<p class=\"note\">Gradient spread measured on:</p><ul class=\"note\">{}</ul>\n",
            sources.join("")
        ));
    }

    body.push_str(&figures_html(report));

    let unfinished = report.unfinished.iter().map(|run| {
        format!(
            "<code>{}</code>: {}",
            escape(&run.name),
            escape(&run.state_text())
        )
    });
    body.push_str(&list("Runs without a final result", unfinished));
    let diverged = report
        .diverged
        .iter()
        .map(|run| format!("<code>{}</code>", escape(&run.name)));
    body.push_str(&list("Diverged runs (test error 1.1)", diverged));

    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n\
         <style>{STYLE}</style>\n<script>{IMAGE_CHECK}</script>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(&title)
    )
}
