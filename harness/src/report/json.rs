//! The JSON report (`--json PATH`): the [`Report`] as is, with its `schema_version`.

use std::io::Write;

use crate::core::report::Report;

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
            }],
            vec![CheckReport {
                id: "metrics.requests_total.exact".into(),
                title: "t".into(),
                signal: Signal::Metrics,
                component: Component::Mimir,
                needs: vec![Component::Mimir],
                status: CheckStatus::Pass,
                reason: "ok".into(),
                query: "q".into(),
                guide_query: None,
                time_to_visible_ms: Some(1200),
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
        assert_eq!(k["id"], "metrics.requests_total.exact");
        assert_eq!(k["component"], "mimir");
        assert_eq!(k["status"], "pass");
        assert_eq!(k["query"], "q");
        assert_eq!(k["time_to_visible_ms"], 1200);
        assert_eq!(v["summary"]["passed"], 1);
    }
}
