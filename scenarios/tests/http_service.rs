//! The http-service binary end to end, without any backend: what its /metrics
//! endpoint exposes after the workload equals what its manifest says it emitted (and,
//! with `--fault extra-count`, deliberately does not).

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

/// The http-service binary, without the caller's `OTEL_*`, `LGTM_CHECK_*` and
/// `LOKI_PASSWORD` (each test sets what it needs), so that no caller's setting
/// changes what it emits or where.
fn http_service() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_http-service"));
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("OTEL_") || k.starts_with("LGTM_CHECK_") || k == "LOKI_PASSWORD" {
            command.env_remove(&key);
        }
    }
    command
}

/// What one run of the binary left: its manifest, its /metrics body after the
/// workload, and its `manifest` event.
struct Run {
    manifest: Manifest,
    body: String,
    event: serde_json::Value,
}

/// Runs http-service with `--hold` and these extra arguments and environment, reads
/// /metrics once the manifest is written, then lets it exit.
fn run(name: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let dir =
        std::env::temp_dir().join(format!("lgtm-scenario-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let manifest_path = dir.join("m.json");
    let mut child = http_service()
        .args(["--run-id", name, "--hold", "--manifest"])
        .arg(&manifest_path)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("http-service starts");
    let mut metrics_addr = None;
    let mut event = serde_json::Value::Null;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let v: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        if v["event"] == "listening" {
            metrics_addr = Some(v["metrics"].as_str().unwrap().to_string());
        }
        if v["event"] == "manifest" {
            event = v;
            break;
        }
    }
    let addr = metrics_addr.expect("listening event");
    let body = http_get(&addr, "/metrics");
    drop(child.stdin.take());
    let _ = child.wait();
    let manifest = Manifest::read(&manifest_path).expect("the manifest was written");
    let _ = std::fs::remove_dir_all(&dir);
    Run {
        manifest,
        body,
        event,
    }
}

#[test]
fn metrics_endpoint_matches_the_manifest() {
    let Run {
        manifest,
        body,
        event,
    } = run("t-exposition", &[], &[]);
    assert_eq!(event["faults"], serde_json::json!([]));
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
    assert_eq!(total, 49, "the default workload sends 49 requests");
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

    // The standard process metrics, with the run's global labels.
    let run_labels = std::collections::BTreeMap::from([
        ("service".to_string(), manifest.service.clone()),
        ("run_id".to_string(), "t-exposition".to_string()),
    ]);
    for name in ["process_cpu_seconds_total", "process_resident_memory_bytes"] {
        assert!(
            manifest.metrics.process_metrics.iter().any(|n| n == name),
            "{name} in {:?}",
            manifest.metrics.process_metrics
        );
    }
    for name in &manifest.metrics.process_metrics {
        let values = value_of(name, &run_labels, None);
        assert_eq!(values.len(), 1, "{name} exposed once with the run's labels");
    }
    assert!(body.contains("# TYPE process_cpu_seconds_total counter\n"));
    let cpu = value_of("process_cpu_seconds_total", &run_labels, None);
    assert!(cpu[0] > 0.0, "process_cpu_seconds_total = {cpu:?}");
    let rss = value_of("process_resident_memory_bytes", &run_labels, None);
    assert!(rss[0] > 0.0, "process_resident_memory_bytes = {rss:?}");
}

/// `extra-count` (here from the environment, with a duplicate and an empty name) makes
/// the manifest claim one request more than /metrics exposes, in the first series only.
#[test]
fn extra_count_fault_makes_the_manifest_lie_by_one() {
    let Run {
        manifest,
        body,
        event,
    } = run(
        "t-fault",
        &["--fault", "extra-count"],
        &[("LGTM_CHECK_FAULTS", "extra-count,")],
    );
    assert_eq!(event["faults"], serde_json::json!(["extra-count"]));
    let exposed = parse_exposition(&body);
    let exposed_value = |labels: &std::collections::BTreeMap<String, String>| {
        exposed
            .iter()
            .find(|(n, l, _)| {
                n == "http_requests_total"
                    && labels
                        .iter()
                        .all(|(k, v)| l.contains(&(k.clone(), v.clone())))
            })
            .map(|(_, _, v)| *v)
            .expect("series exposed")
    };
    let diffs: Vec<f64> = manifest
        .metrics
        .counters
        .iter()
        .map(|c| c.value as f64 - exposed_value(&c.labels))
        .collect();
    assert_eq!(diffs[0], 1.0, "{:?}", manifest.metrics.counters[0]);
    assert!(diffs[1..].iter().all(|d| *d == 0.0), "{diffs:?}");
}

#[test]
fn unknown_fault_names_are_usage_errors() {
    let out = http_service()
        .args(["--run-id", "t", "--manifest", "/nonexistent/m.json"])
        .env("LGTM_CHECK_FAULTS", "extra-count,drop-spans")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown fault \"drop-spans\""), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing ran");
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

/// A Loki that takes no push (nothing listens on its port) is a finding, not an
/// abort: the manifest is written with every line emitted and a loss naming the
/// failed push, and only then does the scenario exit non-zero.
#[test]
fn an_unreachable_loki_still_gets_a_manifest_naming_the_loss_then_exit_1() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("lgtm-scenario-test-{}-lost", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let manifest_path = dir.join("m.json");
    let out = http_service()
        .args(["--run-id", "t-lost", "--manifest"])
        .arg(&manifest_path)
        .args(["--loki-url", &format!("http://127.0.0.1:{port}")])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not everything was delivered"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(r#""event":"manifest""#), "{stdout}");
    let manifest = Manifest::read(&manifest_path).expect("the manifest was written");
    let _ = std::fs::remove_dir_all(&dir);
    let lines: usize = manifest.logs.streams.iter().map(|s| s.lines.len()).sum();
    assert!(lines > 0, "the lines emitted are listed");
    let loss = manifest
        .losses
        .iter()
        .find(|l| l.signal == "logs" && l.place.starts_with("loki push failed"))
        .unwrap_or_else(|| panic!("no loss names the failed push: {:?}", manifest.losses));
    assert!(loss.count > 0 && loss.count <= lines as u64, "{loss:?}");
}
