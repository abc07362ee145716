//! The `checkout-chain` scenario: two services in two processes, a frontend and a
//! backend, over real HTTP with W3C `traceparent` propagation.
//!
//! The frontend process starts the backend as a child process (the same binary with
//! `--role backend`), so each has its own tracer provider, resource
//! (`service.name`) and Loki `service` label. For each order the frontend opens a
//! root server span `POST /checkout`, logs `order received`, opens a client span
//! `POST /api/charge` and sends the request with its `traceparent`; the backend's
//! server span `POST /api/charge` continues that trace, with a child
//! `INSERT payments` span (`db.system=postgresql`), and logs `payment charged`; back
//! in the frontend, `order confirmed` is logged. So each order is one trace with two
//! `service.name`s and four spans, parent/child across the hop, and log lines on both
//! sides carrying the same trace id.
//!
//! When the workload is done the frontend closes the backend's stdin; the backend
//! flushes, writes its part of the manifest and exits; the frontend flushes, announces
//! `emitted`, and writes the merged manifest (`services`: frontend, backend).
//!
//! Main items: [`Options`], [`run_frontend`], [`run_backend`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::Request;
use axum::http::HeaderMap;
use axum::routing::post;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tracing::Instrument;
use tracing::field::Empty;

use crate::cli::{self, announce};
use crate::manifest::Manifest;
use crate::telemetry::{self, Recorded, TelemetryConfig};

/// How to run the frontend.
#[derive(Debug, Clone)]
pub struct Options {
    /// The frontend's telemetry: where its logs and spans go, its `service.name`.
    pub telemetry: TelemetryConfig,
    /// Where to write the merged manifest; the backend's part goes beside it
    /// (`run.json` → `run.backend.json`).
    pub manifest: PathBuf,
    /// The backend's `service.name`.
    pub backend_service: String,
    /// Orders to place (one trace each).
    pub orders: u32,
    /// Arguments to start the backend with: program and its telemetry flags (the
    /// frontend adds `--role backend`, `--service`, `--manifest`).
    pub backend_command: (PathBuf, Vec<String>),
}

/// The frontend: starts the backend, places the orders, merges both records.
pub async fn run_frontend(opts: Options) -> anyhow::Result<Manifest> {
    let guard = telemetry::init(opts.telemetry.clone())?;
    let started_at = cli::unix_ms();

    let backend_manifest = opts.manifest.with_extension("backend.json");
    let (program, args) = &opts.backend_command;
    let mut backend = tokio::process::Command::new(program)
        .args(args)
        .args([
            "--role",
            "backend",
            "--service",
            &opts.backend_service,
            "--manifest",
        ])
        .arg(&backend_manifest)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting the backend {}", program.display()))?;
    let mut lines = BufReader::new(backend.stdout.take().expect("piped")).lines();
    let backend_addr: SocketAddr = loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .context("the backend did not announce its address within 30s")??
            .context("the backend exited before announcing its address")?;
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if v["event"] == "listening" {
            break v["api"]
                .as_str()
                .context("listening without api")?
                .parse()?;
        }
    };
    announce(serde_json::json!({ "event": "listening", "backend": backend_addr.to_string() }));

    let client = reqwest::Client::new();
    for order in 0..opts.orders {
        place_order(&client, backend_addr, order).await?;
    }

    // The backend flushes and writes its part when its stdin closes.
    drop(backend.stdin.take());
    while let Some(line) = lines.next_line().await? {
        let _ = line;
    }
    let status = backend.wait().await?;
    // A backend that could not deliver everything still wrote its part (with its
    // losses): the manifest is written with both parts, then the scenario fails.
    let mut undelivered = cli::Undelivered::default();
    let backend_part = match Manifest::read(&backend_manifest) {
        Ok(part) if !status.success() => {
            undelivered.note(anyhow::anyhow!(
                "the backend wrote its part, then failed ({status}): see its error above"
            ));
            part
        }
        Ok(part) => part,
        Err(e) => {
            return Err(anyhow::Error::new(e)
                .context(format!("the backend ({status}) wrote no readable part")));
        }
    };
    let _ = std::fs::remove_file(&backend_manifest);

    let frontend_part = cli::flush_and_announce(guard, &mut undelivered).await;
    let recorded = frontend_part.merge(Recorded {
        logs: backend_part.logs,
        traces: backend_part.traces,
        losses: backend_part.losses,
        pushback: backend_part.pushback,
    });
    let mut manifest = cli::manifest("checkout-chain", &opts.telemetry, started_at, recorded);
    manifest.services = vec![opts.telemetry.service.clone(), opts.backend_service.clone()];
    cli::write_manifest(&manifest, &opts.manifest, serde_json::json!({}))?;
    undelivered.into_result()?;
    Ok(manifest)
}

/// Amount of order `i`, in cents (deterministic).
pub fn amount_cents(i: u32) -> u64 {
    1000 + 250 * u64::from(i % 4)
}

async fn place_order(
    client: &reqwest::Client,
    backend: SocketAddr,
    order: u32,
) -> anyhow::Result<()> {
    let root = tracing::info_span!(
        "checkout",
        otel.name = "POST /checkout",
        otel.kind = "server",
        http.request.method = "POST",
        http.route = "/checkout",
        url.path = "/checkout",
        http.response.status_code = Empty,
        order.id = order,
    );
    async {
        let amount = amount_cents(order);
        crate::log!(
            tracing::Level::INFO,
            order_id = order,
            amount_cents = amount,
            "order received"
        );
        let call = tracing::info_span!(
            "charge",
            otel.name = "POST /api/charge",
            otel.kind = "client",
            http.request.method = "POST",
            server.address = %backend.ip(),
            server.port = backend.port(),
            url.full = format!("http://{backend}/api/charge"),
            http.response.status_code = Empty,
        );
        let mut headers = HeaderMap::new();
        telemetry::inject_traceparent(&call, &mut headers);
        let response = client
            .post(format!("http://{backend}/api/charge"))
            .headers(headers)
            .query(&[("order", order.to_string()), ("amount", amount.to_string())])
            .send()
            .instrument(call.clone())
            .await?;
        let status = response.status().as_u16();
        call.record("http.response.status_code", i64::from(status));
        drop(call);
        anyhow::ensure!(
            status == 200,
            "the backend answered {status} for order {order}"
        );
        crate::log!(tracing::Level::INFO, order_id = order, "order confirmed");
        tracing::Span::current().record("http.response.status_code", 200i64);
        Ok(())
    }
    .instrument(root)
    .await
}

/// The backend: serves `POST /api/charge` until stdin closes, then flushes and writes
/// its part of the manifest.
pub async fn run_backend(telemetry: TelemetryConfig, manifest_path: PathBuf) -> anyhow::Result<()> {
    let guard = telemetry::init(telemetry.clone())?;
    let started_at = cli::unix_ms();
    let app = Router::new().route("/api/charge", post(charge));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    announce(serde_json::json!({ "event": "listening", "api": addr.to_string() }));
    cli::hold_until_stdin_closes().await;
    server.abort();
    let mut undelivered = cli::Undelivered::default();
    let telemetry::Flushed { recorded, failure } = guard.shutdown_reporting().await;
    if let Some(e) = failure {
        undelivered.note(anyhow::Error::new(e).context("flushing the backend's telemetry"));
    }
    let manifest = cli::manifest("checkout-chain", &telemetry, started_at, recorded);
    cli::write_manifest(&manifest, &manifest_path, serde_json::json!({}))?;
    undelivered.into_result()
}

#[derive(serde::Deserialize)]
struct Charge {
    order: u32,
    amount: u64,
}

async fn charge(
    axum::extract::Query(c): axum::extract::Query<Charge>,
    req: Request,
) -> &'static str {
    let span = tracing::info_span!(
        "charge",
        otel.name = "POST /api/charge",
        otel.kind = "server",
        http.request.method = "POST",
        http.route = "/api/charge",
        url.path = "/api/charge",
        http.response.status_code = 200i64,
    );
    telemetry::adopt_traceparent(&span, req.headers());
    async {
        let db = tracing::info_span!(
            "db",
            otel.name = "INSERT payments",
            otel.kind = "client",
            db.system = "postgresql",
            db.operation.name = "INSERT",
            db.collection.name = "payments",
        );
        tokio::time::sleep(Duration::from_millis(5))
            .instrument(db)
            .await;
        crate::log!(
            tracing::Level::INFO,
            order_id = c.order,
            amount_cents = c.amount,
            "payment charged"
        );
        "{}"
    }
    .instrument(span)
    .await
}
