//! Faults injected into a run's own containers (`lgtm-check run --fault`): SIGKILL
//! and start again, a graceful restart, a pause, a network partition. The component's watch
//! ([`crate::liveness`]) excuses it while the fault is on, so an injected stop is not
//! a death; one that does not come back is. Each fault's [`FaultRecord`] says when it
//! was injected and how long the component took to answer ready again.
//!
//! Main items: [`inject_all`], [`inject`].

use std::time::{Duration, Instant};

use crate::core::fault::{Fault, FaultKind, FaultRecord};
use crate::liveness::Liveness;
use crate::stack::Stack;

/// How long a component may take to answer ready again after a fault.
pub const RECOVERY_WAIT: Duration = Duration::from_secs(90);

/// Injects every fault at its time after `scenarios_started`, concurrently.
pub async fn inject_all(
    stack: &Stack,
    liveness: Option<&Liveness>,
    faults: &[Fault],
    run_started: Instant,
    scenarios_started: Instant,
) -> Vec<FaultRecord> {
    futures::future::join_all(
        faults
            .iter()
            .map(|f| inject(stack, liveness, *f, run_started, scenarios_started)),
    )
    .await
}

/// Injects one fault at its time and waits until the component answers ready again.
pub async fn inject(
    stack: &Stack,
    liveness: Option<&Liveness>,
    fault: Fault,
    run_started: Instant,
    scenarios_started: Instant,
) -> FaultRecord {
    let mut record = FaultRecord {
        fault: fault.spec(),
        component: fault.component,
        injected_at_ms: None,
        recovered_after_ms: None,
        error: None,
    };
    let (Some(docker), Some(running)) = (stack.docker(), stack.running().get(&fault.component))
    else {
        record.error = Some(format!("{} is not running", fault.component));
        return record;
    };
    let id = running.container.id().to_owned();
    let root = running
        .api_url
        .trim_end_matches(running.spec.api_prefix.as_str())
        .to_owned();
    let ready_url = format!("{root}{}", running.spec.ready_path);
    tokio::time::sleep_until((scenarios_started + fault.at).into()).await;
    if let Some(l) = liveness {
        l.excuse(fault.component).await;
    }
    let injected = Instant::now();
    record.injected_at_ms = Some(run_started.elapsed().as_millis() as u64);
    let done = match fault.kind {
        FaultKind::Kill => match docker.kill(&id).await {
            Ok(()) => docker.start(&id).await,
            Err(e) => Err(e),
        },
        FaultKind::Restart => docker.restart(&id).await,
        FaultKind::Partition => {
            let network = format!("lgtm-check-{}", stack.run_id());
            match docker.disconnect(&network, &id).await {
                Ok(()) => {
                    tokio::time::sleep(fault.hold).await;
                    docker.reconnect(&network, &id).await
                }
                Err(e) => Err(e),
            }
        }
        FaultKind::Pause => match docker.pause(&id).await {
            Ok(()) => {
                tokio::time::sleep(fault.hold).await;
                docker.unpause(&id).await
            }
            Err(e) => Err(e),
        },
    };
    if let Err(e) = done {
        record.error = Some(e.to_string());
    } else {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("HTTP client");
        while injected.elapsed() < RECOVERY_WAIT {
            if let Ok(r) = http.get(&ready_url).send().await
                && r.status().is_success()
            {
                record.recovered_after_ms = Some(injected.elapsed().as_millis() as u64);
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        if record.recovered_after_ms.is_none() {
            let log = docker.tail_logs(&id, 30).await;
            record.error = Some(format!(
                "not ready again within {} s; its log: {}",
                RECOVERY_WAIT.as_secs(),
                crate::stack::reason_line(&log)
            ));
        }
    }
    // From here on, a component that is not running is dead.
    if let Some(l) = liveness {
        l.unexcuse(fault.component);
    }
    record
}
