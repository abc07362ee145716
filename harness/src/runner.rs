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
use crate::core::check::Check;
use crate::core::component::Component;
use crate::core::event::Event;
use crate::core::plan::RunPlan;
use crate::core::report::Report;
use crate::core::scenarios::{SCENARIOS, checks_for};
use crate::execute::loaded_dashboard;
use crate::scenario::{ScenarioError, ScenarioRun, find_binary};
use crate::stack::docker::DockerError;
use crate::stack::{self, Stack, StackError};

/// lgtm-check could not do its job (as opposed to a check that failed).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error(transparent)]
    Stack(#[from] StackError),
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The catalog derived from the manifests would let a check pass without data.
    #[error("the check catalog is refused")]
    Catalog(#[from] CatalogError),
    #[error("cannot prepare the run's working directory {path}")]
    WorkDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// A free TCP port on all interfaces, for the scenario's /metrics (containers reach
/// it through the host gateway).
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("0.0.0.0:0")?
        .local_addr()?
        .port())
}

/// Runs everything the plan asks and reports on it.
pub async fn run(
    plan: &RunPlan,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Report, RunError> {
    let metrics_port = free_port().map_err(|source| RunError::WorkDir {
        path: "0.0.0.0:0".into(),
        source,
    })?;
    // 1-3. The stack: every component whose image can run, in parallel; the Mimir
    //      role stood in for where its image is missing.
    let mut builder = Stack::builder()
        .components(Component::ALL)
        .run_id(plan.run_id.clone())
        .config_set(plan.configs)
        .scrape_port(metrics_port)
        .skip_unavailable();
    for c in Component::ALL {
        builder = builder.image(c, plan.image(c).clone());
    }
    let stack = builder.start_with_events(on_event).await?;
    let component_reports = stack.components().clone();
    let work_dir = std::env::temp_dir().join(format!("lgtm-check-{}", plan.run_id));
    std::fs::create_dir_all(&work_dir).map_err(|source| RunError::WorkDir {
        path: work_dir.display().to_string(),
        source,
    })?;
    let running = stack.running();
    let backends = stack.backends();
    // Grafana's checks judge what Grafana loaded: read it back before the catalog.
    let provisioned = stack::configs::catalog_context(plan.configs, LoadedDashboard::NotRead)
        .expect("the embedded provisioning is valid")
        .dashboard;
    let loaded = loaded_dashboard(&backends, &provisioned, Duration::from_secs(15)).await;
    let ctx = stack::configs::catalog_context(plan.configs, loaded)
        .expect("the embedded provisioning is valid");

    // 4. The scenarios, all at once: http-service serves /metrics until the checks
    //    are done; the others exit once they have written their manifests.
    let metrics_path_up =
        running.contains_key(&Component::Prometheus) && running.contains_key(&Component::Mimir);
    let loki_url = running.get(&Component::Loki).map(|r| r.api_url.clone());
    let otlp = running
        .get(&Component::Tempo)
        .and_then(|r| r.host_ports.get(&4317).cloned());
    let mut launches = Vec::new();
    for (key, spec) in SCENARIOS.iter().enumerate() {
        let binary = find_binary(spec.binary, plan.scenario_dir.as_deref())?;
        let run_id = format!("{}-{}", plan.run_id, spec.prefix);
        let mut args = vec!["--run-id".to_string(), run_id];
        args.extend(spec.args.iter().map(|a| a.to_string()));
        if let Some(url) = &loki_url {
            args.extend(["--loki-url".into(), url.clone()]);
        }
        if let Some(addr) = &otlp {
            args.extend([
                "--otlp-endpoint".into(),
                format!("http://{addr}"),
                "--otlp-protocol".into(),
                "grpc".into(),
            ]);
        }
        if spec.binary == "http-service" {
            // A fault needs the signal it corrupts: a dropped span needs spans to be
            // exported, a mislabelled line needs lines to be pushed.
            for f in &plan.faults {
                let possible = match f.as_str() {
                    "drop-span" | "wrong-attribute" | "drop-legacy-attributes" => otlp.is_some(),
                    "mislabel-log" | "duplicate-log" | "extra-label" => loki_url.is_some(),
                    _ => true,
                };
                if possible {
                    args.extend(["--fault".to_string(), f.clone()]);
                }
            }
        }
        if spec.scraped {
            args.extend([
                "--metrics-listen".into(),
                format!("0.0.0.0:{metrics_port}"),
                "--hold".into(),
            ]);
            if metrics_path_up {
                args.push("--await-scrapes".into());
            }
        }
        on_event(Event::ScenarioStarted { name: spec.binary });
        let manifest = work_dir.join(format!("{}.manifest.json", spec.binary));
        launches.push(async move {
            let r = ScenarioRun::start(spec.binary, &binary, &args, &manifest).await;
            (key, spec, r)
        });
    }
    // 5. The checks: each scenario's as soon as its manifest is read, concurrently,
    //    each on its own clock (from its scenario's emission); a check that could
    //    pass without data is refused before it runs.
    let mut scenarios = Vec::new();
    let mut catalog: Vec<Check> = Vec::new();
    let mut admit = |key: usize, emitted_at: Instant, checks: Vec<Check>| {
        catalog.extend(checks.iter().cloned());
        validate(&catalog, |c| c.needs.iter().all(|n| backends.has(*n)))?;
        let timed = checks
            .into_iter()
            .map(|check| TimedCheck { emitted_at, check });
        Ok::<_, RunError>((key, timed.collect()))
    };
    let retention = admit(SCENARIOS.len(), Instant::now(), retention_checks());
    let emitted =
        launches
            .into_iter()
            .collect::<FuturesUnordered<_>>()
            .map(|(key, spec, result)| {
                let run = result?;
                on_event(Event::ScenarioEmitted {
                    name: &run.name,
                    manifest: &run.manifest_path.display().to_string(),
                });
                let batch = admit(key, run.emitted_at, checks_for(spec, &run.manifest, &ctx));
                scenarios.push(run);
                batch
            });
    on_event(Event::ChecksStarted {
        at_once: CHECKS_AT_ONCE,
    });
    let outcome = run_batches(
        stream::iter([retention]).chain(emitted),
        &backends,
        &component_reports,
        plan.check_timeout,
        CHECKS_AT_ONCE,
        |r| on_event(Event::CheckFinished(r)),
    )
    .await;

    // 6. Clean-up (also when a scenario failed or the catalog was refused).
    for run in scenarios {
        run.finish().await;
    }
    let removed = stack.stop().await;
    on_event(Event::CleanedUp { removed });
    let _ = std::fs::remove_dir_all(&work_dir);
    let check_reports = outcome?;

    Ok(Report::new(
        plan.run_id.clone(),
        plan.required.clone(),
        plan.configs,
        component_reports.into_values().collect(),
        check_reports,
    ))
}
