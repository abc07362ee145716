//! Reads back what the backends hold of every line and span the scenarios' manifests
//! say were acknowledged, for [`crate::core::durability::account`]: each trace by id
//! from Tempo, each stream's lines from Loki over the scenario's window. Run once the
//! checks of a run with faults injected (`run --fault`) are done and every fault is
//! over (its container ready again, or given up on).
//!
//! Main item: [`audit`].

use std::time::{Duration, Instant};

use futures::StreamExt;
use lgtm_check_recorder::manifest::Manifest;

use crate::core::durability::{Delivery, Seen, account};
use crate::execute::{Backends, with_slot};

/// Trace lookups asked for at once (the checks' limit on lookups in flight also
/// holds).
const AT_ONCE: usize = 8;

/// Lines read per page of a stream.
const PAGE: usize = 5000;

/// What became of each manifest's acknowledged lines and spans. What is not visible
/// at the first reading is asked for again every second, up to `wait`: a component
/// that is ready again may not serve all it holds at once (seen: Tempo answering 404
/// for traces its other ingesters held, for a few seconds after one ingester came
/// back). What is visible then counts `late`; what is still not, `lost`.
pub async fn audit(backends: &Backends, manifests: &[Manifest], wait: Duration) -> Vec<Delivery> {
    let started = Instant::now();
    let mut first: Option<Vec<Delivery>> = None;
    loop {
        let mut now = Vec::new();
        for m in manifests {
            now.extend(account(m, &seen(backends, m).await));
        }
        let missing: u64 = now.iter().map(|d| d.lost + d.not_asked).sum();
        let first = first.get_or_insert_with(|| now.clone());
        if missing == 0 || started.elapsed() >= wait {
            for d in &mut now {
                let was = first
                    .iter()
                    .find(|f| f.scenario == d.scenario && f.signal == d.signal)
                    .map_or(0, |f| f.lost + f.not_asked);
                d.late = was.saturating_sub(d.lost + d.not_asked);
                if d.late > 0 {
                    d.late_ms = Some(started.elapsed().as_millis() as u64);
                }
            }
            return now;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// What Loki and Tempo hold of `manifest`'s streams and traces.
pub async fn seen(backends: &Backends, manifest: &Manifest) -> Seen {
    let mut seen = Seen::default();
    if let Some(tempo) = &backends.tempo {
        // Through the checks' own limit on lookups in flight, each asked up to
        // three times: an answer that is an error (Tempo's queue full, a restart)
        // is not a loss.
        let answers: Vec<_> = futures::stream::iter(&manifest.traces.traces)
            .map(|t| async move {
                let mut answer = Err(None);
                for attempt in 0..3 {
                    if attempt > 0 {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                    match with_slot(&backends.lookups.tempo, tempo.trace(&t.trace_id)).await {
                        Ok(spans) => {
                            answer = Ok(spans);
                            break;
                        }
                        Err(e) => answer = Err(Some(e)),
                    }
                }
                (t.trace_id.clone(), answer)
            })
            .buffer_unordered(AT_ONCE)
            .collect()
            .await;
        for (id, answer) in answers {
            match answer {
                Ok(spans) => {
                    seen.traces.insert(
                        id,
                        spans.map(|s| s.into_iter().map(|s| s.span_id).collect()),
                    );
                }
                Err(e) => seen.errors.push(format!(
                    "tempo, trace {id}: {}",
                    e.map(|e| e.to_string()).unwrap_or_default()
                )),
            }
        }
    }
    if let Some(loki) = &backends.loki {
        // The lines were stamped while the scenario emitted: a minute either side.
        let start_ns = u128::from(manifest.started_at_unix_ms.saturating_sub(60_000)) * 1_000_000;
        let end_ns = u128::from(manifest.finished_at_unix_ms + 60_000) * 1_000_000;
        for stream in &manifest.logs.streams {
            let matchers: Vec<String> = stream
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v:?}"))
                .collect();
            let selector = format!("{{{}}}", matchers.join(", "));
            match loki
                .query_range_all(&selector, start_ns, end_ns, PAGE)
                .await
            {
                Ok(lines) => {
                    seen.streams.insert(
                        stream.labels.clone(),
                        lines.into_iter().map(|l| l.line).collect(),
                    );
                }
                Err(e) => seen.errors.push(format!("loki, {selector}: {e}")),
            }
        }
    }
    seen
}
