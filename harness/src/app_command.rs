//! `lgtm-check app -- CMD ARGS…`: the stack (or a running deployment, with
//! `--target external`), any program run against it with the standard variables,
//! then the checks: exact arrival of everything it sent, per
//! signal, from the record of lgtm-check's recording gateway the program's
//! exporters are pointed at ([`crate::gateway`], [`crate::core::catalog_record`]);
//! a recorder manifest's checks beside them, where the program wrote one (it also
//! knows what the instrumentation lost before sending); and the telemetry shape in
//! every case.
//!
//! Main items: [`AppArgs`] (the flags), [`run`] (returns the [`Report`]),
//! [`AppError`], [`program_env`] (the variables the program gets),
//! [`crate::gateway::GatewayConfig::for_stack`] (where the gateway forwards each
//! signal).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lgtm_check_recorder::manifest::{Manifest, ManifestError};

use crate::concurrent::{CHECKS_AT_ONCE, TimedCheck, run_checks};
use crate::core::catalog::{MetricsVia, exact_metrics_checks, settled_after, validate};
use crate::core::catalog_record::{RecordMapping, record_checks};
use crate::core::catalog_telemetry::{logs_checks, traces_checks};
use crate::core::check::{Check, Signal, Window};
use crate::core::component::Component;
use crate::core::event::Event;
use crate::core::plan::RunPlan;
use crate::core::record::Record;
use crate::core::report::SentSummary;
use crate::core::report::{CheckReport, CheckStatus, ComponentReport, ComponentStatus, Report};
use crate::external::Deployment;
use crate::gateway::GatewayConfig;
use crate::shape::{CollectError, ShapeSources, UpdateMode, check_snapshot, collect_settled};
use crate::stack::{Stack, StackError};

/// The flags of `lgtm-check app`.
#[derive(clap::Args, Debug, Clone)]
pub struct AppArgs {
    /// Override a component's image: COMPONENT=IMAGE. Also `LGTM_CHECK_IMAGE_<COMPONENT>`.
    /// Repeatable.
    #[arg(long = "image", value_name = "COMPONENT=IMAGE")]
    pub images: Vec<String>,
    /// What the Prometheus role scrapes: a port on this host (the program listens on
    /// 0.0.0.0:PORT) or HOST:PORT as the containers see it. Default: a free port.
    #[arg(long, value_name = "PORT|HOST:PORT")]
    pub scrape: Option<String>,
    /// The OTLP protocol the program is told to use: `grpc` or `http/protobuf`. On
    /// the command line it is `--otlp-protocol`, shared with the target's flags
    /// (with `--target external`, the deployment's OTLP ingest speaks it too);
    /// empty means `grpc`.
    #[arg(skip)]
    pub otlp_protocol: String,
    /// Stop the program (SIGTERM, then SIGKILL after 10 s) after this many seconds
    /// instead of waiting for it to exit.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<u64>,
    /// Compare the telemetry shape with this snapshot file (written if missing);
    /// without it the shape is printed.
    #[arg(long, value_name = "PATH")]
    pub snapshot: Option<PathBuf>,
    /// Write the snapshot even if it exists (also LGTM_CHECK_UPDATE=1).
    #[arg(long)]
    pub update: bool,
    /// Also write the report as JSON to this file.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Also write the report as JUnit XML to this file (one testcase per check).
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// How long each check, and the shape, waits for its data, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub check_timeout: u64,
    /// Use this run id instead of a fresh one (letters, digits and `-`).
    #[arg(long)]
    pub run_id: Option<String>,
    /// Also write the gateway's record (everything the program sent, and the
    /// backends' answers) as JSON to this file; `lgtm-check run --record PATH`
    /// can check it again.
    #[arg(long, value_name = "PATH")]
    pub record: Option<PathBuf>,
    /// Point the program straight at the backends instead of lgtm-check's recording
    /// gateway: only a recorder manifest, if the program writes one, is then checked
    /// exactly.
    #[arg(long)]
    pub direct: bool,
    /// The program and its arguments, after `--`.
    #[arg(last = true, value_name = "CMD ARGS")]
    pub command: Vec<String>,
}

/// Why `lgtm-check app` could not do its job (as opposed to a check that failed).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Nothing was given after `--`.
    #[error(
        "no program to run: give it after `--`, e.g. `lgtm-check app -- ./my-service --port 8080`"
    )]
    NoCommand,
    /// `--otlp-protocol` is neither `grpc` nor `http/protobuf` (holds the value given).
    #[error("--otlp-protocol `{0}`: expected `grpc` or `http/protobuf`")]
    Protocol(String),
    /// `--scrape` is neither a port (1–65535) nor `HOST:PORT` (holds the value given).
    #[error("--scrape `{0}`: expected a port or HOST:PORT")]
    Scrape(String),
    /// A flag that needs lgtm-check's own stack was given with `--target external`
    /// (holds the flag and why).
    #[error("{flag} cannot be used with --target external: {why}")]
    NeedsOwnStack {
        /// The flag, e.g. `--scrape`.
        flag: &'static str,
        /// Why it needs the stack.
        why: &'static str,
    },
    /// The stack could not be started (Docker unreachable, a component's config
    /// unreadable, …).
    #[error(transparent)]
    Stack(#[from] StackError),
    /// The program could not be started (not found, not executable).
    #[error("cannot start the program `{program}`")]
    Spawn {
        /// The program, the first word after `--`.
        program: String,
        /// Why the operating system refused to start it.
        #[source]
        source: std::io::Error,
    },
    /// The run's temporary directory (where the manifest goes) could not be
    /// created.
    #[error("cannot use the run's working directory {path}")]
    WorkDir {
        /// The directory.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// No free TCP port could be bound for the program's `/metrics` (the port the
    /// Prometheus role is configured to scrape, when `--scrape` is not given).
    #[error("no free TCP port for the program's /metrics (give one with --scrape PORT)")]
    NoFreePort(#[source] std::io::Error),
    /// The recording gateway could not start (a port could not be bound).
    #[error(transparent)]
    Gateway(#[from] crate::gateway::GatewayError),
    /// The program wrote a recorder manifest that cannot be read.
    #[error("the program's manifest {path}")]
    Manifest {
        /// Where the manifest was written (`LGTM_CHECK_MANIFEST` of the program).
        path: String,
        /// Why it could not be read.
        #[source]
        source: ManifestError,
    },
}

/// What the Prometheus role scrapes (as the containers see it) and where the program
/// listens, from `--scrape` (or a free port).
fn scrape_addresses(flag: Option<&str>) -> Result<(String, String), AppError> {
    let port = |p: &str| p.parse::<u16>().ok().filter(|p| *p > 0);
    let (target, port) = match flag {
        None => {
            let p = crate::stack::scrape_port().map_err(AppError::NoFreePort)?;
            (format!("host.docker.internal:{p}"), p)
        }
        Some(s) => match s.rsplit_once(':') {
            None => {
                let p = port(s).ok_or_else(|| AppError::Scrape(s.into()))?;
                (format!("host.docker.internal:{p}"), p)
            }
            Some((host, p)) if !host.is_empty() => {
                let p = port(p).ok_or_else(|| AppError::Scrape(s.into()))?;
                (s.to_owned(), p)
            }
            Some(_) => return Err(AppError::Scrape(s.into())),
        },
    };
    Ok((target, format!("0.0.0.0:{port}")))
}

/// The variables the program runs with: the standard OpenTelemetry ones, `LOKI_URL`,
/// the run id, where to write a recorder manifest and where to serve `/metrics`.
/// `caller_resource` is the caller's `OTEL_RESOURCE_ATTRIBUTES`, kept before the run
/// id. `stack_urls` holds the stack's URLs by key (`otlp_grpc`, `otlp_http`, `loki`,
/// `remote_write`); a variable whose URL is absent is not set.
///
/// ```
/// use std::collections::BTreeMap;
/// use std::path::Path;
/// use lgtm_check::app_command::program_env;
///
/// let urls = BTreeMap::from([("otlp_grpc", "http://127.0.0.1:4317".to_string())]);
/// let env: BTreeMap<String, String> = program_env(
///     &urls, "grpc", "r1", Path::new("/tmp/m.json"), "0.0.0.0:9464", Some("service.name=shop"),
/// )
/// .into_iter()
/// .collect();
/// assert_eq!(env["OTEL_EXPORTER_OTLP_ENDPOINT"], "http://127.0.0.1:4317");
/// assert_eq!(env["OTEL_RESOURCE_ATTRIBUTES"], "service.name=shop,run_id=r1");
/// assert!(!env.contains_key("LOKI_URL"));
/// ```
pub fn program_env(
    stack_urls: &BTreeMap<&'static str, String>,
    protocol: &str,
    run_id: &str,
    manifest: &Path,
    metrics_listen: &str,
    caller_resource: Option<&str>,
) -> Vec<(String, String)> {
    let mut env = Vec::new();
    let otlp = if protocol == "grpc" {
        "otlp_grpc"
    } else {
        "otlp_http"
    };
    if let Some(u) = stack_urls.get(otlp) {
        env.push(("OTEL_EXPORTER_OTLP_ENDPOINT".into(), u.clone()));
        env.push(("OTEL_EXPORTER_OTLP_PROTOCOL".into(), protocol.into()));
        // The per-signal variables too, so that none the caller set points elsewhere
        // (with HTTP they are full URLs).
        for (signal, path) in [
            ("TRACES", "/v1/traces"),
            ("LOGS", "/v1/logs"),
            ("METRICS", "/v1/metrics"),
        ] {
            let url = if protocol == "grpc" {
                u.clone()
            } else {
                format!("{}{path}", u.trim_end_matches('/'))
            };
            env.push((format!("OTEL_EXPORTER_OTLP_{signal}_ENDPOINT"), url));
            env.push((
                format!("OTEL_EXPORTER_OTLP_{signal}_PROTOCOL"),
                protocol.into(),
            ));
        }
    }
    let resource = match caller_resource.map(str::trim).filter(|s| !s.is_empty()) {
        Some(r) => format!("{r},run_id={run_id}"),
        None => format!("run_id={run_id}"),
    };
    env.push(("OTEL_RESOURCE_ATTRIBUTES".into(), resource));
    if let Some(u) = stack_urls.get("loki") {
        env.push(("LOKI_URL".into(), u.clone()));
    }
    if let Some(u) = stack_urls.get("remote_write") {
        env.push(("LGTM_CHECK_REMOTE_WRITE_URL".into(), u.clone()));
    }
    env.push(("LGTM_CHECK_RUN_ID".into(), run_id.into()));
    env.push(("LGTM_CHECK_MANIFEST".into(), manifest.display().to_string()));
    env.push(("LGTM_CHECK_METRICS_LISTEN".into(), metrics_listen.into()));
    env
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// How the program ended.
#[derive(Debug)]
struct Ended {
    status: std::io::Result<ExitStatus>,
    /// Stopped by `--duration`: its exit status is then not a failure.
    stopped: bool,
}

async fn run_program(
    command: &[String],
    env: &[(String, String)],
    duration: Option<Duration>,
) -> Result<Ended, AppError> {
    let mut cmd = tokio::process::Command::new(&command[0]);
    cmd.args(&command[1..])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    // The program's stdout goes to stderr: stdout is the report's.
    #[cfg(unix)]
    if let Ok(fd) = std::os::fd::AsFd::as_fd(&std::io::stderr()).try_clone_to_owned() {
        cmd.stdout(Stdio::from(fd));
    }
    let mut child = cmd.spawn().map_err(|source| AppError::Spawn {
        program: command[0].clone(),
        source,
    })?;
    let Some(limit) = duration else {
        return Ok(Ended {
            status: child.wait().await,
            stopped: false,
        });
    };
    if let Ok(status) = tokio::time::timeout(limit, child.wait()).await {
        return Ok(Ended {
            status,
            stopped: false,
        });
    }
    if let Some(pid) = child.id() {
        let _ = tokio::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await;
    }
    let status = match tokio::time::timeout(Duration::from_secs(10), child.wait()).await {
        Ok(s) => s,
        Err(_) => {
            let _ = child.kill().await;
            child.wait().await
        }
    };
    Ok(Ended {
        status,
        stopped: true,
    })
}

/// The record's checks (`app.traces.exact`, `app.logs.exact`, …) and, after them,
/// the manifest's; a manifest check whose id a record check has is renamed
/// `app.manifest.…`. Without a scraper (`scraped` false: a deployment), the
/// manifest's metrics checks of a program that pushed no metrics are skipped saying
/// why: it served them, and nothing read them.
fn all_checks(
    record: Option<&Record>,
    mapping: &RecordMapping,
    manifest: Option<&Manifest>,
    exited_unix_ms: u64,
    scraped: bool,
) -> Vec<Check> {
    let mut checks = record
        .map(|r| record_checks("app", r, mapping))
        .unwrap_or_default();
    if let Some(m) = manifest {
        // A signal the program did not send through the gateway but its manifest
        // has (metrics it served for scraping) is the manifest's to check.
        let in_manifest = |s: Signal| match s {
            Signal::Logs => m.log_line_count() > 0,
            Signal::Traces => !m.traces.traces.is_empty(),
            Signal::Metrics => !m.metrics.counters.is_empty() || !m.metrics.histograms.is_empty(),
        };
        checks.retain(|c| {
            !(matches!(c.query, crate::core::check::Query::NotPossible { .. })
                && in_manifest(c.signal))
        });
        let taken: std::collections::BTreeSet<String> =
            checks.iter().map(|c| c.id.clone()).collect();
        let pushed_metrics = record.is_some_and(|r| r.counts().metrics > 0);
        for mut c in manifest_checks(m, exited_unix_ms) {
            if taken.contains(&c.id) {
                c.id = c.id.replacen("app.", "app.manifest.", 1);
            }
            if c.signal == Signal::Metrics && !scraped && !pushed_metrics {
                c.query = crate::core::check::Query::NotPossible {
                    reason: "the program's manifest has metrics but it pushed none, and with --target external nothing scrapes its /metrics (the scraper is lgtm-check's own stack's): push them by OTLP or to LGTM_CHECK_REMOTE_WRITE_URL".into(),
                };
            }
            checks.push(c);
        }
    }
    checks
}

/// The checks a program's manifest yields: exact arrival of its lines and spans, and
/// of every counter and histogram it recorded, whatever their names
/// ([`exact_metrics_checks`], asked of the Mimir role at the last sample scraped
/// before the program exited at `exited_unix_ms`; its series need not start from
/// zero). Checks the manifest gives nothing to expect are left out (a check never
/// passes on an empty expectation).
pub fn manifest_checks(m: &Manifest, exited_unix_ms: u64) -> Vec<Check> {
    let mut checks = logs_checks("app", m);
    checks.extend(traces_checks("app", m));
    if !m.metrics.counters.is_empty() || !m.metrics.histograms.is_empty() {
        let at = settled_after(m, exited_unix_ms.max(m.finished_at_unix_ms), false);
        checks.extend(exact_metrics_checks(m, MetricsVia::Mimir, at));
    }
    checks.retain(|c| validate([c], |_| true).is_ok());
    checks
}

/// The shape's verdict; it needs every component that is up (`up`).
fn shape_report(
    status: CheckStatus,
    reason: String,
    up: &[Component],
    run_id: &str,
) -> CheckReport {
    let needs: Vec<Component> = [
        Component::Loki,
        Component::Tempo,
        Component::Mimir,
        Component::Prometheus,
    ]
    .into_iter()
    .filter(|c| up.contains(c))
    .collect();
    let component = needs.first().copied().unwrap_or(Component::Loki);
    let signal = match component {
        Component::Loki => Signal::Logs,
        Component::Tempo => Signal::Traces,
        _ => Signal::Metrics,
    };
    CheckReport {
        id: "app.shape".into(),
        title: "the telemetry shape of the run (services, span names and attributes, metrics and labels, log labels and fields)".into(),
        signal,
        component,
        needs,
        status,
        reason,
        query: format!("everything under run_id=\"{run_id}\""),
        guide_query: None,
        time_to_visible_ms: None,
        skipped_because: Vec::new(),
    }
}

/// Where the program's telemetry goes: through the recording gateway, or (`--direct`)
/// straight to the stack's URLs.
enum Route {
    Gateway(Box<GatewayConfig>),
    Direct(BTreeMap<&'static str, String>),
}

/// The stack's URLs by [`program_env`]'s keys (a component that is not up has none).
fn stack_urls(stack: &Stack) -> BTreeMap<&'static str, String> {
    [
        ("otlp_grpc", stack.otlp_grpc_url()),
        ("otlp_http", stack.otlp_http_url()),
        ("loki", stack.loki_url()),
        ("remote_write", stack.remote_write_url()),
    ]
    .into_iter()
    .filter_map(|(key, url)| Some((key, url.ok()?)))
    .collect()
}

/// Starts the stack (or, given a `deployment`, preflights it and starts nothing),
/// runs the program, checks what arrived, removes the stack. The shape is printed to
/// `out` when there is no `--snapshot`.
///
/// Against a deployment, the program sends through lgtm-check's gateway, which adds
/// the deployment's tenants and credentials; nothing scrapes its `/metrics` (the
/// scraper is the stack's), so metrics count only where it pushes them (OTLP, or
/// remote write to `LGTM_CHECK_REMOTE_WRITE_URL`).
pub async fn run(
    plan: &RunPlan,
    args: &AppArgs,
    deployment: Option<&Deployment>,
    mode: UpdateMode,
    on_event: &(dyn Fn(Event<'_>) + Sync),
    out: &mut (dyn std::io::Write + Send),
) -> Result<Report, AppError> {
    if args.command.is_empty() || args.command[0].is_empty() {
        return Err(AppError::NoCommand);
    }
    let protocol = match args.otlp_protocol.as_str() {
        "" | "grpc" => "grpc",
        "http/protobuf" => "http/protobuf",
        other => return Err(AppError::Protocol(other.to_owned())),
    };
    if deployment.is_some() {
        if args.scrape.is_some() {
            return Err(AppError::NeedsOwnStack {
                flag: "--scrape",
                why: "nothing scrapes the program against a deployment (the scraper is lgtm-check's own stack's); push its metrics by OTLP or remote write instead",
            });
        }
        if args.direct {
            return Err(AppError::NeedsOwnStack {
                flag: "--direct",
                why: "the program sends through lgtm-check's gateway, which adds the deployment's tenants and credentials",
            });
        }
    }
    let (target, listen) = scrape_addresses(args.scrape.as_deref())?;
    let (stack, component_reports, backends, mapping, route) = match deployment {
        None => {
            let mut builder = Stack::builder()
                .run_id(plan.run_id.clone())
                .scrape_target(target)
                .skip_unavailable();
            for c in [
                Component::Loki,
                Component::Tempo,
                Component::Prometheus,
                Component::Mimir,
            ] {
                builder = builder.image(c, plan.image(c).clone());
            }
            let stack = builder.start_with_events(on_event).await?;
            let reports = stack.components().clone();
            let backends = stack.backends();
            let mapping = stack.record_mapping();
            let route = if args.direct {
                Route::Direct(stack_urls(&stack))
            } else {
                Route::Gateway(Box::new(GatewayConfig::for_stack(
                    &stack,
                    &plan.run_id,
                    mapping.metrics.clone(),
                )))
            };
            (Some(stack), reports, backends, mapping, route)
        }
        Some(d) => {
            let components = d.preflight().await;
            for c in &components {
                on_event(Event::ComponentFinished(c));
            }
            let backends = d.backends(&components);
            let reports: BTreeMap<Component, ComponentReport> =
                components.into_iter().map(|c| (c.name, c)).collect();
            let mapping = crate::runner::backends_mapping(&reports, backends.mimir);
            let route = Route::Gateway(Box::new(crate::tap_command::gateway_for(
                d,
                &plan.run_id,
                mapping.metrics.clone(),
            )));
            (None, reports, backends, mapping, route)
        }
    };
    let work_dir = std::env::temp_dir().join(format!("lgtm-check-{}", plan.run_id));
    std::fs::create_dir_all(&work_dir).map_err(|source| AppError::WorkDir {
        path: work_dir.display().to_string(),
        source,
    })?;
    let manifest_path = work_dir.join("manifest.json");
    let (gateway, urls) = match route {
        Route::Direct(urls) => (None, urls),
        Route::Gateway(config) => {
            match crate::gateway::Gateway::start(config.with_faults(&plan.faults)).await {
                Ok(g) => {
                    let http = g.http_url();
                    let urls = BTreeMap::from([
                        ("otlp_grpc", g.grpc_url()),
                        ("otlp_http", http.clone()),
                        ("loki", http.clone()),
                        ("remote_write", format!("{http}/api/v1/write")),
                    ]);
                    (Some(g), urls)
                }
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&work_dir);
                    return Err(e.into());
                }
            }
        }
    };
    let caller_resource = std::env::var("OTEL_RESOURCE_ATTRIBUTES").ok();
    let env = program_env(
        &urls,
        protocol,
        &plan.run_id,
        &manifest_path,
        &listen,
        caller_resource.as_deref(),
    );

    let started = SystemTime::now();
    on_event(Event::ScenarioStarted {
        name: "the program",
    });
    let ended = run_program(&args.command, &env, args.duration.map(Duration::from_secs)).await;
    let ended = match ended {
        Ok(e) => e,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&work_dir);
            return Err(e);
        }
    };
    let record = match gateway {
        Some(g) => Some(g.stop().await),
        None => None,
    };
    if let (Some(r), Some(path)) = (&record, &args.record) {
        let written = serde_json::to_vec_pretty(r)
            .map_err(std::io::Error::other)
            .and_then(|json| std::fs::write(path, json));
        if let Err(e) = written {
            let _ = writeln!(
                out,
                "cannot write the gateway's record to {}: {e}",
                path.display()
            );
        }
    }
    let emitted_at = Instant::now();
    let finished = SystemTime::now();
    let program = args.command.join(" ");
    let how = match &ended.status {
        Ok(s) if ended.stopped => format!("stopped after --duration ({s})"),
        Ok(s) => s.to_string(),
        Err(e) => format!("could not be waited for: {e}"),
    };
    let _ = writeln!(out, "program `{program}`: {how}");
    let manifest = if manifest_path.is_file() {
        match Manifest::read(&manifest_path) {
            Ok(m) => Some(m),
            Err(source) => {
                let _ = std::fs::remove_dir_all(&work_dir);
                return Err(AppError::Manifest {
                    path: manifest_path.display().to_string(),
                    source,
                });
            }
        }
    } else {
        None
    };
    if manifest.is_some() {
        on_event(Event::ScenarioEmitted {
            name: "the program",
            manifest: &manifest_path.display().to_string(),
        });
    }

    // Exact arrival: of what the gateway recorded, and of the manifest's, if any.
    let mut check_reports = Vec::new();
    let timeout = Duration::from_secs(args.check_timeout);
    let checks = all_checks(
        record.as_ref(),
        &mapping,
        manifest.as_ref(),
        unix_ms(finished),
        stack.is_some(),
    );
    if !checks.is_empty() {
        let checks = checks
            .into_iter()
            .map(|check| TimedCheck { emitted_at, check })
            .collect();
        on_event(Event::ChecksStarted {
            at_once: CHECKS_AT_ONCE,
        });
        check_reports = run_checks(
            checks,
            &backends,
            &component_reports,
            timeout,
            CHECKS_AT_ONCE,
            |r| on_event(Event::CheckFinished(r)),
        )
        .await;
    }

    // The shape, in every case: pinned to the program's run, with a margin for
    // clock differences.
    let window = Window {
        start_unix_ms: unix_ms(started).saturating_sub(60_000),
        end_unix_ms: unix_ms(finished) + 60_000,
    };
    let collected = collect_settled(
        ShapeSources::from_backends(&backends),
        &plan.run_id,
        window,
        timeout,
    )
    .await;
    let up: Vec<Component> = component_reports
        .iter()
        .filter(|(c, r)| match &stack {
            Some(stack) => stack.is_running(**c),
            None => r.status == ComponentStatus::Ready,
        })
        .map(|(c, _)| *c)
        .collect();
    let mode = if args.update {
        UpdateMode::Update
    } else {
        mode
    };
    let shape = match (collected, &args.snapshot) {
        (Ok(shape), None) => {
            let _ = out.write_all(shape.render().as_bytes());
            shape_report(
                CheckStatus::Pass,
                "read; printed above (give --snapshot PATH to compare it)".into(),
                &up,
                &plan.run_id,
            )
        }
        (Ok(shape), Some(path)) => match check_snapshot(path, &shape, mode) {
            Ok(o) => shape_report(
                if o.passed() {
                    CheckStatus::Pass
                } else {
                    CheckStatus::Fail
                },
                o.message_for_cli("app"),
                &up,
                &plan.run_id,
            ),
            Err(e) => shape_report(CheckStatus::Fail, e.to_string(), &up, &plan.run_id),
        },
        (Err(e @ CollectError::NothingArrived { .. }), Some(path)) if path.is_file() => {
            shape_report(
                CheckStatus::Fail,
                format!("{e}; the snapshot {} expects telemetry", path.display()),
                &up,
                &plan.run_id,
            )
        }
        (Err(e @ CollectError::NothingArrived { .. }), _) => {
            shape_report(CheckStatus::Skip, e.to_string(), &up, &plan.run_id)
        }
        (Err(e), _) => shape_report(CheckStatus::Fail, e.to_string(), &up, &plan.run_id),
    };
    on_event(Event::CheckFinished(&shape));
    check_reports.push(shape);

    if let Some(stack) = stack {
        let removed = stack.stop().await;
        on_event(Event::CleanedUp { removed });
    }
    let _ = std::fs::remove_dir_all(&work_dir);

    let mut report = Report::new(
        plan.run_id.clone(),
        plan.required.clone(),
        plan.configs,
        component_reports.into_values().collect(),
        check_reports,
    );
    if let Some(d) = deployment {
        report = report.with_target(&d.target.to_string());
    }
    if let Some(r) = &record {
        report.sent = SentSummary::of_record("the program", r);
    }
    match &ended.status {
        Ok(s) if s.success() || ended.stopped => {}
        Ok(s) => report
            .problems
            .push(format!("the program `{program}` failed: {s}")),
        Err(e) => report.problems.push(format!(
            "the program `{program}` could not be waited for: {e}"
        )),
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_without_lines_or_counters_yields_only_what_it_can_expect() {
        let m: Manifest = serde_json::from_str(
            r#"{"schema_version": 1, "scenario": "my-app", "run_id": "r1", "service": "my-app",
                "environment": "test", "started_at_unix_ms": 1732540000000, "finished_at_unix_ms": 1732540001000,
                "logs": {"streams": []},
                "traces": {"sampler_ratio": 1.0, "roots_started": 1, "traces": [{"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "spans": [
                  {"span_id": "00f067aa0ba902b7", "parent_span_id": null, "name": "work", "service": "my-app",
                   "kind": "internal", "status": "unset", "attributes": {},
                   "start_unix_nanos": 1732540000500000000, "duration_nanos": 1000}]}]},
                "metrics": {"counters": [], "histograms": [], "process_metrics": []}}"#,
        )
        .unwrap();
        let ids: Vec<String> = manifest_checks(&m, 1732540002000)
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(ids, ["app.traces.exact_ids", "app.traces.span_trees"]);
    }

    #[test]
    fn a_programs_own_metric_names_get_exact_checks() {
        use crate::core::check::{EvalAt, Query};
        use lgtm_check_recorder::manifest::{CounterSeries, HistogramSeries};
        let mut m = Manifest::new("my-app", "r1", "shop");
        m.finished_at_unix_ms = 1_732_540_001_000;
        let run = [("run_id".to_string(), "r1".to_string())];
        m.metrics.counters.push(CounterSeries {
            name: "orders_served_total".into(),
            labels: run.clone().into(),
            value: 3,
        });
        m.metrics.histograms.push(HistogramSeries {
            name: "basket_size".into(),
            labels: run.clone().into(),
            buckets: vec![],
            observations: vec![1.0, 4.0],
        });
        let checks = manifest_checks(&m, 1_732_540_002_000);
        let ids: Vec<&str> = checks.iter().map(|c| c.id.as_str()).collect();
        // a histogram without buckets (a summary) has no bucket check
        assert_eq!(
            ids,
            [
                "metrics.orders_served_total.exact",
                "metrics.basket_size.count",
                "metrics.basket_size.sum"
            ]
        );
        for c in &checks {
            let Query::PromQl {
                at:
                    EvalAt::Settled {
                        probe,
                        probe_at_unix_ms,
                        from_zero,
                        ..
                    },
                ..
            } = &c.query
            else {
                panic!("{}: {:?}", c.id, c.query)
            };
            assert_eq!(
                probe,
                r#"{__name__=~"basket_size_count|orders_served_total",run_id="r1"}"#
            );
            // after the program exited, not when it wrote its manifest
            assert_eq!(*probe_at_unix_ms, 1_732_540_002_000);
            assert!(!from_zero);
            assert!(c.query.text().contains("run_id=\"r1\""));
        }
    }

    #[test]
    fn served_metrics_nothing_scrapes_are_skipped_saying_so_never_asked() {
        use crate::core::check::Query;
        use lgtm_check_recorder::manifest::CounterSeries;
        let mut m = Manifest::new("my-app", "r1", "shop");
        m.finished_at_unix_ms = 1_732_540_001_000;
        m.metrics.counters.push(CounterSeries {
            name: "orders_served_total".into(),
            labels: [("run_id".to_string(), "r1".to_string())].into(),
            value: 3,
        });
        let mapping = RecordMapping::for_backends(
            None,
            crate::core::otlp_mapping::PromTranslation::prometheus("prometheus"),
        );
        let id = "metrics.orders_served_total.exact";
        let query = |scraped: bool| {
            all_checks(None, &mapping, Some(&m), 1_732_540_002_000, scraped)
                .into_iter()
                .find(|c| c.id == id)
                .expect("the manifest's metrics check")
                .query
        };
        // Scraped by the stack's Prometheus: asked of the Mimir role.
        assert!(matches!(query(true), Query::PromQl { .. }));
        // A deployment, and nothing pushed: skipped with the reason.
        let Query::NotPossible { reason } = query(false) else {
            panic!("asked although nothing scraped or pushed it")
        };
        assert!(reason.contains("nothing scrapes its /metrics"), "{reason}");
    }

    #[test]
    fn the_scrape_flag_takes_a_port_or_an_address() {
        assert_eq!(
            scrape_addresses(Some("9464")).unwrap(),
            ("host.docker.internal:9464".into(), "0.0.0.0:9464".into())
        );
        assert_eq!(
            scrape_addresses(Some("10.0.0.5:9000")).unwrap(),
            ("10.0.0.5:9000".into(), "0.0.0.0:9000".into())
        );
        for bad in ["x", ":80", "h:0", "h:99999"] {
            assert!(matches!(
                scrape_addresses(Some(bad)),
                Err(AppError::Scrape(_))
            ));
        }
    }

    #[test]
    fn no_free_port_is_named_as_such_with_the_flag_that_avoids_it() {
        let e = AppError::NoFreePort(std::io::Error::other("too many open files"));
        let text = e.to_string();
        assert!(text.contains("no free TCP port"), "{text}");
        assert!(text.contains("--scrape PORT"), "{text}");
        assert!(!text.contains("working directory"), "{text}");
        let source = std::error::Error::source(&e).unwrap().to_string();
        assert_eq!(source, "too many open files");
    }

    #[test]
    fn the_program_gets_the_run_id_after_the_callers_resource_attributes() {
        let urls: BTreeMap<&'static str, String> = [
            ("otlp_grpc", "http://127.0.0.1:1".to_string()),
            ("otlp_http", "http://127.0.0.1:2".to_string()),
            ("loki", "http://127.0.0.1:3".to_string()),
        ]
        .into_iter()
        .collect();
        let env: BTreeMap<String, String> = program_env(
            &urls,
            "http/protobuf",
            "r1",
            Path::new("/tmp/m.json"),
            "0.0.0.0:9",
            Some("service.name=shop"),
        )
        .into_iter()
        .collect();
        assert_eq!(env["OTEL_EXPORTER_OTLP_ENDPOINT"], "http://127.0.0.1:2");
        assert_eq!(env["OTEL_EXPORTER_OTLP_PROTOCOL"], "http/protobuf");
        assert_eq!(
            env["OTEL_RESOURCE_ATTRIBUTES"],
            "service.name=shop,run_id=r1"
        );
        assert_eq!(env["LOKI_URL"], "http://127.0.0.1:3");
        assert_eq!(env["LGTM_CHECK_RUN_ID"], "r1");
        assert_eq!(env["LGTM_CHECK_MANIFEST"], "/tmp/m.json");
        assert_eq!(env["LGTM_CHECK_METRICS_LISTEN"], "0.0.0.0:9");
        assert!(!env.contains_key("LGTM_CHECK_REMOTE_WRITE_URL"));
    }
}
