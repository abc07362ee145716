//! The README and the manual (`docs/src/`) say what the code does: the generated pages
//! are what the code generates now, every relative link and `#anchor` leads somewhere,
//! and every Rust snippet is either included from a compiled file or an excerpt of one.
//! No Docker, no network.

#[path = "../examples/gen-docs/render.rs"]
mod render;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The README and every page of the book, with their text.
fn pages() -> BTreeMap<PathBuf, String> {
    let root = render::root();
    let mut pages = BTreeMap::new();
    let mut dirs = vec![root.join("docs/src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                pages.insert(path.clone(), std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let readme = root.join("README.md");
    pages.insert(readme.clone(), std::fs::read_to_string(&readme).unwrap());
    pages
}

fn shown(path: &Path) -> String {
    path.strip_prefix(render::root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// A fenced code block: its info string, its text, the line it starts on (1-based)
/// and the last non-blank line before it.
struct Block {
    info: String,
    text: String,
    line: usize,
    before: String,
}

/// The page's text outside fenced code blocks (those lines blanked, so line numbers
/// hold), and its fenced blocks.
fn split_fences(text: &str) -> (Vec<String>, Vec<Block>) {
    let mut prose = Vec::new();
    let mut blocks = Vec::new();
    let mut open: Option<(String, Block)> = None;
    let mut before = String::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        match &mut open {
            Some((fence, block)) => {
                prose.push(String::new());
                if trimmed.starts_with(fence.as_str()) && trimmed.trim_end() == fence.as_str() {
                    blocks.push(open.take().unwrap().1);
                } else {
                    block.text.push_str(line);
                    block.text.push('\n');
                }
            }
            None if trimmed.starts_with("```") || trimmed.starts_with("~~~") => {
                prose.push(String::new());
                let fence: String = trimmed
                    .chars()
                    .take_while(|c| *c == '`' || *c == '~')
                    .collect();
                let info = trimmed[fence.len()..].trim().to_string();
                open = Some((
                    fence,
                    Block {
                        info,
                        text: String::new(),
                        line: i + 1,
                        before: before.clone(),
                    },
                ));
            }
            None => {
                prose.push(line.to_string());
                if !line.trim().is_empty() {
                    before = line.trim().to_string();
                }
            }
        }
    }
    (prose, blocks)
}

/// The line without its inline code spans.
fn without_code(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let ticks = rest[start..].chars().take_while(|c| *c == '`').count();
        let fence = "`".repeat(ticks);
        match rest[start + ticks..].find(&fence) {
            Some(end) => rest = &rest[start + ticks + end + ticks..],
            None => {
                rest = &rest[start + ticks..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A heading's anchor as mdBook and GitHub make it: the heading's text without its
/// markup, lower case, spaces as `-`, anything but letters, digits, `-` and `_` left
/// out.
fn slug(heading: &str) -> String {
    let link = regex::Regex::new(r"\[([^\]]*)\]\([^)]*\)").unwrap();
    let text = link.replace_all(heading, "$1");
    text.chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                Some(c.to_lowercase().next().unwrap_or(c))
            } else if c.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

/// Every anchor a page's headings make (a repeated one gets `-1`, `-2`, …).
fn anchors(text: &str) -> Vec<String> {
    let (prose, _) = split_fences(text);
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    prose
        .iter()
        .filter_map(|l| {
            let hashes = l.chars().take_while(|c| *c == '#').count();
            (1..=6)
                .contains(&hashes)
                .then(|| l[hashes..].strip_prefix(' '))
                .flatten()
        })
        .map(|h| {
            let base = slug(h.trim().trim_end_matches('#').trim());
            let n = seen.entry(base.clone()).or_insert(0);
            let id = if *n == 0 {
                base.clone()
            } else {
                format!("{base}-{n}")
            };
            *n += 1;
            id
        })
        .collect()
}

#[test]
fn the_slugs_are_mdbooks_and_githubs() {
    assert_eq!(
        slug("Checking a running deployment: `--target external`"),
        "checking-a-running-deployment---target-external"
    );
    assert_eq!(slug("The guide's defects"), "the-guides-defects");
    assert_eq!(slug("`lgtm-check run`"), "lgtm-check-run");
    assert_eq!(
        anchors("# A\n\n```\n# not a heading\n```\n## A\n"),
        ["a", "a-1"]
    );
}

/// Every relative link of the README and the book leads to a file that exists, and
/// its `#anchor` to a heading of that file; no book page links outside the book
/// (mdBook would not copy the file).
#[test]
fn every_relative_link_and_anchor_resolves() {
    let link = regex::Regex::new(r"\]\(([^)\s]+)\)").unwrap();
    let book = render::root().join("docs/src");
    let pages = pages();
    let mut broken = Vec::new();
    for (page, text) in &pages {
        let (prose, _) = split_fences(text);
        for (n, line) in prose.iter().enumerate() {
            for cap in link.captures_iter(&without_code(line)) {
                let target = &cap[1];
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                let (file, anchor) = match target.split_once('#') {
                    Some((f, a)) => (f, Some(a)),
                    None => (target, None),
                };
                let here = format!("{}:{}: {target}", shown(page), n + 1);
                let path = if file.is_empty() {
                    page.clone()
                } else {
                    page.parent().unwrap().join(file)
                };
                let Ok(path) = path.canonicalize() else {
                    broken.push(format!("{here}: no such file"));
                    continue;
                };
                if page.starts_with(&book) && !path.starts_with(book.canonicalize().unwrap()) {
                    broken.push(format!(
                        "{here}: a book page links outside docs/src (name the file in code instead)"
                    ));
                    continue;
                }
                if let Some(anchor) = anchor {
                    let text = pages
                        .iter()
                        .find(|(p, _)| p.canonicalize().ok().as_ref() == Some(&path))
                        .map(|(_, t)| t.clone())
                        .unwrap_or_else(|| std::fs::read_to_string(&path).unwrap_or_default());
                    if !anchors(&text).iter().any(|a| a == anchor) {
                        broken.push(format!("{here}: no heading makes #{anchor}"));
                    }
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// `{{#include PATH:ANCHOR}}` of a book page: the file exists and has the anchor.
fn include_problem(page: &Path, directive: &str) -> Option<String> {
    let spec = directive.trim();
    let (file, anchor) = match spec.rsplit_once(':') {
        Some((f, a)) if !a.contains('/') && a.parse::<usize>().is_err() => (f, Some(a)),
        _ => (spec, None),
    };
    let path = page.parent().unwrap().join(file);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Some(format!("{file}: no such file"));
    };
    let anchor = anchor?;
    let start = text.contains(&format!("ANCHOR: {anchor}\n"));
    let end = text.contains(&format!("ANCHOR_END: {anchor}\n"));
    (!start || !end).then(|| format!("{file} has no ANCHOR: {anchor} … ANCHOR_END: {anchor}"))
}

/// Whitespace left out, so that formatting does not matter.
fn squash(s: &str) -> String {
    s.split_whitespace().collect()
}

/// Every Rust snippet of the README and the book comes from a file the tests compile:
/// included with `{{#include PATH:ANCHOR}}`, or, after a line `<!-- excerpt of PATH
/// -->`, an excerpt of PATH whose parts between `// …` lines are each in that file
/// as they are (whitespace aside).
#[test]
fn every_rust_snippet_is_included_or_an_excerpt_of_compiled_code() {
    let root = render::root();
    let include = regex::Regex::new(r"\{\{#include ([^}]+)\}\}").unwrap();
    let excerpt = regex::Regex::new(r"^<!-- excerpt of (\S+) -->$").unwrap();
    let mut problems = Vec::new();
    let mut checked = 0;
    for (page, text) in pages() {
        let (_, blocks) = split_fences(&text);
        for b in blocks
            .iter()
            .filter(|b| b.info.split(',').next() == Some("rust"))
        {
            let here = format!("{}:{}", shown(&page), b.line);
            checked += 1;
            if let Some(cap) = include.captures(&b.text) {
                if let Some(p) = include_problem(&page, &cap[1]) {
                    problems.push(format!("{here}: {p}"));
                }
                continue;
            }
            let Some(cap) = excerpt.captures(&b.before) else {
                problems.push(format!(
                    "{here}: a Rust snippet neither included ({{{{#include PATH:ANCHOR}}}}) nor marked `<!-- excerpt of PATH -->`"
                ));
                continue;
            };
            let source = root.join(&cap[1]);
            let Ok(code) = std::fs::read_to_string(&source) else {
                problems.push(format!("{here}: {}: no such file", &cap[1]));
                continue;
            };
            let code = squash(&code);
            let mut part = String::new();
            let mut parts = Vec::new();
            for line in b.text.lines() {
                if line.trim_start().starts_with("// …") {
                    parts.push(std::mem::take(&mut part));
                } else {
                    part.push_str(line);
                    part.push('\n');
                }
            }
            parts.push(part);
            for p in parts.iter().filter(|p| !p.trim().is_empty()) {
                if !code.contains(&squash(p)) {
                    problems.push(format!(
                        "{here}: not in {} as it is:\n{}",
                        &cap[1],
                        p.trim_end()
                    ));
                }
            }
        }
    }
    assert!(checked >= 3, "only {checked} Rust snippets found");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every `{{#include}}` of the book, Rust or not, finds its file and anchor.
#[test]
fn every_include_resolves() {
    let include = regex::Regex::new(r"\{\{#include ([^}]+)\}\}").unwrap();
    let mut problems = Vec::new();
    for (page, text) in pages() {
        for cap in include.captures_iter(&text) {
            if let Some(p) = include_problem(&page, &cap[1]) {
                problems.push(format!("{}: {p}", shown(&page)));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The first line where `new` differs from `old`, for the failure message.
fn first_difference(old: &str, new: &str) -> String {
    let (mut o, mut n) = (old.lines(), new.lines());
    for i in 1.. {
        match (o.next(), n.next()) {
            (None, None) => break,
            (a, b) if a == b => continue,
            (a, b) => {
                return format!(
                    "line {i}: the file has {:?}, the code makes {:?}",
                    a.unwrap_or("<end>"),
                    b.unwrap_or("<end>")
                );
            }
        }
    }
    "only in line endings".into()
}

/// What `lgtm-check ARGS` prints, with none of the caller's variables (help shows
/// the value of a flag's variable when it is set).
fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_lgtm-check"))
        .args(args)
        .env_clear()
        .output()
        .expect("lgtm-check runs");
    assert!(out.status.success(), "lgtm-check {args:?} failed");
    String::from_utf8(out.stdout).unwrap()
}

/// The generated pages are what the code generates now.
#[test]
fn the_generated_pages_are_current() {
    let mut stale = Vec::new();
    for (page, text) in [
        (render::CATALOG_PAGE, render::catalog_page()),
        (render::CLI_PAGE, render::cli_page(&help)),
    ] {
        let on_disk = std::fs::read_to_string(render::root().join(page)).unwrap_or_default();
        if on_disk != text {
            stale.push(format!(
                "{page} is not what the code generates ({}); run `{}` and commit it",
                first_difference(&on_disk, &text),
                render::REGENERATE
            ));
        }
    }
    assert!(stale.is_empty(), "{}", stale.join("\n"));
}

/// The catalog page lists every check of a default run once.
#[test]
fn the_catalog_page_lists_every_check_once() {
    let page = render::catalog_page();
    let rows: Vec<&str> = page
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| l.split('`').nth(1).unwrap())
        .collect();
    let unique: std::collections::BTreeSet<&str> = rows.iter().copied().collect();
    assert_eq!(rows.len(), unique.len(), "a check id appears twice");
    for id in [
        "http.logs.exact",
        "promql.guide.error_ratio",
        "otlp.traces.exact",
        "sampling.sampling.count_within_bound",
        "config.loki.retention_period",
        "volume.logs.exact",
    ] {
        assert!(unique.contains(id), "{id} is not on the catalog page");
    }
}
