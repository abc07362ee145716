//! One run, start to end: the stack ([`Stack`], the same code path a user's own tests
//! use), the scenarios, the catalog's checks, the clean-up. It emits [`Event`]s
//! through a callback and returns the [`Report`]; it prints nothing itself.
//!
//! Main items: [`run`], [`RunError`].

use std::time::{Duration, Instant};

use crate::core::catalog::{CatalogError, validate};
use crate::core::catalog_config::retention_checks;
use crate::core::catalog_grafana::LoadedDashboard;
use crate::core::check::Check;
use crate::core::component::Component;
use crate::core::event::Event;
use crate::core::plan::RunPlan;
use crate::core::report::Report;
use crate::core::scenarios::{SCENARIOS, checks_for};
use crate::execute::{loaded_dashboard, run_check};
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
    for (c, path) in &plan.config_files {
        builder = builder.config_file(*c, path);
    }
    let stack = builder.start_with_events(on_event).await?;
    let component_reports = stack.components().clone();
    let work_dir = std::env::temp_dir().join(format!("lgtm-check-{}", plan.run_id));
    std::fs::create_dir_all(&work_dir).map_err(|source| RunError::WorkDir {
        path: work_dir.display().to_string(),
        source,
    })?;
    let running = stack.running();

    // 4. The scenarios, all at once: http-service serves /metrics until the checks
    //    are done; the others exit once they have written their manifests.
    let metrics_path_up =
        running.contains_key(&Component::Prometheus) && running.contains_key(&Component::Mimir);
    let loki_url = running.get(&Component::Loki).map(|r| r.api_url.clone());
    let otlp = running
        .get(&Component::Tempo)
        .and_then(|r| r.host_ports.get(&4317).cloned());
    let mut launches = Vec::new();
    for spec in &SCENARIOS {
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
            (spec, r)
        });
    }
    let mut scenarios = Vec::new();
    let mut first_error = None;
    for (spec, result) in futures::future::join_all(launches).await {
        match result {
            Ok(run) => {
                on_event(Event::ScenarioEmitted {
                    name: &run.name,
                    manifest: &run.manifest_path.display().to_string(),
                });
                scenarios.push((spec, run));
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        for (_, run) in scenarios {
            run.finish().await;
        }
        return Err(e.into());
    }

    // 5. The checks.
    let backends = stack.backends();
    let mut all_checks: Vec<(Instant, Check)> = Vec::new();
    // Grafana's checks judge what Grafana loaded: read it back before the catalog.
    let provisioned = stack::configs::catalog_context(plan.configs, LoadedDashboard::NotRead)
        .expect("the embedded provisioning is valid")
        .dashboard;
    let loaded = loaded_dashboard(&backends, &provisioned, Duration::from_secs(15)).await;
    let ctx = stack::configs::catalog_context(plan.configs, loaded)
        .expect("the embedded provisioning is valid");
    for (spec, run) in &scenarios {
        all_checks.extend(
            checks_for(spec, &run.manifest, &ctx)
                .into_iter()
                .map(|c| (run.emitted_at, c)),
        );
    }
    let started_checks = Instant::now();
    all_checks.extend(retention_checks().into_iter().map(|c| (started_checks, c)));
    // A check that could pass without data is refused before anything is judged.
    if let Err(e) = validate(all_checks.iter().map(|(_, c)| c), |c| {
        c.needs.iter().all(|n| backends.has(*n))
    }) {
        for (_, run) in scenarios {
            run.finish().await;
        }
        let removed = stack.stop().await;
        on_event(Event::CleanedUp { removed });
        let _ = std::fs::remove_dir_all(&work_dir);
        return Err(e.into());
    }
    let mut check_reports = Vec::new();
    for (emitted_at, check) in &all_checks {
        let report = run_check(
            check,
            &backends,
            &component_reports,
            *emitted_at,
            plan.check_timeout,
        )
        .await;
        on_event(Event::CheckFinished(&report));
        check_reports.push(report);
    }

    // 6. Clean-up.
    for (_, run) in scenarios {
        run.finish().await;
    }
    let removed = stack.stop().await;
    on_event(Event::CleanedUp { removed });
    let _ = std::fs::remove_dir_all(&work_dir);

    Ok(Report::new(
        plan.run_id.clone(),
        plan.required.clone(),
        plan.configs,
        component_reports.into_values().collect(),
        check_reports,
    ))
}
