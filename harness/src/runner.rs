//! One run, start to end: Docker, the stack, the scenarios, the checks, the clean-up.
//! It emits [`Event`]s through a callback and returns the [`Report`]; it prints
//! nothing itself.
//!
//! Main items: [`run`], [`RunError`], [`Cleanup`].

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::clients::Endpoint;
use crate::core::catalog::{CatalogError, validate};
use crate::core::catalog_config::retention_checks;
use crate::core::catalog_grafana::LoadedDashboard;
use crate::core::check::Check;
use crate::core::component::Component;
use crate::core::event::Event;
use crate::core::plan::{ConfigSet, MimirFlavour, RunPlan};
use crate::core::report::{ComponentReport, ComponentStatus, Report};
use crate::core::scenarios::{SCENARIOS, checks_for};
use crate::execute::{Backends, loaded_dashboard, run_check};
use crate::scenario::{ScenarioError, ScenarioRun, find_binary};
use crate::stack::docker::{Docker, DockerError, ImageAvailability};
use crate::stack::{self, Layout, Running};

/// lgtm-check could not do its job (as opposed to a check that failed).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Docker(#[from] DockerError),
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

/// Removes the run's containers and network when dropped, unless disarmed: the
/// safety net for early returns and panics (Ctrl-C is handled by the binary).
pub struct Cleanup {
    docker: Docker,
    run_id: String,
    armed: bool,
}

impl Cleanup {
    pub fn new(docker: Docker, run_id: String) -> Self {
        Cleanup {
            docker,
            run_id,
            armed: true,
        }
    }

    /// Removes everything now and disarms.
    pub async fn now(mut self) -> usize {
        self.armed = false;
        self.docker.remove_run(&self.run_id).await.unwrap_or(0)
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let docker = self.docker.clone();
        let run_id = self.run_id.clone();
        // A fresh runtime on its own thread: this may run while a runtime unwinds.
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                let _ = rt.block_on(docker.remove_run(&run_id));
            }
        })
        .join();
    }
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
    let docker = Docker::connect().await?;
    on_event(Event::RunStarted {
        run_id: &plan.run_id,
        docker_host: docker.host(),
    });
    let stale = docker.reap_stale_runs().await?;
    if !stale.is_empty() {
        on_event(Event::StaleRunsRemoved { run_ids: &stale });
    }
    let cleanup = Cleanup::new(docker.clone(), plan.run_id.clone());
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client");

    // 1. Which images can run.
    let availability: BTreeMap<Component, ImageAvailability> =
        futures::future::join_all(Component::ALL.map(|c| {
            let docker = docker.clone();
            let image = plan.image(c).clone();
            async move { (c, docker.ensure_image(&image).await) }
        }))
        .await
        .into_iter()
        .collect();
    let usable = |c: Component| !matches!(availability[&c], ImageAvailability::Missing { .. });

    // 2. Who fills the Mimir role.
    let (mimir_flavour, mimir_image, mimir_note) = if usable(Component::Mimir) {
        (
            MimirFlavour::from_image(plan.image(Component::Mimir)),
            plan.image(Component::Mimir).clone(),
            None,
        )
    } else if usable(Component::Prometheus) {
        let ImageAvailability::Missing { pull_error } = &availability[&Component::Mimir] else {
            unreachable!()
        };
        (
            MimirFlavour::Prometheus,
            plan.image(Component::Prometheus).clone(),
            Some(format!(
                "a Prometheus remote-write receiver fills the role, because image {} is not available: {pull_error}",
                plan.image(Component::Mimir)
            )),
        )
    } else {
        (
            MimirFlavour::Mimir,
            plan.image(Component::Mimir).clone(),
            None,
        )
    };

    // 3. The stack, in parallel.
    let work_dir = std::env::temp_dir().join(format!("lgtm-check-{}", plan.run_id));
    std::fs::create_dir_all(&work_dir).map_err(|source| RunError::WorkDir {
        path: work_dir.display().to_string(),
        source,
    })?;
    let metrics_port = free_port().map_err(|source| RunError::WorkDir {
        path: "0.0.0.0:0".into(),
        source,
    })?;
    let layout = Layout {
        run_id: plan.run_id.clone(),
        network: format!("lgtm-check-{}", plan.run_id),
        scrape_target: format!("host.docker.internal:{metrics_port}"),
        mimir: mimir_flavour,
        configs: plan.configs,
    };
    docker.create_network(&layout.network, &plan.run_id).await?;

    let mut component_reports: BTreeMap<Component, ComponentReport> = BTreeMap::new();
    let mut to_start = Vec::new();
    for c in Component::ALL {
        let image = if c == Component::Mimir {
            mimir_image.clone()
        } else {
            plan.image(c).clone()
        };
        let available = if c == Component::Mimir {
            usable(Component::Mimir) || mimir_note.is_some()
        } else {
            usable(c)
        };
        if available {
            on_event(Event::ComponentStarting {
                component: c,
                image: &image,
            });
            to_start.push((c, image));
        } else {
            let ImageAvailability::Missing { pull_error } = &availability[&c] else {
                unreachable!()
            };
            let report = ComponentReport {
                version: None,
                name: c,
                image: image.to_string(),
                status: ComponentStatus::Skipped,
                ready_ms: None,
                reason: Some(ComponentReport::image_missing_reason(
                    &image.to_string(),
                    pull_error,
                )),
                stand_in: None,
                refused_guide_config: None,
            };
            on_event(Event::ComponentFinished(&report));
            component_reports.insert(c, report);
        }
    }
    let specs = stack::specs(&layout, &to_start);
    let start = |spec: stack::ComponentSpec| {
        let docker = docker.clone();
        let http = http.clone();
        let network = layout.network.clone();
        let run_id = plan.run_id.clone();
        async move { stack::start_component(&docker, spec, &network, &run_id, &http).await }
    };
    let mut started = futures::future::join_all(specs.into_iter().map(start)).await;
    // With the guide's configs, a component that refuses its config is started again
    // with the fixed one, so the guide's queries can still be run against it; the
    // refusal is kept as a guide defect.
    let mut refused: BTreeMap<Component, String> = BTreeMap::new();
    if plan.configs == ConfigSet::Guide {
        for (result, (c, image)) in started.iter_mut().zip(&to_start) {
            if let Err(e @ stack::StartError::Exited { .. }) = result {
                refused.insert(*c, e.to_string());
                let spec = stack::specs(&layout.fixed(), &[(*c, image.clone())]).remove(0);
                *result = start(spec).await;
            }
        }
    }
    let mut running: BTreeMap<Component, Running> = BTreeMap::new();
    for (result, (c, image)) in started.into_iter().zip(&to_start) {
        let report = match result {
            Ok(r) => {
                let report = ComponentReport {
                    version: None,
                    name: *c,
                    image: image.to_string(),
                    status: ComponentStatus::Ready,
                    ready_ms: Some(r.ready.as_millis() as u64),
                    reason: if *c == Component::Mimir {
                        mimir_note.clone()
                    } else {
                        None
                    },
                    stand_in: r.spec.stand_in.clone(),
                    refused_guide_config: refused.get(c).cloned(),
                };
                running.insert(*c, r);
                report
            }
            Err(e) => ComponentReport {
                version: None,
                name: *c,
                image: image.to_string(),
                status: ComponentStatus::Failed,
                ready_ms: None,
                reason: Some(e.to_string()),
                stand_in: None,
                refused_guide_config: refused.get(c).cloned(),
            },
        };
        on_event(Event::ComponentFinished(&report));
        component_reports.insert(*c, report);
    }

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
    let mut backends = Backends::from_endpoints(
        &http,
        running
            .iter()
            .map(|(c, r)| Endpoint::new(*c, r.api_url.clone())),
    );
    backends.http = Some(http.clone());
    backends.mimir = Some(mimir_flavour);
    backends.roots = running
        .iter()
        .map(|(c, r)| {
            let root = r.api_url.trim_end_matches(r.spec.api_prefix.as_str());
            (*c, Endpoint::new(*c, root))
        })
        .collect();
    for (c, report) in component_reports.iter_mut() {
        if report.status == ComponentStatus::Ready {
            report.version = backends.version(*c).await;
        }
    }
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
        for (_, r) in running {
            let _ = r.container.rm().await;
        }
        let removed = cleanup.now().await;
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
    for (_, r) in running {
        let _ = r.container.rm().await;
    }
    let removed = cleanup.now().await;
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
