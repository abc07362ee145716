//! `lgtm-check tap`: the recording gateway on its own, in front of a running
//! deployment given as `lgtm-check run --target external` gives it. A program sends
//! its telemetry to the tap; each request goes on to the deployment, and on SIGINT or
//! SIGTERM the record ([`Record`]) is written to `--record`.
//!
//! Thin: [`upstreams`] turns the target into the gateway's [`Upstreams`] (pure),
//! [`run`] starts the [`Gateway`], prints where it listens and where each signal
//! goes, waits for the stop signal, writes the record and prints per signal what
//! was received, acknowledged and refused ([`summary`]).

use std::io::Write;
use std::path::PathBuf;

use crate::clients::Auth;
use crate::core::record::Record;
use crate::core::target::{ExternalTarget, Service};
use crate::external::Deployment;
use crate::gateway::{Gateway, GatewayConfig, GatewayError, MetricsUpstream, Upstream, Upstreams};

/// `lgtm-check tap`'s own flags (the target's are `run`'s).
#[derive(clap::Args, Debug, Clone)]
pub struct TapArgs {
    /// Where the record (JSON) is written when the tap stops.
    #[arg(long, value_name = "PATH")]
    pub record: PathBuf,
    /// The address to listen on (0.0.0.0 when containers must reach it).
    #[arg(long, value_name = "HOST", default_value = "127.0.0.1")]
    pub listen: String,
    /// The OTLP/gRPC port.
    #[arg(long, value_name = "PORT", default_value_t = 4317)]
    pub grpc_port: u16,
    /// The HTTP port: OTLP/HTTP (`/v1/traces` …), Loki push, remote write.
    #[arg(long, value_name = "PORT", default_value_t = 4318)]
    pub http_port: u16,
    /// The run id the record carries [default: a fresh one].
    #[arg(long)]
    pub run_id: Option<String>,
}

/// Why the tap could not do its job (the binary exits 2).
#[derive(Debug, thiserror::Error)]
pub enum TapError {
    /// The gateway could not start (a port in use, a bad upstream, the CA file).
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    /// The record could not be written.
    #[error("cannot write the record to {path}")]
    Write {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// `base` with `path` appended unless it already ends with it.
fn with_path(base: &str, path: &str) -> String {
    if base.ends_with(path) {
        base.to_owned()
    } else {
        format!("{base}{path}")
    }
}

/// A gateway in front of `deployment`, as the tap runs it: each signal to its
/// endpoint with the deployment's tenants and credentials ([`upstreams`]), trusting
/// its `--ca-cert`, OTLP metrics translated with `translation` where they are
/// remote-written. `run --target external` (its OTLP scenario) and `app --target
/// external` (the program) send through it.
pub fn gateway_for(
    deployment: &Deployment,
    run_id: &str,
    translation: crate::core::otlp_mapping::PromTranslation,
) -> GatewayConfig {
    GatewayConfig {
        upstreams: upstreams(&deployment.target, deployment.auth()),
        ca_cert: deployment.target.ca_cert.clone(),
        translation,
        ..GatewayConfig::new(run_id)
    }
}

/// Where each kind of request goes for `target`, every upstream with `auth`:
/// traces to its OTLP ingest (gRPC or `/v1/traces`), OTLP logs to Loki's OTLP
/// endpoint, OTLP metrics to `metrics-otlp-url` or else translated to remote write,
/// Loki pushes to `/loki/api/v1/push`, remote writes to `remote-write-url`.
pub fn upstreams(target: &ExternalTarget, auth: &Auth) -> Upstreams {
    let up = |url: String, s: &Service| Upstream {
        url,
        tenant: s.tenant.clone(),
        auth: auth.clone(),
        grpc: false,
    };
    Upstreams {
        traces: target.otlp.as_ref().map(|o| {
            let service = Service {
                url: o.url.clone(),
                tenant: o.tenant.clone(),
            };
            if o.protocol == "grpc" {
                up(o.url.clone(), &service).over_grpc()
            } else {
                up(with_path(&o.url, "/v1/traces"), &service)
            }
        }),
        logs: target.loki_otlp.as_ref().map(|s| up(s.url.clone(), s)),
        metrics: match (&target.metrics_otlp, &target.remote_write) {
            (Some(s), _) => Some(MetricsUpstream::Otlp(up(s.url.clone(), s))),
            (None, Some(s)) => Some(MetricsUpstream::RemoteWrite(up(s.url.clone(), s))),
            (None, None) => None,
        },
        loki_push: target
            .loki
            .as_ref()
            .map(|s| up(with_path(&s.url, "/loki/api/v1/push"), s)),
        remote_write: target.remote_write.as_ref().map(|s| up(s.url.clone(), s)),
    }
}

/// The lines that say where the gateway listens and where each signal goes.
pub fn describe(gateway: &Gateway, upstreams: &Upstreams) -> Vec<String> {
    let http = gateway.http_url();
    let line = |name: &str, what: String| format!("{name:<14}{what}");
    let goes = |name: &str, to: Option<String>| {
        line(
            name,
            format!(
                "→ {}",
                to.unwrap_or_else(|| "nowhere (answered 404)".into())
            ),
        )
    };
    vec![
        line("OTLP/gRPC", gateway.grpc_url()),
        line(
            "OTLP/HTTP",
            format!("{http} (/v1/traces, /v1/logs, /v1/metrics)"),
        ),
        line("Loki push", format!("{http}/loki/api/v1/push")),
        line("remote write", format!("{http}/api/v1/push")),
        goes("traces", upstreams.traces.as_ref().map(Upstream::to_string)),
        goes("logs", upstreams.logs.as_ref().map(Upstream::to_string)),
        goes(
            "metrics",
            upstreams.metrics.as_ref().map(MetricsUpstream::to_string),
        ),
        goes(
            "Loki pushes",
            upstreams.loki_push.as_ref().map(Upstream::to_string),
        ),
        goes(
            "remote writes",
            upstreams.remote_write.as_ref().map(Upstream::to_string),
        ),
    ]
}

/// Per signal, the items received (every attempt), acknowledged and refused, with
/// the requests and the items rejected in partial successes.
pub fn summary(record: &Record) -> Vec<String> {
    use crate::core::record::RecordSignal;
    let line = |signal: RecordSignal, acked: Vec<bool>| {
        let received = acked.len();
        let ok = acked.iter().filter(|a| **a).count();
        let requests = record
            .exchanges
            .iter()
            .filter(|e| e.signal == signal)
            .count();
        format!(
            "{:<8} {received} received, {ok} acked, {} refused ({requests} requests, {} refused; {} items rejected in partial successes)",
            format!("{}:", signal.as_str()),
            received - ok,
            record.refusals(signal).count(),
            record.partially_rejected(signal),
        )
    };
    vec![
        line(
            RecordSignal::Traces,
            record.spans.iter().map(|s| s.acked).collect(),
        ),
        line(
            RecordSignal::Logs,
            record
                .logs
                .iter()
                .map(|l| l.acked)
                .chain(record.loki_lines.iter().map(|l| l.acked))
                .collect(),
        ),
        line(
            RecordSignal::Metrics,
            record
                .points
                .iter()
                .map(|p| p.acked)
                .chain(record.samples.iter().map(|s| s.acked))
                .collect(),
        ),
    ]
}

/// Runs the tap in front of `deployment` until `stop` completes, printing to `out`;
/// writes the record to `args.record` and returns it.
pub async fn run(
    args: &TapArgs,
    deployment: &Deployment,
    run_id: String,
    out: &mut impl Write,
    stop: impl std::future::Future<Output = ()>,
) -> Result<Record, TapError> {
    let upstreams = upstreams(&deployment.target, deployment.auth());
    let config = GatewayConfig {
        listen_host: args.listen.clone(),
        grpc_port: args.grpc_port,
        http_port: args.http_port,
        upstreams: upstreams.clone(),
        ca_cert: deployment.target.ca_cert.clone(),
        ..GatewayConfig::new(run_id.clone())
    };
    let gateway = Gateway::start(config).await?;
    let _ = writeln!(out, "lgtm-check tap: run {run_id}");
    for l in describe(&gateway, &upstreams) {
        let _ = writeln!(out, "  {l}");
    }
    let _ = out.flush();
    stop.await;
    let record = gateway.stop().await;
    let path = args.record.display().to_string();
    let text = serde_json::to_string_pretty(&record).map_err(|e| TapError::Write {
        path: path.clone(),
        source: std::io::Error::other(e),
    })?;
    std::fs::write(&args.record, text).map_err(|source| TapError::Write {
        path: path.clone(),
        source,
    })?;
    let _ = writeln!(out, "lgtm-check tap: stopped; the record is in {path}");
    for l in summary(&record) {
        let _ = writeln!(out, "  {l}");
    }
    let _ = out.flush();
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::plan::Env;
    use crate::core::target::{Target, TargetSettings};

    fn target(pairs: &[(&str, &str)]) -> ExternalTarget {
        let mut all = vec![("LGTM_CHECK_TARGET", "external")];
        all.extend_from_slice(pairs);
        let env = Env::from_pairs(all.iter().copied());
        match Target::resolve(None, &env, TargetSettings::default()).unwrap() {
            Target::External(t) => *t,
            Target::Containers => panic!("external"),
        }
    }

    #[test]
    fn each_signal_goes_to_its_backends_endpoint() {
        let t = target(&[
            ("LGTM_CHECK_LOKI_URL", "http://loki:3100"),
            ("LGTM_CHECK_TEMPO_URL", "http://tempo:3200"),
            ("LGTM_CHECK_OTLP_URL", "http://tempo:4317"),
            ("LGTM_CHECK_PROMETHEUS_URL", "http://mimir:9009/prometheus"),
            (
                "LGTM_CHECK_REMOTE_WRITE_URL",
                "http://mimir:9009/api/v1/push",
            ),
            ("LGTM_CHECK_TENANT", "team-a"),
            ("LGTM_CHECK_LOKI_TENANT", "logs-team"),
        ]);
        let auth = Auth::Bearer("CanaryTapTok1".into());
        let u = upstreams(&t, &auth);
        let traces = u.traces.as_ref().unwrap();
        assert_eq!(
            (traces.url.as_str(), traces.grpc),
            ("http://tempo:4317", true)
        );
        assert_eq!(traces.tenant.as_deref(), Some("team-a"));
        assert_eq!(traces.auth, auth);
        let logs = u.logs.as_ref().unwrap();
        assert_eq!(logs.url, "http://loki:3100/otlp/v1/logs");
        assert_eq!(logs.tenant.as_deref(), Some("logs-team"));
        assert_eq!(
            u.loki_push.as_ref().unwrap().url,
            "http://loki:3100/loki/api/v1/push"
        );
        assert!(matches!(
            &u.metrics,
            Some(MetricsUpstream::RemoteWrite(w)) if w.url == "http://mimir:9009/api/v1/push"
        ));
        assert_eq!(
            u.remote_write.as_ref().unwrap().url,
            "http://mimir:9009/api/v1/push"
        );
        assert!(!format!("{u:?}").contains("CanaryTapTok1"));

        let t = target(&[
            ("LGTM_CHECK_TEMPO_URL", "http://tempo:3200"),
            ("LGTM_CHECK_OTLP_URL", "http://tempo:4318"),
            ("LGTM_CHECK_OTLP_PROTOCOL", "http/protobuf"),
            (
                "LGTM_CHECK_METRICS_OTLP_URL",
                "http://mimir:9009/otlp/v1/metrics",
            ),
        ]);
        let u = upstreams(&t, &Auth::None);
        let traces = u.traces.unwrap();
        assert_eq!(
            (traces.url.as_str(), traces.grpc),
            ("http://tempo:4318/v1/traces", false)
        );
        assert!(matches!(u.metrics, Some(MetricsUpstream::Otlp(_))));
        assert_eq!((u.logs, u.loki_push, u.remote_write), (None, None, None));
    }

    #[test]
    fn the_summary_counts_every_attempt_per_signal() {
        let mut r = Record::new("r");
        r.loki_lines.push(crate::core::record::RecordedLokiLine {
            labels: Default::default(),
            timestamp_ns: 1,
            line: "a".into(),
            structured_metadata: Default::default(),
            acked: true,
        });
        r.samples.push(crate::core::record::RecordedSample {
            labels: Default::default(),
            timestamp_ms: 1,
            value: 1.0,
            acked: false,
        });
        let s = summary(&r);
        assert!(
            s[0].starts_with("traces:  0 received, 0 acked, 0 refused"),
            "{}",
            s[0]
        );
        assert!(
            s[1].starts_with("logs:    1 received, 1 acked, 0 refused"),
            "{}",
            s[1]
        );
        assert!(
            s[2].starts_with("metrics: 1 received, 0 acked, 1 refused"),
            "{}",
            s[2]
        );
    }
}
