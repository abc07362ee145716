//! Faults injected into a run's containers (`lgtm-check run --fault`): SIGKILL and
//! start again, a graceful restart, a pause, a network partition. On the containers
//! lgtm-check starts, the component's watch ([`crate::liveness`]) excuses it while
//! the fault is on, so an injected stop is not a death; one that does not come back
//! is. On a running deployment (`--target external`), the fault is done to a
//! container of the local Docker engine found by its name or its Compose service's
//! ([`find_external`]). Each fault's [`FaultRecord`] says when it was injected and
//! how long the container took to be ready again.
//!
//! Main items: [`inject_all`], [`find_external`], [`Victim`].

use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::core::component::Component;
use crate::core::fault::{Fault, FaultKind, FaultRecord, FaultWhen};
use crate::liveness::Liveness;
use crate::stack::Stack;
use crate::stack::docker::Docker;

/// How long a component may take to answer ready again after a fault.
pub const RECOVERY_WAIT: Duration = Duration::from_secs(90);

/// How the run's scenarios are getting on, for faults injected at a share of the
/// workload: how many of `total` have emitted theirs and had it answered (the
/// sender is dropped when the run's scenarios and checks are over).
#[derive(Clone)]
pub struct Progress {
    /// Scenarios done so far.
    pub done: watch::Receiver<usize>,
    /// Scenarios in the run.
    pub total: usize,
}

impl Progress {
    /// A progress of `total` scenarios, and the sender that counts them done.
    pub fn new(total: usize) -> (watch::Sender<usize>, Progress) {
        let (tx, rx) = watch::channel(0);
        (tx, Progress { done: rx, total })
    }
}

/// The container a fault is done to, and how to tell it is ready again.
#[derive(Debug, Clone)]
pub struct Victim {
    /// The container's id.
    pub id: String,
    /// Its name, as Docker shows it.
    pub name: String,
    /// Ready again: this URL answers 2xx (the run's own components); `None`: the
    /// container is running and, where it has a healthcheck, healthy.
    pub ready_url: Option<String>,
    /// The component, when it is one of the run's own (its watch excuses the fault).
    pub component: Option<Component>,
}

/// Why a fault cannot be done on a running deployment.
#[derive(Debug, thiserror::Error)]
pub enum FaultTargetError {
    /// Docker cannot be asked.
    #[error("--fault {fault}: {source}")]
    Docker {
        /// The fault as spelt.
        fault: String,
        /// Docker's error.
        #[source]
        source: crate::stack::docker::DockerError,
    },
    /// No container has the name, and no Compose service either.
    #[error(
        "--fault {fault}: no container named `{name}` on this Docker engine, nor a Compose service of that name (a fault on a running deployment is done to one of this engine's containers)"
    )]
    NotFound {
        /// The fault as spelt.
        fault: String,
        /// The name.
        name: String,
    },
    /// Several containers answer to the name.
    #[error("--fault {fault}: `{name}` names {} containers ({}): name one", .found.len(), .found.join(", "))]
    Ambiguous {
        /// The fault as spelt.
        fault: String,
        /// The name.
        name: String,
        /// The containers' names.
        found: Vec<String>,
    },
}

/// Finds each fault's container on the local Docker engine, by its name or its
/// Compose service's: before anything runs, so that a name that matches nothing,
/// or several, stops the run with that error. Also returns the engine's connection
/// (`None` when there is no fault).
pub async fn find_external(
    faults: &[Fault],
) -> Result<(Option<Docker>, Vec<Option<Victim>>), FaultTargetError> {
    if faults.is_empty() {
        return Ok((None, Vec::new()));
    }
    let docker = Docker::connect()
        .await
        .map_err(|source| FaultTargetError::Docker {
            fault: faults[0].spec(),
            source,
        })?;
    let mut victims = Vec::new();
    for f in faults {
        let name = f.target.name();
        let mut found =
            docker
                .find_containers(name)
                .await
                .map_err(|source| FaultTargetError::Docker {
                    fault: f.spec(),
                    source,
                })?;
        match found.len() {
            0 => {
                return Err(FaultTargetError::NotFound {
                    fault: f.spec(),
                    name: name.into(),
                });
            }
            1 => {
                let (id, name) = found.remove(0);
                victims.push(Some(Victim {
                    id,
                    name,
                    ready_url: None,
                    component: None,
                }));
            }
            _ => {
                return Err(FaultTargetError::Ambiguous {
                    fault: f.spec(),
                    name: name.into(),
                    found: found.into_iter().map(|(_, n)| n).collect(),
                });
            }
        }
    }
    Ok((Some(docker), victims))
}

/// The run's own container of each fault's component; `None` where the component
/// is not running (its record says so).
pub fn find_own(stack: &Stack, faults: &[Fault]) -> Vec<Option<Victim>> {
    faults
        .iter()
        .map(|f| {
            let c = f.target.component()?;
            let running = stack.running().get(&c)?;
            let root = running
                .api_url
                .trim_end_matches(running.spec.api_prefix.as_str())
                .to_owned();
            Some(Victim {
                id: running.container.id().to_owned(),
                name: c.name().to_owned(),
                ready_url: Some(format!("{root}{}", running.spec.ready_path)),
                component: Some(c),
            })
        })
        .collect()
}

/// Injects every fault at its time, concurrently, and waits until each container
/// is ready again. `victims[i]` is `faults[i]`'s container (`None`: not running);
/// `docker` is the engine they run on.
pub async fn inject_all(
    docker: Option<&Docker>,
    liveness: Option<&Liveness>,
    faults: &[Fault],
    victims: &[Option<Victim>],
    run_started: Instant,
    scenarios_started: Instant,
    progress: Progress,
) -> Vec<FaultRecord> {
    if faults.is_empty() {
        return Vec::new();
    }
    futures::future::join_all(faults.iter().zip(victims).map(|(f, v)| {
        let progress = progress.clone();
        async move {
            let mut record = FaultRecord {
                fault: f.spec(),
                component: f.target.name().to_owned(),
                // The run's own containers are named by their component.
                container: v
                    .as_ref()
                    .filter(|v| v.component.is_none())
                    .map(|v| v.name.clone()),
                injected_at_ms: None,
                recovered_after_ms: None,
                error: None,
            };
            match (docker, v) {
                (_, None) => record.error = Some(format!("{} is not running", f.target.name())),
                (None, _) => record.error = Some("Docker cannot be asked".into()),
                (Some(docker), Some(v)) => {
                    inject(
                        docker,
                        liveness,
                        f,
                        v,
                        run_started,
                        scenarios_started,
                        progress,
                        &mut record,
                    )
                    .await
                }
            }
            record
        }
    }))
    .await
}

/// Waits until the fault's moment; `false` when the run's scenarios and checks
/// ended first.
async fn wait_for_moment(when: FaultWhen, scenarios_started: Instant, progress: Progress) -> bool {
    let Progress { mut done, total } = progress;
    match when {
        FaultWhen::After(d) => tokio::select! {
            _ = tokio::time::sleep_until((scenarios_started + d).into()) => true,
            _ = done.wait_for(|_| false) => false,
        },
        FaultWhen::Share(_) => done.wait_for(|n| when.reached(*n, total)).await.is_ok(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn inject(
    docker: &Docker,
    liveness: Option<&Liveness>,
    fault: &Fault,
    victim: &Victim,
    run_started: Instant,
    scenarios_started: Instant,
    progress: Progress,
    record: &mut FaultRecord,
) {
    if !wait_for_moment(fault.when, scenarios_started, progress).await {
        record.error = Some("the run's scenarios and checks were over before its moment".into());
        return;
    }
    let id = victim.id.as_str();
    if let (Some(l), Some(c)) = (liveness, victim.component) {
        l.excuse(c).await;
    }
    let injected = Instant::now();
    record.injected_at_ms = Some(run_started.elapsed().as_millis() as u64);
    let done = match fault.kind {
        FaultKind::Kill => match docker.kill(id).await {
            Ok(()) => docker.start(id).await,
            Err(e) => Err(e),
        },
        FaultKind::Restart => docker.restart(id).await,
        FaultKind::Partition => match docker.attachments(id).await {
            Ok(attached) => {
                let mut cut = Ok(());
                for (network, _) in &attached {
                    cut = cut.and(docker.disconnect(network, id).await);
                }
                tokio::time::sleep(fault.hold).await;
                let mut healed = Ok(());
                for (network, was) in &attached {
                    healed = healed.and(docker.reattach(network, id, was).await);
                }
                cut.and(healed)
            }
            Err(e) => Err(e),
        },
        FaultKind::Pause => match docker.pause(id).await {
            Ok(()) => {
                tokio::time::sleep(fault.hold).await;
                docker.unpause(id).await
            }
            Err(e) => Err(e),
        },
    };
    if let Err(e) = done {
        record.error = Some(e.to_string());
    } else {
        record.recovered_after_ms = ready_again(docker, victim, injected).await;
        if record.recovered_after_ms.is_none() {
            let log = docker.tail_logs(id, 30).await;
            record.error = Some(format!(
                "not ready again within {} s; its log: {}",
                RECOVERY_WAIT.as_secs(),
                crate::stack::reason_line(&log)
            ));
        }
    }
    // From here on, a component that is not running is dead.
    if let (Some(l), Some(c)) = (liveness, victim.component) {
        l.unexcuse(c);
    }
}

/// Milliseconds from `injected` until the container is ready again, polled every
/// 200 ms up to [`RECOVERY_WAIT`]; `None` if it never was.
async fn ready_again(docker: &Docker, victim: &Victim, injected: Instant) -> Option<u64> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("HTTP client");
    while injected.elapsed() < RECOVERY_WAIT {
        let ready = match &victim.ready_url {
            Some(url) => http
                .get(url)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success()),
            None => docker
                .running_and_health(&victim.id)
                .await
                .is_ok_and(|(running, health)| {
                    running && health.as_deref().is_none_or(|h| h == "healthy")
                }),
        };
        if ready {
            return Some(injected.elapsed().as_millis() as u64);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    None
}
