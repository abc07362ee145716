//! Every request a finished run's catalog sends is the same whenever it is sent: the
//! catalog's queries are run twice, some time apart, through the real `execute` and
//! clients against a sink that records each request and answers 503 (so that no
//! answer is judged, and each query sends its first request), and both recordings
//! must be identical, with an explicit time on every instant query and a start and
//! end on every range query. Before, the log and trace windows' end followed the
//! clock, and LogQL metric queries and PromQL `EvalAt::Now` sent no time at all (the
//! server's "now").

use std::sync::{Arc, Mutex};
use std::time::Duration;

use lgtm_check::clients::Endpoint;
use lgtm_check::core::catalog_grafana::LoadedDashboard;
use lgtm_check::core::component::Component;
use lgtm_check::core::plan::ConfigSet;
use lgtm_check::core::scenarios::{SCENARIOS, checks_for};
use lgtm_check::execute::{Backends, execute};
use lgtm_check::stack::configs::catalog_context;
use lgtm_check_recorder::manifest::Manifest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A finished run's manifest: lines, a trace, counters and a histogram.
fn finished_run() -> Manifest {
    serde_json::from_str(include_str!("data/manifests/finished-run.json")).unwrap()
}

/// Serves on a free port; records `METHOD target body` of every request and answers
/// 503.
async fn sink() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let request = loop {
                    let Ok(n) = conn.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    let Some((head, body)) = text.split_once("\r\n\r\n") else {
                        continue;
                    };
                    let length = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if body.len() >= length {
                        let line = head.lines().next().unwrap_or_default();
                        let target = line.rsplit_once(' ').map(|(t, _)| t).unwrap_or(line);
                        break format!("{target} {body}");
                    }
                };
                record.lock().unwrap().push(request);
                let _ = conn
                    .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (url, seen)
}

/// Runs every query of the run's catalog once and returns the requests, sorted.
async fn requests_of(m: &Manifest) -> Vec<String> {
    let (url, seen) = sink().await;
    let http = reqwest::Client::new();
    let mut backends = Backends::from_endpoints(
        &http,
        [
            Component::Loki,
            Component::Tempo,
            Component::Mimir,
            Component::Prometheus,
            Component::Grafana,
        ]
        .map(|c| Endpoint::new(c, url.clone())),
    );
    backends.http = Some(http);
    // As when Grafana serves the provisioned dashboard, so its checks are made too.
    let provisioned = catalog_context(ConfigSet::Fixed, LoadedDashboard::NotRead).unwrap();
    let ctx = catalog_context(
        ConfigSet::Fixed,
        LoadedDashboard::Loaded(provisioned.dashboard.clone()),
    )
    .unwrap();
    for spec in &SCENARIOS {
        for c in checks_for(spec, m, &ctx, None) {
            let _ = execute(&c.query, c.component, &backends).await;
            if let Some(control) = &c.control {
                let _ = execute(&control.query, c.component, &backends).await;
            }
        }
    }
    let mut out = seen.lock().unwrap().clone();
    out.sort();
    out
}

fn decoded(s: &str) -> String {
    s.replace("%3A", ":").replace("%2F", "/")
}

#[tokio::test]
async fn a_finished_runs_requests_do_not_depend_on_when_they_are_sent() {
    let m = finished_run();
    let first = requests_of(&m).await;
    // later: the old windows' end (now + 1 s) would have moved
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let again = requests_of(&m).await;
    assert_eq!(first, again);

    let has = |r: &str, p: &str| {
        r.contains(&format!("?{p}="))
            || r.contains(&format!("&{p}="))
            || r.contains(&format!(" {p}="))
    };
    let mut kinds = std::collections::BTreeSet::new();
    for r in &first {
        let r = decoded(r);
        let mut words = r.split(' ');
        let method = words.next().unwrap_or_default();
        let target = words.next().unwrap_or_default();
        let path = format!("{method} {}", target.split('?').next().unwrap_or_default());
        match path.as_str() {
            // Prometheus API (form body) and Loki instant queries: a time
            "POST /api/v1/query" | "GET /loki/api/v1/query" => {
                assert!(has(&r, "time"), "no time: {r}")
            }
            "GET /loki/api/v1/query_range" | "GET /api/search" | "GET /api/metrics/query_range" => {
                assert!(has(&r, "start") && has(&r, "end"), "no window: {r}")
            }
            "POST /api/ds/query" => {
                assert!(
                    r.contains("\"from\":\"1732539") && r.contains("\"to\":\"1732540"),
                    "{r}"
                )
            }
            _ => {}
        }
        kinds.insert(path);
    }
    for kind in [
        "POST /api/v1/query",
        "GET /loki/api/v1/query",
        "GET /loki/api/v1/query_range",
        "GET /api/search",
    ] {
        assert!(kinds.contains(kind), "no {kind} request among {kinds:?}");
    }
}
