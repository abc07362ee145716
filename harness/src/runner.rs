//! One run, start to end: the stack ([`Stack`], the same code path a user's own tests
//! use), the scenarios, the catalog's checks, the clean-up. It emits [`Event`]s
//! through a callback and returns the [`Report`]; it prints nothing itself.
//!
//! Main items: [`run`], [`RunError`].

use std::time::{Duration, Instant};

use futures::stream::{self, FuturesUnordered, StreamExt};

use crate::concurrent::{CHECKS_AT_ONCE, TimedCheck, run_batches};

use crate::core::catalog::{CatalogError, validate};
use crate::core::catalog_config::retention_checks;
use crate::core::catalog_grafana::LoadedDashboard;
use std::collections::BTreeMap;

use crate::core::catalog_record::RecordMapping;
use crate::core::check::{Check, Query};
use crate::core::component::Component;
use crate::core::event::Event;
use crate::core::plan::MimirFlavour;
use crate::core::plan::RunPlan;
use crate::core::report::scenario_failed;
use crate::core::report::{
    CheckReport, CheckStatus, ComponentReport, ComponentStatus, PushBackFinding, Report,
    SentSummary,
};
use crate::core::scenarios::{ScenarioSpec, VOLUME, checks_for, waits_for_scrapes};
use crate::execute::{Backends, loaded_dashboard};
use crate::external::{Deployment, ScenarioSinks, invisible_reason};
use crate::liveness::Liveness;
use crate::scenario::{ScenarioError, ScenarioRun, find_binary};
use crate::stack::docker::DockerError;
use crate::stack::{self, Stack, StackError};
use lgtm_check_recorder::manifest::Manifest;
use std::future::Future;
use std::pin::Pin;

/// lgtm-check could not do its job (as opposed to a check that failed).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Docker is unreachable or refused an action outside the stack's start (the
    /// stack's own Docker errors arrive as [`RunError::Stack`]).
    #[error(transparent)]
    Docker(#[from] DockerError),
    /// The stack could not start: Docker unreachable, an image missing (when not
    /// skipped), a component that did not become ready, an unreadable config file.
    #[error(transparent)]
    Stack(#[from] StackError),
    /// A fault's container on a running deployment matches no container of the
    /// local Docker engine, or several.
    #[error(transparent)]
    FaultTarget(#[from] Box<crate::fault::FaultTargetError>),
    /// A scenario binary was not found (looked for before any scenario starts). A
    /// scenario that would not start, failed, timed out or wrote no readable
    /// manifest is not an error: it is the failed check `<prefix>.scenario`, and the
    /// run goes on.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The catalog derived from the manifests would let a check pass without data.
    #[error("the check catalog is refused")]
    Catalog(#[from] CatalogError),
    /// The run's working directory (under the system's temporary directory, where
    /// the scenarios write their manifests) could not be created.
    #[error("cannot prepare the run's working directory {path}")]
    WorkDir {
        /// The directory that could not be prepared.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// No free TCP port could be bound for the scraped scenario's `/metrics` (the
    /// port the Prometheus role is configured to scrape).
    #[error("no free TCP port for the scraped scenario's /metrics")]
    NoFreePort(#[source] std::io::Error),
}

/// Runs everything the plan asks on the containers it starts, and reports on it.
pub async fn run(
    plan: &RunPlan,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Report, RunError> {
    Ok(run_with(plan, on_event, async |_: &Stack| ()).await?.0)
}

/// [`run`], with `beside` run on the stack while the scenarios and checks run (the
/// gate's workload and corpus), before the stack is removed; its result comes back
/// with the report.
pub async fn run_with<T>(
    plan: &RunPlan,
    on_event: &(dyn Fn(Event<'_>) + Sync),
    beside: impl AsyncFnOnce(&Stack) -> T,
) -> Result<(Report, T), RunError> {
    let started = Instant::now();
    let metrics_port = stack::scrape_port().map_err(RunError::NoFreePort)?;
    let stack = start_stack(plan, metrics_port, on_event).await?;
    let ran = on_stack(plan, &stack, metrics_port, started, on_event, beside).await;
    // 6. Clean-up.
    let removed = stack.stop().await;
    on_event(Event::CleanedUp { removed });
    ran.into_report(plan, on_event)
}

/// Starts the stack of `plan` (1-3): every component whose image can run, in
/// parallel, the Mimir role stood in for where its image is missing, the Prometheus
/// role scraping `metrics_port` on the host.
pub async fn start_stack(
    plan: &RunPlan,
    metrics_port: u16,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Stack, RunError> {
    let mut builder = Stack::builder()
        .components(Component::ALL)
        .run_id(plan.run_id.clone())
        .config_set(plan.configs)
        .scrape_port(metrics_port)
        .skip_unavailable();
    for c in Component::ALL {
        builder = builder.image(c, plan.image(c).clone());
    }
    for (c, path) in &plan.config_files {
        builder = builder.config_file(*c, path);
    }
    // A component a fault stops and starts again keeps its host ports.
    builder = builder.fixed_ports(plan.inject.iter().filter_map(|f| f.target.component()));
    Ok(builder.start_with_events(on_event).await?)
}

/// [`run`] on a stack that is already up (from [`start_stack`] with the same
/// `metrics_port`; its Prometheus role scrapes that port), which is kept: another
/// run of the plan under a run id of its own, as `lgtm-check bench` measures it
/// warm. The plan's faults are not injected (they would change the stack), and the
/// Prometheus role's push-back is read from its counters and log since the stack
/// started, earlier runs on it included.
pub async fn run_on_stack(
    plan: &RunPlan,
    stack: &Stack,
    metrics_port: u16,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Report, RunError> {
    let mut plan = plan.clone();
    plan.inject.clear();
    let ran = on_stack(
        &plan,
        stack,
        metrics_port,
        Instant::now(),
        on_event,
        async |_: &Stack| (),
    )
    .await;
    Ok(ran.into_report(&plan, on_event)?.0)
}

/// What a run found on its stack, before the stack is removed and the report put
/// together.
struct OnStack<T> {
    result: Result<Checked, RunError>,
    beside: T,
    component_reports: BTreeMap<Component, ComponentReport>,
    deaths: BTreeMap<Component, crate::core::report::Death>,
    delivery: Vec<crate::core::durability::Delivery>,
    rw_pushback: Option<PushBackFinding>,
    faults: Vec<crate::core::fault::FaultRecord>,
}

/// 4-5: the scenarios and the checks on `stack`, the faults of the plan beside them,
/// then what became of every acknowledged item and what the Mimir role pushed back.
async fn on_stack<T>(
    plan: &RunPlan,
    stack: &Stack,
    metrics_port: u16,
    started: Instant,
    on_event: &(dyn Fn(Event<'_>) + Sync),
    beside: impl AsyncFnOnce(&Stack) -> T,
) -> OnStack<T> {
    let component_reports = stack.components().clone();
    let running = stack.running();
    let metrics_path_up =
        running.contains_key(&Component::Prometheus) && running.contains_key(&Component::Mimir);
    let mut sinks = ScenarioSinks::default();
    if let Some(r) = running.get(&Component::Loki) {
        sinks.logs = true;
        sinks.args.extend(["--loki-url".into(), r.api_url.clone()]);
    }
    if let Some(addr) = running
        .get(&Component::Tempo)
        .and_then(|r| r.host_ports.get(&4317))
    {
        sinks.traces = true;
        sinks.args.extend([
            "--otlp-endpoint".into(),
            format!("http://{addr}"),
            "--otlp-protocol".into(),
            "grpc".into(),
        ]);
    }
    // http-service serves /metrics until the checks are done.
    sinks.metrics_args.extend([
        "--metrics-listen".into(),
        format!("0.0.0.0:{metrics_port}"),
        "--hold".into(),
    ]);
    if metrics_path_up {
        sinks.metrics = true;
        sinks.metrics_args.push("--await-scrapes".into());
    }
    let mapping = stack.record_mapping();
    sinks.gateway = Some(crate::gateway::GatewayConfig::for_stack(
        stack,
        &plan.run_id,
        mapping.metrics.clone(),
    ));
    let backends = stack.backends();
    // A component that dies from here on is a finding: its checks fail naming it.
    let liveness = stack.liveness(started);
    let victims = crate::fault::find_own(stack, &plan.inject);
    let docker = stack.docker();
    let (progress_tx, progress) = crate::fault::Progress::new(plan.scenarios.len());
    let scenarios_started = Instant::now();
    let (result, beside, faults) = tokio::join!(
        scenarios_and_checks(
            plan,
            &sinks,
            &backends,
            &component_reports,
            Mode::Containers(liveness.as_ref()),
            progress_tx,
            on_event,
        ),
        beside(stack),
        crate::fault::inject_all(
            docker.as_ref(),
            liveness.as_ref(),
            &plan.inject,
            &victims,
            started,
            scenarios_started,
            progress,
        )
    );
    let deaths = match liveness {
        Some(l) => l.stop().await,
        None => BTreeMap::new(),
    };
    // Every fault is over: what became of every acknowledged line and span.
    let delivery = match &result {
        Ok((_, _, _, manifests)) => {
            crate::durability::audit(&backends, manifests, plan.check_timeout).await
        }
        Err(_) => Vec::new(),
    };
    // Metrics are remote-written by the Prometheus role: its log and counters say
    // whether the Mimir role pushed back.
    let mut rw_pushback = None;
    if let Some(spec) = plan.scenarios.iter().find(|s| s.scraped)
        && let Some(p) = crate::remote_write::read(stack).await
    {
        rw_pushback = Some(PushBackFinding::new(spec.binary, p));
    }
    OnStack {
        result,
        beside,
        component_reports,
        deaths,
        delivery,
        rw_pushback,
        faults,
    }
}

impl<T> OnStack<T> {
    /// The report: the checks with the deaths applied, the push-back, the faults and
    /// what was delivered.
    fn into_report(
        self,
        plan: &RunPlan,
        on_event: &(dyn Fn(Event<'_>) + Sync),
    ) -> Result<(Report, T), RunError> {
        let (mut checks, mut pushback, sent, _) = self.result?;
        pushback.extend(self.rw_pushback);
        let mut component_reports = self.component_reports;
        crate::liveness::apply_deaths(&self.deaths, &mut component_reports, &mut checks);
        for c in self.deaths.keys() {
            if let Some(r) = component_reports.get(c) {
                on_event(Event::ComponentFinished(r));
            }
        }
        let mut report = Report::new(
            plan.run_id.clone(),
            plan.required.clone(),
            plan.configs,
            component_reports.into_values().collect(),
            checks,
        )
        .with_pushback(pushback);
        report.sent = sent;
        report.add_faults(self.faults);
        report.add_delivery(self.delivery);
        Ok((report, self.beside))
    }
}

/// Runs the scenarios against a running deployment and every check against it:
/// nothing is started. Each component is preflighted first; one that fails is
/// reported `failed` with the named error, and the checks that need it are skipped.
pub async fn run_external(
    plan: &RunPlan,
    deployment: &Deployment,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Report, RunError> {
    // The containers of the faults first: a name that matches none stops the run.
    let (docker, victims) = crate::fault::find_external(&plan.inject)
        .await
        .map_err(Box::new)?;
    let started = Instant::now();
    let components = deployment.preflight().await;
    for c in &components {
        on_event(Event::ComponentFinished(c));
    }
    let backends = deployment.backends(&components);
    // Push only where the preflight passed.
    let sinks = deployment.sinks(|c| {
        components
            .iter()
            .any(|r| r.name == c && r.status == ComponentStatus::Ready)
    });
    let component_reports: BTreeMap<Component, ComponentReport> =
        components.iter().map(|c| (c.name, c.clone())).collect();
    // The OTLP scenario sends through a gateway in front of the deployment, as
    // `lgtm-check tap` would run it.
    let mut sinks = sinks;
    sinks.gateway = Some(crate::tap_command::gateway_for(
        deployment,
        &plan.run_id,
        backends_mapping(&component_reports, backends.mimir).metrics,
    ));
    let (progress_tx, progress) = crate::fault::Progress::new(plan.scenarios.len());
    let scenarios_started = Instant::now();
    let (result, faults) = tokio::join!(
        scenarios_and_checks(
            plan,
            &sinks,
            &backends,
            &component_reports,
            Mode::External(deployment),
            progress_tx,
            on_event,
        ),
        crate::fault::inject_all(
            docker.as_ref(),
            None,
            &plan.inject,
            &victims,
            started,
            scenarios_started,
            progress,
        )
    );
    let (checks, pushback, sent, manifests) = result?;
    // Every fault is over: what became of every acknowledged line and span.
    let delivery = crate::durability::audit(&backends, &manifests, plan.check_timeout).await;
    let mut report = Report::new(
        plan.run_id.clone(),
        plan.required.clone(),
        plan.configs,
        components,
        checks,
    )
    .with_target(&deployment.target.to_string())
    .with_pushback(pushback);
    report.sent = sent;
    report.add_faults(faults);
    report.add_delivery(delivery);
    Ok(report)
}

/// A launched scenario: its place, its spec, its run (or, when it could not be
/// launched, the checks that say why) and the record of its gateway, if any.
type Launched<'a> = (
    usize,
    &'a ScenarioSpec,
    Result<Result<ScenarioRun, ScenarioError>, Vec<Check>>,
    Option<crate::core::record::Record>,
);

/// A scraped scenario's provisional manifest: its place, its spec, the manifest.
type Early<'a> = (usize, &'a ScenarioSpec, crate::scenario::Provisional);

/// What a scenario has announced: its provisional manifest (a scraped scenario's
/// logs and traces, before its scrapes), or its end.
enum Arrival<'a> {
    Provisional(Box<Early<'a>>),
    Final(Box<Launched<'a>>),
}

/// Where the run's checks go: the containers lgtm-check started (watched for
/// deaths, when Docker can be asked), or a running deployment.
#[derive(Clone, Copy)]
enum Mode<'a> {
    Containers(Option<&'a Liveness>),
    External(&'a Deployment),
}

/// How the run's backends map OTLP, by the versions they reported (a Mimir role of
/// unknown flavour is taken for Mimir).
pub(crate) fn backends_mapping(
    component_reports: &BTreeMap<Component, ComponentReport>,
    mimir: Option<MimirFlavour>,
) -> RecordMapping {
    let version = |c: Component| component_reports.get(&c).and_then(|r| r.version.clone());
    RecordMapping::for_backends(
        version(Component::Loki).as_deref(),
        mimir
            .unwrap_or(MimirFlavour::Mimir)
            .otlp_translation(version(Component::Mimir).as_deref()),
    )
}

/// What steps 4 and 5 give: the checks' reports, where the stack pushed back on the
/// scenarios' pushes, and what the gateway scenarios sent.
type Checked = (
    Vec<CheckReport>,
    Vec<PushBackFinding>,
    Vec<SentSummary>,
    Vec<Manifest>,
);

/// Steps 4 and 5 of every run: the scenarios, all at once, pushing where `sinks`
/// say (the OTLP scenario through a recording gateway), then every check of their
/// manifests (or records) against `backends`. Also returns where the stack pushed
/// back on the scenarios' pushes (their manifests say) and what the gateway
/// scenarios sent.
async fn scenarios_and_checks(
    plan: &RunPlan,
    sinks: &ScenarioSinks,
    backends: &Backends,
    component_reports: &BTreeMap<Component, ComponentReport>,
    mode: Mode<'_>,
    progress: tokio::sync::watch::Sender<usize>,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Checked, RunError> {
    let work_dir = std::env::temp_dir().join(format!("lgtm-check-{}", plan.run_id));
    std::fs::create_dir_all(&work_dir).map_err(|source| RunError::WorkDir {
        path: work_dir.display().to_string(),
        source,
    })?;
    let result = scenarios_and_checks_in(
        plan,
        sinks,
        backends,
        component_reports,
        mode,
        &work_dir,
        &progress,
        on_event,
    )
    .await;
    let _ = std::fs::remove_dir_all(&work_dir);
    result
}

#[allow(clippy::too_many_arguments)]
async fn scenarios_and_checks_in(
    plan: &RunPlan,
    sinks: &ScenarioSinks,
    backends: &Backends,
    component_reports: &BTreeMap<Component, ComponentReport>,
    mode: Mode<'_>,
    work_dir: &std::path::Path,
    progress: &tokio::sync::watch::Sender<usize>,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Checked, RunError> {
    let liveness = match mode {
        Mode::Containers(liveness) => liveness,
        Mode::External(_) => None,
    };
    let mapping = backends_mapping(component_reports, backends.mimir);
    // Grafana's checks judge what Grafana loaded: read it back before the catalog.
    let provisioned = stack::configs::catalog_context(plan.configs, LoadedDashboard::NotRead)
        .expect("the embedded provisioning is valid")
        .dashboard;
    let loaded = loaded_dashboard(backends, &provisioned, Duration::from_secs(15)).await;
    let ctx = stack::configs::catalog_context(plan.configs, loaded)
        .expect("the embedded provisioning is valid");

    // 4. The scenarios, all at once: those with metrics may hold (serving /metrics)
    //    until the checks are done; the others exit once they have written their
    //    manifests.
    //    Every binary is found first: a missing one means lgtm-check cannot run
    //    (exit 2) before any scenario has started.
    let binaries = plan
        .scenarios
        .iter()
        .map(|spec| find_binary(spec.binary, plan.scenario_dir.as_deref()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut launches: Vec<Pin<Box<dyn Future<Output = Launched<'_>> + Send + '_>>> = Vec::new();
    let mut provisionals: Vec<Pin<Box<dyn Future<Output = Option<Early<'_>>> + Send + '_>>> =
        Vec::new();
    for ((key, spec), binary) in plan.scenarios.iter().enumerate().zip(binaries) {
        let run_id = format!("{}-{}", plan.run_id, spec.prefix);
        let mut args = vec!["--run-id".to_string(), run_id];
        args.extend(spec.args.iter().map(|a| a.to_string()));
        if *spec == VOLUME {
            args.extend(plan.volume.args());
        }
        // A gateway scenario sends every signal over OTLP to its own gateway, which
        // forwards to the stack; the stack's own flags go to the gateway instead.
        let mut gateway = None;
        if spec.gateway {
            let started = match &sinks.gateway {
                Some(config) => {
                    let mut config = config.clone().with_faults(&plan.faults);
                    config.run_id = format!("{}-{}", plan.run_id, spec.prefix);
                    crate::gateway::Gateway::start(config)
                        .await
                        .map_err(|e| e.to_string())
                }
                None => Err("this run has no gateway settings".to_string()),
            };
            match started {
                Ok(g) => {
                    // Only the signals the stack can receive (a deliberate break of
                    // the path is still sent into it).
                    let up = sinks.gateway.as_ref().map(|c| &c.upstreams);
                    let signals: Vec<&str> = [
                        ("traces", up.is_some_and(|u| u.traces.is_some())),
                        ("logs", up.is_some_and(|u| u.logs.is_some())),
                        ("metrics", up.is_some_and(|u| u.metrics.is_some())),
                    ]
                    .into_iter()
                    .filter_map(|(s, on)| on.then_some(s))
                    .collect();
                    let signals = if signals.is_empty() {
                        "none".to_string()
                    } else {
                        signals.join(",")
                    };
                    args.extend([
                        "--otlp-endpoint".to_string(),
                        g.grpc_url(),
                        "--otlp-protocol".to_string(),
                        "grpc".to_string(),
                        "--signals".to_string(),
                        signals,
                    ]);
                    gateway = Some(g);
                }
                Err(why) => {
                    // Nothing to send through: its checks say why.
                    let mut checks =
                        checks_for(spec, &Manifest::new(spec.binary, "", ""), &ctx, None);
                    for c in &mut checks {
                        if let Query::NotPossible { reason } = &mut c.query {
                            reason.push_str(&format!(": {why}"));
                        }
                    }
                    launches.push(Box::pin(async move {
                        progress.send_modify(|n| *n += 1);
                        (key, spec, Err(checks), None)
                    }));
                    continue;
                }
            }
        } else {
            args.extend(sinks.args.iter().cloned());
        }
        if spec.binary == "http-service" {
            // A fault needs the signal it corrupts: a dropped span needs spans to be
            // exported, a mislabelled line needs lines to be pushed.
            for f in plan
                .faults
                .iter()
                .filter(|f| !crate::gateway::FAULTS.contains(&f.as_str()))
            {
                let possible = match f.as_str() {
                    "drop-span" | "wrong-attribute" | "drop-legacy-attributes" => sinks.traces,
                    "mislabel-log" | "duplicate-log" | "extra-label" => sinks.logs,
                    _ => true,
                };
                if possible {
                    args.extend(["--fault".to_string(), f.clone()]);
                }
            }
        }
        if spec.scraped {
            args.extend(sinks.metrics_args.iter().cloned());
        }
        on_event(Event::ScenarioStarted { name: spec.binary });
        let manifest = work_dir.join(format!("{}.manifest.json", spec.binary));
        let env = sinks.env.clone();
        // A scraped scenario's logs and traces are final before its scrapes: their
        // checks start from its provisional manifest.
        let watch = if spec.scraped && !spec.gateway {
            let (tx, rx) = tokio::sync::oneshot::channel();
            provisionals.push(Box::pin(
                async move { rx.await.ok().map(|p| (key, spec, p)) },
            ));
            Some(tx)
        } else {
            None
        };
        launches.push(Box::pin(async move {
            let r =
                ScenarioRun::start_watching(spec.binary, &binary, &args, &env, &manifest, watch)
                    .await;
            // Emitted and answered (or failed): a share of the workload for faults.
            progress.send_modify(|n| *n += 1);
            // Everything it sent has been answered once it wrote its manifest.
            let record = match gateway {
                Some(g) => Some(g.stop().await),
                None => None,
            };
            (key, spec, Ok(r), record)
        }));
    }

    // 5. The checks: each scenario's as soon as its manifest is read, concurrently,
    //    each on its own clock (from its scenario's emission); a check that could
    //    pass without data is refused before it runs.
    let mut scenarios: Vec<(&ScenarioSpec, ScenarioRun)> = Vec::new();
    // A scenario that did not run to its end is a failed check of its own, and the
    // run goes on with the others.
    let mut failed_scenarios: Vec<CheckReport> = Vec::new();
    let mut sent = Vec::new();
    let mut catalog: Vec<Check> = Vec::new();
    // The ids each scenario's provisional manifest has started already.
    let mut started_early: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut admit = |key: usize, emitted_at: Instant, checks: Vec<(usize, Check)>| {
        catalog.extend(checks.iter().map(|(_, c)| c.clone()));
        validate(&catalog, |c| c.needs.iter().all(|n| backends.has(*n)))?;
        let timed = checks
            .into_iter()
            .map(|(i, check)| (i, TimedCheck { emitted_at, check }));
        Ok::<_, RunError>((key, timed.collect()))
    };
    let placed = |checks: Vec<Check>| checks.into_iter().enumerate().collect::<Vec<_>>();
    let retention = retention_checks()
        .into_iter()
        .map(|mut c| {
            if matches!(mode, Mode::External(_)) {
                // The guide's retention is what the fixtures set, not what a
                // deployment owes anyone.
                c.query = Query::NotPossible {
                    reason: "an external deployment's retention is its own: the guide's settings are checked only on the containers lgtm-check starts".into(),
                };
            }
            c
        })
        .collect();
    let retention = admit(plan.scenarios.len(), Instant::now(), placed(retention));
    let provisionals = provisionals
        .into_iter()
        .collect::<FuturesUnordered<_>>()
        .filter_map(|early| async move { early.map(|e| Arrival::Provisional(Box::new(e))) });
    let launches = launches
        .into_iter()
        .collect::<FuturesUnordered<_>>()
        .map(|launched| Arrival::Final(Box::new(launched)));
    let emitted = stream::select(provisionals, launches).map(|arrival| {
        let (key, spec, result, record) = match arrival {
            Arrival::Provisional(early) => {
                let (key, spec, p) = *early;
                // Its checks that need no scrape, in their places in its catalog.
                let early: Vec<(usize, Check)> = placed(checks_for(spec, &p.manifest, &ctx, None))
                    .into_iter()
                    .filter(|(_, c)| !waits_for_scrapes(c))
                    .collect();
                started_early.insert(key, early.iter().map(|(_, c)| c.id.clone()).collect());
                return admit(key, p.emitted_at, early);
            }
            Arrival::Final(launched) => *launched,
        };
        let run = match result {
            Ok(Ok(run)) => run,
            Ok(Err(e)) => {
                let failed = scenario_failed(spec, &scenario_error_text(&e), &[]);
                on_event(Event::CheckFinished(&failed));
                failed_scenarios.push(failed);
                return Ok((key, Vec::new()));
            }
            Err(checks) => return admit(key, Instant::now(), placed(checks)),
        };
        on_event(Event::ScenarioEmitted {
            name: &run.name,
            manifest: &run.manifest_path.display().to_string(),
        });
        let early = started_early.remove(&key).unwrap_or_default();
        let checks = placed(checks_for(
            spec,
            &run.manifest,
            &ctx,
            record.as_ref().map(|r| (r, &mapping)),
        ))
        .into_iter()
        .filter(|(_, c)| !early.contains(&c.id))
        .collect();
        if let Some(r) = &record {
            sent.extend(SentSummary::of_record(spec.binary, r));
        }
        let batch = admit(key, run.emitted_at, checks);
        scenarios.push((spec, run));
        batch
    });
    on_event(Event::ChecksStarted {
        at_once: CHECKS_AT_ONCE,
    });
    let outcome = run_batches(
        stream::iter([retention]).chain(emitted),
        backends,
        component_reports,
        liveness,
        plan.check_timeout,
        CHECKS_AT_ONCE,
        |r| on_event(Event::CheckFinished(r)),
    )
    .await;
    let mut check_reports = match outcome {
        Ok(r) => r,
        Err(e) => {
            for (_, run) in scenarios {
                run.finish().await;
            }
            return Err(e);
        }
    };
    if let Mode::External(deployment) = mode {
        let manifests: Vec<_> = scenarios.iter().map(|(_, r)| &r.manifest).collect();
        explain_invisible(
            deployment,
            backends,
            &plan.run_id,
            &manifests,
            &mut check_reports,
        )
        .await;
    }
    // Through faults: the manifests, to read back every acknowledged line and span
    // once every fault is over.
    let manifests = if plan.inject.is_empty() {
        Vec::new()
    } else {
        scenarios.iter().map(|(_, r)| r.manifest.clone()).collect()
    };
    let pushback = scenarios
        .iter()
        .flat_map(|(_, run)| {
            run.manifest
                .pushback
                .iter()
                .map(|p| PushBackFinding::new(&run.name, p.clone()))
        })
        .collect();
    for (spec, run) in scenarios {
        let losses = run.manifest.losses.clone();
        if let Some(exit) = run.finish().await {
            let how = format!(
                "exited ({}) after writing its manifest: {}",
                exit.status, exit.stderr
            );
            let failed = scenario_failed(spec, &how, &losses);
            on_event(Event::CheckFinished(&failed));
            failed_scenarios.push(failed);
        }
    }
    check_reports.extend(failed_scenarios);
    Ok((check_reports, pushback, sent, manifests))
}

/// On an external target: where every failed check of a component saw nothing and a
/// probe for anything of the run (asked once, after the checks) finds nothing under
/// the tenant asked, though the scenarios' pushes were accepted, the checks' reasons
/// say the data is not visible to that tenant.
async fn explain_invisible(
    deployment: &Deployment,
    backends: &Backends,
    run_id: &str,
    manifests: &[&lgtm_check_recorder::manifest::Manifest],
    checks: &mut [CheckReport],
) {
    let (Some(start), Some(end)) = (
        manifests.iter().map(|m| m.started_at_unix_ms).min(),
        manifests.iter().map(|m| m.finished_at_unix_ms).max(),
    ) else {
        return;
    };
    let selector = format!("run_id=~\"{run_id}-.+\"");
    for c in [Component::Loki, Component::Tempo, Component::Mimir] {
        if !checks
            .iter()
            .any(|r| r.component == c && r.status == CheckStatus::Fail)
        {
            continue;
        }
        let (probe, empty) = match c {
            Component::Loki => {
                let Some(loki) = &backends.loki else { continue };
                let probe = format!("{{{selector}}}");
                let answer = loki
                    .query_range(
                        &probe,
                        (start as u128 - 60_000) * 1_000_000,
                        (end as u128 + 120_000) * 1_000_000,
                        1,
                    )
                    .await;
                match answer {
                    Ok(seen) => (probe, is_empty(&seen)),
                    Err(_) => continue,
                }
            }
            Component::Tempo => {
                let Some(tempo) = &backends.tempo else {
                    continue;
                };
                let probe = format!("{{ resource.{selector} }}").replace("run_id=~", "run_id =~ ");
                match tempo
                    .search(&probe, start / 1000 - 60, end / 1000 + 120, 1)
                    .await
                {
                    Ok(found) => (probe, found.is_empty()),
                    Err(_) => continue,
                }
            }
            _ => {
                let Some(prom) = backends.prometheus_api.get(&Component::Mimir) else {
                    continue;
                };
                let probe = format!("count({{{selector}}})");
                let at = crate::core::check::unix_seconds(end + 60_000);
                match prom.query(&probe, Some(&at)).await {
                    Ok(samples) => (format!("{probe} at {at}"), samples.is_empty()),
                    Err(_) => continue,
                }
            }
        };
        if !empty {
            continue;
        }
        let tenant = deployment.endpoints.get(&c).and_then(|e| e.tenant.clone());
        let why = invisible_reason(c, tenant.as_deref(), &probe);
        for r in checks
            .iter_mut()
            .filter(|r| r.component == c && r.status == CheckStatus::Fail)
        {
            r.reason = format!("{why}; {}", r.reason);
        }
    }
}

/// What a scenario that could not be run or read did, for its failed check:
/// `exited (exit status: 1) before writing its manifest: Error: …`.
fn scenario_error_text(e: &ScenarioError) -> String {
    match e {
        ScenarioError::Exited { status, stderr, .. } => {
            format!("exited ({status}) before writing its manifest: {stderr}")
        }
        ScenarioError::TimedOut { stderr, .. } => format!(
            "wrote no manifest within {:?} and was stopped: {stderr}",
            crate::scenario::SCENARIO_TIMEOUT
        ),
        ScenarioError::Manifest { source, .. } => {
            format!("wrote a manifest that cannot be read: {source}")
        }
        ScenarioError::Spawn { path, source } => {
            format!("could not be started ({path}): {source}")
        }
        ScenarioError::NotFound { .. } => e.to_string(),
    }
}

/// Whether an answer holds nothing.
fn is_empty(seen: &crate::core::observed::Observed) -> bool {
    use crate::core::observed::Observed;
    match seen {
        Observed::Series(s) => s.is_empty(),
        Observed::Logs(l) => l.is_empty(),
        Observed::Traces(t) => t.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_free_port_is_named_as_such_not_as_a_directory() {
        let e = RunError::NoFreePort(std::io::Error::other("too many open files"));
        let text = e.to_string();
        assert!(text.contains("no free TCP port"), "{text}");
        assert!(!text.contains("working directory"), "{text}");
        let source = std::error::Error::source(&e).unwrap().to_string();
        assert_eq!(source, "too many open files");
    }
}
