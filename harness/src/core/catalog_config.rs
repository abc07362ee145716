//! Checks of the components' effective configuration against the guide: retention
//! (section "保留策略": Loki 168h, Tempo 24h, Mimir 15d), read from the configuration
//! the running processes serve, field by field. They read settings only: no check
//! here observes data being deleted, and their ids (`config.<component>.<field>`)
//! say so.
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
        control: None,
    }
}

/// The guide's retention settings, each compared with the effective configuration the
/// running component serves (not with what it deletes).
pub fn retention_checks() -> Vec<Check> {
    let days = |d: f64| d * 86400.0;
    vec![
        config_check(
            "config.loki.retention_period",
            "Loki's effective limits_config.retention_period is the guide's 168h (a setting read back, not deletion observed)",
            Component::Loki,
            "limits_config.retention_period",
            "limits_config: retention_period: 168h",
            Expectation::Duration {
                secs: days(7.0),
                written: "168h".into(),
            },
        ),
        config_check(
            "config.loki.compactor_retention_enabled",
            "Loki's effective compactor.retention_enabled is true, without which retention_period deletes nothing (the guide does not set it; a setting read back, not deletion observed)",
            Component::Loki,
            "compactor.retention_enabled",
            "(not in the guide: retention_period alone deletes nothing)",
            Expectation::Text("true".into()),
        ),
        config_check(
            "config.tempo.block_retention",
            "Tempo's effective compactor.compaction.block_retention is the guide's 24h (a setting read back, not deletion observed)",
            Component::Tempo,
            "compactor.compaction.block_retention",
            "compactor: compaction: block_retention: 24h",
            Expectation::Duration {
                secs: days(1.0),
                written: "24h".into(),
            },
        ),
        config_check(
            "config.mimir.compactor_blocks_retention_period",
            "Mimir's effective limits.compactor_blocks_retention_period is the guide's 15d (a setting read back, not deletion observed)",
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
