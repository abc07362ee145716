//! What every scenario binary shares: the common flags ([`CommonArgs`],
//! [`MetricsArgs`]), the JSON event lines on stdout ([`announce`]), and the steps of
//! the flow around a workload ([`flush_and_announce`], [`MetricsSession`],
//! [`write_manifest`], [`Undelivered`]).
//!
//! The flow of every scenario: init telemetry → (metrics: `listening`) → workload →
//! flush every exporter → `{"event":"emitted"}` → (`--await-scrapes`: the manifest so
//! far, `{"event":"provisional","path":…}`, then the scrapes: the zeros' (two) if
//! not yet taken and two that began after the workload) → write the manifest →
//! `{"event":"manifest","path":…}` → (`--hold`: serve `/metrics` until stdin closes).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;

use crate::manifest::{MANIFEST_SCHEMA_VERSION, Manifest};
use crate::metrics_endpoint::MetricsEndpoint;
use crate::remote_write::{RemoteWriteConfig, RemoteWriter};
use crate::telemetry::{
    Flushed, Recorded, TelemetryConfig, TelemetryFlags, TelemetryGuard, process_env,
};

/// Flags every scenario takes.
#[derive(clap::Args, Debug, Clone)]
pub struct CommonArgs {
    /// Run id attached to every signal (label `run_id`).
    #[arg(long, env = "LGTM_CHECK_RUN_ID")]
    pub run_id: String,
    /// Where to write the manifest (JSON).
    #[arg(long)]
    pub manifest: PathBuf,
    /// Service name: label `service`, resource `service.name` [default: OTEL_SERVICE_NAME, else rust-app].
    #[arg(long)]
    pub service: Option<String>,
    /// Label `environment`, resource `deployment.environment` [default: production].
    #[arg(long)]
    pub environment: Option<String>,
    /// Loki base URL, e.g. http://127.0.0.1:3100; absent: no logs to Loki.
    #[arg(long)]
    pub loki_url: Option<String>,
    /// Loki tenant (X-Scope-OrgID).
    #[arg(long)]
    pub loki_tenant: Option<String>,
    /// Loki basic-auth user; the password is read from LOKI_PASSWORD.
    #[arg(long)]
    pub loki_user: Option<String>,
    /// Send the token in LOKI_TOKEN to Loki as `Authorization: Bearer`.
    #[arg(long)]
    pub loki_bearer: bool,
    /// OTLP base URL, e.g. http://127.0.0.1:4317 (grpc) or http://127.0.0.1:4318 (http/protobuf)
    /// [default: OTEL_EXPORTER_OTLP_ENDPOINT; absent: spans are not exported].
    #[arg(long)]
    pub otlp_endpoint: Option<String>,
    /// `grpc` or `http/protobuf` [default: OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf].
    #[arg(long)]
    pub otlp_protocol: Option<String>,
    /// OTLP tenant (X-Scope-OrgID).
    #[arg(long)]
    pub otlp_tenant: Option<String>,
    /// OTLP basic-auth user; the password is read from OTLP_PASSWORD.
    #[arg(long)]
    pub otlp_user: Option<String>,
    /// Send the token in OTLP_TOKEN to the OTLP endpoint as `Authorization: Bearer`.
    #[arg(long)]
    pub otlp_bearer: bool,
    /// Root sampling ratio: sampler ParentBased(TraceIdRatioBased(R)) [default: OTEL_TRACES_SAMPLER(_ARG), else parentbased_always_on].
    #[arg(long)]
    pub sampler_ratio: Option<f64>,
}

impl CommonArgs {
    /// The flags that bear on telemetry, for [`TelemetryConfig::resolve`].
    pub fn telemetry_flags(&self) -> TelemetryFlags {
        TelemetryFlags {
            run_id: self.run_id.clone(),
            service: self.service.clone(),
            environment: self.environment.clone(),
            loki_url: self.loki_url.clone(),
            loki_tenant: self.loki_tenant.clone(),
            loki_user: self.loki_user.clone(),
            loki_bearer: self.loki_bearer,
            otlp_endpoint: self.otlp_endpoint.clone(),
            otlp_protocol: self.otlp_protocol.clone(),
            otlp_tenant: self.otlp_tenant.clone(),
            otlp_user: self.otlp_user.clone(),
            otlp_bearer: self.otlp_bearer,
            sampler_ratio: self.sampler_ratio,
        }
    }

    /// These flags as arguments for a child process, without `--manifest` and
    /// `--service` (the child gets its own).
    pub fn child_args(&self) -> Vec<String> {
        let mut args = vec!["--run-id".to_string(), self.run_id.clone()];
        let mut opt = |flag: &str, v: &Option<String>| {
            if let Some(v) = v {
                args.push(flag.into());
                args.push(v.clone());
            }
        };
        opt("--environment", &self.environment);
        opt("--loki-url", &self.loki_url);
        opt("--loki-tenant", &self.loki_tenant);
        opt("--loki-user", &self.loki_user);
        opt("--otlp-endpoint", &self.otlp_endpoint);
        opt("--otlp-protocol", &self.otlp_protocol);
        opt("--otlp-tenant", &self.otlp_tenant);
        opt("--otlp-user", &self.otlp_user);

        opt(
            "--sampler-ratio",
            &self.sampler_ratio.map(|r| r.to_string()),
        );
        for (flag, on) in [
            ("--loki-bearer", self.loki_bearer),
            ("--otlp-bearer", self.otlp_bearer),
        ] {
            if on {
                args.push(flag.into());
            }
        }
        args
    }

    /// The flags resolved against the process environment.
    pub fn telemetry_config(&self) -> anyhow::Result<TelemetryConfig> {
        Ok(TelemetryConfig::resolve(
            &self.telemetry_flags(),
            &process_env(),
        )?)
    }
}

/// Flags of scenarios that expose `/metrics`.
#[derive(clap::Args, Debug, Clone)]
pub struct MetricsArgs {
    /// Address of the /metrics endpoint for the scraper.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub metrics_listen: SocketAddr,
    /// Wait for a scrape before the workload and two after it before writing the manifest.
    #[arg(long)]
    pub await_scrapes: bool,
    /// How long to wait for each of those scrapes.
    #[arg(long, default_value_t = 60)]
    pub scrape_timeout_secs: u64,
    /// After writing the manifest, keep serving /metrics until standard input closes.
    #[arg(long)]
    pub hold: bool,
    /// Also push every series by Prometheus remote write to this URL (e.g.
    /// http://mimir:9009/api/v1/push): at zero before the workload, final after it.
    #[arg(long)]
    pub remote_write_url: Option<String>,
    /// Remote-write tenant (X-Scope-OrgID).
    #[arg(long)]
    pub remote_write_tenant: Option<String>,
    /// Remote-write basic-auth user; the password is read from REMOTE_WRITE_PASSWORD.
    #[arg(long)]
    pub remote_write_user: Option<String>,
    /// Send the token in REMOTE_WRITE_TOKEN as `Authorization: Bearer`.
    #[arg(long)]
    pub remote_write_bearer: bool,
}

/// Prints one JSON event line on stdout; the harness reads these.
pub fn announce(event: serde_json::Value) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{event}");
    let _ = out.flush();
}

/// The wall clock now, in milliseconds since the Unix epoch (0 if the clock is set
/// before 1970): the manifest's start and end times.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// Flushes every exporter, then announces `emitted`: from here the harness measures
/// time-to-visible. What could not be delivered is not an error here: it is in the
/// record's `losses`, and `undelivered` notes why, so that the scenario still writes
/// its manifest (and fails after it, with [`Undelivered::into_result`]).
pub async fn flush_and_announce(guard: TelemetryGuard, undelivered: &mut Undelivered) -> Recorded {
    let Flushed { recorded, failure } = guard.shutdown_reporting().await;
    if let Some(e) = failure {
        undelivered.note(anyhow::Error::new(e).context("flushing telemetry"));
    }
    announce(serde_json::json!({ "event": "emitted" }));
    recorded
}

/// Why a scenario could not deliver everything it emitted, noted on the way to its
/// manifest. A fault of a backend mid-run (it died, it refused) is a finding: the
/// manifest is written all the same, with the losses, so the harness can check what
/// did arrive; then the scenario fails with every reason noted.
#[derive(Debug, Default)]
pub struct Undelivered(Vec<anyhow::Error>);

impl Undelivered {
    /// Notes one reason.
    pub fn note(&mut self, e: anyhow::Error) {
        eprintln!("Error (the manifest is written all the same): {e:#}");
        self.0.push(e);
    }

    /// The value of `r`, or notes its error (with `what` as its context).
    pub fn check<T>(&mut self, what: &'static str, r: anyhow::Result<T>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.note(e.context(what));
                None
            }
        }
    }

    /// Whether nothing was noted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok` when nothing was noted, else an error naming every reason (call it after
    /// the manifest is written: the process then exits non-zero).
    pub fn into_result(self) -> anyhow::Result<()> {
        let mut reasons = self.0.into_iter();
        let Some(first) = reasons.next() else {
            return Ok(());
        };
        let rest: Vec<String> = reasons.map(|e| format!("{e:#}")).collect();
        if rest.is_empty() {
            Err(first.context("the manifest was written, but not everything was delivered"))
        } else {
            Err(first.context(format!(
                "the manifest was written, but not everything was delivered (also: {})",
                rest.join("; ")
            )))
        }
    }
}

/// A manifest with the run's identity and `recorded` logs and traces; the caller
/// fills in `services` and `metrics` as they apply.
pub fn manifest(
    scenario: &str,
    config: &TelemetryConfig,
    started_at_unix_ms: u64,
    recorded: Recorded,
) -> Manifest {
    Manifest {
        schema_version: MANIFEST_SCHEMA_VERSION,
        scenario: scenario.into(),
        run_id: config.run_id.clone(),
        service: config.service.clone(),
        environment: config.environment.clone(),
        started_at_unix_ms,
        finished_at_unix_ms: unix_ms(),
        services: Vec::new(),
        logs: recorded.logs,
        traces: recorded.traces,
        metrics: Default::default(),
        losses: recorded.losses,
        pushback: recorded.pushback,
    }
}

/// Writes the manifest and announces it (`extra` fields are added to the event).
pub fn write_manifest(
    manifest: &Manifest,
    path: &Path,
    extra: serde_json::Value,
) -> anyhow::Result<()> {
    manifest
        .write(path)
        .with_context(|| format!("writing the manifest {}", path.display()))?;
    let mut event = serde_json::json!({ "event": "manifest", "path": path.display().to_string() });
    if let (Some(e), serde_json::Value::Object(x)) = (event.as_object_mut(), extra) {
        e.extend(x);
    }
    announce(event);
    Ok(())
}

/// Where [`write_provisional_manifest`] writes: beside the manifest, with
/// `.provisional` before its extension (`http-service.manifest.json` →
/// `http-service.manifest.provisional.json`).
pub fn provisional_path(manifest: &Path) -> PathBuf {
    let stem = manifest
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match manifest.extension() {
        Some(ext) => format!("{stem}.provisional.{}", ext.to_string_lossy()),
        None => format!("{stem}.provisional"),
    };
    manifest.with_file_name(name)
}

/// Writes the manifest as it is when everything is emitted, before the scrapes
/// the scenario still waits for, and announces it
/// (`{"event":"provisional","path":…}`): its logs and traces are final, so their
/// checks can start while the metrics wait for the scraper. The manifest written
/// later ([`write_manifest`]) is the one of record; it differs only in its end and
/// in what the scrapes add.
pub fn write_provisional_manifest(manifest: &Manifest, path: &Path) -> anyhow::Result<()> {
    let provisional = provisional_path(path);
    manifest
        .write(&provisional)
        .with_context(|| format!("writing the provisional manifest {}", provisional.display()))?;
    announce(serde_json::json!({
        "event": "provisional",
        "path": provisional.display().to_string(),
    }));
    Ok(())
}

/// The `/metrics` side of a scenario's flow, and its remote write.
pub struct MetricsSession {
    /// The `/metrics` endpoint being served, with its scrape counter.
    pub endpoint: MetricsEndpoint,
    args: MetricsArgs,
    remote_write: Option<RemoteWriter>,
    /// When the zero samples were pushed (Unix ms): the final push is later.
    pushed_zero_at: std::sync::atomic::AtomicI64,
}

impl MetricsSession {
    /// Installs the recorder, registers the scenario's series at zero with
    /// `register`, and only then serves `/metrics` (does not announce).
    pub async fn start(
        args: &MetricsArgs,
        config: &TelemetryConfig,
        register: impl FnOnce(),
    ) -> anyhow::Result<Self> {
        let remote_write = match &args.remote_write_url {
            Some(url) => Some(RemoteWriter::new(RemoteWriteConfig::resolve(
                url,
                args.remote_write_tenant.as_deref(),
                args.remote_write_user.as_deref(),
                args.remote_write_bearer,
                &process_env(),
            )?)),
            None => None,
        };
        let endpoint = MetricsEndpoint::start(
            args.metrics_listen,
            &config.service,
            &config.run_id,
            args.await_scrapes,
            register,
        )
        .await?;
        Ok(MetricsSession {
            endpoint,
            args: args.clone(),
            remote_write,
            pushed_zero_at: std::sync::atomic::AtomicI64::new(0),
        })
    }

    /// Whether the scenario waits for a scraper after its workload
    /// (`--await-scrapes`).
    pub fn awaits_scrapes(&self) -> bool {
        self.args.await_scrapes
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.args.scrape_timeout_secs)
    }

    /// With `--remote-write-url`: pushes every series as it is now (the workload's
    /// at zero). With `--await-scrapes`, the scraper needs no wait: its first scrapes
    /// are answered with the zeros whenever they come ([`MetricsEndpoint::start`]).
    pub async fn before_workload(&self) -> anyhow::Result<()> {
        if let Some(w) = &self.remote_write {
            let at = unix_ms() as i64;
            w.push(&self.endpoint.render(), at).await?;
            self.pushed_zero_at
                .store(at, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(())
    }

    /// With `--remote-write-url`: pushes every series' final value, at a timestamp
    /// after the zero's (and before the manifest's end). With `--await-scrapes`:
    /// waits until two scrapes that began after the workload have been answered
    /// (and the first ones, the zeros, if they have not come yet).
    pub async fn after_emitted(&self) -> anyhow::Result<()> {
        if let Some(w) = &self.remote_write {
            let zero = self
                .pushed_zero_at
                .load(std::sync::atomic::Ordering::SeqCst);
            let mut at = unix_ms() as i64;
            if at <= zero {
                tokio::time::sleep(Duration::from_millis((zero + 1 - at) as u64)).await;
                at = unix_ms() as i64;
            }
            w.push(&self.endpoint.render(), at).await?;
        }
        if self.args.await_scrapes {
            self.endpoint.scrapes.wait_for_fresh(self.timeout()).await?;
        }
        Ok(())
    }

    /// Writes and announces the manifest (with the number of scrapes and `extra`
    /// fields), then, with `--hold`, serves `/metrics` until stdin closes.
    pub async fn finish(
        &self,
        manifest: &Manifest,
        path: &Path,
        extra: serde_json::Value,
    ) -> anyhow::Result<()> {
        let mut fields = serde_json::json!({ "scrapes": self.endpoint.scrapes.completed() });
        if let (Some(f), serde_json::Value::Object(x)) = (fields.as_object_mut(), extra) {
            f.extend(x);
        }
        write_manifest(manifest, path, fields)?;
        if self.args.hold {
            hold_until_stdin_closes().await;
        }
        Ok(())
    }
}

/// Returns when standard input reaches its end (or fails), or on Ctrl-C.
pub async fn hold_until_stdin_closes() {
    use tokio::io::AsyncReadExt;
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 64];
    loop {
        tokio::select! {
            read = stdin.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            },
            _ = tokio::signal::ctrl_c() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_provisional_manifest_is_written_beside_the_manifest() {
        assert_eq!(
            provisional_path(Path::new("/tmp/run/http-service.manifest.json")),
            Path::new("/tmp/run/http-service.manifest.provisional.json")
        );
        assert_eq!(
            provisional_path(Path::new("manifest")),
            Path::new("manifest.provisional")
        );
    }
}
