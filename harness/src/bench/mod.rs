//! `lgtm-check bench`: measured figures, side by side with a bare baseline, printed as
//! a table and written as JSON. Not a test: nothing is asserted.
//!
//! In one run, in this order:
//! 1. the full default run, cold (its stack started and removed), phase by phase,
//!    with the stack's memory sampled (`docker stats`) and this process's peak RSS
//!    read after it;
//! 2. a stack as `run` starts it: each component's time to ready, and the whole start;
//! 3. on that stack, time-to-visible of one pushed item per signal (log line, trace by
//!    id, TraceQL search, TraceQL metrics, PromQL sample), each sample twice: asked
//!    through lgtm-check's clients and poll loop ([`crate::wait::poll_until`]), and by
//!    a bare probe that asks the same endpoint every 5 ms;
//!    then the default run again on that stack, warm: kept up, its Prometheus role
//!    already holding the scrape target ([`runner::run_on_stack`]);
//! 4. on that stack, the volume scenario at several sizes per signal: throughput (items
//!    over the time from the scenario's start to its flush) and loss (what the exact
//!    checks found missing) with the stack's push-back;
//! 5. on that stack, OTLP throughput through lgtm-check's recording gateway against
//!    the same requests sent straight to the backends ([`gateway`]);
//! 6. the same images and configs started by `docker run` and polled every 5 ms (the
//!    raw baseline of 2).
//!
//! Main items: [`bench()`], [`BenchReport`], [`percentile`], [`gateway::measure`].

pub mod gateway;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::core::catalog_grafana::LoadedDashboard;
use crate::core::check::Signal;
use crate::core::component::Component;
use crate::core::event::Event;
use crate::core::observed::Observed;
use crate::core::plan::RunPlan;
use crate::core::report::CheckStatus;
use crate::core::scenarios::{VOLUME, VolumeSize, checks_for};
use crate::execute::run_check;
use crate::runner;
use crate::scenario::{ScenarioRun, find_binary};
use crate::stack::{self, Stack};
use crate::wait::{Attempt, poll_until};
use lgtm_scenarios::prompb;

/// How long one probe waits for its item.
const PROBE_DEADLINE: Duration = Duration::from_secs(60);
/// The bare probe's interval.
const BARE_POLL: Duration = Duration::from_millis(5);

/// The nearest-rank percentile `p` (0–100) of `values` (milliseconds); `None` when
/// empty.
///
/// ```
/// use lgtm_check::bench::percentile;
/// let v: Vec<f64> = (1..=20).map(f64::from).collect();
/// assert_eq!(percentile(&v, 50.0), Some(10.0));
/// assert_eq!(percentile(&v, 95.0), Some(19.0));
/// ```
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
    Some(v[rank.min(v.len()) - 1])
}

/// Where the figures were measured.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// CPUs this process may use (0 when unknown).
    pub cpus: usize,
    /// Total memory (`/proc/meminfo`'s `MemTotal`), in GiB to one decimal; 0 when
    /// unknown.
    pub memory_gib: f64,
    /// `/proc/cpuinfo`'s first `model name` (empty when unknown).
    pub cpu_model: String,
    /// The image each component was asked to run with, by component name.
    pub images: BTreeMap<String, String>,
    /// `/proc/loadavg`'s 1-minute load when the benchmark started (other work on
    /// the machine shows here).
    pub load_at_start: Option<f64>,
}

/// One component's time to ready.
#[derive(Debug, Clone, Serialize)]
pub struct Ready {
    /// The component's name (`loki`, `tempo`, …).
    pub component: String,
    /// Through lgtm-check's stack: from the start request until the ready endpoint
    /// answered 200, in ms.
    pub stack_ms: Option<u64>,
    /// By `docker run` and a 5 ms poll of the same ready endpoint, in ms; `None`
    /// when the raw start failed (the reason is in [`BenchReport::notes`]).
    pub raw_ms: Option<u64>,
}

/// Time-to-visible of one signal.
#[derive(Debug, Clone, Serialize)]
pub struct Visible {
    /// What was pushed and asked for, e.g. `trace by id`, `PromQL sample`.
    pub signal: String,
    /// Items pushed, each asked for both ways.
    pub samples: usize,
    /// Median time from push to visible through lgtm-check's clients and poll loop,
    /// in ms ([`percentile`]); `None` when no sample was seen.
    pub harness_p50_ms: Option<f64>,
    /// 95th percentile of the same, in ms.
    pub harness_p95_ms: Option<f64>,
    /// Median time from push to visible for the bare probe (same endpoint every
    /// 5 ms), in ms; `None` when no sample was seen.
    pub bare_p50_ms: Option<f64>,
    /// 95th percentile of the same, in ms.
    pub bare_p95_ms: Option<f64>,
    /// Probes that never saw their item (or could not push it), with why.
    pub misses: Vec<String>,
    /// How many of the samples each way never saw their item (left out of the
    /// percentiles).
    pub harness_missed: usize,
    /// The same for the bare probe.
    pub bare_missed: usize,
}

/// One volume size.
#[derive(Debug, Clone, Serialize)]
pub struct Volume {
    /// `logs`, `traces` or `metrics` (`all` when the volume binary was not found).
    pub signal: String,
    /// Log lines, spans or series the scenario was asked to emit.
    pub items: u64,
    /// From the scenario's start to its flush (ms).
    pub emit_ms: u64,
    /// `items` over `emit_ms`, per second, rounded (0 when the scenario failed).
    pub per_sec: f64,
    /// `exact` when every item arrived, else what the check found.
    pub arrival: String,
    /// `Some(0)` when every exact check passed; `None` when one did not (then
    /// `arrival` says what was missing) or the scenario did not run.
    pub lost: Option<u64>,
    /// The stack's push-back, in one line, if it refused pushes.
    pub pushback: Option<String>,
}

/// A moment of the default run.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    /// What had happened by then.
    pub phase: String,
    /// Milliseconds from the run's start.
    pub at_ms: u64,
}

/// Everything `lgtm-check bench` measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Where it was measured.
    pub machine: Machine,
    /// Wall time of the full default run, stack start included, in ms; `None`
    /// with `--skip-run` or when the run could not be made.
    pub cold_run_ms: Option<u64>,
    /// The same run on a stack kept up (its Prometheus role already holding the
    /// scrape target), from its start to its report, in ms.
    pub warm_run_ms: Option<u64>,
    /// The default run's exit code ([`crate::core::report::exit`]).
    pub cold_run_exit: Option<i32>,
    /// When each phase of the default run ended, in ms from its start: the stack
    /// ready, the first scenario started, the last scenario emitted, the first and
    /// the last check's verdict, the containers removed.
    pub cold_run_phases: Vec<Phase>,
    /// The warm run's phases (its stack is up from the start; nothing is removed).
    pub warm_run_phases: Vec<Phase>,
    /// Time for lgtm-check to start the whole stack (images checked, network, all
    /// components ready), in ms; 0 when it did not start (see `notes`).
    pub stack_start_ms: u64,
    /// Each component's time to ready, through the stack and by `docker run`.
    pub ready: Vec<Ready>,
    /// Time for `docker run` to start the same components to ready, in ms; `None`
    /// when the raw baseline could not start (see `notes`).
    pub raw_start_ms: Option<u64>,
    /// Highest sum of the stack's container memory seen during the default run
    /// (`docker stats` every 200 ms), in MiB.
    pub stack_peak_memory_mib: Option<f64>,
    /// Each component's highest memory during the default run, in MiB.
    pub stack_peak_memory_by_component_mib: BTreeMap<String, f64>,
    /// This process's peak RSS (`VmHWM`) after the default run, in MiB.
    pub harness_peak_rss_mib: Option<f64>,
    /// Time-to-visible per signal.
    pub visible: Vec<Visible>,
    /// Throughput and loss per volume size.
    pub volume: Vec<Volume>,
    /// OTLP throughput per signal, straight to the backends and through the
    /// gateway (times in ms; items counted per path).
    pub gateway: Vec<gateway::GatewayThroughput>,
    /// What could not be measured and why, and the default run's outcome.
    pub notes: Vec<String>,
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Samples per signal (at least 20 is meaningful for a p95).
    pub samples: usize,
    /// Skip the full default run (no cold/warm figures, no memory).
    pub skip_run: bool,
    /// Volume sizes of log lines, one volume run each.
    pub log_lines: Vec<u64>,
    /// Volume sizes of spans (10 per trace), one volume run each.
    pub spans: Vec<u64>,
    /// Volume sizes of metric series, one volume run each.
    pub series: Vec<u64>,
    /// What the gateway's throughput measurement sends per signal and path.
    pub gateway: gateway::GatewayLoad,
}

fn unix_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

fn mib(bytes: f64) -> f64 {
    (bytes / (1024.0 * 1024.0) * 10.0).round() / 10.0
}

/// `123.4MiB / 23.4GiB` → bytes of the first figure.
fn parse_mem(text: &str) -> Option<f64> {
    let used = text.split('/').next()?.trim();
    let split = used.find(|c: char| c.is_ascii_alphabetic())?;
    let (n, unit) = used.split_at(split);
    let n: f64 = n.trim().parse().ok()?;
    let k = match unit {
        "B" => 1.0,
        "KiB" | "kB" => 1024.0,
        "MiB" | "MB" => 1024.0 * 1024.0,
        "GiB" | "GB" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some(n * k)
}

/// `VmHWM` of this process (peak RSS), in bytes.
fn peak_rss() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024.0)
}

fn machine(images: BTreeMap<String, String>) -> Machine {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kb = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or(0.0);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    Machine {
        cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
        memory_gib: (kb / 1024.0 / 1024.0 * 10.0).round() / 10.0,
        cpu_model: cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .unwrap_or("")
            .trim()
            .to_owned(),
        images,
        load_at_start: std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|l| l.split_whitespace().next()?.parse().ok()),
    }
}

async fn docker_cli(args: &[&str]) -> Result<String, String> {
    let out = tokio::process::Command::new("docker")
        .args(args)
        .output()
        .await
        .map_err(|e| format!("docker {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "docker {}: {}",
            args.first().unwrap_or(&""),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Memory of each container of `run_id` now: (component, bytes).
async fn container_memory(run_id: &str) -> Vec<(String, f64)> {
    let filter = format!("label={}={run_id}", stack::docker::LABEL_RUN);
    let Ok(ids) = docker_cli(&["ps", "-q", "--filter", &filter]).await else {
        return Vec::new();
    };
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if ids.is_empty() {
        return Vec::new();
    }
    let mut args = vec![
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}}\t{{.MemUsage}}",
    ];
    args.extend(ids);
    let Ok(text) = docker_cli(&args).await else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| {
            let (name, mem) = l.split_once('\t')?;
            let component = name.rsplit('-').next()?.to_owned();
            Some((component, parse_mem(mem)?))
        })
        .collect()
}

/// The moments of a run, from its events: stack ready, first scenario started,
/// last manifest read, first and last verdict (with the last check's id: the next
/// bottleneck), containers removed.
#[derive(Default)]
struct PhaseClock {
    marks: Mutex<[Option<Instant>; 6]>,
    last_check: Mutex<String>,
}

impl PhaseClock {
    fn saw(&self, e: Event<'_>) {
        let mut m = self.marks.lock().unwrap_or_else(|e| e.into_inner());
        let now = Some(Instant::now());
        match e {
            Event::ComponentFinished(_) if m[1].is_none() => m[0] = now,
            Event::ScenarioStarted { .. } if m[1].is_none() => m[1] = now,
            Event::ScenarioEmitted { .. } => m[2] = now,
            Event::CheckFinished(r) => {
                if m[3].is_none() {
                    m[3] = now;
                }
                m[4] = now;
                *self.last_check.lock().unwrap_or_else(|e| e.into_inner()) = r.id.clone();
            }
            Event::CleanedUp { .. } => m[5] = now,
            _ => {}
        }
    }

    /// The phases seen, in ms from `started`.
    fn phases(&self, started: Instant) -> Vec<Phase> {
        let m = self.marks.lock().unwrap_or_else(|e| e.into_inner());
        let last = self
            .last_check
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let last = format!("last check's verdict ({last})");
        let names = [
            "stack ready (every component started and ready)",
            "first scenario started",
            "last scenario's manifest read (the scraped one: after its scrapes)",
            "first check's verdict",
            last.as_str(),
            "containers removed",
        ];
        names
            .iter()
            .zip(m.iter())
            .filter_map(|(name, at)| {
                Some(Phase {
                    phase: (*name).into(),
                    at_ms: at.as_ref()?.saturating_duration_since(started).as_millis() as u64,
                })
            })
            .collect()
    }
}

/// Step 1: the full default run, cold, with the stack's memory sampled.
async fn default_run(plan: &RunPlan, report: &mut BenchReport) {
    let mut plan = plan.clone();
    plan.run_id = stack::fresh_run_id();
    let clock = PhaseClock::default();
    let on_event = |e: Event<'_>| clock.saw(e);
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (run_id, done) = (plan.run_id.clone(), done.clone());
        tokio::spawn(async move {
            let mut peak_total = 0.0f64;
            let mut peak: BTreeMap<String, f64> = BTreeMap::new();
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let now = container_memory(&run_id).await;
                peak_total = peak_total.max(now.iter().map(|(_, b)| b).sum());
                for (c, b) in now {
                    let e = peak.entry(c).or_insert(0.0);
                    *e = e.max(b);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            (peak_total, peak)
        })
    };
    let started = Instant::now();
    let result = runner::run(&plan, &on_event).await;
    let wall = started.elapsed();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    report.harness_peak_rss_mib = peak_rss().map(mib);
    if let Ok((total, by)) = sampler.await
        && total > 0.0
    {
        report.stack_peak_memory_mib = Some(mib(total));
        report.stack_peak_memory_by_component_mib =
            by.into_iter().map(|(c, b)| (c, mib(b))).collect();
    }
    match result {
        Ok(r) => {
            report.cold_run_ms = Some(wall.as_millis() as u64);
            report.cold_run_exit = Some(r.exit_code());
            report.cold_run_phases = clock.phases(started);
            report.notes.push(format!(
                "default run: {} passed, {} failed, {} skipped",
                r.summary.passed, r.summary.failed, r.summary.skipped
            ));
        }
        Err(e) => report.notes.push(format!("the default run failed: {e}")),
    }
}

/// Waits (up to 15 s) until the stack's Prometheus role has a scrape target: it
/// applies the targets of its configuration only at its discovery tick (5 s), which
/// a kept stack has long passed. Whether it came.
async fn scrape_target_known(stack: &Stack) -> bool {
    let Some(prometheus) = stack.running().get(&Component::Prometheus) else {
        return false;
    };
    let http = reqwest::Client::new();
    let url = format!("{}/api/v1/targets?state=active", prometheus.api_url);
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok(r) = http.get(&url).send().await
            && let Ok(v) = r.json::<serde_json::Value>().await
            && v["data"]["activeTargets"]
                .as_array()
                .is_some_and(|t| !t.is_empty())
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// The default run on `stack`, kept up (its Prometheus role already has the
/// scrape target), under a run id of its own: what a run costs without the start.
async fn warm_run(plan: &RunPlan, stack: &Stack, scrape_port: u16, report: &mut BenchReport) {
    if !scrape_target_known(stack).await {
        report.notes.push(
            "warm run: the Prometheus role had no scrape target within 15 s; measured all the same"
                .into(),
        );
    }
    let mut plan = plan.clone();
    plan.run_id = stack::fresh_run_id();
    let clock = PhaseClock::default();
    let started = Instant::now();
    match runner::run_on_stack(&plan, stack, scrape_port, &|e| clock.saw(e)).await {
        Ok(r) => {
            report.warm_run_ms = Some(started.elapsed().as_millis() as u64);
            report.warm_run_phases = clock.phases(started);
            report.notes.push(format!(
                "warm run: {} passed, {} failed, {} skipped",
                r.summary.passed, r.summary.failed, r.summary.skipped
            ));
        }
        Err(e) => report.notes.push(format!("the warm run failed: {e}")),
    }
}

/// How one probe asks for its item: the harness's way and the bare way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    LogLine,
    TraceById,
    TraceQlSearch,
    TraceQlMetrics,
    PromQlSample,
}

impl Probe {
    const ALL: [Probe; 5] = [
        Probe::LogLine,
        Probe::TraceById,
        Probe::TraceQlSearch,
        Probe::TraceQlMetrics,
        Probe::PromQlSample,
    ];

    fn name(self) -> &'static str {
        match self {
            Probe::LogLine => "log line (LogQL)",
            Probe::TraceById => "trace by id",
            Probe::TraceQlSearch => "TraceQL search",
            Probe::TraceQlMetrics => "TraceQL metrics",
            Probe::PromQlSample => "PromQL sample",
        }
    }

    fn component(self) -> Component {
        match self {
            Probe::LogLine => Component::Loki,
            Probe::PromQlSample => Component::Mimir,
            _ => Component::Tempo,
        }
    }
}

/// The stack's addresses the probes need.
struct Targets {
    http: reqwest::Client,
    loki: Option<String>,
    tempo: Option<String>,
    otlp_http: Option<String>,
    prom_query: Option<String>,
    remote_write: Option<String>,
}

/// Pushes the item of probe `id`; returns the trace id for trace probes.
async fn push(t: &Targets, probe: Probe, id: &str) -> Result<String, String> {
    let now = unix_ns();
    let trace_id = format!("{:032x}", now ^ (u128::from(id.len() as u32) << 100));
    let checked = |r: Result<reqwest::Response, reqwest::Error>| async move {
        let r = r.map_err(|e| e.to_string())?;
        if r.status().is_success() {
            Ok(())
        } else {
            Err(format!(
                "push answered {}: {}",
                r.status(),
                r.text().await.unwrap_or_default()
            ))
        }
    };
    match probe {
        Probe::LogLine => {
            let url = format!("{}/loki/api/v1/push", t.loki.as_ref().ok_or("no loki")?);
            let body = serde_json::json!({"streams": [{"stream": {"bench": id},
                "values": [[now.to_string(), format!("bench line {id}")]]}]});
            checked(t.http.post(url).json(&body).send().await).await?;
            Ok(String::new())
        }
        Probe::PromQlSample => {
            let url = t.remote_write.as_ref().ok_or("no metrics role")?;
            let req = prompb::WriteRequest {
                timeseries: vec![prompb::TimeSeries {
                    labels: vec![
                        prompb::Label {
                            name: "__name__".into(),
                            value: "lgtm_bench_probe".into(),
                        },
                        prompb::Label {
                            name: "bench".into(),
                            value: id.into(),
                        },
                    ],
                    samples: vec![prompb::Sample {
                        value: 1.0,
                        timestamp: (now / 1_000_000) as i64,
                    }],
                    exemplars: vec![],
                }],
            };
            let body = prompb::encode(&req).map_err(|e| e.to_string())?;
            let r = t
                .http
                .post(url)
                .header("Content-Type", "application/x-protobuf")
                .header("Content-Encoding", "snappy")
                .header("X-Prometheus-Remote-Write-Version", "0.1.0")
                .body(body)
                .send()
                .await;
            checked(r).await?;
            Ok(String::new())
        }
        _ => {
            let url = format!("{}/v1/traces", t.otlp_http.as_ref().ok_or("no tempo")?);
            let span_id = format!("{:016x}", (now as u64) | 1);
            let body = serde_json::json!({"resourceSpans": [{
                "resource": {"attributes": [
                    {"key": "service.name", "value": {"stringValue": "lgtm-bench"}},
                    {"key": "run_id", "value": {"stringValue": id}}]},
                "scopeSpans": [{"spans": [{
                    "traceId": trace_id, "spanId": span_id, "name": "probe", "kind": 1,
                    "startTimeUnixNano": (now - 1_000_000).to_string(),
                    "endTimeUnixNano": now.to_string()}]}]}]});
            checked(t.http.post(url).json(&body).send().await).await?;
            Ok(trace_id)
        }
    }
}

/// One question for probe `id`: `Ok(true)` once the item is visible.
async fn ask(
    t: &Targets,
    backends: Option<&crate::execute::Backends>,
    probe: Probe,
    id: &str,
    trace_id: &str,
    pushed_ns: u128,
) -> Result<bool, String> {
    let s = (pushed_ns / 1_000_000_000) as u64;
    let (start, end) = (s.saturating_sub(60), s + 60);
    let traceql = format!("{{ resource.run_id = \"{id}\" }}");
    let metrics_q = format!("{traceql} | rate()");
    let e = |e: crate::clients::ClientError| e.to_string();
    if let Some(b) = backends {
        // The harness's clients, as the checks use them.
        return match probe {
            Probe::LogLine => {
                let loki = b.loki.as_ref().ok_or("no loki")?;
                let expr = format!("{{bench=\"{id}\"}}");
                let got = loki
                    .query_range(
                        &expr,
                        pushed_ns - 60_000_000_000,
                        pushed_ns + 60_000_000_000,
                        10,
                    )
                    .await
                    .map_err(e)?;
                Ok(matches!(got, Observed::Logs(l) if !l.is_empty()))
            }
            Probe::TraceById => {
                let tempo = b.tempo.as_ref().ok_or("no tempo")?;
                Ok(tempo
                    .trace(trace_id)
                    .await
                    .map_err(e)?
                    .is_some_and(|s| !s.is_empty()))
            }
            Probe::TraceQlSearch => {
                let tempo = b.tempo.as_ref().ok_or("no tempo")?;
                let found = tempo.search(&traceql, start, end, 20).await.map_err(e)?;
                Ok(!found.is_empty())
            }
            Probe::TraceQlMetrics => {
                let tempo = b.tempo.as_ref().ok_or("no tempo")?;
                let got = tempo
                    .metrics_query_range(&metrics_q, start, end)
                    .await
                    .map_err(e)?;
                Ok(got.iter().any(|x| x.value > 0.0))
            }
            Probe::PromQlSample => {
                let prom = b
                    .prometheus_api
                    .get(&Component::Mimir)
                    .ok_or("no metrics role")?;
                let got = prom
                    .query(&format!("lgtm_bench_probe{{bench=\"{id}\"}}"), None)
                    .await
                    .map_err(e)?;
                Ok(!got.is_empty())
            }
        };
    }
    // The bare probe: one GET or POST, the answer decoded.
    let get = |url: String, params: Vec<(&'static str, String)>| {
        let http = t.http.clone();
        async move {
            let r = http
                .get(url)
                .query(&params)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = r.status().as_u16();
            Ok::<_, String>((status, r.text().await.unwrap_or_default()))
        }
    };
    match probe {
        Probe::LogLine => {
            let url = format!(
                "{}/loki/api/v1/query_range",
                t.loki.as_ref().ok_or("no loki")?
            );
            let (_, body) = get(
                url,
                vec![
                    ("query", format!("{{bench=\"{id}\"}}")),
                    ("start", (pushed_ns - 60_000_000_000).to_string()),
                    ("end", (pushed_ns + 60_000_000_000).to_string()),
                    ("limit", "10".into()),
                ],
            )
            .await?;
            Ok(crate::clients::loki::decode_query(&body)
                .is_ok_and(|o| matches!(o, Observed::Logs(l) if !l.is_empty())))
        }
        Probe::TraceById => {
            let url = format!(
                "{}/api/traces/{trace_id}",
                t.tempo.as_ref().ok_or("no tempo")?
            );
            let (status, _) = get(url, Vec::new()).await?;
            Ok(status == 200)
        }
        Probe::TraceQlSearch => {
            let url = format!("{}/api/search", t.tempo.as_ref().ok_or("no tempo")?);
            let (_, body) = get(
                url,
                vec![
                    ("q", traceql),
                    ("start", start.to_string()),
                    ("end", end.to_string()),
                    ("limit", "20".into()),
                ],
            )
            .await?;
            Ok(crate::clients::tempo::decode_search(&body).is_ok_and(|f| !f.is_empty()))
        }
        Probe::TraceQlMetrics => {
            let url = format!(
                "{}/api/metrics/query_range",
                t.tempo.as_ref().ok_or("no tempo")?
            );
            let (_, body) = get(
                url,
                vec![
                    ("q", metrics_q),
                    ("start", start.to_string()),
                    ("end", end.to_string()),
                ],
            )
            .await?;
            Ok(crate::clients::tempo::decode_metrics(&body)
                .is_ok_and(|s| s.iter().any(|x| x.value > 0.0)))
        }
        Probe::PromQlSample => {
            let url = format!(
                "{}/api/v1/query",
                t.prom_query.as_ref().ok_or("no metrics role")?
            );
            let (_, body) = get(
                url,
                vec![("query", format!("lgtm_bench_probe{{bench=\"{id}\"}}"))],
            )
            .await?;
            Ok(crate::clients::prometheus::decode_query_response(&body).is_ok_and(|a| {
                matches!(a, crate::clients::prometheus::QueryAnswer::Samples(v) if !v.is_empty())
            }))
        }
    }
}

/// One sample: push an item, then ask until it is visible; the time from the
/// push's acknowledgement to the first answer that has it.
async fn sample(
    t: &Targets,
    backends: Option<&crate::execute::Backends>,
    probe: Probe,
    id: &str,
) -> Result<f64, String> {
    let trace_id = push(t, probe, id).await?;
    let pushed_ns = unix_ns();
    let pushed = Instant::now();
    match backends {
        Some(_) => {
            let r = poll_until(PROBE_DEADLINE, || async {
                match ask(t, backends, probe, id, &trace_id, pushed_ns).await {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(Attempt::NotYet("not yet".into())),
                    Err(e) => Err(Attempt::NotYet(e)),
                }
            })
            .await;
            r.map(|_| pushed.elapsed().as_secs_f64() * 1000.0)
                .map_err(|e| format!("{e:?}"))
        }
        None => loop {
            if ask(t, None, probe, id, &trace_id, pushed_ns).await == Ok(true) {
                return Ok(pushed.elapsed().as_secs_f64() * 1000.0);
            }
            if pushed.elapsed() > PROBE_DEADLINE {
                return Err(format!("not visible within {PROBE_DEADLINE:?}"));
            }
            tokio::time::sleep(BARE_POLL).await;
        },
    }
}

/// Step 3: time-to-visible per signal, harness and bare, `samples` each.
async fn visible(stack: &Stack, samples: usize, prefix: &str) -> Vec<Visible> {
    let backends = stack.backends();
    let t = Targets {
        http: reqwest::Client::new(),
        loki: stack.loki_url().ok(),
        tempo: stack.url(Component::Tempo).ok(),
        otlp_http: stack.otlp_http_url().ok(),
        prom_query: stack.url(Component::Mimir).ok(),
        remote_write: stack.remote_write_url().ok(),
    };
    let mut out = Vec::new();
    for probe in Probe::ALL {
        let mut v = Visible {
            signal: probe.name().into(),
            samples,
            harness_p50_ms: None,
            harness_p95_ms: None,
            bare_p50_ms: None,
            bare_p95_ms: None,
            misses: Vec::new(),
            harness_missed: 0,
            bare_missed: 0,
        };
        if !stack.is_running(probe.component()) {
            v.misses
                .push(format!("{} is not running", probe.component().name()));
            out.push(v);
            continue;
        }
        // TraceQL metrics become visible only when the metrics-generator has cut its
        // block: its samples run five at a time, the others one at a time.
        let at_once = if probe == Probe::TraceQlMetrics { 5 } else { 1 };
        let (mut harness, mut bare) = (Vec::new(), Vec::new());
        let ids: Vec<usize> = (0..samples).collect();
        for chunk in ids.chunks(at_once) {
            let runs = chunk.iter().map(|i| {
                let t = &t;
                let backends = &backends;
                async move {
                    let h = sample(
                        t,
                        Some(backends),
                        probe,
                        &format!("{prefix}-h{i}-{probe:?}"),
                    )
                    .await;
                    let b = sample(t, None, probe, &format!("{prefix}-b{i}-{probe:?}")).await;
                    (h, b)
                }
            });
            for (h, b) in futures::future::join_all(runs).await {
                match h {
                    Ok(ms) => harness.push(ms),
                    Err(e) => {
                        v.harness_missed += 1;
                        v.misses.push(format!("harness: {e}"));
                    }
                }
                match b {
                    Ok(ms) => bare.push(ms),
                    Err(e) => {
                        v.bare_missed += 1;
                        v.misses.push(format!("bare: {e}"));
                    }
                }
            }
        }
        v.harness_p50_ms = percentile(&harness, 50.0);
        v.harness_p95_ms = percentile(&harness, 95.0);
        v.bare_p50_ms = percentile(&bare, 50.0);
        v.bare_p95_ms = percentile(&bare, 95.0);
        out.push(v);
    }
    out
}

/// Step 4: the volume scenario on the stack, one signal at a time.
async fn volume(
    stack: &Stack,
    plan: &RunPlan,
    scrape_port: u16,
    opts: &BenchOptions,
    prefix: &str,
) -> Vec<Volume> {
    let mut out = Vec::new();
    let binary = match find_binary(VOLUME.binary, plan.scenario_dir.as_deref()) {
        Ok(b) => b,
        Err(e) => {
            out.push(Volume {
                signal: "all".into(),
                items: 0,
                emit_ms: 0,
                per_sec: 0.0,
                arrival: format!("not run: {e}"),
                lost: None,
                pushback: None,
            });
            return out;
        }
    };
    let work = std::env::temp_dir().join(format!("lgtm-check-bench-{prefix}"));
    let _ = std::fs::create_dir_all(&work);
    let sizes = opts
        .log_lines
        .iter()
        .map(|&n| {
            (
                Signal::Logs,
                VolumeSize {
                    log_lines: n,
                    spans: 0,
                    series: 0,
                },
                n,
            )
        })
        .chain(opts.spans.iter().map(|&n| {
            (
                Signal::Traces,
                VolumeSize {
                    log_lines: 0,
                    spans: n,
                    series: 0,
                },
                n,
            )
        }))
        .chain(opts.series.iter().map(|&n| {
            (
                Signal::Metrics,
                VolumeSize {
                    log_lines: 0,
                    spans: 0,
                    series: n,
                },
                n,
            )
        }));
    let backends = stack.backends();
    let components = stack.components().clone();
    let ctx = stack::configs::catalog_context(plan.configs, LoadedDashboard::NotRead)
        .expect("the embedded provisioning is valid");
    for (i, (signal, size, items)) in sizes.enumerate() {
        let run_id = format!("{prefix}-vol{i}");
        let mut args = vec!["--run-id".to_string(), run_id.clone()];
        args.extend(size.args());
        if let Ok(url) = stack.loki_url() {
            args.extend(["--loki-url".into(), url]);
        }
        if let Ok(url) = stack.otlp_grpc_url() {
            args.extend([
                "--otlp-endpoint".into(),
                url,
                "--otlp-protocol".into(),
                "grpc".into(),
            ]);
        }
        if signal == Signal::Metrics {
            args.extend([
                "--metrics-listen".into(),
                format!("0.0.0.0:{scrape_port}"),
                "--await-scrapes".into(),
                "--hold".into(),
            ]);
        }
        let manifest = work.join(format!("{run_id}.json"));
        let started = Instant::now();
        let run = match ScenarioRun::start(VOLUME.binary, &binary, &args, &manifest).await {
            Ok(r) => r,
            Err(e) => {
                out.push(Volume {
                    signal: format!("{signal:?}").to_lowercase(),
                    items,
                    emit_ms: 0,
                    per_sec: 0.0,
                    arrival: format!("the scenario failed: {e}"),
                    lost: None,
                    pushback: None,
                });
                continue;
            }
        };
        let emit = run.emitted_at - started;
        let mut arrival = Vec::new();
        let mut lost = Some(0);
        for check in checks_for(&VOLUME, &run.manifest, &ctx, None) {
            let r = run_check(
                &check,
                &backends,
                &components,
                run.emitted_at,
                Duration::from_secs(120),
            )
            .await;
            match r.status {
                CheckStatus::Pass => {}
                _ => {
                    lost = None;
                    arrival.push(format!(
                        "{}: {}",
                        r.id,
                        r.reason.lines().next().unwrap_or("")
                    ));
                }
            }
        }
        let pushback = run
            .manifest
            .pushback
            .iter()
            .map(|p| crate::core::report::PushBackFinding::new("volume", p.clone()).summary)
            .reduce(|a, b| format!("{a}; {b}"));
        run.finish().await;
        let secs = emit.as_secs_f64().max(0.001);
        out.push(Volume {
            signal: format!("{signal:?}").to_lowercase(),
            items,
            emit_ms: emit.as_millis() as u64,
            per_sec: (items as f64 / secs).round(),
            arrival: if arrival.is_empty() {
                "exact".into()
            } else {
                arrival.join("; ")
            },
            lost,
            pushback,
        });
    }
    let _ = std::fs::remove_dir_all(&work);
    out
}

/// Step 5: the same components by `docker run`, polled every 5 ms; each component's
/// time to ready and the whole start. Every container is removed after.
async fn raw_start(
    specs: &[stack::ComponentSpec],
    prefix: &str,
) -> (BTreeMap<Component, u64>, Option<u64>, Vec<String>) {
    let mut notes = Vec::new();
    let raw_run = format!("{prefix}-raw");
    let network = format!("lgtm-check-{raw_run}");
    // The labels of a run, so `lgtm-check cleanup` and Ctrl-C find these too.
    let labels: Vec<String> = stack::docker::run_labels(&raw_run)
        .into_iter()
        .flat_map(|(k, v)| ["--label".to_string(), format!("{k}={v}")])
        .collect();
    let dir = std::env::temp_dir().join(format!("lgtm-check-{raw_run}"));
    let _ = std::fs::create_dir_all(&dir);
    let mut create: Vec<&str> = vec!["network", "create"];
    create.extend(labels.iter().map(String::as_str));
    create.push(&network);
    if let Err(e) = docker_cli(&create).await {
        notes.push(e);
        return (BTreeMap::new(), None, notes);
    }
    let http = reqwest::Client::new();
    let started_all = Instant::now();
    let starts = specs.iter().map(|spec| {
        let (http, dir, network, labels) =
            (http.clone(), dir.clone(), network.clone(), labels.clone());
        let raw_run = raw_run.clone();
        async move {
            let name = format!("lgtm-check-{raw_run}-{}", spec.component.name());
            let mut args: Vec<String> =
                vec!["run".into(), "-d".into(), "--name".into(), name.clone()];
            args.extend(labels);
            args.extend([
                "--network".into(),
                network,
                "--network-alias".into(),
                spec.container_name.clone(),
                "-p".into(),
                format!("127.0.0.1::{}", spec.http_port),
            ]);
            for (i, (path, contents)) in spec.files.iter().enumerate() {
                let host: PathBuf = dir.join(format!("{}-{i}", spec.component.name()));
                if std::fs::write(&host, contents).is_err() {
                    return Err(format!("cannot write {}", host.display()));
                }
                args.extend(["-v".into(), format!("{}:{path}:ro", host.display())]);
            }
            for (k, v) in &spec.env {
                args.extend(["-e".into(), format!("{k}={v}")]);
            }
            if spec.reach_host {
                args.extend([
                    "--add-host".into(),
                    "host.docker.internal:host-gateway".into(),
                ]);
            }
            args.push(spec.image.to_string());
            args.extend(spec.cmd.iter().cloned());
            let started = Instant::now();
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            docker_cli(&argv).await?;
            let port = docker_cli(&["port", &name, &spec.http_port.to_string()]).await?;
            let addr = port.lines().next().unwrap_or("").trim().to_owned();
            let url = format!("http://{addr}{}", spec.ready_path);
            loop {
                if let Ok(r) = http.get(&url).send().await
                    && r.status().is_success()
                {
                    return Ok((spec.component, started.elapsed().as_millis() as u64));
                }
                if started.elapsed() > Duration::from_secs(120) {
                    return Err(format!(
                        "{} not ready by docker run in 120 s",
                        spec.component.name()
                    ));
                }
                tokio::time::sleep(BARE_POLL).await;
            }
        }
    });
    let results = futures::future::join_all(starts).await;
    let all = started_all.elapsed().as_millis() as u64;
    let mut ready = BTreeMap::new();
    for r in results {
        match r {
            Ok((c, ms)) => {
                ready.insert(c, ms);
            }
            Err(e) => notes.push(e),
        }
    }
    if let Ok(docker) = stack::docker::Docker::connect().await {
        let _ = docker.remove_run(&raw_run).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    (ready, Some(all), notes)
}

/// Runs every measurement; `progress` hears what is under way.
pub async fn bench(plan: &RunPlan, opts: &BenchOptions, progress: &dyn Fn(&str)) -> BenchReport {
    let images = Component::ALL
        .into_iter()
        .map(|c| (c.name().to_owned(), plan.image(c).to_string()))
        .collect();
    let mut report = BenchReport {
        machine: machine(images),
        cold_run_ms: None,
        warm_run_ms: None,
        cold_run_exit: None,
        cold_run_phases: Vec::new(),
        warm_run_phases: Vec::new(),
        stack_start_ms: 0,
        ready: Vec::new(),
        raw_start_ms: None,
        stack_peak_memory_mib: None,
        stack_peak_memory_by_component_mib: BTreeMap::new(),
        harness_peak_rss_mib: None,
        visible: Vec::new(),
        volume: Vec::new(),
        gateway: Vec::new(),
        notes: Vec::new(),
    };
    if !opts.skip_run {
        progress("the full default run (cold)");
        default_run(plan, &mut report).await;
    }
    progress("a stack as `run` starts it");
    let prefix = stack::fresh_run_id();
    let scrape_port = stack::scrape_port().unwrap_or(0);
    let mut builder = Stack::builder()
        .components(Component::ALL)
        .run_id(prefix.clone())
        .config_set(plan.configs)
        .scrape_port(scrape_port)
        .skip_unavailable();
    for c in Component::ALL {
        builder = builder.image(c, plan.image(c).clone());
    }
    for (c, path) in &plan.config_files {
        builder = builder.config_file(*c, path);
    }
    let started = Instant::now();
    let stack = match builder.start().await {
        Ok(s) => s,
        Err(e) => {
            report.notes.push(format!("the stack did not start: {e}"));
            return report;
        }
    };
    report.stack_start_ms = started.elapsed().as_millis() as u64;
    let specs: Vec<stack::ComponentSpec> =
        stack.running().values().map(|r| r.spec.clone()).collect();
    let stack_ready: BTreeMap<Component, u64> = stack
        .running()
        .iter()
        .map(|(c, r)| (*c, r.ready.as_millis() as u64))
        .collect();
    progress("time-to-visible, harness and bare probe");
    report.visible = visible(&stack, opts.samples, &prefix).await;
    if !opts.skip_run {
        progress("the default run again, on this stack (warm)");
        warm_run(plan, &stack, scrape_port, &mut report).await;
    }
    progress("volume throughput");
    report.volume = volume(&stack, plan, scrape_port, opts, &prefix).await;
    if opts.gateway.requests > 0 {
        progress("OTLP throughput: straight to the backends, then through the gateway");
        let run_id = format!("{prefix}-gateway");
        let config = crate::gateway::GatewayConfig::for_stack(
            &stack,
            &run_id,
            stack.record_mapping().metrics,
        );
        report.gateway = gateway::measure(
            &gateway::Endpoints::of_stack(&stack),
            config,
            opts.gateway,
            &run_id,
        )
        .await;
    }
    stack.stop().await;
    progress("the raw baseline: docker run and a 5 ms poll");
    let (raw, raw_all, notes) = raw_start(&specs, &prefix).await;
    report.raw_start_ms = raw_all;
    report.notes.extend(notes);
    report.ready = stack_ready
        .iter()
        .map(|(c, ms)| Ready {
            component: c.name().into(),
            stack_ms: Some(*ms),
            raw_ms: raw.get(c).copied(),
        })
        .collect();
    report
}

/// A run's phases, in the order they happened (the first verdicts come while
/// scenarios still emit), each with the time since the one before.
fn render_phases(
    out: &mut impl std::io::Write,
    name: &str,
    phases: &[Phase],
    total: Option<u64>,
) -> std::io::Result<()> {
    if phases.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n| {name}, phase by phase | at (ms) | phase (ms) |")?;
    writeln!(out, "|---|---|---|")?;
    let mut phases: Vec<&Phase> = phases.iter().collect();
    phases.sort_by_key(|p| p.at_ms);
    let mut before = 0;
    for p in phases {
        writeln!(
            out,
            "| {} | {} | {} |",
            p.phase,
            p.at_ms,
            p.at_ms.saturating_sub(before)
        )?;
        before = p.at_ms;
    }
    if let Some(total) = total {
        writeln!(
            out,
            "| the report written | {total} | {} |",
            total.saturating_sub(before)
        )?;
    }
    Ok(())
}

fn ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.0}"))
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "-".into(),
    }
}

impl BenchReport {
    /// The max over components of the stack's and the raw baseline's time to ready.
    pub fn ready_max(&self) -> (Option<u64>, Option<u64>) {
        (
            self.ready.iter().filter_map(|r| r.stack_ms).max(),
            self.ready.iter().filter_map(|r| r.raw_ms).max(),
        )
    }

    /// The report as Markdown tables (what the manual shows: `docs/src/benchmarks.md`).
    pub fn render(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        let m = &self.machine;
        writeln!(
            out,
            "Machine: {} CPUs ({}), {} GiB, load {} at start; images: {}",
            m.cpus,
            m.cpu_model,
            m.memory_gib,
            m.load_at_start.map_or("?".into(), |l| format!("{l:.1}")),
            m.images
                .iter()
                .map(|(c, i)| format!("{c}={i}"))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
        writeln!(
            out,
            "\n| stack ready | lgtm-check (ms) | docker run + 5 ms poll (ms) | ratio |"
        )?;
        writeln!(out, "|---|---|---|---|")?;
        for r in &self.ready {
            writeln!(
                out,
                "| {} | {} | {} | {} |",
                r.component,
                ms(r.stack_ms.map(|v| v as f64)),
                ms(r.raw_ms.map(|v| v as f64)),
                ratio(r.stack_ms.map(|v| v as f64), r.raw_ms.map(|v| v as f64))
            )?;
        }
        let (s, r) = self.ready_max();
        writeln!(
            out,
            "| **max over components** | {} | {} | {} |",
            ms(s.map(|v| v as f64)),
            ms(r.map(|v| v as f64)),
            ratio(s.map(|v| v as f64), r.map(|v| v as f64))
        )?;
        writeln!(
            out,
            "| whole start (images checked, network, all components) | {} | {} | {} |",
            self.stack_start_ms,
            ms(self.raw_start_ms.map(|v| v as f64)),
            ratio(
                Some(self.stack_start_ms as f64),
                self.raw_start_ms.map(|v| v as f64)
            )
        )?;
        writeln!(
            out,
            "\n| time-to-visible (ms) | samples | lgtm-check p50 | p95 | bare probe (5 ms) p50 | p95 | ratio p50 | ratio p95 | not visible in 60 s (lgtm-check / bare) |"
        )?;
        writeln!(out, "|---|---|---|---|---|---|---|---|---|")?;
        for v in &self.visible {
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} / {} |",
                v.signal,
                v.samples,
                ms(v.harness_p50_ms),
                ms(v.harness_p95_ms),
                ms(v.bare_p50_ms),
                ms(v.bare_p95_ms),
                ratio(v.harness_p50_ms, v.bare_p50_ms),
                ratio(v.harness_p95_ms, v.bare_p95_ms),
                v.harness_missed,
                v.bare_missed
            )?;
        }
        writeln!(out, "\n| run | ms | × the raw start |")?;
        writeln!(out, "|---|---|---|")?;
        let raw = self.raw_start_ms.map(|v| v as f64);
        writeln!(
            out,
            "| full default run, cold (stack started; exit {}) | {} | {} |",
            self.cold_run_exit.map_or("-".into(), |c| c.to_string()),
            ms(self.cold_run_ms.map(|v| v as f64)),
            ratio(self.cold_run_ms.map(|v| v as f64), raw)
        )?;
        writeln!(
            out,
            "| the same run on a kept stack (up, scraping; its own run id) | {} | {} |",
            ms(self.warm_run_ms.map(|v| v as f64)),
            ratio(self.warm_run_ms.map(|v| v as f64), raw)
        )?;
        for (name, phases, total) in [
            (
                "the default run, cold",
                &self.cold_run_phases,
                self.cold_run_ms,
            ),
            (
                "the same run, warm",
                &self.warm_run_phases,
                self.warm_run_ms,
            ),
        ] {
            render_phases(out, name, phases, total)?;
        }
        writeln!(out, "\n| memory | MiB |")?;
        writeln!(out, "|---|---|")?;
        writeln!(
            out,
            "| stack peak (sum over containers, docker stats) | {} |",
            self.stack_peak_memory_mib
                .map_or("-".into(), |v| format!("{v:.1}"))
        )?;
        for (c, v) in &self.stack_peak_memory_by_component_mib {
            writeln!(out, "| — {c} peak | {v:.1} |")?;
        }
        writeln!(
            out,
            "| lgtm-check peak RSS during the default run (VmHWM) | {} |",
            self.harness_peak_rss_mib
                .map_or("-".into(), |v| format!("{v:.1}"))
        )?;
        writeln!(
            out,
            "\n| volume | items | start → flushed (ms) | items/s | arrival | lost | push-back |"
        )?;
        writeln!(out, "|---|---|---|---|---|---|---|")?;
        for v in &self.volume {
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                v.signal,
                v.items,
                v.emit_ms,
                v.per_sec,
                v.arrival,
                v.lost.map_or("see arrival".into(), |l| l.to_string()),
                v.pushback.as_deref().unwrap_or("none")
            )?;
        }
        if !self.gateway.is_empty() {
            writeln!(
                out,
                "\n| OTLP through the gateway ({} in flight, {} alternating rounds) | requests × items | direct (ms) | through the gateway (ms) | ratio (goal ≤ 1.2) | items sent per path | acked direct | answered by the gateway | recorded | acked in the record | lost |",
                gateway::IN_FLIGHT,
                gateway::ROUNDS
            )?;
            writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|")?;
            for g in &self.gateway {
                writeln!(
                    out,
                    "| {} → {} | {} × {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    g.signal,
                    g.upstream,
                    g.requests,
                    g.items_per_request,
                    ms(g.direct_ms.map(|v| v as f64)),
                    ms(g.gateway_ms.map(|v| v as f64)),
                    g.ratio.map_or("-".into(), |r| format!("{r:.2}")),
                    g.sent,
                    g.direct_acked,
                    g.gateway_answered,
                    g.recorded,
                    g.acked,
                    if g.nothing_lost() {
                        "none"
                    } else {
                        "see notes"
                    }
                )?;
            }
        }
        for n in &self.notes {
            writeln!(out, "\nnote: {n}")?;
        }
        for g in &self.gateway {
            for n in &g.notes {
                writeln!(out, "note: gateway {}: {n}", g.signal)?;
            }
        }
        for v in &self.visible {
            for miss in v.misses.iter().take(3) {
                writeln!(out, "note: {}: {miss}", v.signal)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[5.0], 95.0), Some(5.0));
        assert_eq!(percentile(&[3.0, 1.0, 2.0], 50.0), Some(2.0));
    }

    #[test]
    fn docker_stats_memory_is_read_in_bytes() {
        assert_eq!(parse_mem("100MiB / 23.4GiB"), Some(100.0 * 1024.0 * 1024.0));
        assert_eq!(
            parse_mem("1.5GiB / 23GiB"),
            Some(1.5 * 1024.0 * 1024.0 * 1024.0)
        );
        assert_eq!(parse_mem("garbage"), None);
    }
}
