//! Real deployments, brought up with Docker Compose by the test, verified by
//! `lgtm-check run --target external` through their URLs alone, then taken down
//! (`down -v`, also when the test panics: [`Compose`]'s `Drop`).
//!
//! - The guide's compose file, fixed (docker/docker-compose.yml), with
//!   docker/docker-compose.local.yml: Loki, Tempo, Cortex in the Mimir role and
//!   Prometheus from Debian's package. Grafana's image cannot be had here and rust-app
//!   needs a Rust image to build: both are left out (lgtm-check runs rust-app's
//!   program, the http-service scenario, itself).
//! - The multi-tenant deployment (docker/multi-tenant/compose.yml): Loki, Tempo and
//!   Cortex each requiring a tenant, behind nginx (from Debian's package,
//!   docker/nginx-debian) demanding basic auth and mapping users to the tenants they
//!   may act as. A run pushed as tenant A over TLS passes fully as A; a run's data is
//!   invisible to tenant B (every data check fails naming tenant B), while A sees it;
//!   wrong or missing credentials fail with the named 401 and a tenant the user may
//!   not act as with the named 403; a program run by `lgtm-check app --target
//!   external` over TLS as the checker has every signal it sent arrive in tenant A.
//!   The test passwords never print.
//! - The replicated deployment (docker/replicated/compose.yml): Loki simple-scalable,
//!   Tempo distributed and Cortex microservices, each with three ingesters or write
//!   replicas at replication factor 3, behind nginx. Verified fully, then again
//!   while lgtm-check kills one replica mid-run (`--fault`), of each system in turn:
//!   nothing acknowledged is lost.
//!
//! Each deployment publishes its ports on free loopback ports and is read back with
//! `docker compose port`; the project name is unique per test. The tests are skipped,
//! with the reason, when Docker Compose, an image or the scenario binaries are
//! missing; `LGTM_CHECK_REQUIRE_ALL=1` turns the skip into a failure.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use lgtm_check::core::component::Component;
use lgtm_check::core::plan::{Env, RawRun, RunPlan};
use lgtm_check::core::report::{CheckStatus, ComponentStatus, Report};
use lgtm_check::core::target::{Target, TargetSettings};
use lgtm_check::external::Deployment;

const LOKI: &str = "grafana/loki:3.2.0";
const TEMPO: &str = "grafana/tempo:2.6.0";
const CORTEX: &str = "cortexproject/cortex:v1.18.1";
const PROMETHEUS: &str = "lgtm-check/prometheus:debian";
const NGINX: &str = "lgtm-check/nginx:debian";

/// The users of fixtures/multi-tenant/htpasswd and their test-only passwords.
/// `checker` may act as tenant-a and tenant-b, `team-a` as tenant-a only.
const CHECKER_PASSWORD: &str = "TestOnlyPw-checker-7Q";
const TEAM_A_PASSWORD: &str = "TestOnlyPw-team-a-3K";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn skip(why: String) {
    if std::env::var("LGTM_CHECK_REQUIRE_ALL").is_ok_and(|v| v == "1") {
        panic!("cannot run: {why}");
    }
    eprintln!("SKIPPED: {why}");
}

/// `docker compose` (v2) or `docker-compose` (1.29), whichever this machine has.
fn compose_program() -> Result<Vec<String>, String> {
    let works = |program: &[&str]| {
        Command::new(program[0])
            .args(&program[1..])
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if works(&["docker", "compose"]) {
        Ok(vec!["docker".into(), "compose".into()])
    } else if works(&["docker-compose"]) {
        Ok(vec!["docker-compose".into()])
    } else {
        Err("neither `docker compose` nor `docker-compose` can be run".into())
    }
}

/// Why a deployment of `images` cannot be brought up and verified here, if it
/// cannot.
fn cannot_run(images: &[&str]) -> Option<String> {
    if let Err(why) = compose_program() {
        return Some(why);
    }
    common::cannot_run(&images.iter().map(|s| s.to_string()).collect::<Vec<_>>()).map(|why| {
        match why {
            w if w.contains(NGINX) => format!("{w} (docker/nginx-debian/build.sh)"),
            w if w.contains(PROMETHEUS) => format!("{w} (docker/prometheus-debian/build.sh)"),
            w => w,
        }
    })
}

/// A Compose project brought up by a test; `Drop` takes it down with its volumes.
struct Compose {
    program: Vec<String>,
    project: String,
    files: Vec<PathBuf>,
    env: Vec<(String, String)>,
    /// [`Compose::take_down`] ran.
    taken_down: bool,
}

impl Compose {
    /// A project over `files` (relative to the repository), with `env` for the
    /// files' variables; nothing is started yet.
    fn new(name: &str, files: &[&str], env: &[(&str, &str)]) -> Compose {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        Compose {
            program: compose_program().expect("checked by cannot_run"),
            project: format!("lgtmcheck-{name}-{}-{nanos}", std::process::id()),
            files: files.iter().map(|f| repo().join(f)).collect(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            taken_down: false,
        }
    }

    /// The compose command for this project, without the caller's Compose and
    /// lgtm-check variables (only `env` fills the files' variables).
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.program[0]);
        c.args(&self.program[1..]);
        for (key, _) in std::env::vars_os() {
            let k = key.to_string_lossy();
            if k.starts_with("COMPOSE_") || k.starts_with("LGTM_CHECK_") || k.ends_with("_PUBLISH")
            {
                c.env_remove(&key);
            }
        }
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c.args(["-p", &self.project]);
        for f in &self.files {
            c.arg("-f").arg(f);
        }
        c.args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("docker compose runs")
    }

    /// `up -d` of `services` (`--wait` with docker compose v2; docker-compose 1.29
    /// waits for the healthy dependencies it has). Readiness itself is asked over
    /// HTTP by the caller.
    fn up(&self, services: &[&str]) {
        let mut args = vec!["up", "-d"];
        if self.program.len() == 2 {
            args.push("--wait");
        }
        args.extend(services);
        let out = self.run(&args);
        assert!(
            out.status.success(),
            "docker compose up failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.logs()
        );
    }

    /// The id of `service`'s container, asked of the docker CLI by the labels
    /// Compose puts on it (the same in Compose 1.29 and v2; a call to the docker CLI
    /// costs a fraction of a Python docker-compose's start).
    fn container(&self, service: &str) -> String {
        let out = Command::new("docker")
            .args(["ps", "-q"])
            .arg("--filter")
            .arg(format!("label=com.docker.compose.project={}", self.project))
            .arg("--filter")
            .arg(format!("label=com.docker.compose.service={service}"))
            .output()
            .expect("docker runs");
        let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(
            out.status.success() && !id.is_empty() && !id.contains('\n'),
            "one running container of {service} in {}: {id:?} {}",
            self.project,
            String::from_utf8_lossy(&out.stderr)
        );
        id
    }

    /// `host:port` where `service`'s `port` is published.
    fn port(&self, service: &str, port: u16) -> String {
        let out = Command::new("docker")
            .args(["port", &self.container(service), &format!("{port}/tcp")])
            .output()
            .expect("docker runs");
        let text = String::from_utf8_lossy(&out.stdout);
        // One line per address family; the IPv4 one.
        let text = text
            .lines()
            .find(|l| !l.starts_with('['))
            .unwrap_or_default()
            .trim()
            .to_owned();
        assert!(
            out.status.success() && !text.is_empty(),
            "docker port {service} {port}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        text.replace("0.0.0.0:", "127.0.0.1:")
    }

    /// The last lines each container logged, for a failure message.
    fn logs(&self) -> String {
        let out = self.run(&["logs", "--no-color", "--tail", "30"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until every URL answers with the status given (a component ready; a
    /// gateway asking for credentials), or panics with the logs.
    async fn wait_for(&self, urls: &[(&str, u16)]) {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(240);
        for (url, status) in urls {
            loop {
                let answer = http.get(*url).send().await.map(|r| r.status().as_u16());
                if answer.as_ref().is_ok_and(|s| s == status) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{url} never answered {status} (last: {answer:?})\n{}",
                    self.logs()
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// Waits, at most `limit`, until no container carrying `label` is running.
fn wait_exited(label: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let running = Command::new("docker")
            .args(["ps", "-q", "--filter", label])
            .output()
            .map(|o| !o.stdout.iter().all(u8::is_ascii_whitespace))
            .unwrap_or(false);
        if !running {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether `network` holds no container and is still refused for an active
/// endpoint: Docker's stale endpoint, not something a client left.
fn stale_endpoint_only(network: &str) -> bool {
    let attached = Command::new("docker")
        .args(["network", "inspect", "-f", "{{len .Containers}}", network])
        .output();
    let empty = attached.is_ok_and(|o| o.status.success() && o.stdout.trim_ascii() == b"0");
    empty
        && Command::new("docker")
            .args(["network", "rm", network])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stderr).contains("has active endpoints"))
}

impl Compose {
    /// Takes the project down and returns what it left behind (empty when nothing):
    /// its containers killed (no test needs their graceful stop, and 22 of them
    /// stopping one by one cost seconds of CPU), `down -v --remove-orphans`, then
    /// anything still labelled with the project (a network the daemon refused
    /// while an endpoint was going away, a volume) removed by label, retried for a
    /// few seconds. Idempotent: the test calls it to assert nothing leaked, and the
    /// drop calls it again after a panic.
    fn take_down(&mut self) -> Vec<String> {
        if self.taken_down {
            return Vec::new();
        }
        self.taken_down = true;
        let label = format!("label=com.docker.compose.project={}", self.project);
        let _ = self.run(&["kill"]);
        // Down only once every killed container has exited: removing containers
        // while the daemon still handles their deaths once left the project's
        // network with an endpoint no container holds (below).
        wait_exited(&label, Duration::from_secs(10));
        let out = self.run(&["down", "-v", "--remove-orphans", "--timeout", "1"]);
        if !out.status.success() {
            eprintln!(
                "docker compose down -v of {}: {}",
                self.project,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let list = |object: &[&str]| -> Vec<String> {
            let field = if object[0] == "ps" {
                "{{.Names}}"
            } else {
                "{{.Name}}"
            };
            let out = Command::new("docker")
                .args(object)
                .args(["--filter", &label, "--format", field])
                .output();
            out.map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
        };
        let kinds: [(&[&str], &[&str]); 3] = [
            (&["ps", "-a"], &["rm", "-f", "-v"]),
            (&["volume", "ls"], &["volume", "rm", "-f"]),
            (&["network", "ls"], &["network", "rm"]),
        ];
        let mut left = Vec::new();
        for attempt in 0..20 {
            left.clear();
            for (ls, rm) in kinds {
                let names = list(ls);
                if !names.is_empty() {
                    let _ = Command::new("docker").args(rm).args(&names).output();
                    left.extend(list(ls).into_iter().map(|n| format!("{} {n}", ls[0])));
                }
            }
            if left.is_empty() || attempt == 19 {
                break;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        // Docker 20.10 can keep an endpoint in a bridge network after every
        // container of it is gone: the network lists no container, and its removal
        // is refused for "active endpoints" until the daemon restarts. No client can
        // remove it; it is said, and not counted as the test's leftover.
        left.retain(|l| match l.strip_prefix("network ") {
            Some(network) if stale_endpoint_only(network) => {
                eprintln!(
                    "network {network}: no container attached, yet Docker refuses to remove it for an active endpoint (a daemon defect; it goes when the daemon restarts)"
                );
                false
            }
            _ => true,
        });
        left
    }

    /// [`Compose::take_down`], and a failure naming what it left behind.
    fn assert_taken_down(mut self) {
        let left = self.take_down();
        assert!(
            left.is_empty(),
            "project {} left behind: {left:?}",
            self.project
        );
    }
}

impl Drop for Compose {
    fn drop(&mut self) {
        let left = self.take_down();
        if !left.is_empty() {
            eprintln!("project {} left behind: {left:?}", self.project);
        }
    }
}

/// What one `lgtm-check run --target external` gave: exit code, stdout, stderr, the
/// JSON report.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    report: serde_json::Value,
}

impl Run {
    fn check(&self, id: &str) -> &serde_json::Value {
        self.report["checks"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["id"] == id))
            .unwrap_or_else(|| panic!("no check {id} in {:#}", self.report))
    }

    fn component(&self, name: &str) -> &serde_json::Value {
        self.report["components"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["name"] == name))
            .unwrap_or_else(|| panic!("no component {name} in {:#}", self.report))
    }

    /// Every check's status, id and reason, one per line.
    fn statuses(&self) -> String {
        self.report["checks"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|c| format!("{} {} {}", c["status"], c["id"], c["reason"]))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    }

    /// Panics if a secret is in stdout, stderr or the report.
    fn assert_never_prints(&self, secrets: &[&str]) {
        for text in [&self.stdout, &self.stderr, &self.report.to_string()] {
            for s in secrets {
                assert!(!text.contains(s), "a password printed: {text}");
            }
        }
    }
}

/// Runs `lgtm-check COMMAND --target external` (`run`, or `app` with its program
/// after `--`) with `args`, in an empty directory (no lgtm-check.toml), without the
/// caller's `LGTM_CHECK_*`, `OTEL_*` and `DOCKER_HOST`, with the variables `env`.
fn external(command: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let r = common::external(command, args, env);
    Run {
        code: r.code,
        stdout: r.stdout,
        stderr: r.stderr,
        report: r.report,
    }
}

/// [`external`] for `run`.
fn lgtm_check(args: &[&str], env: &[(&str, &str)]) -> Run {
    external("run", args, env)
}

/// [`external`] on a thread of its own, so that independent runs go side by side.
fn spawn(
    command: &'static str,
    args: Vec<String>,
    env: &[(&'static str, &'static str)],
) -> std::thread::JoinHandle<Run> {
    let env = env.to_vec();
    std::thread::spawn(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        external(command, &args, &env)
    })
}

/// `lgtm-check run --target external` on a thread of its own.
fn spawn_run(
    args: Vec<String>,
    env: &[(&'static str, &'static str)],
) -> std::thread::JoinHandle<Run> {
    spawn("run", args, env)
}

/// Checks that must pass on a deployment that holds the run's data: each signal
/// exactly, metrics included (pushed by remote write), and the guide's queries.
const DATA_CHECKS: [&str; 11] = [
    "http.logs.exact",
    "http.traces.exact_ids",
    "http.traces.span_trees",
    "chain.traces.span_trees",
    "metrics.http_requests_total.exact",
    "metrics.http_request_duration_seconds.buckets",
    "promql.guide.request_rate",
    "promql.guide.p95_latency",
    "logql.guide.json_level",
    "traceql.guide.complex.semconv",
    "http.correlation.logs_to_traces",
];

/// A run that verified the deployment fully: every component given ready, every
/// data check passed, nothing failed; Grafana and the guide's retention skipped as
/// on every external target.
fn assert_verified(run: &Run, versions: &[(&str, &str)]) {
    eprintln!("{}", run.statuses());
    for (name, version) in versions {
        let c = run.component(name);
        assert_eq!(c["status"], "ready", "{name}: {c:#}\n{}", run.stdout);
        assert_eq!(c["version"], *version, "{name}: {c:#}");
    }
    assert_eq!(
        run.component("prometheus")["stand_in"],
        "remote write from the scenarios"
    );
    assert_eq!(run.component("grafana")["status"], "skipped");
    for id in DATA_CHECKS {
        let c = run.check(id);
        assert_eq!(c["status"], "pass", "{id}: {c:#}\n{}", run.stdout);
    }
    assert_eq!(run.report["summary"]["failed"], 0, "{}", run.stdout);
    assert!(
        run.report["summary"]["passed"].as_u64().unwrap() >= 50,
        "{}",
        run.stdout
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_guides_compose_deployment_is_verified_in_external_mode() {
    if let Some(why) = cannot_run(&[LOKI, TEMPO, CORTEX, PROMETHEUS]) {
        return skip(why);
    }
    let loopback = "127.0.0.1:";
    let compose = Compose::new(
        "guide",
        &[
            "docker/docker-compose.yml",
            "docker/docker-compose.local.yml",
        ],
        &[
            ("LGTM_CHECK_IMAGE_LOKI", LOKI),
            ("LGTM_CHECK_IMAGE_TEMPO", TEMPO),
            ("LGTM_CHECK_IMAGE_MIMIR", CORTEX),
            ("LGTM_CHECK_IMAGE_PROMETHEUS", PROMETHEUS),
            ("LOKI_PUBLISH", loopback),
            ("TEMPO_PUBLISH", loopback),
            ("OTLP_GRPC_PUBLISH", loopback),
            ("OTLP_HTTP_PUBLISH", loopback),
            ("MIMIR_PUBLISH", loopback),
            ("PROMETHEUS_PUBLISH", loopback),
        ],
    );
    // Grafana (no image here) and rust-app (built from a Rust image) are left out.
    compose.up(&["loki", "tempo", "mimir", "prometheus"]);
    let loki = format!("http://{}", compose.port("loki", 3100));
    let tempo = format!("http://{}", compose.port("tempo", 3200));
    let otlp = format!("http://{}", compose.port("tempo", 4317));
    let mimir = format!("http://{}", compose.port("mimir", 9009));
    let prometheus = format!("http://{}", compose.port("prometheus", 9090));
    compose
        .wait_for(&[
            (&format!("{loki}/ready"), 200),
            (&format!("{tempo}/ready"), 200),
            (&format!("{mimir}/ready"), 200),
            (&format!("{prometheus}/-/ready"), 200),
        ])
        .await;

    let run = lgtm_check(
        &[
            "--loki-url",
            &loki,
            "--tempo-url",
            &tempo,
            "--otlp-url",
            &otlp,
            "--prometheus-url",
            &format!("{mimir}/prometheus"),
            "--remote-write-url",
            &format!("{mimir}/api/v1/push"),
        ],
        &[],
    );
    assert!(
        run.stdout
            .contains(&format!("target: external (loki {loki};")),
        "{}",
        run.stdout
    );
    assert_verified(
        &run,
        &[("loki", "3.2.0"), ("tempo", "2.6.0"), ("mimir", "1.18.1")],
    );
    compose.assert_taken_down();
}

/// The replicated deployment (docker/replicated/compose.yml: Loki simple-scalable,
/// Tempo distributed, Cortex microservices in the Mimir role, each with three
/// ingesters or write replicas at replication factor 3, behind one gateway): verified
/// fully; then verified again while lgtm-check kills one write replica of Loki, one
/// ingester of Tempo and one of Cortex, a quarter of the scenarios apart, each
/// started again (`--fault kill:<container>@25%` …, in one run): every write
/// acknowledged, every query answered,
/// every acknowledged line and span read back — but for Tempo, which sometimes does
/// not find by id traces written while its ingester was down: then the run must
/// fail naming them.
#[tokio::test(flavor = "multi_thread")]
async fn the_replicated_deployment_loses_nothing_acknowledged_when_a_replica_dies() {
    if let Some(why) = cannot_run(&[LOKI, TEMPO, CORTEX, NGINX]) {
        return skip(why);
    }
    // A /24 of its own (the deployment's containers have fixed addresses): one per
    // process, so that a deployment another test run left up does not collide.
    let net = format!("10.209.{}", 16 + std::process::id() % 200);
    let compose = Compose::new(
        "replicated",
        &["docker/replicated/compose.yml"],
        &[
            ("LGTM_CHECK_IMAGE_LOKI", LOKI),
            ("LGTM_CHECK_IMAGE_TEMPO", TEMPO),
            ("LGTM_CHECK_IMAGE_MIMIR", CORTEX),
            ("LGTM_CHECK_IMAGE_GATEWAY", NGINX),
            ("GATEWAY_PUBLISH", "127.0.0.1:"),
            ("REPLICATED_NET", &net),
        ],
    );
    compose.up(&[]);
    let gw = format!("http://{}", compose.port("gateway", 8080));
    compose
        .wait_for(&[
            (&format!("{gw}/loki/api/v1/labels"), 200),
            (&format!("{gw}/tempo/api/echo"), 200),
            (&format!("{gw}/prometheus/api/v1/labels"), 200),
        ])
        .await;
    let urls = through(&gw);
    let flags: Vec<&str> = urls.iter().map(String::as_str).collect();
    let versions = [("loki", "3.2.0"), ("tempo", "2.6.0"), ("mimir", "1.18.1")];
    assert_verified(&lgtm_check(&flags, &[]), &versions);

    // Then one replica of each system killed and started again while the scenarios
    // push, in one run, a quarter of the scenarios apart; named by container id, as
    // this project's services' names may be another's.
    let victims = [
        ("loki-write-2", "25%"),
        ("tempo-ingester-3", "50%"),
        ("cortex-ingester-3", "75%"),
    ];
    let mut args = urls;
    // When Tempo does not find a trace written while its ingester was down, the
    // checks that need it wait their whole timeout before failing (allowed below):
    // 30 s, not the default 60, which once made this test take 93 s instead of 23.
    // Everything that arrives is visible within seconds.
    args.extend(["--check-timeout".to_owned(), "30".to_owned()]);
    for (service, when) in victims {
        let id = compose.container(service);
        args.extend(["--fault".to_owned(), format!("kill:{id}@{when}")]);
    }
    let run = lgtm_check(&args.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    let faults = run.report["faults"]
        .as_array()
        .expect("faults in the report");
    assert_eq!(faults.len(), victims.len(), "{}", run.stdout);
    for (fault, (service, _)) in faults.iter().zip(victims) {
        assert!(fault["injected_at_ms"].is_u64(), "{service}: {fault:#}");
        assert!(fault["recovered_after_ms"].is_u64(), "{service}: {fault:#}");
    }
    let delivery = run.report["delivery"].as_array().expect("delivery");
    for signal in ["logs", "traces"] {
        let acked: u64 = delivery
            .iter()
            .filter(|d| d["signal"] == signal)
            .map(|d| d["acknowledged"].as_u64().unwrap())
            .sum();
        assert!(acked > 0, "no acknowledged {signal}: {}", run.stdout);
    }
    for d in delivery {
        assert_eq!(d["not_asked"], 0, "{d}");
    }
    let lost_spans: u64 = delivery
        .iter()
        .filter(|d| d["signal"] == "traces")
        .map(|d| d["lost"].as_u64().unwrap())
        .sum();
    if lost_spans == 0 {
        for d in delivery {
            assert_eq!(d["lost"], 0, "{d}\n{}", run.stdout);
            assert_eq!(d["visible"], d["acknowledged"], "{d}");
        }
        assert_verified(&run, &versions);
    } else {
        // Tempo 2.6 distributed sometimes answers 404, for longer than the check
        // timeout, for traces written while the ingester was down (README:
        // "Replicated topologies"). Then the run must say so — exit 1, the lost
        // spans a problem naming their traces — and Loki and Cortex lost nothing:
        // every check that failed reads Tempo.
        eprintln!("{lost_spans} acknowledged spans not visible after the faults");
        assert_eq!(run.code, 1, "{}", run.stdout);
        let problems = run.report["problems"].to_string();
        assert!(problems.contains("acknowledged spans lost"), "{problems}");
        for d in delivery.iter().filter(|d| d["signal"] != "traces") {
            assert_eq!(d["lost"], 0, "{d}\n{}", run.stdout);
            assert_eq!(d["visible"], d["acknowledged"], "{d}");
        }
        for c in run.report["checks"].as_array().unwrap() {
            if c["status"] == "fail" {
                let needs = c["needs"].to_string();
                assert!(needs.contains("tempo"), "{}: {c:#}", c["id"]);
            }
        }
    }
    compose.assert_taken_down();
}

/// The multi-tenant deployment, up and ready, and its gateway's base URL.
async fn multi_tenant() -> Option<(Compose, String)> {
    if let Some(why) = cannot_run(&[LOKI, TEMPO, CORTEX, NGINX]) {
        skip(why);
        return None;
    }
    let compose = Compose::new(
        "tenants",
        &["docker/multi-tenant/compose.yml"],
        &[
            ("LGTM_CHECK_IMAGE_LOKI", LOKI),
            ("LGTM_CHECK_IMAGE_TEMPO", TEMPO),
            ("LGTM_CHECK_IMAGE_MIMIR", CORTEX),
            ("LGTM_CHECK_IMAGE_GATEWAY", NGINX),
            ("GATEWAY_PUBLISH", "127.0.0.1:"),
            ("GATEWAY_TLS_PUBLISH", "127.0.0.1:"),
        ],
    );
    compose.up(&[]);
    let gateway = format!("http://{}", compose.port("gateway", 8080));
    // The gateway answers 401 to a request without credentials once it runs; the
    // backends were healthy before it started.
    compose
        .wait_for(&[(&format!("{gateway}/loki/api/v1/labels"), 401)])
        .await;
    Some((compose, gateway))
}

/// The URLs of every component through the gateway of the multi-tenant or the
/// replicated deployment (the same routes), OTLP over HTTP.
fn through(gateway: &str) -> Vec<String> {
    [
        ("--loki-url", gateway.to_owned()),
        ("--tempo-url", format!("{gateway}/tempo")),
        ("--otlp-url", format!("{gateway}/otlp")),
        ("--otlp-protocol", "http/protobuf".to_owned()),
        ("--prometheus-url", format!("{gateway}/prometheus")),
        ("--remote-write-url", format!("{gateway}/api/v1/push")),
    ]
    .into_iter()
    .flat_map(|(k, v)| [k.to_owned(), v])
    .collect()
}

/// A run whose every component failed its preflight with an error containing
/// `named`: exit 1, nothing passed, the data checks skipped saying why.
fn assert_refused(run: &Run, named: &str) {
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.report["summary"]["passed"], 0, "{:#}", run.report);
    for name in ["loki", "tempo", "mimir", "prometheus"] {
        let c = run.component(name);
        assert_eq!(c["status"], "failed", "{name}: {c:#}");
        let reason = c["reason"].as_str().unwrap();
        assert!(reason.contains(named), "{name}: {reason}");
    }
    assert!(run.stdout.contains("FAILED"), "{}", run.stdout);
    let c = run.check("http.logs.exact");
    assert_eq!(c["status"], "skip");
    assert!(
        c["reason"]
            .as_str()
            .unwrap()
            .contains("loki failed its preflight"),
        "{c:#}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_multi_tenant_deployment_behind_basic_auth_keeps_tenants_apart() {
    let Some((compose, gateway)) = multi_tenant().await else {
        return;
    };
    let urls = through(&gateway);
    let secrets = [CHECKER_PASSWORD, TEAM_A_PASSWORD];
    let as_tenant = |mut args: Vec<String>, more: &[&str]| {
        args.extend(more.iter().map(|a| a.to_string()));
        args
    };
    // The TLS steps: the same gateway over TLS (a test-only CA signed its
    // certificate).
    let tls_gateway = format!(
        "https://localhost:{}",
        compose
            .port("gateway", 8443)
            .rsplit(':')
            .next()
            .expect("a published port")
    );
    let ca = repo().join("fixtures/multi-tenant/tls/ca.pem");
    let ca = ca.display().to_string();
    let checker = ["--tenant", "tenant-a", "--user", "checker"];

    // Every step has a run id of its own and looks only at its own data: they run
    // side by side, and each is judged below in its turn.
    let wrong_password = spawn_run(
        as_tenant(urls.clone(), &checker),
        &[("LGTM_CHECK_PASSWORD", "not-the-password")],
    );
    let no_credentials = spawn_run(as_tenant(urls.clone(), &["--tenant", "tenant-a"]), &[]);
    let tls_without_ca = spawn_run(
        as_tenant(through(&tls_gateway), &checker),
        &[("LGTM_CHECK_PASSWORD", CHECKER_PASSWORD)],
    );
    let tls_with_ca = spawn_run(
        as_tenant(
            as_tenant(through(&tls_gateway), &checker),
            &["--ca-cert", ca.as_str()],
        ),
        &[("LGTM_CHECK_PASSWORD", CHECKER_PASSWORD)],
    );
    // A program of the user's, by `lgtm-check app`, over TLS with the checker's
    // credentials: the gateway in front of the program adds them.
    let binary = lgtm_check::scenario::find_binary("http-service", None).unwrap();
    let app_over_tls = spawn(
        "app",
        as_tenant(
            as_tenant(through(&tls_gateway), &checker),
            &[
                "--ca-cert",
                ca.as_str(),
                "--check-timeout",
                "60",
                "--",
                "sh",
                "-c",
                "\"$0\" --manifest \"$LGTM_CHECK_MANIFEST\" --loki-url \"$LOKI_URL\" --metrics-listen \"$LGTM_CHECK_METRICS_LISTEN\" --remote-write-url \"$LGTM_CHECK_REMOTE_WRITE_URL\"",
                &binary.display().to_string(),
            ],
        ),
        &[("LGTM_CHECK_PASSWORD", CHECKER_PASSWORD)],
    );
    let forbidden = spawn_run(
        as_tenant(
            urls.clone(),
            &[
                "--tenant",
                "tenant-b",
                "--user",
                "team-a",
                "--password-env",
                "TEAM_A_PASSWORD",
            ],
        ),
        &[("TEAM_A_PASSWORD", TEAM_A_PASSWORD)],
    );

    // 1. Pushed as tenant A, checked as tenant B: invisible, each data check failing
    //    with the named reason; tenant A sees the same run's data.
    isolation(&gateway).await;

    // 2. A wrong password: the gateway's 401, named, for every component.
    let run = wrong_password.join().expect("the run's thread");
    run.assert_never_prints(&secrets);
    assert!(!run.stdout.contains("not-the-password"), "{}", run.stdout);
    assert_refused(&run, "the credentials were refused (HTTP 401)");

    // 3. No credentials at all: 401 as well.
    let run = no_credentials.join().expect("the run's thread");
    assert_refused(&run, "the credentials were refused (HTTP 401)");

    // 4. Over TLS: with --ca-cert every component is verified, the scenarios'
    //    pushes included (they trust the CA through SSL_CERT_FILE); without it, the
    //    named TLS failure for every component, never a pass.
    let without_ca = tls_without_ca.join().expect("the run's thread");
    without_ca.assert_never_prints(&secrets);
    assert_refused(&without_ca, "TLS failure");
    assert_refused(&without_ca, "give it with --ca-cert");
    //    The one run checked fully (plain HTTP through the same gateway is step 1's:
    //    its pushes accepted, and read back as tenant A).
    let run = tls_with_ca.join().expect("the run's thread");
    run.assert_never_prints(&secrets);
    assert!(run.stdout.contains("https://localhost:"), "{}", run.stdout);
    assert!(
        run.stdout.contains("basic auth as checker") && run.stdout.contains("tenant tenant-a"),
        "{}",
        run.stdout
    );
    assert_verified(
        &run,
        &[("loki", "3.2.0"), ("tempo", "2.6.0"), ("mimir", "1.18.1")],
    );

    // 5. Valid credentials for a tenant the user may not act as: the gateway's 403.
    let run = forbidden.join().expect("the run's thread");
    run.assert_never_prints(&secrets);
    assert_refused(&run, "access forbidden (HTTP 403)");
    assert!(
        run.component("loki")["reason"]
            .as_str()
            .unwrap()
            .contains("may not act as tenant 'tenant-b'"),
        "{:#}",
        run.report
    );

    // 6. The program by `app`: every signal it sent arrived in tenant A exactly.
    let run = app_over_tls.join().expect("the app's thread");
    run.assert_never_prints(&secrets);
    for id in [
        "app.logs.pushed.exact",
        "app.traces.exact",
        "app.metrics.remote_written.exact",
        "metrics.http_requests_total.exact",
        "app.shape",
    ] {
        assert_eq!(run.check(id)["status"], "pass", "{id}\n{}", run.statuses());
    }
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    compose.assert_taken_down();
}

/// A question for the positive control: the component, the path behind the
/// gateway, the query parameters, and where the answer lists what it found.
type Ask = (
    &'static str,
    &'static str,
    Vec<(&'static str, String)>,
    &'static str,
);

/// Step 1 of the multi-tenant test: one run through the library, its scenarios
/// pushing as tenant A and its checks asking as tenant B.
async fn isolation(gateway: &str) {
    let flags = TargetSettings {
        target: Some("external".into()),
        loki_url: Some(gateway.into()),
        tempo_url: Some(format!("{gateway}/tempo")),
        otlp_url: Some(format!("{gateway}/otlp")),
        otlp_protocol: Some("http/protobuf".into()),
        prometheus_url: Some(format!("{gateway}/prometheus")),
        remote_write_url: Some(format!("{gateway}/api/v1/push")),
        tenant: Some("tenant-a".into()),
        user: Some("checker".into()),
        ..TargetSettings::default()
    };
    let Target::External(target) = Target::resolve(None, &Env::default(), flags).unwrap() else {
        panic!("an external target");
    };
    let deployment = Deployment::connect(&target, |_| Some(CHECKER_PASSWORD.into()))
        .unwrap()
        .querying_as(Component::Loki, "tenant-b")
        .querying_as(Component::Tempo, "tenant-b")
        .querying_as(Component::Mimir, "tenant-b");
    let plan = RunPlan::build(
        RawRun {
            // Each failing check waits this long, one after the other. Whether the
            // data had arrived is settled after the checks: the run's own probe as
            // tenant B, and the positive control as tenant A below.
            check_timeout_secs: 2,
            ..RawRun::default()
        },
        &Env::default(),
        lgtm_check::stack::fresh_run_id(),
    )
    .unwrap();
    let report: Report = lgtm_check::runner::run_external(&plan, &deployment, &|_| {})
        .await
        .expect("the run completes");
    let text = serde_json::to_string(&report).unwrap();
    assert!(!text.contains(CHECKER_PASSWORD), "the password printed");

    // Every component passed its preflight as tenant B (the user may act as it).
    for c in &report.components {
        if c.name != Component::Grafana {
            assert_eq!(c.status, ComponentStatus::Ready, "{c:?}");
        }
    }
    let lines: Vec<String> = report
        .checks
        .iter()
        .map(|c| format!("{:?} {} {}", c.status, c.id, c.reason))
        .collect();
    eprintln!("{}", lines.join("\n"));
    let invisible = |component: &str| {
        format!(
            "the data is not visible to tenant tenant-b: the scenarios' pushes to {component} were accepted"
        )
    };
    for id in DATA_CHECKS {
        let c = report.checks.iter().find(|c| c.id == id).unwrap();
        assert_eq!(c.status, CheckStatus::Fail, "{id}: {c:?}");
        assert!(
            c.reason.starts_with(&invisible(&c.component.to_string())),
            "{id}: {}",
            c.reason
        );
    }
    // Nothing of the data was seen: every failure says so, and what passed is only
    // the guide's queries that every backend rejects, data or not.
    for c in &report.checks {
        match c.status {
            CheckStatus::Fail => assert!(
                c.reason
                    .starts_with("the data is not visible to tenant tenant-b"),
                "{}: {}",
                c.id,
                c.reason
            ),
            CheckStatus::Pass => assert!(
                c.reason
                    .starts_with("rejected, as the guide's query is wrong"),
                "{} passed as tenant-b: {}",
                c.id,
                c.reason
            ),
            CheckStatus::Skip => {}
        }
    }

    // The positive control: tenant A sees the run's data, through the same gateway
    // with the same credentials; tenant B, asked the same, sees nothing.
    let http = reqwest::Client::new();
    let run = &report.run_id;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (start, end) = (now - 900, now + 60);
    let selector = format!("run_id=~\"{run}-.+\"");
    let asks: [Ask; 3] = [
        (
            "loki",
            "/loki/api/v1/query_range",
            vec![
                ("query", format!("{{{selector}}}")),
                ("start", start.to_string()),
                ("end", end.to_string()),
                ("limit", "1".into()),
            ],
            "/data/result",
        ),
        (
            "tempo",
            "/tempo/api/search",
            vec![
                ("q", format!("{{ resource.run_id =~ \"{run}-.+\" }}")),
                ("start", start.to_string()),
                ("end", end.to_string()),
                ("limit", "1".into()),
            ],
            "/traces",
        ),
        (
            "cortex",
            "/prometheus/api/v1/query",
            vec![
                ("query", format!("count({{{selector}}})")),
                ("time", (now + 30).to_string()),
            ],
            "/data/result",
        ),
    ];
    for (component, path, query, pointer) in asks {
        let count = |tenant: &'static str| {
            let request = http
                .get(format!("{gateway}{path}"))
                .basic_auth("checker", Some(CHECKER_PASSWORD))
                .header("X-Scope-OrgID", tenant)
                .query(&query);
            async move {
                let answer: serde_json::Value = request
                    .send()
                    .await
                    .unwrap()
                    .error_for_status()
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                answer
                    .pointer(pointer)
                    .and_then(|v| v.as_array())
                    .map_or(0, Vec::len)
            }
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while count("tenant-a").await == 0 {
            assert!(
                Instant::now() < deadline,
                "{component}: tenant-a sees nothing of run {run}"
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        assert_eq!(
            count("tenant-b").await,
            0,
            "{component}: tenant-b sees run {run}"
        );
    }
}
