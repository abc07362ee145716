//! Reading a component's effective configuration: a field of the YAML it serves
//! (`/config`, `/status/config`), Prometheus-style durations (`1w`, `2w1d`,
//! `24h0m0s`, `168h`, `15d`), and what a served configuration says a backend can
//! never answer ([`tempo_metrics_unanswerable`]). Pure functions.

use serde_yaml_ng::Value;

/// The value at a dotted path (`limits_config.retention_period`) of a YAML document,
/// as text; `None` when the path is absent. Text before a `---` line (Tempo writes a
/// header there) is skipped.
pub fn yaml_field(text: &str, path: &str) -> Result<Option<String>, String> {
    let doc = match text.find("\n---\n") {
        Some(i)
            if !text
                .trim_start()
                .starts_with(|c: char| c.is_ascii_lowercase()) =>
        {
            &text[i + 5..]
        }
        _ => text,
    };
    let mut v: Value = serde_yaml_ng::from_str(doc).map_err(|e| e.to_string())?;
    for key in path.split('.') {
        match v.get(key) {
            Some(next) => v = next.clone(),
            None => return Ok(None),
        }
    }
    Ok(Some(match v {
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
        other => serde_yaml_ng::to_string(&other)
            .unwrap_or_default()
            .trim()
            .to_owned(),
    }))
}

/// Why Tempo, configured as `served` (its `/status/config`), can never answer a
/// TraceQL metrics query (`{…} | rate()`) with data: its metrics-generator computes
/// those from the local-blocks processor's blocks, and no tenant has that processor
/// enabled. `None` when the processor is enabled, or when a tenant could enable it
/// at run time (per-tenant or user-configurable overrides), or when the
/// configuration cannot be read: then only asking can tell.
///
/// ```
/// use lgtm_check::core::settings::tempo_metrics_unanswerable;
///
/// // The part of what Tempo 2.6 serves with the guide's tempo-config.yaml:
/// let without = "overrides:\n    defaults:\n        metrics_generator:\n            generate_native_histograms: classic\n    per_tenant_override_config: \"\"\n";
/// assert!(tempo_metrics_unanswerable(without).unwrap().contains("no local-blocks processor"));
/// let with = "overrides:\n    defaults:\n        metrics_generator:\n            processors:\n                - local-blocks\n";
/// assert_eq!(tempo_metrics_unanswerable(with), None);
/// ```
pub fn tempo_metrics_unanswerable(served: &str) -> Option<String> {
    const PROCESSORS: &str = "overrides.defaults.metrics_generator.processors";
    // Tempo's legacy (flat) overrides format.
    const LEGACY: &str = "overrides.metrics_generator_processors";
    let field = |path: &str| yaml_field(served, path).ok();
    let processors = field(PROCESSORS)?;
    let legacy = field(LEGACY)?;
    let enabled = |list: &Option<String>| {
        list.as_deref().is_some_and(|l| {
            l.lines()
                .any(|p| p.trim_start_matches(['-', ' ']) == "local-blocks")
        })
    };
    if enabled(&processors) || enabled(&legacy) {
        return None;
    }
    // Tempo always serves this field: without it, this is not Tempo's configuration.
    let per_tenant = field("overrides.per_tenant_override_config")??;
    let user_configurable = field("overrides.user_configurable_overrides.enabled")?;
    if !per_tenant.is_empty() || user_configurable.as_deref() == Some("true") {
        return None;
    }
    let listed = match processors.as_deref() {
        None | Some("") | Some("[]") => "none".to_string(),
        Some(l) => l.lines().map(str::trim).collect::<Vec<_>>().join(" "),
    };
    Some(format!(
        "no local-blocks processor is enabled ({PROCESSORS}: {listed}; no per-tenant or \
         user-configurable overrides), and TraceQL metrics are computed from its blocks"
    ))
}

/// Seconds of a duration written as Prometheus (`1w2d`, `15d`) or Go (`24h0m0s`,
/// `1h30m`, `500ms`) do.
pub fn parse_duration(s: &str) -> Option<f64> {
    let s = s.trim();
    if s == "0" {
        return Some(0.0);
    }
    let mut total = 0.0;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let n: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "y" => 365.0 * 86400.0,
            "w" => 7.0 * 86400.0,
            "d" => 86400.0,
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += n * unit;
        rest = &rest[unit_len..];
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_both_notations() {
        assert_eq!(parse_duration("1w"), Some(604800.0));
        assert_eq!(parse_duration("168h"), Some(604800.0));
        assert_eq!(parse_duration("24h0m0s"), Some(86400.0));
        assert_eq!(parse_duration("2w1d"), Some(15.0 * 86400.0));
        assert_eq!(parse_duration("15d"), Some(15.0 * 86400.0));
        assert_eq!(parse_duration("1h30m"), Some(5400.0));
        assert_eq!(parse_duration("500ms"), Some(0.5));
        assert_eq!(parse_duration("0s"), Some(0.0));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn fields_by_dotted_path() {
        let loki = "target: all\nlimits_config:\n  retention_period: 1w\ncompactor:\n  retention_enabled: true\n";
        assert_eq!(
            yaml_field(loki, "limits_config.retention_period")
                .unwrap()
                .as_deref(),
            Some("1w")
        );
        assert_eq!(
            yaml_field(loki, "compactor.retention_enabled")
                .unwrap()
                .as_deref(),
            Some("true")
        );
        assert_eq!(yaml_field(loki, "limits_config.nope").unwrap(), None);
        // Tempo's /status/config starts with a header line and `---`
        let tempo = "GET /status/config\n---\ncompactor:\n    compaction:\n        block_retention: 24h0m0s\n";
        assert_eq!(
            yaml_field(tempo, "compactor.compaction.block_retention")
                .unwrap()
                .as_deref(),
            Some("24h0m0s")
        );
        assert!(yaml_field("a: [", "a").is_err());
    }

    /// Tempo 2.6.0's `/status/config` (tests/data/SOURCES.md).
    fn served(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/tests/data/tempo/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn tempo_without_local_blocks_cannot_answer_traceql_metrics() {
        let why = tempo_metrics_unanswerable(&served("status_config_guide.yaml"))
            .expect("the guide's Tempo has no local-blocks processor");
        assert!(why.contains("no local-blocks processor"), "{why}");
        assert!(
            why.contains("overrides.defaults.metrics_generator.processors: none"),
            "{why}"
        );
        assert_eq!(
            tempo_metrics_unanswerable(&served("status_config_fixed.yaml")),
            None
        );
    }

    #[test]
    fn a_tenant_that_may_enable_local_blocks_leaves_it_to_the_query() {
        let guide = served("status_config_guide.yaml");
        let per_tenant = guide.replace(
            "per_tenant_override_config: \"\"",
            "per_tenant_override_config: /etc/overrides.yaml",
        );
        assert_ne!(per_tenant, guide);
        assert_eq!(tempo_metrics_unanswerable(&per_tenant), None);
        let legacy = "overrides:\n    metrics_generator_processors: [local-blocks]\n";
        assert_eq!(tempo_metrics_unanswerable(legacy), None);
        // Not Tempo's configuration, or not YAML: nothing can be concluded.
        assert_eq!(tempo_metrics_unanswerable("a: ["), None);
        assert_eq!(tempo_metrics_unanswerable("target: all\n"), None);
    }
}
