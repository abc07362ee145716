//! Push-back on the metrics path: scenarios do not push metrics, the Prometheus role
//! scrapes them and remote-writes to the Mimir role, retrying a refused write itself.
//! What the Mimir role answered is only in Prometheus's own log (`server returned
//! HTTP status 429 Too Many Requests: …`) and its own metrics
//! (`prometheus_remote_storage_samples_{total,retried_total,failed_total}`); this
//! module reads both after a run and makes them a [`PushBack`] of signal `metrics`,
//! counted in samples.
//!
//! Main items: [`read`], [`from_answers`] (pure).

use lgtm_check_recorder::manifest::{PushBack, limit_named_in};

use crate::core::component::Component;
use crate::stack::Stack;
use crate::stack::docker::Docker;

/// The sum over label sets of every sample of `name` in a Prometheus exposition.
fn sum_of(exposition: &str, name: &str) -> f64 {
    exposition
        .lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The last remote-write refusal in Prometheus's log: (status, the answer).
fn last_refusal(log: &str) -> Option<(String, String)> {
    const MARK: &str = "server returned HTTP status ";
    let line = log.lines().rev().find(|l| l.contains(MARK))?;
    let rest = &line[line.find(MARK)? + MARK.len()..];
    let (status, answer) = rest.split_once(": ").unwrap_or((rest, ""));
    // logfmt: the value ends at its closing quote.
    let answer = answer
        .trim_end()
        .trim_end_matches('"')
        .replace("\\\"", "\"")
        .replace("\\n", " ");
    Some((status.trim().to_owned(), answer.trim().to_owned()))
}

/// The push-back Prometheus's `/metrics` and log show; `None` when no write was
/// refused. Samples stand for pushes: `pushes`/`items` are the samples sent,
/// `refusals`/`retried_pushes` the samples retried, `abandoned_pushes` the samples
/// given up, `delivered` the samples accepted.
pub fn from_answers(exposition: &str, log: &str) -> Option<PushBack> {
    let sent = sum_of(exposition, "prometheus_remote_storage_samples_total") as u64;
    let retried = sum_of(
        exposition,
        "prometheus_remote_storage_samples_retried_total",
    ) as u64;
    let failed = sum_of(exposition, "prometheus_remote_storage_samples_failed_total") as u64;
    let refusal = last_refusal(log);
    if retried == 0 && failed == 0 && refusal.is_none() {
        return None;
    }
    let (status, answer) = refusal.unwrap_or_else(|| {
        (
            "refused".into(),
            "(no refusal in Prometheus's log; its counters say samples were retried or failed)"
                .into(),
        )
    });
    Some(PushBack {
        signal: "metrics".into(),
        component: Component::Mimir.name().into(),
        status,
        limit: limit_named_in(&answer),
        answer: answer.chars().take(500).collect(),
        pushes: sent + failed,
        refusals: retried + failed,
        retried_pushes: retried,
        abandoned_pushes: failed,
        items: sent + failed,
        delivered: sent,
    })
}

/// Reads the Prometheus role's metrics and log after a run.
pub async fn read(stack: &Stack) -> Option<PushBack> {
    let prometheus = stack.running().get(&Component::Prometheus)?;
    let http = reqwest::Client::new();
    let exposition = http
        .get(format!("{}/metrics", prometheus.api_url))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let log = match Docker::connect().await {
        Ok(d) => d.tail_logs(prometheus.container.id(), 300).await,
        Err(_) => String::new(),
    };
    from_answers(&exposition, &log)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_write_is_read_from_the_counters_and_the_log() {
        let exposition = "\
# TYPE prometheus_remote_storage_samples_total counter
prometheus_remote_storage_samples_total{remote_name=\"a\",url=\"u\"} 5000
prometheus_remote_storage_samples_retried_total{remote_name=\"a\",url=\"u\"} 1200
prometheus_remote_storage_samples_failed_total{remote_name=\"a\",url=\"u\"} 0
prometheus_remote_storage_samples_total_other 9
";
        // The shape of Prometheus 2.42's log line for a refused write.
        let log = r#"ts=2026-01-01T00:00:00Z caller=dedupe.go:112 component=remote level=warn remote_name=a url=u msg="Failed to send batch, retrying" err="server returned HTTP status 429 Too Many Requests: ingestion rate limit (500) exceeded while adding 1100 samples and 0 metadata""#;
        let p = from_answers(exposition, log).unwrap();
        assert_eq!(p.status, "429 Too Many Requests");
        assert_eq!(
            p.answer,
            "ingestion rate limit (500) exceeded while adding 1100 samples and 0 metadata"
        );
        assert_eq!(p.limit.as_deref(), Some("500"));
        assert_eq!((p.retried_pushes, p.delivered, p.items), (1200, 5000, 5000));
        assert!(from_answers("prometheus_remote_storage_samples_total 5\n", "").is_none());
    }
}
