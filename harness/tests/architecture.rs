//! The layering rules, checked on the source: the core does no I/O (no environment,
//! files, processes, tokio or reqwest), and no two sibling modules import each other
//! in a cycle (as `clients/loki.rs` ↔ `clients/prometheus.rs` and `core/expect.rs` ↔
//! `core/observed.rs` once did). Test modules are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each module's code without its `#[cfg(test)]` part.
fn modules(dir: &str) -> BTreeMap<String, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir);
    std::fs::read_dir(&path)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            let name = p.file_stem()?.to_str()?.to_owned();
            (p.extension()? == "rs" && name != "mod").then_some((name, p))
        })
        .map(|(name, p)| {
            let text = std::fs::read_to_string(p).unwrap();
            let code = without_tests(&text)
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            (name, code)
        })
        .collect()
}

/// The text without its `#[cfg(test)]` items (each up to its matching brace).
fn without_tests(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        let Some(open) = after.find('{') else {
            return out;
        };
        let mut depth = 0;
        let mut end = after.len();
        for (j, ch) in after[open..].char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + j + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Sibling modules each module names (`super::x`, `crate::<dir>::x`).
fn edges(dir: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mods = modules(dir);
    mods.iter()
        .map(|(name, code)| {
            let deps = mods
                .keys()
                .filter(|other| *other != name)
                .filter(|other| {
                    code.contains(&format!("super::{other}::"))
                        || code.contains(&format!("super::{other}::{{"))
                        || code.contains(&format!("crate::{dir}::{other}::"))
                        || code.contains(&format!("use super::{other};"))
                })
                .cloned()
                .collect();
            (name.clone(), deps)
        })
        .collect()
}

fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut c = path[i..].to_vec();
            c.push(n.to_owned());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_owned());
        for d in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(d, g, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_import_cycles_between_sibling_modules() {
    for dir in ["core", "clients", "stack", "report"] {
        if let Some(c) = cycle(&edges(dir)) {
            panic!("{dir}/: import cycle {}", c.join(" → "));
        }
    }
}

#[test]
fn the_core_does_no_io() {
    let forbidden = [
        "std::env::",
        "std::fs::",
        "std::process::",
        "std::net::",
        "tokio",
        "reqwest",
    ];
    let mut found = Vec::new();
    for (name, code) in modules("core") {
        for f in forbidden {
            if code.contains(f) {
                found.push(format!("core/{name}.rs uses {f}"));
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}
