//! The shape of the driver's code, as the README states it: data flows from the bottom
//! up (each top-level module imports only from modules below it, so there is no circle),
//! no command imports another, no function in `src/` is over 100 lines and no file in
//! `src/commands/` over 250. Read from the sources, so a change that breaks a rule fails
//! here, naming the file.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The top-level modules from the bottom up, as `src/lib.rs` lists them.
const ORDER: &[&str] = &[
    "libtorch",
    "optimizers",
    "fault",
    "user_file",
    "cuda_driver",
    "distinct",
    "data",
    "scales",
    "stats",
    "plot",
    "sinks",
    "config",
    "train",
    "rundir",
    "observers",
    "environment",
    "fast_precisions",
    "training_run",
    "checks",
    "experiment",
    "report",
    "sweep",
    "commands",
    "cli",
];

const LONGEST_FUNCTION: usize = 100;
const LONGEST_COMMAND_FILE: usize = 250;

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every source file under `src/` with its path relative to it.
fn files() -> Vec<(String, String)> {
    let mut paths = Vec::new();
    sources(&src(), &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(src()).unwrap().display().to_string();
            (rel, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

/// The top-level module a file belongs to (`report` for `report/table.rs`).
fn module_of(rel: &str) -> &str {
    let first = rel.split('/').next().unwrap();
    first.strip_suffix(".rs").unwrap_or(first)
}

/// The code of `text` with comments and the insides of string and char literals blanked
/// (newlines kept), so that braces and paths are counted only where they are code.
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                out.push(blank(chars[i]));
                i += 1;
            }
            out.push_str("  ");
            i += 2;
        } else if c == 'r' && (next == Some('#') || next == Some('"')) && is_raw_start(&chars, i) {
            let hashes = chars[i + 1..].iter().take_while(|&&c| c == '#').count();
            let close: String = std::iter::once('"')
                .chain("#".repeat(hashes).chars())
                .collect();
            out.push('"');
            i += 2 + hashes;
            while i < chars.len() && !chars[i..].iter().collect::<String>().starts_with(&close) {
                out.push(blank(chars[i]));
                i += 1;
            }
            out.push('"');
            i += close.len();
        } else if c == '"' {
            out.push('"');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                out.push(blank(chars[i]));
                i += 1;
            }
            out.push('"');
            i += 1;
        } else if c == '\'' && is_char_literal(&chars, i) {
            out.push('\'');
            i += 1;
            while chars[i] != '\'' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                out.push(' ');
                i += 1;
            }
            out.push('\'');
            i += 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// `r"` or `r#…"` that starts a raw string (not the end of an identifier like `for"`).
fn is_raw_start(chars: &[char], i: usize) -> bool {
    let after_ident = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
    let hashes = chars[i + 1..].iter().take_while(|&&c| c == '#').count();
    !after_ident && chars.get(i + 1 + hashes) == Some(&'"')
}

/// `'x'` or `'\n'` (a char literal), not a lifetime `'a`.
fn is_char_literal(chars: &[char], i: usize) -> bool {
    match chars.get(i + 1) {
        Some('\\') => true,
        Some(_) => chars.get(i + 2) == Some(&'\''),
        None => false,
    }
}

/// The identifier after each occurrence of `prefix` in `code` (`report` for
/// `crate::report::table`).
fn names_after<'a>(code: &'a str, prefix: &'a str) -> impl Iterator<Item = String> + 'a {
    code.match_indices(prefix).map(move |(at, _)| {
        code[at + prefix.len()..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    })
}

/// The code before the file's unit tests (by convention its last item).
fn without_tests(code: &str) -> &str {
    code.find("#[cfg(test)]").map_or(code, |at| &code[..at])
}

#[test]
fn every_top_level_module_is_in_the_order() {
    let mut modules = BTreeSet::new();
    for (rel, _) in files() {
        let module = module_of(&rel);
        if module != "lib" && module != "main" {
            modules.insert(module.to_string());
        }
    }
    let listed: BTreeSet<String> = ORDER.iter().map(|m| m.to_string()).collect();
    assert_eq!(modules, listed, "src/ and this test's ORDER differ");
}

#[test]
fn no_module_imports_from_one_above_it() {
    let mut upward = Vec::new();
    for (rel, text) in files() {
        let from = module_of(&rel);
        let Some(from_at) = ORDER.iter().position(|m| *m == from) else {
            continue;
        };
        let code = code_only(&text);
        for to in names_after(&code, "crate::") {
            if let Some(to_at) = ORDER.iter().position(|m| *m == to) {
                if to_at > from_at {
                    upward.push(format!("src/{rel}: {from} imports {to}"));
                }
            }
        }
    }
    assert!(upward.is_empty(), "arrows back up: {upward:#?}");
}

#[test]
fn no_command_imports_another() {
    let mut across = Vec::new();
    for (rel, text) in files() {
        let Some(inside) = rel.strip_prefix("commands/") else {
            continue;
        };
        let command = inside.split('/').next().unwrap().trim_end_matches(".rs");
        let code = code_only(&text);
        for to in names_after(&code, "crate::commands::") {
            if to != command {
                across.push(format!("src/{rel}: {command} imports {to}"));
            }
        }
        if code.contains("super::super::") {
            across.push(format!("src/{rel}: reaches above its command"));
        }
    }
    assert!(
        across.is_empty(),
        "commands importing each other: {across:#?}"
    );
}

#[test]
fn no_file_in_commands_is_over_250_lines() {
    let long: Vec<String> = files()
        .into_iter()
        .filter(|(rel, text)| {
            rel.starts_with("commands/") && text.lines().count() > LONGEST_COMMAND_FILE
        })
        .map(|(rel, text)| format!("src/{rel}: {} lines", text.lines().count()))
        .collect();
    assert!(
        long.is_empty(),
        "command files over {LONGEST_COMMAND_FILE} lines: {long:?}"
    );
}

/// Each `fn` with a body: its name and its length in lines, from `fn` to the closing brace.
fn function_lengths(code: &str) -> Vec<(String, usize, usize)> {
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    for (at, _) in code.match_indices("fn ") {
        let word_start =
            at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
        if !word_start {
            continue;
        }
        let name: String = code[at + 3..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let rest = &code[at..];
        let (Some(open), semicolon) = (rest.find('{'), rest.find(';')) else {
            continue;
        };
        if semicolon.is_some_and(|s| s < open) {
            continue; // a declaration without a body
        }
        let mut depth = 0;
        let mut end = None;
        for (i, c) in rest[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(open + i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(end) = end else { continue };
        let line = code[..at].matches('\n').count() + 1;
        let lines = rest[..=end].lines().count();
        out.push((name, line, lines));
    }
    out
}

#[test]
fn no_function_in_src_is_over_100_lines() {
    let mut long = Vec::new();
    for (rel, text) in files() {
        let code = code_only(&text);
        for (name, line, lines) in function_lengths(without_tests(&code)) {
            if lines > LONGEST_FUNCTION {
                long.push(format!("src/{rel}:{line} {name}: {lines} lines"));
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions over {LONGEST_FUNCTION} lines: {long:#?}"
    );
}

#[test]
fn the_counters_see_code_only() {
    let code = code_only(
        "let s = \"{ crate::cli }\"; // crate::commands {\nlet c = '{';\nfn a<'x>() { r#\"}\"#; }",
    );
    assert!(!code.contains("crate::"), "{code}");
    assert_eq!(code.matches('{').count(), 1, "{code}");
    let lengths = function_lengths("fn f() {\n  if x {\n  }\n}\nfn g();\nfn h() { }");
    assert_eq!(lengths, vec![("f".into(), 1, 4), ("h".into(), 6, 1)]);
}
