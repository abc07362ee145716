//! What became of every item a run's scenarios pushed, per signal, when faults were
//! injected: acknowledged and visible, acknowledged but lost (the durability
//! failure, named with ids), pushed again after a refusal, never acknowledged (the
//! client gave up). Plain data and pure functions over the scenarios' manifests (what
//! was acknowledged) and what the backends hold of it ([`Seen`]), read by
//! `crate::durability` after the checks.
//!
//! Logs and traces are counted item by item (lines, spans). Metrics are not: what a
//! metrics pipeline acknowledges is a series' samples, and the exact checks of each
//! series' final value say whether they arrived.
//!
//! Main items: [`Delivery`], [`Seen`], [`account`].

use std::collections::{BTreeMap, BTreeSet};

use lgtm_check_recorder::manifest::{Labels, Manifest};
use serde::Serialize;

/// What the backends hold of one scenario's acknowledged items.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Seen {
    /// Per trace id of the manifest: the span ids Tempo returns for it (`None`: the
    /// trace is unknown to it; absent: it could not be asked).
    pub traces: BTreeMap<String, Option<BTreeSet<String>>>,
    /// Per stream of the manifest (by its labels): the lines Loki returns for it
    /// (absent: it could not be asked).
    pub streams: BTreeMap<Labels, Vec<String>>,
    /// Why something could not be asked (component, query and error), when so.
    pub errors: Vec<String>,
}

/// One signal's items of one scenario, from pushed to visible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// The scenario.
    pub scenario: String,
    /// `logs` (lines) or `traces` (spans).
    pub signal: String,
    /// Items the backend acknowledged: the spans the manifest lists (it lists only
    /// exported ones); the lines it lists less those its losses name (a Loki push
    /// client that gave up cannot say which of its lines arrived, so the manifest
    /// lists them all and counts them lost).
    pub acknowledged: u64,
    /// Of those, items the backend returns (where which lines were acknowledged is
    /// unknown: as many as were acknowledged, at most).
    pub visible: u64,
    /// Items the backend returns beyond those acknowledged: in a push whose answer
    /// never came (the backend died mid-push) or was given up on.
    pub arrived_unacknowledged: u64,
    /// Acknowledged items it does not return: the durability failure.
    pub lost: u64,
    /// Which: trace ids (with the spans missing of each) or stream selectors with
    /// the lines missing; at most ten, `lost` counts them all.
    pub lost_ids: Vec<String>,
    /// Items whose push was refused at least once and then retried (`None`: the
    /// client does not say).
    pub retried: Option<u64>,
    /// Items never acknowledged: the client gave up (the manifest's losses).
    pub never_acknowledged: u64,
    /// Items not counted because the backend could not be asked.
    pub not_asked: u64,
    /// Why not (the first error: component, query and its answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_asked_because: Option<String>,
    /// Of the visible, items that were not at the first reading after the faults,
    /// only when asked again.
    pub late: u64,
    /// How long the reading waited for them, in ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub late_ms: Option<u64>,
}

/// How many lost ids a [`Delivery`] names.
pub const LOST_IDS_SHOWN: usize = 10;

fn selector(labels: &Labels) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

/// What became of the acknowledged logs and spans of one scenario's `manifest`,
/// given what the backends hold of it.
///
/// ```
/// use std::collections::{BTreeMap, BTreeSet};
/// use lgtm_check::core::durability::{Seen, account};
/// use lgtm_check_recorder::manifest::{Manifest, SpanRecord, TraceRecord};
///
/// let mut m = Manifest::new("http-service", "r1", "rust-app");
/// let span = |id: &str| SpanRecord { span_id: id.into(), ..SpanRecord::default() };
/// m.traces.traces.push(TraceRecord { trace_id: "aa".into(), spans: vec![span("1"), span("2")] });
/// m.traces.traces.push(TraceRecord { trace_id: "bb".into(), spans: vec![span("3")] });
/// let mut seen = Seen::default();
/// seen.traces.insert("aa".into(), Some(BTreeSet::from(["1".to_string()])));
/// seen.traces.insert("bb".into(), None);
/// let d = account(&m, &seen);
/// let traces = d.iter().find(|d| d.signal == "traces").unwrap();
/// assert_eq!((traces.acknowledged, traces.visible, traces.lost), (3, 1, 2));
/// assert_eq!(traces.lost_ids, ["aa (1 of 2 spans missing)", "bb (unknown to the backend)"]);
/// ```
pub fn account(manifest: &Manifest, seen: &Seen) -> Vec<Delivery> {
    let never = |signal: &str| manifest.losses_of(signal).map(|l| l.count).sum::<u64>();
    let retried = |signal: &str| {
        let p: Vec<_> = manifest
            .pushback
            .iter()
            .filter(|p| p.signal == signal)
            .collect();
        // Items are counted per push, not per retry: the retried pushes' share of
        // the items, rounded up.
        Some(
            p.iter()
                .map(|p| {
                    (p.items * p.retried_pushes)
                        .div_ceil(p.pushes.max(1))
                        .min(p.items)
                })
                .sum(),
        )
    };
    let mut out = Vec::new();

    let blank = |signal: &str| Delivery {
        scenario: manifest.scenario.clone(),
        signal: signal.into(),
        acknowledged: 0,
        visible: 0,
        arrived_unacknowledged: 0,
        lost: 0,
        lost_ids: Vec::new(),
        retried: retried(signal),
        never_acknowledged: never(signal),
        not_asked: 0,
        not_asked_because: None,
        late: 0,
        late_ms: None,
    };
    // Per signal: items listed, listed items found, and what is missing of each
    // trace or stream; then what was acknowledged of the listed.
    let mut traces = blank("traces");
    let (mut listed, mut found) = (0, 0);
    let mut missing_ids = Vec::new();
    for t in &manifest.traces.traces {
        let want = t.spans.len() as u64;
        match seen.traces.get(&t.trace_id) {
            None => traces.not_asked += want,
            Some(None) => {
                listed += want;
                missing_ids.push(format!("{} (unknown to the backend)", t.trace_id));
            }
            Some(Some(got)) => {
                listed += want;
                let missing = t.spans.iter().filter(|s| !got.contains(&s.span_id)).count() as u64;
                found += want - missing;
                if missing > 0 {
                    missing_ids.push(format!(
                        "{} ({missing} of {want} spans missing)",
                        t.trace_id
                    ));
                }
            }
        }
    }
    settle(&mut traces, listed, 0, found, missing_ids);

    let mut logs = blank("logs");
    let (mut listed, mut found) = (0, 0);
    let mut missing_ids = Vec::new();
    for stream in &manifest.logs.streams {
        let want = stream.lines.len() as u64;
        let Some(got) = seen.streams.get(&stream.labels) else {
            logs.not_asked += want;
            continue;
        };
        listed += want;
        // Each stored line answers for one listed line whose message it holds.
        let mut unused: Vec<&str> = got.iter().map(String::as_str).collect();
        let mut missing = Vec::new();
        for line in &stream.lines {
            match unused.iter().position(|l| l.contains(&line.message)) {
                Some(i) => {
                    unused.swap_remove(i);
                    found += 1;
                }
                None => missing.push(line.message.as_str()),
            }
        }
        if !missing.is_empty() {
            missing_ids.push(format!(
                "{} ({} of {want} lines missing, e.g. {:?})",
                selector(&stream.labels),
                missing.len(),
                missing[0]
            ));
        }
    }
    let unconfirmed = logs.never_acknowledged;
    settle(&mut logs, listed, unconfirmed, found, missing_ids);

    for mut d in [logs, traces] {
        d.lost_ids.truncate(LOST_IDS_SHOWN);
        if d.not_asked > 0 {
            let component = if d.signal == "logs" { "loki" } else { "tempo" };
            d.not_asked_because = Some(
                seen.errors
                    .iter()
                    .find(|e| e.starts_with(component))
                    .cloned()
                    .unwrap_or_else(|| format!("{component} is not running")),
            );
        }
        if d.acknowledged + d.never_acknowledged + d.not_asked > 0 {
            out.push(d);
        }
    }
    out
}

/// Fills `d` from `listed` items asked for, `unconfirmed` of them never
/// acknowledged (which, unknown), `found` of them returned, and what is missing.
fn settle(d: &mut Delivery, listed: u64, unconfirmed: u64, found: u64, missing_ids: Vec<String>) {
    d.acknowledged = listed.saturating_sub(unconfirmed);
    d.visible = found.min(d.acknowledged);
    d.arrived_unacknowledged = found - d.visible;
    d.lost = d.acknowledged - d.visible;
    if d.lost > 0 {
        d.lost_ids = missing_ids;
    }
}

/// The run's deliveries summed per signal (the scenario is `all`).
///
/// ```
/// use lgtm_check::core::durability::{Delivery, per_signal};
/// let d = |s: &str, n| Delivery { scenario: s.into(), signal: "logs".into(), acknowledged: n,
///     visible: n, arrived_unacknowledged: 0, lost: 0, lost_ids: vec![], retried: Some(0),
///     never_acknowledged: 0,
///     not_asked: 0, not_asked_because: None, late: 0, late_ms: None };
/// let all = per_signal(&[d("a", 2), d("b", 3)]);
/// assert_eq!((all.len(), all[0].acknowledged, all[0].scenario.as_str()), (1, 5, "all"));
/// ```
pub fn per_signal(deliveries: &[Delivery]) -> Vec<Delivery> {
    let mut by: BTreeMap<&str, Delivery> = BTreeMap::new();
    for d in deliveries {
        let sum = by.entry(d.signal.as_str()).or_insert_with(|| Delivery {
            scenario: "all".into(),
            signal: d.signal.clone(),
            acknowledged: 0,
            visible: 0,
            arrived_unacknowledged: 0,
            lost: 0,
            lost_ids: Vec::new(),
            retried: Some(0),
            never_acknowledged: 0,
            not_asked: 0,
            not_asked_because: None,
            late: 0,
            late_ms: None,
        });
        sum.acknowledged += d.acknowledged;
        sum.visible += d.visible;
        sum.arrived_unacknowledged += d.arrived_unacknowledged;
        sum.lost += d.lost;
        sum.never_acknowledged += d.never_acknowledged;
        sum.not_asked += d.not_asked;
        sum.late += d.late;
        sum.late_ms = sum.late_ms.max(d.late_ms);
        if sum.not_asked_because.is_none() {
            sum.not_asked_because = d.not_asked_because.clone();
        }
        sum.retried = match (sum.retried, d.retried) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        for id in &d.lost_ids {
            if sum.lost_ids.len() < LOST_IDS_SHOWN {
                sum.lost_ids.push(format!("{}: {id}", d.scenario));
            }
        }
    }
    by.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lgtm_check_recorder::manifest::{LogLine, LogStream, Loss};

    fn manifest_with_lines(messages: &[&str]) -> Manifest {
        let mut m = Manifest::new("s", "r", "svc");
        m.logs.streams.push(LogStream {
            labels: Labels::from([("run_id".to_string(), "r".to_string())]),
            lines: messages
                .iter()
                .map(|msg| LogLine {
                    level: "info".into(),
                    message: (*msg).into(),
                    fields: Default::default(),
                })
                .collect(),
        });
        m
    }

    #[test]
    fn a_line_stored_once_answers_for_one_acknowledged_line_only() {
        let m = manifest_with_lines(&["hello", "hello", "bye"]);
        let mut seen = Seen::default();
        seen.streams.insert(
            m.logs.streams[0].labels.clone(),
            vec![r#"{"message":"hello"}"#.into()],
        );
        let d = account(&m, &seen);
        assert_eq!((d[0].acknowledged, d[0].visible, d[0].lost), (3, 1, 2));
        assert!(d[0].lost_ids[0].starts_with(r#"{run_id="r"} (2 of 3 lines missing"#));
    }

    #[test]
    fn lines_a_given_up_push_may_have_delivered_are_not_counted_acknowledged() {
        // 3 lines listed, the push client gave up on 2 (which, unknown).
        let mut m = manifest_with_lines(&["a", "b", "c"]);
        m.losses.push(Loss::new("logs", "loki push failed", 2));
        let mut seen = Seen::default();
        let labels = m.logs.streams[0].labels.clone();
        seen.streams
            .insert(labels.clone(), vec!["a".into(), "b".into()]);
        let d = &account(&m, &seen)[0];
        assert_eq!(
            (d.acknowledged, d.visible, d.arrived_unacknowledged, d.lost),
            (1, 1, 1, 0)
        );
        // Nothing returned: the one acknowledged line is lost.
        seen.streams.insert(labels, vec![]);
        let d = &account(&m, &seen)[0];
        assert_eq!((d.acknowledged, d.visible, d.lost), (1, 0, 1));
        assert_eq!(d.lost_ids.len(), 1);
    }

    #[test]
    fn what_could_not_be_asked_is_neither_visible_nor_lost() {
        let mut m = manifest_with_lines(&["a"]);
        m.losses.push(Loss::new("logs", "Loki push given up", 4));
        let d = account(&m, &Seen::default());
        assert_eq!(
            (
                d[0].visible,
                d[0].lost,
                d[0].not_asked,
                d[0].never_acknowledged
            ),
            (0, 0, 1, 4)
        );
    }
}
