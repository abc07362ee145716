//! Config compatibility of an upgrade, as pure functions: what the baseline's and the
//! candidate's servers say their defaults are, compared key by key, and which keys of
//! a configuration a component refused at start-up.
//!
//! Main items:
//! - [`flatten`]: a served YAML configuration (`/config?mode=defaults`, Tempo's
//!   `/status/config?mode=defaults`) into dotted key paths → canonical scalar text;
//! - [`diff_defaults`]: two flattened configurations compared, as [`DefaultChange`]s,
//!   leaving out the run-specific keys listed in [`NOISE_KEYS`] (see [`is_noise`]);
//! - [`refused_keys`]: the [`RefusedKey`]s a component's start-up log names (Go YAML's
//!   strict-unmarshal errors), and [`key_at_line`]: the key a refusal's line holds
//!   in the file;
//! - [`ConfigDiffError`]: why a served configuration could not be flattened.
//!
//! Fetching the served text is [`crate::served_config`]'s job; nothing here does I/O.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;
use serde_yaml_ng::Value;

use crate::core::component::Component;

/// Why a served configuration could not be flattened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigDiffError {
    /// The text is not YAML (an HTML error page, a truncated body).
    #[error("the configuration is not YAML: {0}")]
    Yaml(String),
    /// The text is YAML, but none of its documents is a mapping of keys.
    #[error("the configuration is not a mapping of keys but {0}")]
    NotAMapping(&'static str),
    /// The text holds more than one mapping document, so which one is the
    /// configuration is not clear.
    #[error("the text holds {0} YAML mappings, not one configuration")]
    SeveralMappings(usize),
}

/// Flattens a YAML configuration into its leaves: dotted key paths
/// (`limits_config.retention_period`) → canonical scalar text.
///
/// - Scalars: strings as they are (no quotes), booleans as `true`/`false`, `null`
///   as `null`, numbers in one canonical form (`1.073741824e+09` → `1073741824.0`),
///   so two servers that write one value differently still compare equal.
/// - A list of scalars is one leaf, written as compact JSON (`["a","b"]`, `[]`); a
///   list with a mapping or list in it gives one path per item (`configs[0].store`).
/// - An empty mapping is one leaf, `{}`, so that a section with nothing in it still
///   shows as present.
/// - A key that would make a path ambiguous (one with `.`, `[`, `]`, `"`, a space,
///   or empty) is written in brackets as a JSON string: `labels["k8s.io/name"]`.
/// - Of a text of several YAML documents, the one mapping is the configuration;
///   documents that are a single value are skipped (Tempo's `/status/config` starts
///   with one: `GET /status/config`, then `---`). An empty text is no keys.
///
/// ```
/// use lgtm_check::core::config_diff::flatten;
///
/// let served = "server:\n  http_listen_port: 3100\nschema_config:\n  configs:\n  - from: 2024-01-01\n    store: tsdb\nmemberlist:\n  join_members: [a, b]\n";
/// let flat = flatten(served).unwrap();
/// assert_eq!(flat["server.http_listen_port"], "3100");
/// assert_eq!(flat["schema_config.configs[0].store"], "tsdb");
/// assert_eq!(flat["memberlist.join_members"], r#"["a","b"]"#);
/// assert!(flatten("<html>404</html>: [").is_err());
/// ```
pub fn flatten(yaml_text: &str) -> Result<BTreeMap<String, String>, ConfigDiffError> {
    let mut mappings = Vec::new();
    let mut other = None;
    for document in serde_yaml_ng::Deserializer::from_str(yaml_text) {
        let value =
            Value::deserialize(document).map_err(|e| ConfigDiffError::Yaml(e.to_string()))?;
        match untagged(value) {
            Value::Null => {}
            m @ Value::Mapping(_) => mappings.push(m),
            Value::Sequence(_) => other = other.or(Some("a list")),
            _ => other = other.or(Some("a single value")),
        }
    }
    let mut out = BTreeMap::new();
    match (mappings.len(), other) {
        (1, _) => walk(String::new(), &mappings[0], &mut out),
        (0, Some(what)) => return Err(ConfigDiffError::NotAMapping(what)),
        (0, None) => {}
        (n, _) => return Err(ConfigDiffError::SeveralMappings(n)),
    }
    Ok(out)
}

fn untagged(value: Value) -> Value {
    match value {
        Value::Tagged(t) => untagged(t.value),
        v => v,
    }
}

fn walk(path: String, value: &Value, out: &mut BTreeMap<String, String>) {
    match value {
        Value::Mapping(m) if m.is_empty() => {
            out.insert(path, "{}".into());
        }
        Value::Mapping(m) => {
            for (k, v) in m {
                walk(join(&path, &scalar_text(k)), v, out);
            }
        }
        Value::Sequence(items) if items.iter().all(is_scalar) => {
            let texts: Vec<serde_json::Value> = items.iter().map(json_scalar).collect();
            out.insert(
                path,
                serde_json::to_string(&texts).unwrap_or_else(|_| "[?]".into()),
            );
        }
        Value::Sequence(items) => {
            for (i, v) in items.iter().enumerate() {
                walk(format!("{path}[{i}]"), v, out);
            }
        }
        Value::Tagged(t) => walk(path, &t.value, out),
        scalar => {
            out.insert(path, scalar_text(scalar));
        }
    }
}

/// `path.key`, or `path["key"]` for a key that a dot would make ambiguous.
fn join(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && !key
            .chars()
            .any(|c| matches!(c, '.' | '[' | ']' | '"') || c.is_whitespace());
    match (path.is_empty(), plain) {
        (true, true) => key.to_owned(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!(
            "{path}[{}]",
            serde_json::to_string(key).unwrap_or_else(|_| "\"?\"".into())
        ),
    }
}

fn is_scalar(v: &Value) -> bool {
    match v {
        Value::Tagged(t) => is_scalar(&t.value),
        Value::Mapping(_) | Value::Sequence(_) => false,
        _ => true,
    }
}

/// A scalar's canonical text: strings bare, numbers and booleans as YAML writes them.
fn scalar_text(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Tagged(t) => scalar_text(&t.value),
        other => serde_yaml_ng::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_owned(),
    }
}

/// A scalar inside a list, for its compact JSON: strings quoted, the rest bare.
fn json_scalar(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Number(n) => serde_json::from_str(&n.to_string())
            .unwrap_or_else(|_| serde_json::Value::String(n.to_string())),
        Value::Tagged(t) => json_scalar(&t.value),
        other => serde_json::Value::String(scalar_text(other)),
    }
}

/// A default that differs between the baseline and the candidate: one key of the
/// flattened configurations that [`diff_defaults`] found changed, added or removed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct DefaultChange {
    /// The dotted key path ([`flatten`]'s).
    pub key: String,
    /// The baseline's value; `None` when the key does not exist there (added).
    pub baseline: Option<String>,
    /// The candidate's value; `None` when the key does not exist there (removed).
    pub candidate: Option<String>,
}

/// Keys whose values differ between two containers of the same image, so that a
/// difference in them says nothing about an upgrade: each found by starting two
/// containers of one image with one config and comparing what they serve.
///
/// | pattern | what it is | seen to differ |
/// |---|---|---|
/// | `**.instance_id` | a ring member's id (`common.ring.instance_id`, `distributor.ring.instance_id`, `compactor.sharding_ring.instance_id`, …) and Tempo 2.10's `block_builder.instance_id` and `metrics_generator.instance_id`: the container's hostname | every image tried |
/// | `**.lifecycler.id` | an ingester's ring id (`ingester.lifecycler.id`, Loki's `pattern_ingester.lifecycler.id`, …): the hostname | every image tried |
/// | `**.ingestername` | Loki's `storage_config.tsdb_shipper.ingestername` and `boltdb_shipper.ingestername`, in the running configuration only (`/config`): the hostname | Loki 3.2.0, 3.4.6 |
/// | `**.instance_interface_names`, `**.interface_names` | the network interfaces a ring address is taken from: the container's own | a container on two networks serves `["eth0","eth1"]`, one on one network `["eth0"]` (Loki 3.2.0) |
///
/// Not noise, though they look it: `instance_addr`, `memberlist.advertise_addr` and
/// `memberlist.node_name` are served empty (they are worked out after the
/// configuration is read), and ports are the configured ones. Each pattern is
/// matched against a whole dotted key, segment by segment: `*` matches one segment,
/// `**` any number of them (none included), and a list index is part of its
/// segment. See [`is_noise`].
pub const NOISE_KEYS: &[&str] = &[
    "**.instance_id",
    "**.lifecycler.id",
    "**.ingestername",
    "**.instance_interface_names",
    "**.interface_names",
];

/// Whether `key` is run-specific noise: it matches one of [`NOISE_KEYS`].
///
/// ```
/// use lgtm_check::core::config_diff::is_noise;
///
/// assert!(is_noise("ingester.lifecycler.id"));
/// assert!(!is_noise("limits_config.retention_period"));
/// ```
pub fn is_noise(key: &str) -> bool {
    let segments = segments(key);
    NOISE_KEYS.iter().any(|p| {
        let pattern: Vec<&str> = p.split('.').collect();
        matches(&pattern, &segments)
    })
}

/// A key's segments: split at the dots outside brackets.
fn segments(key: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut in_string, mut start) = (0usize, false, 0);
    let bytes = key.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' if depth > 0 && (i == 0 || bytes[i - 1] != b'\\') => in_string = !in_string,
            b'[' if !in_string => depth += 1,
            b']' if !in_string => depth = depth.saturating_sub(1),
            b'.' if depth == 0 && !in_string => {
                out.push(&key[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&key[start..]);
    out
}

fn matches(pattern: &[&str], key: &[&str]) -> bool {
    match pattern.split_first() {
        None => key.is_empty(),
        Some((&"**", rest)) => (0..=key.len()).any(|i| matches(rest, &key[i..])),
        Some((p, rest)) => match key.split_first() {
            Some((k, krest)) => (*p == "*" || p == k) && matches(rest, krest),
            None => false,
        },
    }
}

/// The defaults that differ between `baseline` and `candidate` (both [`flatten`]ed),
/// sorted by key: changed values, and keys that exist on one side only. Keys that
/// are run-specific noise ([`is_noise`]) are left out, whatever their values.
///
/// ```
/// use lgtm_check::core::config_diff::{diff_defaults, flatten, DefaultChange};
///
/// let old = flatten("limits:\n  max_streams: 100\n  old_knob: true\ningester:\n  lifecycler:\n    id: 3f2a9c1b7d04\n").unwrap();
/// let new = flatten("limits:\n  max_streams: 500\n  new_knob: 1m\ningester:\n  lifecycler:\n    id: 8e71d0a2c5b6\n").unwrap();
/// let changes = diff_defaults(&old, &new);
/// let s = |v: &str| Some(v.to_string());
/// assert_eq!(changes, vec![
///     DefaultChange { key: "limits.max_streams".into(), baseline: s("100"), candidate: s("500") },
///     DefaultChange { key: "limits.new_knob".into(), baseline: None, candidate: s("1m") },
///     DefaultChange { key: "limits.old_knob".into(), baseline: s("true"), candidate: None },
/// ]);
/// ```
pub fn diff_defaults(
    baseline: &BTreeMap<String, String>,
    candidate: &BTreeMap<String, String>,
) -> Vec<DefaultChange> {
    let mut keys: Vec<&String> = baseline.keys().chain(candidate.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| !is_noise(k))
        .filter_map(|k| {
            let (b, c) = (baseline.get(k), candidate.get(k));
            (b != c).then(|| DefaultChange {
                key: k.clone(),
                baseline: b.cloned(),
                candidate: c.cloned(),
            })
        })
        .collect()
}

/// A configuration key a component refused at start-up.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RefusedKey {
    /// The line of the configuration file the key is on, when the log says it.
    pub line: Option<u32>,
    /// The key as written in the file (its last segment: `enforce_metric_name`);
    /// empty when the log does not name it: a value of the wrong type is refused by
    /// line and type only (`line 43: cannot unmarshal !!bool `false` into
    /// engine.ThanosEngineConfig`), and [`key_at_line`] finds the key in the file.
    pub field: String,
    /// The Go type that has no such field (`validation.plain`), or that the value
    /// could not become (`engine.ThanosEngineConfig`): it tells which section the
    /// key was in.
    pub in_type: Option<String>,
    /// The log entry that says so: its line, with the indented lines that continue
    /// it joined by spaces.
    pub log_line: String,
}

/// Go YAML's strict-unmarshal error for one key: `line 12: field foo not found in
/// type validation.plain` (the line part is optional). In a log written as
/// logfmt or JSON the message's newlines are escaped (`\n  line 12: …`), so a key
/// is found anywhere in a line, not only at its start.
static FIELD_NOT_FOUND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:line (\d+): )?field (\S+) not found in type ([\w*\[\]/-]+(?:\.[\w*\[\]/-]+)*)")
        .expect("a valid regex")
});

/// Go YAML's error for a value of the wrong type: `line 43: cannot unmarshal !!bool
/// `false` into engine.ThanosEngineConfig` (a key whose value became a section).
static WRONG_TYPE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"line (\d+): cannot unmarshal !!\w+ `[^`]*` into ([\w*\[\]/-]+(?:\.[\w*\[\]/-]+)*)")
        .expect("a valid regex")
});

/// Every key `component` refused at start-up, as its own log (`log_text`, all of
/// it: `docker logs`) says, in the order the log names them; a key named twice
/// (the same line, field and type) is listed once.
///
/// Loki, Tempo and Cortex read their YAML with Go's strict unmarshal and exit with
/// code 1 on a file with unknown keys, naming every one of them in one message that
/// starts with their own words, one key per indented line:
///
/// | component | the message (recorded) |
/// |---|---|
/// | Loki 3.2.0, 3.4.6 | `failed parsing config: /etc/loki/config.yaml: yaml: unmarshal errors:` then `  line 69: field bogus_limit not found in type validation.plain`; the last key's line goes on with `. Use -config.expand-env=true flag if …`, which is not part of the type |
/// | Tempo 2.6.0, 2.7.2, 2.10.8 | `failed parsing config: failed to parse configFile /etc/tempo/config.yaml: yaml: unmarshal errors:` then `  line 50: field querier_forget_delay not found in type frontend.Config` |
/// | Cortex 1.18.1, 1.21.1 | `error loading config from /etc/cortex/config.yaml: Error parsing config file: yaml: unmarshal errors:` then `  line 64: field bogus_limit not found in type validation.plain` |
///
/// A key whose value has the wrong type is refused in the same message, by line
/// and type only: Cortex 1.21.1, given 1.18's `querier.thanos_engine: false` (a
/// boolean that became a section), says `line 43: cannot unmarshal !!bool `false`
/// into engine.ThanosEngineConfig`. It is listed too, with an empty
/// [`RefusedKey::field`]; [`key_at_line`] names it from the file.
///
/// All print it bare on stderr, not as a logfmt entry; a key is still found when a
/// logger has escaped the message's newlines into one line (`err="…\n  line 3:
/// field …"`). The key's section shows in its Go type (`validation.plain`: the
/// limits; `loki.ConfigWrapper`, `app.Config`, `cortex.Config`: the top level).
/// `component` names whose log it is; the recorded formats are all the same Go
/// message, so today it does not change how the log is read.
///
/// ```
/// use lgtm_check::core::component::Component;
/// use lgtm_check::core::config_diff::refused_keys;
///
/// let log = "failed parsing config: /etc/loki/config.yaml: yaml: unmarshal errors:\n  line 40: field enforce_metric_name not found in type validation.plain\n";
/// let refused = refused_keys(Component::Loki, log);
/// assert_eq!(refused.len(), 1);
/// assert_eq!(refused[0].field, "enforce_metric_name");
/// assert_eq!(refused[0].line, Some(40));
/// assert_eq!(refused[0].in_type.as_deref(), Some("validation.plain"));
/// ```
pub fn refused_keys(component: Component, log_text: &str) -> Vec<RefusedKey> {
    // One format for every component so far (see above).
    let _ = component;
    let mut out: Vec<RefusedKey> = Vec::new();
    for entry in entries(log_text) {
        let unknown = FIELD_NOT_FOUND.captures_iter(&entry).map(|c| {
            let at = c.get(0).map_or(0, |m| m.start());
            let line = c.get(1).and_then(|m| m.as_str().parse().ok());
            (at, line, c[2].to_owned(), c[3].to_owned())
        });
        let wrong_type = WRONG_TYPE.captures_iter(&entry).map(|c| {
            let at = c.get(0).map_or(0, |m| m.start());
            (at, c[1].parse().ok(), String::new(), c[2].to_owned())
        });
        let mut found: Vec<_> = unknown.chain(wrong_type).collect();
        found.sort_by_key(|f| f.0);
        for (_, line, field, in_type) in found {
            let key = RefusedKey {
                line,
                field,
                in_type: Some(in_type),
                log_line: entry.clone(),
            };
            let seen = out
                .iter()
                .any(|k| (k.line, &k.field, &k.in_type) == (key.line, &key.field, &key.in_type));
            if !seen {
                out.push(key);
            }
        }
    }
    out
}

/// A log's entries: each unindented line with the indented lines that continue it,
/// trimmed and joined by spaces.
fn entries(log: &str) -> Vec<String> {
    let mut out: Vec<Vec<&str>> = Vec::new();
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        match out.last_mut() {
            Some(entry) if line.starts_with(char::is_whitespace) => entry.push(line.trim()),
            _ => out.push(vec![line.trim()]),
        }
    }
    out.into_iter().map(|e| e.join(" ")).collect()
}

/// The dotted key path ([`flatten`]'s form) of the key on line `line` (from 1) of a
/// YAML configuration as written, such as the file a component refused: turns a
/// [`RefusedKey`]'s line into `limits_config.bogus_limit` or
/// `querier.thanos_engine`. `None` when that line holds no key or list item.
///
/// Reads the block style configurations are written in (indentation, `key:`,
/// `- ` items, `|` and `>` text), not flow style (`{a: 1}`) spread over lines.
///
/// ```
/// use lgtm_check::core::config_diff::key_at_line;
///
/// let config = "limits_config:\n  max_streams: 5\n  bogus_limit: 3\nschema_config:\n  configs:\n  - from: 2024-01-01\n    store: tsdb\n";
/// assert_eq!(key_at_line(config, 3).as_deref(), Some("limits_config.bogus_limit"));
/// assert_eq!(key_at_line(config, 7).as_deref(), Some("schema_config.configs[0].store"));
/// assert_eq!(key_at_line(config, 99), None);
/// ```
pub fn key_at_line(config_text: &str, line: u32) -> Option<String> {
    struct Open {
        indent: usize,
        segment: String,
        item: bool,
        items: usize,
    }
    let mut open: Vec<Open> = Vec::new();
    // The indentation a block scalar's text lies deeper than, while inside one.
    let mut text_above: Option<usize> = None;
    for (number, raw) in config_text.lines().enumerate() {
        let here = u32::try_from(number + 1).ok()? == line;
        let trimmed = raw.trim_start();
        let mut indent = raw.len() - trimmed.len();
        if let Some(above) = text_above {
            if trimmed.is_empty() || indent > above {
                if here {
                    return None;
                }
                continue;
            }
            text_above = None;
        }
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with("---") {
            if here {
                return None;
            }
            continue;
        }
        let mut rest = trimmed;
        let mut is_key = false;
        // `- ` items, each opening an element of the list its owner holds
        while rest == "-" || rest.starts_with("- ") {
            while open
                .last()
                .is_some_and(|o| o.indent > indent || (o.item && o.indent == indent))
            {
                open.pop();
            }
            let index = match open.last_mut() {
                Some(owner) => {
                    owner.items += 1;
                    owner.items - 1
                }
                None => 0,
            };
            open.push(Open {
                indent,
                segment: format!("[{index}]"),
                item: true,
                items: 0,
            });
            let after = rest[1..].trim_start();
            indent += rest.len() - after.len();
            rest = after;
        }
        if let Some((key, value)) = split_key(rest) {
            while open.last().is_some_and(|o| o.indent >= indent) {
                open.pop();
            }
            open.push(Open {
                indent,
                segment: key,
                item: false,
                items: 0,
            });
            is_key = true;
            let value = value.split(" #").next().unwrap_or("").trim();
            if value.starts_with('|') || value.starts_with('>') {
                text_above = Some(indent);
            }
        }
        if here {
            return (is_key || open.last().is_some_and(|o| o.item)).then(|| {
                let mut path = String::new();
                for o in &open {
                    if o.item {
                        path.push_str(&o.segment);
                    } else {
                        path = join(&path, &o.segment);
                    }
                }
                path
            });
        }
    }
    None
}

/// `key: value` (or `key:`) into its key, unquoted, and the rest.
fn split_key(text: &str) -> Option<(String, &str)> {
    let quoted = |q: char| {
        let end = text[1..].find(q)? + 1;
        let after = text[end + 1..].strip_prefix(':')?;
        (after.is_empty() || after.starts_with(' ')).then(|| (text[1..end].to_owned(), after))
    };
    match text.chars().next()? {
        q @ ('"' | '\'') => quoted(q),
        '{' | '[' | '#' | '&' | '*' | '!' | '|' | '>' => None,
        _ => {
            let colon = text
                .match_indices(':')
                .map(|(i, _)| i)
                .find(|&i| text[i + 1..].is_empty() || text[i + 1..].starts_with(' '))?;
            let key = text[..colon].trim_end();
            (!key.is_empty() && !key.contains(" #")).then(|| (key.to_owned(), &text[colon + 1..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn flattens_scalars_lists_and_empty_sections() {
        let text = "a:\n  b: 1\n  c: \"\"\n  d: null\n  e: [x, 2, true]\n  f: []\n  g: {}\n  h:\n  - name: one\n    v: 1.5e+09\n  - [p, q]\n  labels:\n    k8s.io/name: x\n    \"\": y\n";
        let got = flatten(text).unwrap();
        assert_eq!(
            got,
            flat(&[
                ("a.b", "1"),
                ("a.c", ""),
                ("a.d", "null"),
                ("a.e", r#"["x",2,true]"#),
                ("a.f", "[]"),
                ("a.g", "{}"),
                ("a.h[0].name", "one"),
                ("a.h[0].v", "1500000000.0"),
                ("a.h[1]", r#"["p","q"]"#),
                (r#"a.labels["k8s.io/name"]"#, "x"),
                (r#"a.labels[""]"#, "y"),
            ])
        );
    }

    #[test]
    fn a_header_document_is_skipped_and_nothing_is_no_keys() {
        // Tempo's header (a document of its own), or none
        let got = flatten("GET /status/config\n---\nserver:\n  port: 1\n").unwrap();
        assert_eq!(got, flat(&[("server.port", "1")]));
        let got = flatten("server:\n  port: 1\n").unwrap();
        assert_eq!(got, flat(&[("server.port", "1")]));
        assert!(flatten("").unwrap().is_empty());
        assert!(flatten("---\n").unwrap().is_empty());
        assert_eq!(
            flatten("a: 1\n---\nb: 2\n").unwrap_err(),
            ConfigDiffError::SeveralMappings(2)
        );
    }

    #[test]
    fn what_is_not_a_mapping_is_an_error() {
        assert_eq!(
            flatten("- a\n- b\n").unwrap_err(),
            ConfigDiffError::NotAMapping("a list")
        );
        assert_eq!(
            flatten("404 page not found").unwrap_err(),
            ConfigDiffError::NotAMapping("a single value")
        );
        let err = flatten("a: [1\n").unwrap_err();
        assert!(matches!(err, ConfigDiffError::Yaml(_)), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("the configuration is not YAML: ")
        );
    }

    #[test]
    fn key_patterns_match_whole_segments() {
        let m = |p: &str, k: &str| matches(&p.split('.').collect::<Vec<_>>(), &segments(k));
        assert!(m("**.id", "id"));
        assert!(m("**.id", "ingester.lifecycler.id"));
        assert!(!m("**.id", "ingester.lifecycler.id.x"));
        assert!(!m("**.id", "ingester.lifecycler.tokens_id"));
        assert!(m("*.lifecycler.id", "ingester.lifecycler.id"));
        assert!(!m("*.lifecycler.id", "a.ingester.lifecycler.id"));
        assert!(m("a.**", "a.b.c"));
        // a dot inside brackets does not split
        assert_eq!(
            segments(r#"x.labels["k8s.io/name"].y"#),
            vec!["x", r#"labels["k8s.io/name"]"#, "y"]
        );
    }

    #[test]
    fn diff_lists_changed_added_and_removed_keys_by_key_and_never_noise() {
        let b = flat(&[
            ("z", "1"),
            ("a", "1"),
            ("same", "s"),
            ("ingester.lifecycler.id", "h1"),
        ]);
        let c = flat(&[
            ("z", "2"),
            ("n", "new"),
            ("same", "s"),
            ("ingester.lifecycler.id", "h2"),
        ]);
        let got = diff_defaults(&b, &c);
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            got,
            vec![
                DefaultChange {
                    key: "a".into(),
                    baseline: s("1"),
                    candidate: None
                },
                DefaultChange {
                    key: "n".into(),
                    baseline: None,
                    candidate: s("new")
                },
                DefaultChange {
                    key: "z".into(),
                    baseline: s("1"),
                    candidate: s("2")
                },
            ]
        );
        // noise is left out even when only one side has it
        let only = flat(&[("common.ring.instance_id", "h1")]);
        assert!(diff_defaults(&only, &BTreeMap::new()).is_empty());
        assert!(diff_defaults(&b, &b).is_empty());
    }

    #[test]
    fn refused_keys_are_read_from_indented_and_escaped_messages_once_each() {
        // The message indented on its own lines, as Loki prints it to stderr.
        let log = "level=info msg=starting\nfailed parsing config: /c.yaml: yaml: unmarshal errors:\n  line 3: field a not found in type x.T\n  line 9: field b not found in type y.U. Use `-config.expand-env=true` flag if you want to expand environment variables in your config file\n";
        let got = refused_keys(Component::Loki, log);
        let fields: Vec<_> = got
            .iter()
            .map(|k| (k.line, k.field.as_str(), k.in_type.as_deref()))
            .collect();
        assert_eq!(
            fields,
            vec![(Some(3), "a", Some("x.T")), (Some(9), "b", Some("y.U"))]
        );
        assert!(got[0].log_line.starts_with(
            "failed parsing config: /c.yaml: yaml: unmarshal errors: line 3: field a"
        ));
        assert_eq!(got[0].log_line, got[1].log_line);
        // The same message escaped inside one logfmt line, twice: each key once.
        let logfmt = r#"level=error msg="error" err="yaml: unmarshal errors:\n  line 3: field a not found in type x.T""#;
        let twice = format!("{logfmt}\n{logfmt}\n");
        let got = refused_keys(Component::Mimir, &twice);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(
            (
                got[0].line,
                got[0].field.as_str(),
                got[0].in_type.as_deref()
            ),
            (Some(3), "a", Some("x.T"))
        );
        assert_eq!(got[0].log_line, logfmt);
        assert!(refused_keys(Component::Tempo, "level=info msg=ready\n").is_empty());
    }

    /// Recorded from real servers; see `harness/tests/fixtures/recorded/README.md`.
    mod recorded {
        pub const LOKI_320: &str =
            include_str!("../../tests/fixtures/recorded/loki-3.2.0-defaults.excerpt.yaml");
        pub const LOKI_320_OTHER: &str = include_str!(
            "../../tests/fixtures/recorded/loki-3.2.0-defaults.other-container.excerpt.yaml"
        );
        pub const LOKI_346: &str =
            include_str!("../../tests/fixtures/recorded/loki-3.4.6-defaults.excerpt.yaml");
        pub const LOKI_320_BOGUS: &str =
            include_str!("../../tests/fixtures/recorded/loki-3.2.0-bogus-keys.log");
        pub const LOKI_346_REFUSES_32: &str =
            include_str!("../../tests/fixtures/recorded/loki-3.4.6-refuses-3.2-keys.log");
        pub const TEMPO_260: &str =
            include_str!("../../tests/fixtures/recorded/tempo-2.6.0-defaults.excerpt.yaml");
        pub const TEMPO_260_OTHER: &str = include_str!(
            "../../tests/fixtures/recorded/tempo-2.6.0-defaults.other-container.excerpt.yaml"
        );
        pub const TEMPO_272: &str =
            include_str!("../../tests/fixtures/recorded/tempo-2.7.2-defaults.excerpt.yaml");
        pub const TEMPO_272_REFUSES_26: &str =
            include_str!("../../tests/fixtures/recorded/tempo-2.7.2-refuses-2.6-keys.log");
        pub const TEMPO_2108: &str =
            include_str!("../../tests/fixtures/recorded/tempo-2.10.8-defaults.excerpt.yaml");
        pub const TEMPO_2108_OTHER: &str = include_str!(
            "../../tests/fixtures/recorded/tempo-2.10.8-defaults.other-container.excerpt.yaml"
        );
        pub const TEMPO_2108_REFUSES: &str =
            include_str!("../../tests/fixtures/recorded/tempo-2.10.8-refuses-2.6-and-2.7-keys.log");
        pub const TEMPO_260_BOGUS: &str =
            include_str!("../../tests/fixtures/recorded/tempo-2.6.0-bogus-keys.log");
        pub const CORTEX_1181: &str =
            include_str!("../../tests/fixtures/recorded/cortex-1.18.1-defaults.excerpt.yaml");
        pub const CORTEX_1181_OTHER: &str = include_str!(
            "../../tests/fixtures/recorded/cortex-1.18.1-defaults.other-container.excerpt.yaml"
        );
        pub const CORTEX_1211: &str =
            include_str!("../../tests/fixtures/recorded/cortex-1.21.1-defaults.excerpt.yaml");
        pub const CORTEX_1211_REFUSES_118: &str =
            include_str!("../../tests/fixtures/recorded/cortex-1.21.1-refuses-1.18-keys.log");
        pub const LOKI_BOGUS_CONFIG: &str =
            include_str!("../../tests/fixtures/recorded/loki-bogus.config.yaml");
        pub const LOKI_32_ERA_CONFIG: &str =
            include_str!("../../tests/fixtures/recorded/loki-3.2-era.config.yaml");
        pub const TEMPO_27_ERA_CONFIG: &str =
            include_str!("../../tests/fixtures/recorded/tempo-2.7-era.config.yaml");
        pub const CORTEX_118_ERA_CONFIG: &str =
            include_str!("../../tests/fixtures/recorded/cortex-1.18-era.config.yaml");
        pub const CORTEX_1181_BOGUS: &str =
            include_str!("../../tests/fixtures/recorded/cortex-1.18.1-bogus-keys.log");
    }

    /// The keys whose values differ at all, noise included.
    fn raw_differences(a: &str, b: &str) -> Vec<String> {
        let (a, b) = (flatten(a).unwrap(), flatten(b).unwrap());
        let mut keys: Vec<String> = a.keys().chain(b.keys()).cloned().collect();
        keys.sort();
        keys.dedup();
        keys.retain(|k| a.get(k) != b.get(k));
        keys
    }

    #[test]
    fn two_loki_containers_of_one_image_differ_only_in_noise() {
        let raw = raw_differences(recorded::LOKI_320, recorded::LOKI_320_OTHER);
        assert_eq!(
            raw,
            [
                "compactor.compactor_ring.instance_id",
                "ingester.lifecycler.id"
            ]
        );
        let (a, b) = (
            flatten(recorded::LOKI_320).unwrap(),
            flatten(recorded::LOKI_320_OTHER).unwrap(),
        );
        assert_eq!(a["ingester.lifecycler.id"], "38b549b7b1c7"); // the container's hostname
        assert_eq!(a["ingester.lifecycler.interface_names"], r#"["eth0"]"#);
        assert!(diff_defaults(&a, &b).is_empty());
    }

    #[test]
    fn loki_3_2_to_3_4_changes_real_defaults_and_no_noise() {
        let (old, new) = (
            flatten(recorded::LOKI_320).unwrap(),
            flatten(recorded::LOKI_346).unwrap(),
        );
        let changes = diff_defaults(&old, &new);
        assert!(changes.windows(2).all(|w| w[0].key < w[1].key));
        assert!(changes.iter().all(|c| !is_noise(&c.key)));
        assert!(
            raw_differences(recorded::LOKI_320, recorded::LOKI_346)
                .contains(&"ingester.lifecycler.id".to_string())
        );
        let find = |k: &str| changes.iter().find(|c| c.key == k).cloned();
        let s = |v: &str| Some(v.to_string());
        // a changed default
        assert_eq!(
            find("compactor.working_directory"),
            Some(DefaultChange {
                key: "compactor.working_directory".into(),
                baseline: s(""),
                candidate: s("/var/loki/compactor")
            })
        );
        // a removed key (which 3.4 refuses: see the log test below) and an added one
        assert_eq!(
            find("limits_config.bloom_ngram_length").unwrap().candidate,
            None
        );
        assert_eq!(
            find("limits_config.enforced_labels").unwrap().baseline,
            None
        );
        // a list of scalars, one leaf: `app_name` added
        let d = find("limits_config.discover_service_name").unwrap();
        assert!(!d.baseline.unwrap().contains("\"app_name\""));
        assert!(
            d.candidate
                .unwrap()
                .contains("\"application\",\"app_name\"")
        );
        assert_eq!(changes.len(), 56, "{changes:#?}");
    }

    #[test]
    fn two_tempo_containers_of_one_image_differ_only_in_noise() {
        let raw = raw_differences(recorded::TEMPO_260, recorded::TEMPO_260_OTHER);
        assert_eq!(
            raw,
            [
                "compactor.ring.instance_id",
                "distributor.ring.instance_id",
                "ingester.lifecycler.id"
            ]
        );
        let (a, b) = (
            flatten(recorded::TEMPO_260).unwrap(),
            flatten(recorded::TEMPO_260_OTHER).unwrap(),
        );
        // the header document is not read as a key; memberlist's node name is not
        // derived from the host unless asked (randomize_node_name)
        assert_eq!(a["server.http_listen_port"], "80");
        assert_eq!(a["memberlist.node_name"], "");
        assert!(diff_defaults(&a, &b).is_empty());
    }

    #[test]
    fn tempo_2_6_to_2_7_changes_real_defaults_and_no_noise() {
        let (old, new) = (
            flatten(recorded::TEMPO_260).unwrap(),
            flatten(recorded::TEMPO_272).unwrap(),
        );
        let changes = diff_defaults(&old, &new);
        let s = |v: &str| Some(v.to_string());
        let change = |k: &str, b: Option<String>, c: Option<String>| DefaultChange {
            key: k.into(),
            baseline: b,
            candidate: c,
        };
        assert!(changes.contains(&change(
            "query_frontend.search.ingester_shards",
            s("1"),
            s("3")
        )));
        assert!(changes.contains(&change(
            "overrides.defaults.read.max_bytes_per_tag_values_query",
            s("5000000"),
            s("1000000")
        )));
        // removed in 2.7, and refused by it (see the log test)
        assert!(changes.contains(&change(
            "query_frontend.querier_forget_delay",
            s("0s"),
            None
        )));
        assert!(changes.iter().all(|c| !is_noise(&c.key)));
        assert_eq!(changes.len(), 15, "{changes:#?}");
    }

    #[test]
    fn tempo_2_10_s_new_instance_ids_are_noise_and_its_defaults_changes_are_not() {
        // block_builder.instance_id is new in 2.10 and not a ring's: `**.instance_id`
        let raw = raw_differences(recorded::TEMPO_2108, recorded::TEMPO_2108_OTHER);
        assert_eq!(
            raw,
            [
                "block_builder.instance_id",
                "compactor.ring.instance_id",
                "distributor.ring.instance_id",
                "ingester.lifecycler.id"
            ]
        );
        let (a, b) = (
            flatten(recorded::TEMPO_2108).unwrap(),
            flatten(recorded::TEMPO_2108_OTHER).unwrap(),
        );
        assert!(diff_defaults(&a, &b).is_empty());

        let old = flatten(recorded::TEMPO_260).unwrap();
        let changes = diff_defaults(&old, &a);
        let find = |k: &str| changes.iter().find(|c| c.key == k).cloned();
        let pair = |k: &str| {
            let c = find(k).unwrap();
            (c.baseline, c.candidate)
        };
        let s = |v: &str| Some(v.to_string());
        assert_eq!(pair("server.http_listen_port"), (s("80"), s("3200")));
        assert_eq!(pair("ingester.trace_idle_period"), (s("10s"), s("5s")));
        // 2.7's max_span_attr_byte is 2.10's max_attribute_bytes
        assert_eq!(pair("distributor.max_attribute_bytes"), (None, s("2048")));
        // a list written as a comma-separated flag value in 2.10
        assert_eq!(pair("memberlist.join_members"), (s("[]"), s("")));
        assert!(changes.iter().all(|c| !is_noise(&c.key)));
        assert_eq!(changes.len(), 189, "{changes:#?}");
    }

    #[test]
    fn cortex_1_18_to_1_21_same_image_noise_and_real_changes() {
        let raw = raw_differences(recorded::CORTEX_1181, recorded::CORTEX_1181_OTHER);
        assert_eq!(
            raw,
            [
                "compactor.sharding_ring.instance_id",
                "ingester.lifecycler.id"
            ]
        );
        let (a, b) = (
            flatten(recorded::CORTEX_1181).unwrap(),
            flatten(recorded::CORTEX_1181_OTHER).unwrap(),
        );
        assert!(diff_defaults(&a, &b).is_empty());

        let new = flatten(recorded::CORTEX_1211).unwrap();
        let changes = diff_defaults(&a, &new);
        let pair = |k: &str| {
            let c = changes.iter().find(|c| c.key == k).unwrap();
            (c.baseline.clone(), c.candidate.clone())
        };
        let s = |v: &str| Some(v.to_string());
        // a boolean that became a section: the old leaf goes, the section's leaves come
        assert_eq!(pair("querier.thanos_engine"), (s("false"), None));
        assert_eq!(pair("querier.thanos_engine.enabled"), (None, s("false")));
        assert_eq!(
            pair("compactor.block_visit_marker_timeout"),
            (s("5m0s"), None)
        );
        assert!(changes.iter().all(|c| !is_noise(&c.key)));
        assert_eq!(changes.len(), 85, "{changes:#?}");
    }

    #[test]
    fn refused_keys_in_real_start_up_logs() {
        let got = |c, log| {
            refused_keys(c, log)
                .into_iter()
                .map(|k| (k.line, k.field, k.in_type))
                .collect::<Vec<_>>()
        };
        let k = |line: u32, field: &str, in_type: &str| {
            (Some(line), field.to_string(), Some(in_type.to_string()))
        };
        assert_eq!(
            got(Component::Loki, recorded::LOKI_320_BOGUS),
            vec![
                k(69, "bogus_limit", "validation.plain"),
                k(94, "foo", "loki.ConfigWrapper")
            ]
        );
        assert_eq!(
            got(Component::Loki, recorded::LOKI_346_REFUSES_32),
            vec![
                k(69, "bloom_ngram_length", "validation.plain"),
                k(70, "bloom_false_positive_rate", "validation.plain")
            ]
        );
        assert_eq!(
            got(Component::Tempo, recorded::TEMPO_260_BOGUS),
            vec![
                k(18, "bogus_ingester_knob", "ingester.Config"),
                k(19, "other_bogus", "ingester.Config"),
                k(88, "foo", "app.Config")
            ]
        );
        assert_eq!(
            got(Component::Tempo, recorded::TEMPO_272_REFUSES_26),
            vec![k(50, "querier_forget_delay", "frontend.Config")]
        );
        assert_eq!(
            got(Component::Tempo, recorded::TEMPO_2108_REFUSES),
            vec![
                k(9, "max_span_attr_byte", "distributor.Config"),
                k(51, "querier_forget_delay", "frontend.Config")
            ]
        );
        assert_eq!(
            got(Component::Mimir, recorded::CORTEX_1181_BOGUS),
            vec![
                k(64, "bogus_limit", "validation.plain"),
                k(69, "foo", "cortex.Config")
            ]
        );
        // a value of the wrong type: refused by line and type, the key left to the file
        assert_eq!(
            got(Component::Mimir, recorded::CORTEX_1211_REFUSES_118),
            vec![
                k(29, "wal_compression_enabled", "tsdb.TSDBConfig"),
                k(43, "", "engine.ThanosEngineConfig")
            ]
        );
        // the whole message, with its header, is each key's log line
        let first = &refused_keys(Component::Tempo, recorded::TEMPO_260_BOGUS)[0];
        assert!(first.log_line.starts_with("failed parsing config: failed to parse configFile /etc/tempo/config.yaml: yaml: unmarshal errors: line 18: field bogus_ingester_knob"), "{}", first.log_line);
    }

    #[test]
    fn key_at_line_names_the_refused_keys_in_the_recorded_configs() {
        let at = |text, line| key_at_line(text, line).unwrap_or_default();
        assert_eq!(
            at(recorded::LOKI_BOGUS_CONFIG, 69),
            "limits_config.bogus_limit"
        );
        assert_eq!(at(recorded::LOKI_BOGUS_CONFIG, 94), "foo");
        assert_eq!(
            at(recorded::LOKI_32_ERA_CONFIG, 70),
            "limits_config.bloom_false_positive_rate"
        );
        assert_eq!(
            at(recorded::TEMPO_27_ERA_CONFIG, 9),
            "distributor.max_span_attr_byte"
        );
        assert_eq!(
            at(recorded::TEMPO_27_ERA_CONFIG, 51),
            "query_frontend.querier_forget_delay"
        );
        assert_eq!(
            at(recorded::CORTEX_118_ERA_CONFIG, 29),
            "blocks_storage.tsdb.wal_compression_enabled"
        );
        assert_eq!(
            at(recorded::CORTEX_118_ERA_CONFIG, 43),
            "querier.thanos_engine"
        );
        // every refusal of the recorded logs names a key of its file
        for (config, log) in [
            (recorded::LOKI_32_ERA_CONFIG, recorded::LOKI_346_REFUSES_32),
            (recorded::TEMPO_27_ERA_CONFIG, recorded::TEMPO_2108_REFUSES),
            (
                recorded::CORTEX_118_ERA_CONFIG,
                recorded::CORTEX_1211_REFUSES_118,
            ),
        ] {
            for k in refused_keys(Component::Loki, log) {
                let path = at(config, k.line.unwrap());
                assert!(path.ends_with(&k.field), "{path} for {k:?}");
            }
        }
    }

    #[test]
    fn key_at_line_follows_lists_text_blocks_and_comments() {
        let text = "# top\na:\n  list:\n  - x: 1\n    y: 2\n  -   x: 3\n  - plain\n  text: |\n    not: a key\n  after: 1\n\"quoted.key\": 2\nurl: http://h:1\n";
        let at = |line| key_at_line(text, line);
        assert_eq!(at(1), None);
        assert_eq!(at(2).as_deref(), Some("a"));
        assert_eq!(at(4).as_deref(), Some("a.list[0].x"));
        assert_eq!(at(5).as_deref(), Some("a.list[0].y"));
        assert_eq!(at(6).as_deref(), Some("a.list[1].x"));
        assert_eq!(at(7).as_deref(), Some("a.list[2]"));
        assert_eq!(at(8).as_deref(), Some("a.text"));
        assert_eq!(at(9), None);
        assert_eq!(at(10).as_deref(), Some("a.after"));
        assert_eq!(at(11).as_deref(), Some(r#"["quoted.key"]"#));
        assert_eq!(at(12).as_deref(), Some("url"));
        assert_eq!(at(0), None);
    }
}
