//! The repository cites only what it contains: every tracked file (`git ls-files`) is read,
//! and each reference it makes to a file of the repository must name a tracked file, and
//! each reference to a section of a Markdown file must name a heading of that file.
//!
//! What counts as a reference (a run of path characters `[A-Za-z0-9_./-]`, trailing dots
//! dropped):
//! - a Markdown file (`.md`) that has a folder in its path (`docs/paper.md`), a name in
//!   capitals (`README.md`), a `#section` after it, or that is a Markdown link's target
//!   (`[text](docs/paper.md)`);
//! - a source file (`.rs`, `.sh`, `.py`) whose path starts with a top-level folder of the
//!   repository (`scripts/get-data.sh`, `tests/repo_citations.rs`).
//!
//! A path is looked up from the repository's root and from the citing file's folder; one
//! that leaves the repository (absolute, or `..` above the root) is never found.
//!
//! Not references: a lower-case name without a folder (`summary.md`, `t.md`: files the
//! programs write), paths under the git-ignored output folders `runs/`, `report/` and
//! `target/`, URLs (`https://…`), and names built at run time, which the character before
//! them gives away (`$NAME.md`, `<date>.md`, `{name}.md`, `$(dirname "$0")/x.sh`).
//! `.gitignore` files hold patterns, not references, and are not read.
//!
//! Sections: `docs/paper.md#update-rules` must name a heading of the file by its GitHub
//! anchor (lower case, punctuation dropped, spaces as hyphens: `## Update rules` is
//! `#update-rules`), and so must `docs/paper.md, section "Update rules"`. A numbered
//! section (`§3` after a Markdown file's name) or an unquoted `section …` after it is
//! refused, since nothing could check it. In a Markdown file, a link to `#anchor` must
//! name one of its own headings.
mod require;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// Top-level folders whose files are outputs, never part of the repository.
const OUTPUT_DIRS: [&str; 3] = ["runs", "report", "target"];
const SOURCE_EXTENSIONS: [&str; 3] = ["rs", "sh", "py"];

fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-')
}

fn is_anchor_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-')
}

/// GitHub's anchor for a heading: lower case, letters, digits, `-` and `_` kept, spaces
/// to hyphens, everything else dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .chars()
        .flat_map(char::to_lowercase)
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if is_anchor_char(c) => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a Markdown text's headings (outside fenced code), with GitHub's `-1`,
/// `-2` … suffixes for repeated ones.
fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut seen = BTreeMap::<String, usize>::new();
    let mut fence: Option<&str> = None;
    let mut out = BTreeSet::new();
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        if let Some(marker) = ["```", "~~~"].into_iter().find(|m| trimmed.starts_with(m)) {
            fence = match fence {
                Some(open) if open == marker => None,
                Some(open) => Some(open),
                None => Some(marker),
            };
            continue;
        }
        if fence.is_some() || line.starts_with("    ") {
            continue;
        }
        let hashes = trimmed.chars().take_while(|&c| c == '#').count();
        if !(1..=6).contains(&hashes) || !trimmed[hashes..].starts_with([' ', '\t']) {
            continue;
        }
        let text = trimmed[hashes..].trim().trim_end_matches('#').trim();
        let base = slug(text);
        let n = seen.entry(base.clone()).or_insert(0);
        out.insert(if *n == 0 { base } else { format!("{base}-{n}") });
        *n += 1;
    }
    out
}

/// `path` as written in `citing` (a repository path), resolved to a tracked file: from the
/// root, then from `citing`'s folder.
fn resolve(path: &str, citing: &str, tracked: &BTreeSet<String>) -> Option<String> {
    let from_dir = Path::new(citing)
        .parent()
        .map(|d| d.to_string_lossy().into_owned())
        .filter(|d| !d.is_empty());
    let mut bases = vec![String::new()];
    bases.extend(from_dir);
    bases.into_iter().find_map(|base| {
        let joined = if base.is_empty() || path.starts_with('/') {
            path.to_string()
        } else {
            format!("{base}/{path}")
        };
        normalise(&joined).filter(|p| tracked.contains(p))
    })
}

/// `a/./b/../c` to `a/c`; `None` for an absolute path or one that leaves the root.
fn normalise(path: &str) -> Option<String> {
    if path.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

struct Repo {
    /// Every tracked path.
    tracked: BTreeSet<String>,
    /// The tracked files that are UTF-8 text, by path.
    texts: BTreeMap<String, String>,
}

impl Repo {
    fn top_dirs(&self) -> BTreeSet<&str> {
        self.tracked
            .iter()
            .filter_map(|p| p.split_once('/').map(|(top, _)| top))
            .collect()
    }

    /// Every broken reference, as `file:line: what`.
    fn problems(&self) -> Vec<String> {
        let top_dirs = self.top_dirs();
        let mut problems = Vec::new();
        for (file, text) in &self.texts {
            let name = file.rsplit('/').next().unwrap_or(file);
            if name == ".gitignore" {
                continue;
            }
            let line_of = |at: usize| text[..at].matches('\n').count() + 1;
            let mut report = |at: usize, what: String| {
                problems.push(format!("{file}:{}: {what}", line_of(at)));
            };
            self.check_paths(file, text, &top_dirs, &mut report);
            if file.ends_with(".md") {
                let own = anchors(text);
                for (at, _) in text.match_indices("](#") {
                    let frag: String = text[at + 3..]
                        .chars()
                        .take_while(|&c| is_anchor_char(c))
                        .collect();
                    if !own.contains(&frag) {
                        report(
                            at,
                            format!("link to #{frag}, which is no heading of {file}"),
                        );
                    }
                }
            }
        }
        problems
    }

    fn check_paths(
        &self,
        file: &str,
        text: &str,
        top_dirs: &BTreeSet<&str>,
        report: &mut impl FnMut(usize, String),
    ) {
        let mut chars = text.char_indices().peekable();
        let mut prev: Option<char> = None;
        let mut before_prev: Option<char> = None;
        while let Some((start, c)) = chars.next() {
            if !is_path_char(c) {
                before_prev = prev;
                prev = Some(c);
                continue;
            }
            let mut end = start + c.len_utf8();
            while let Some(&(i, c)) = chars.peek() {
                if !is_path_char(c) {
                    break;
                }
                end = i + c.len_utf8();
                chars.next();
            }
            let run = text[start..end].trim_end_matches('.');
            let (run_prev, run_before_prev) = (prev, before_prev);
            before_prev = text[..end].chars().next_back();
            prev = before_prev;
            if let Some(problem) =
                self.check_run(file, text, run, start, run_prev, run_before_prev, top_dirs)
            {
                report(start, problem);
            }
        }
    }

    /// The problem with one run of path characters at `start`, if it is a reference.
    #[allow(clippy::too_many_arguments)]
    fn check_run(
        &self,
        file: &str,
        text: &str,
        run: &str,
        start: usize,
        prev: Option<char>,
        before_prev: Option<char>,
        top_dirs: &BTreeSet<&str>,
    ) -> Option<String> {
        let (stem, ext) = run.rsplit_once('.')?;
        let name = stem.rsplit('/').next().unwrap_or(stem);
        if name.is_empty()
            || run.starts_with("//")
            || matches!(prev, Some('$' | '>' | '}' | ')' | '*' | ':' | '@' | '\\'))
        {
            return None;
        }
        let relative = run.trim_start_matches("./");
        let first = relative.split('/').next().unwrap_or("");
        if relative.contains('/') && OUTPUT_DIRS.contains(&first) {
            return None;
        }
        let after = &text[start + run.len()..];
        let fragment = after
            .strip_prefix('#')
            .map(|f| {
                f.chars()
                    .take_while(|&c| is_anchor_char(c))
                    .collect::<String>()
            })
            .filter(|f| !f.is_empty());
        let is_reference = match ext {
            "md" => {
                let capitals = name.chars().any(|c| c.is_ascii_uppercase())
                    && name.chars().all(|c| {
                        c.is_ascii_uppercase() || c.is_ascii_digit() || matches!(c, '_' | '-')
                    });
                let link_target = prev == Some('(') && before_prev == Some(']');
                run.contains('/') || capitals || link_target || fragment.is_some()
            }
            e if SOURCE_EXTENSIONS.contains(&e) => {
                relative.contains('/') && top_dirs.contains(first)
            }
            _ => false,
        };
        if !is_reference {
            return None;
        }
        let Some(target) = resolve(run, file, &self.tracked) else {
            return Some(format!(
                "cites {run}, which this repository does not contain (not among `git ls-files`)"
            ));
        };
        if ext != "md" {
            return None;
        }
        let headings = || anchors(self.texts.get(&target).map_or("", String::as_str));
        if let Some(fragment) = &fragment {
            if !headings().contains(fragment) {
                return Some(format!(
                    "cites {run}#{fragment}, but {target} has no heading with that anchor \
                     (its anchors: {})",
                    headings().into_iter().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        // What follows the reference (and its anchor): a section named another way.
        let rest = after[fragment.as_ref().map_or(0, |f| f.len() + 1)..]
            .trim_start_matches([',', ' ', '\t']);
        // `§` as written in text, JSON (`\u00a7`) or HTML (`&sect;`).
        let numbered = ["§", "\\u00a7", "\\u00A7", "&sect;"];
        if numbered.iter().any(|n| rest.starts_with(n)) {
            return Some(format!(
                "cites a numbered section of {run} (§…); write {run}#<anchor> with a heading's anchor"
            ));
        }
        if let Some(named) = rest
            .strip_prefix("section")
            .filter(|r| r.starts_with([' ', '\t']))
        {
            let named = named.trim_start();
            let quoted = named
                .strip_prefix(['"', '“'])
                .and_then(|r| r.find(['"', '”']).map(|end| &r[..end]));
            return match quoted {
                Some(heading) if headings().contains(&slug(heading)) => None,
                Some(heading) => Some(format!(
                    "cites section \"{heading}\" of {run}, which {target} has no heading for"
                )),
                None => Some(format!(
                    "cites a section of {run} without quoting its heading; write {run}#<anchor> \
                     or {run}, section \"<heading>\""
                )),
            };
        }
        None
    }
}

/// The tracked files of the checkout this test was built from, or why there are none.
fn this_repository() -> Result<Repo, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root)
        .output()
        .map_err(|e| format!("cannot run git ({e})"))?;
    if !out.status.success() {
        return Err(format!(
            "{} is not a git checkout (git ls-files: {})",
            root.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let tracked: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .split('\0')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    let texts = tracked
        .iter()
        .filter_map(|p| {
            let bytes = std::fs::read(root.join(p)).ok()?;
            Some((p.clone(), String::from_utf8(bytes).ok()?))
        })
        .collect();
    Ok(Repo { tracked, texts })
}

#[test]
fn the_repository_cites_only_files_and_sections_it_contains() {
    let repo = match this_repository() {
        Ok(repo) => repo,
        Err(why) => {
            require::skip_or_fail(
                "the_repository_cites_only_files_and_sections_it_contains",
                &why,
                "run the tests in a git clone of the repository",
            );
            return;
        }
    };
    assert!(
        repo.texts.contains_key("docs/paper.md") && repo.texts.len() > 50,
        "expected the whole repository, with docs/paper.md; read {} text files",
        repo.texts.len()
    );
    let problems = repo.problems();
    assert!(
        problems.is_empty(),
        "{} broken references:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// A repository of `files` (path, text); `@` in a path or text stands for `.`, so that this
/// test's own source cites nothing (the test above reads it too).
fn fixture(files: &[(&str, &str)]) -> Repo {
    let texts: BTreeMap<String, String> = files.iter().map(|(p, t)| (dot(p), dot(t))).collect();
    Repo {
        tracked: texts.keys().cloned().collect(),
        texts,
    }
}

fn dot(s: &str) -> String {
    s.replace('@', ".")
}

const NOTES: &str = "# Notes\n\n## Update rules\n\n```\n## Not a heading\n```\n\n## Update rules\n";

#[test]
fn missing_files_unknown_anchors_and_numbered_sections_are_each_reported() {
    let repo = fixture(&[
        ("docs/notes@md", NOTES),
        ("scripts/run@sh", "echo ok"),
        (
            "src/a@rs",
            "//! PAPER@md §4\n\
             //! docs/notes@md#update-rules and docs/notes@md#update-rules-1 are fine\n\
             //! docs/notes@md#not-a-heading\n\
             //! docs/notes@md §3\n\
             //! docs/gone@md\n\
             //! see DESIGN@md, then scripts/gone@sh\n\
             //! docs/notes@md, section \"Update rules\" is fine\n\
             //! docs/notes@md, section \"Training\"\n\
             //! docs/notes@md section 2\n\
             \"description\": \"docs/notes@md \\u00a74: a JSON string\"\n",
        ),
        (
            "README@md",
            "[notes](docs/notes@md#update-rules), [x](./docs/notes@md), [y](missing@md), [z](#nowhere)\n\n# Readme\n",
        ),
    ]);
    let problems = repo.problems();
    let expected = [
        "README@md:1: cites missing@md,",
        "README@md:1: link to #nowhere,",
        "src/a@rs:1: cites PAPER@md,",
        "src/a@rs:3: cites docs/notes@md#not-a-heading, but docs/notes@md has no heading",
        "src/a@rs:4: cites a numbered section of docs/notes@md",
        "src/a@rs:5: cites docs/gone@md,",
        "src/a@rs:6: cites DESIGN@md,",
        "src/a@rs:6: cites scripts/gone@sh,",
        "src/a@rs:8: cites section \"Training\" of docs/notes@md",
        "src/a@rs:9: cites a section of docs/notes@md without quoting its heading",
        "src/a@rs:10: cites a numbered section of docs/notes@md",
    ];
    assert_eq!(problems.len(), expected.len(), "{problems:#?}");
    for (problem, want) in problems.iter().zip(expected) {
        let want = dot(want);
        assert!(problem.starts_with(&want), "{problem}\nexpected: {want}…");
    }
}

#[test]
fn output_names_placeholders_urls_and_gitignore_patterns_are_not_references() {
    let repo = fixture(&[
        ("scripts/run@sh", "echo ok"),
        (
            "src/a@rs",
            "// writes summary@md and t@md; $NAME@md, <date>@md, {name}@md\n\
             // https://example.org/x/README@md, runs/x/summary@md, report/e/summary@md\n\
             // $(dirname \"$0\")/scripts/gone@sh, bench/results/<date>@json, experiments/x@json\n\
             // scripts/run@sh and ./scripts/run@sh exist\n",
        ),
        ("sub/@gitignore", "!/data/README@md\n"),
    ]);
    assert_eq!(repo.problems(), Vec::<String>::new());
}

#[test]
fn paths_resolve_from_the_root_or_the_citing_folder_and_never_outside() {
    let tracked: BTreeSet<String> = ["docs/a.txt", "docs/b.txt", "top.txt"]
        .map(String::from)
        .into();
    let found = |path, citing| resolve(path, citing, &tracked);
    assert_eq!(found("b.txt", "docs/a.txt").as_deref(), Some("docs/b.txt"));
    assert_eq!(
        found("../top.txt", "docs/a.txt").as_deref(),
        Some("top.txt")
    );
    assert_eq!(
        found("docs/./b.txt", "src/x.txt").as_deref(),
        Some("docs/b.txt")
    );
    assert_eq!(found("b.txt", "src/x.txt"), None);
    assert_eq!(found("../shared/top.txt", "top.txt"), None);
    assert_eq!(found("/work/top.txt", "top.txt"), None);
}

#[test]
fn anchors_are_githubs() {
    let a = anchors(
        "# The paper\n## Claims and how to check them\n### The `optim` crate\n\
         ## Weight decay convention and PyTorch\n## Claims and how to check them\n",
    );
    let want: BTreeSet<String> = [
        "the-paper",
        "claims-and-how-to-check-them",
        "the-optim-crate",
        "weight-decay-convention-and-pytorch",
        "claims-and-how-to-check-them-1",
    ]
    .map(String::from)
    .into();
    assert_eq!(a, want);
}
