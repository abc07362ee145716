//! The JSON report (`--json PATH`): the [`Report`] as is, with its `schema_version`
//! (fields documented in the manual: `docs/src/reports.md`, "The JSON report").

use std::io::Write;

use crate::core::report::Report;

/// Writes `report` as pretty-printed JSON, then a newline.
pub fn render(report: &Report, out: &mut impl Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report).map_err(std::io::Error::other)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::check::Signal;
    use crate::core::component::Component;
    use crate::core::report::*;

    #[test]
    fn has_the_documented_fields() {
        let report = Report::new(
            "r1".into(),
            Default::default(),
            Default::default(),
            vec![ComponentReport {
                version: None,
                name: Component::Loki,
                image: "grafana/loki:3.2.0".into(),
                status: ComponentStatus::Skipped,
                ready_ms: None,
                reason: Some("image missing".into()),
                stand_in: None,
                refused_guide_config: None,
                died: None,
            }],
            vec![CheckReport {
                id: "metrics.http_requests_total.exact".into(),
                title: "t".into(),
                signal: Signal::Metrics,
                component: Component::Mimir,
                needs: vec![Component::Mimir],
                status: CheckStatus::Pass,
                reason: "ok".into(),
                query: "q".into(),
                guide_query: None,
                time_to_visible_ms: Some(1200),
                skipped_because: vec![],
            }],
        );
        let mut buf = Vec::new();
        render(&report, &mut buf).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["schema_version"], 1);
        assert_eq!(v["run_id"], "r1");
        let c = &v["components"][0];
        assert_eq!(
            (c["name"].as_str(), c["status"].as_str()),
            (Some("loki"), Some("skipped"))
        );
        assert!(c["ready_ms"].is_null());
        assert_eq!(c["reason"], "image missing");
        let k = &v["checks"][0];
        assert_eq!(k["id"], "metrics.http_requests_total.exact");
        assert_eq!(k["component"], "mimir");
        assert_eq!(k["status"], "pass");
        assert_eq!(k["query"], "q");
        assert_eq!(k["time_to_visible_ms"], 1200);
        assert_eq!(v["summary"]["passed"], 1);
        assert!(k.get("skipped_because").is_none(), "only on skipped checks");
        assert_eq!(v["skips"], serde_json::json!([]));
        assert!(v["nothing_verified"].is_null());
    }

    #[test]
    fn skips_are_grouped_by_cause_and_nothing_verified_says_why() {
        let report = Report::new(
            "r1".into(),
            Default::default(),
            Default::default(),
            vec![ComponentReport {
                version: None,
                name: Component::Loki,
                image: "grafana/loki:3.2.0".into(),
                status: ComponentStatus::Skipped,
                ready_ms: None,
                reason: Some(ComponentReport::image_missing_reason(
                    "grafana/loki:3.2.0",
                    "no such host",
                )),
                stand_in: None,
                refused_guide_config: None,
                died: None,
            }],
            ["http.logs.exact", "logql.guide.regex"]
                .into_iter()
                .map(|id| CheckReport {
                    id: id.into(),
                    title: "t".into(),
                    signal: Signal::Logs,
                    component: Component::Loki,
                    needs: vec![Component::Loki],
                    status: CheckStatus::Skip,
                    reason: "needs loki, which is not running".into(),
                    query: "q".into(),
                    guide_query: None,
                    time_to_visible_ms: None,
                    skipped_because: vec![Component::Loki],
                })
                .collect(),
        );
        let mut buf = Vec::new();
        render(&report, &mut buf).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(
            v["checks"][0]["skipped_because"],
            serde_json::json!(["loki"])
        );
        assert_eq!(
            v["skips"],
            serde_json::json!([{
                "cause": "image grafana/loki:3.2.0 is not available",
                "detail": "no such host",
                "components": ["loki"],
                "checks": ["http.logs.exact", "logql.guide.regex"]
            }])
        );
        assert!(
            v["nothing_verified"]
                .as_str()
                .unwrap()
                .starts_with("nothing was verified: every component needed by every check was skipped: image grafana/loki:3.2.0 is not available (loki)"),
            "{}",
            v["nothing_verified"]
        );
    }
}
