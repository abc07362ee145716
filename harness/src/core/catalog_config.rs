//! Checks of the components' effective configuration against the guide: retention
//! (section "保留策略": Loki 168h, Tempo 24h, Mimir 15d), read from the running
//! processes, reported field by field.
//!
//! Main function: [`retention_checks`].

use super::check::{Check, Query, Signal};
use super::component::Component;
use super::expect::Expectation;

fn config_check(
    id: &str,
    title: &str,
    c: Component,
    field: &str,
    guide: &str,
    expect: Expectation,
) -> Check {
    Check {
        id: id.into(),
        title: title.into(),
        signal: match c {
            Component::Loki => Signal::Logs,
            Component::Tempo => Signal::Traces,
            _ => Signal::Metrics,
        },
        component: c,
        needs: vec![c],
        query: Query::ConfigField {
            field: field.into(),
        },
        guide_original: Some(guide.into()),
        expect,
    }
}

/// The guide's retention, each compared with what the running component reports.
pub fn retention_checks() -> Vec<Check> {
    let days = |d: f64| d * 86400.0;
    vec![
        config_check(
            "retention.loki",
            "Loki keeps logs 7 days (limits_config.retention_period)",
            Component::Loki,
            "limits_config.retention_period",
            "limits_config: retention_period: 168h",
            Expectation::Duration {
                secs: days(7.0),
                written: "168h".into(),
            },
        ),
        config_check(
            "retention.loki.enforced",
            "Loki's compactor enforces that retention (the guide does not enable it)",
            Component::Loki,
            "compactor.retention_enabled",
            "(not in the guide: retention_period alone deletes nothing)",
            Expectation::Text("true".into()),
        ),
        config_check(
            "retention.tempo",
            "Tempo keeps blocks 24 hours (compactor.compaction.block_retention)",
            Component::Tempo,
            "compactor.compaction.block_retention",
            "compactor: compaction: block_retention: 24h",
            Expectation::Duration {
                secs: days(1.0),
                written: "24h".into(),
            },
        ),
        config_check(
            "retention.mimir",
            "Mimir keeps blocks 15 days (limits.compactor_blocks_retention_period)",
            Component::Mimir,
            "limits.compactor_blocks_retention_period",
            "limits: compactor_blocks_retention_period: 15d",
            Expectation::Duration {
                secs: days(15.0),
                written: "15d".into(),
            },
        ),
    ]
}
