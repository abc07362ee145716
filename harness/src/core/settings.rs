//! Reading a component's effective configuration: a field of the YAML it serves
//! (`/config`, `/status/config`) and Prometheus-style durations (`1w`, `2w1d`,
//! `24h0m0s`, `168h`, `15d`). Pure functions.

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
}
