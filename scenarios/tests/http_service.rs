//! The http-service binary end to end, without any backend: what its /metrics
//! endpoint exposes after the workload equals what its manifest says it emitted.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use lgtm_scenarios::manifest::Manifest;

/// One exposed sample: name, labels, value.
type Exposed = (String, Vec<(String, String)>, f64);

/// Parses `name{a="1",b="2"} value` lines of the Prometheus text format.
fn parse_exposition(text: &str) -> Vec<Exposed> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("value");
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split(',')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').expect("label");
                    (k.to_string(), v.trim_matches('"').to_string())
                })
                .collect();
            (name.to_string(), labels, value.parse().expect("number"))
        })
        .collect()
}

#[test]
fn metrics_endpoint_matches_the_manifest() {
    let dir = std::env::temp_dir().join(format!("lgtm-scenario-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let manifest_path = dir.join("m.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_http-service"))
        .args(["--run-id", "t-exposition", "--hold", "--manifest"])
        .arg(&manifest_path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("http-service starts");
    let mut metrics_addr = None;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let v: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        if v["event"] == "listening" {
            metrics_addr = Some(v["metrics"].as_str().unwrap().to_string());
        }
        if v["event"] == "manifest" {
            break;
        }
    }
    let addr = metrics_addr.expect("listening event");
    let body = http_get(&addr, "/metrics");
    drop(child.stdin.take());
    let _ = child.wait();

    let manifest = Manifest::read(&manifest_path).unwrap();
    let exposed = parse_exposition(&body);
    let value_of =
        |name: &str, labels: &std::collections::BTreeMap<String, String>, le: Option<&str>| {
            exposed
                .iter()
                .filter(|(n, l, _)| {
                    n == name
                        && labels
                            .iter()
                            .all(|(k, v)| l.contains(&(k.clone(), v.clone())))
                        && le.is_none_or(|le| l.contains(&("le".into(), le.into())))
                })
                .map(|(_, _, v)| *v)
                .collect::<Vec<_>>()
        };

    let total: u64 = manifest.metrics.counters.iter().map(|c| c.value).sum();
    assert_eq!(total, 47, "the default workload sends 47 requests");
    for c in &manifest.metrics.counters {
        assert_eq!(
            value_of(&c.name, &c.labels, None),
            vec![c.value as f64],
            "{c:?}"
        );
    }
    for h in &manifest.metrics.histograms {
        let count = value_of(&format!("{}_count", h.name), &h.labels, None);
        assert_eq!(count, vec![h.count() as f64], "{:?}", h.labels);
        let sum = value_of(&format!("{}_sum", h.name), &h.labels, None);
        assert!(
            (sum[0] - h.sum()).abs() <= 1e-9 * h.sum(),
            "{sum:?} vs {}",
            h.sum()
        );
        for (le, n) in h.cumulative_buckets() {
            let le = if le.is_infinite() {
                "+Inf".to_string()
            } else {
                le.to_string()
            };
            let got = value_of(&format!("{}_bucket", h.name), &h.labels, Some(&le));
            assert_eq!(got, vec![n as f64], "bucket le={le} of {:?}", h.labels);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    // axum sends a String body with Content-Length, not chunked.
    out.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}
