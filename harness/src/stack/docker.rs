//! The Docker engine, as lgtm-check uses it directly (testcontainers does the rest):
//! reachability, image availability, the run's labelled network, and clean-up by label.
//!
//! Main type: [`Docker`]. Every container and network of a run carries
//! [`LABEL_RUN`] = run id, [`LABEL_PID`] = the harness' pid and [`LABEL_HOST`] =
//! its host name, so a run removes its own and a later run removes those of runs whose
//! process is gone.

use std::collections::HashMap;

use futures::StreamExt;
use testcontainers::bollard;
use testcontainers::bollard::models::NetworkCreateRequest;
use testcontainers::bollard::query_parameters::{
    CreateImageOptionsBuilder, ListContainersOptionsBuilder, ListNetworksOptionsBuilder,
    RemoveContainerOptionsBuilder,
};

use crate::core::component::ImageRef;

/// Container label: the run id (what cleanup removes by).
pub const LABEL_RUN: &str = "org.lgtm-check.run-id";
/// Container label: the pid of the process that started the container.
pub const LABEL_PID: &str = "org.lgtm-check.pid";
/// Container label: the host name of the machine that started the container.
pub const LABEL_HOST: &str = "org.lgtm-check.host";

/// Docker could not be used at all.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    /// The engine does not answer a ping: not running, the socket is not
    /// accessible to this user, or `DOCKER_HOST` is wrong.
    #[error(
        "Docker is not reachable at {}: is the engine running, and may this user use it? (set DOCKER_HOST to use another engine)",
        crate::clients::redact_url(.host)
    )]
    Unreachable {
        /// `DOCKER_HOST`, or the default socket; shown redacted.
        host: String,
        /// The client's error.
        #[source]
        source: bollard::errors::Error,
    },
    /// The engine answered but refused an operation the run needs.
    #[error("Docker at {} refused to {action}", crate::clients::redact_url(.host))]
    Refused {
        /// `DOCKER_HOST`, or the default socket; shown redacted.
        host: String,
        /// What was asked, e.g. `create network …`, `list containers`.
        action: String,
        /// The engine's error.
        #[source]
        source: bollard::errors::Error,
    },
}

/// Whether an image can be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageAvailability {
    /// The image is present on the engine; nothing was pulled.
    Local,
    /// The image was not present and has just been pulled.
    Pulled,
    /// Neither present locally nor pullable; the pull's error.
    Missing {
        /// The engine's pull error (e.g. no registry reachable, unknown tag); the
        /// component is reported SKIPPED with it.
        pull_error: String,
    },
}

/// A container's state, as `docker inspect` gives it (`State`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerState {
    /// `State.Running`.
    pub running: bool,
    /// `State.ExitCode` (meaningful once it is not running).
    pub exit_code: Option<i64>,
    /// `State.OOMKilled`.
    pub oom_killed: bool,
    /// `State.FinishedAt`, when it has finished.
    pub finished_at: Option<String>,
    /// `State.Error`, when there is one.
    pub error: Option<String>,
}

/// A connection to the Docker engine.
#[derive(Clone)]
pub struct Docker {
    client: bollard::Docker,
    host: String,
}

/// The labels of one run.
pub fn run_labels(run_id: &str) -> HashMap<String, String> {
    HashMap::from([
        (LABEL_RUN.to_string(), run_id.to_string()),
        (LABEL_PID.to_string(), std::process::id().to_string()),
        (LABEL_HOST.to_string(), hostname()),
    ])
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into())
}

/// Whether a process runs on this host: it has a `/proc` entry that is not a zombie
/// (a killed process whose parent has not reaped it yet is gone for our purposes).
fn process_alive(pid: &str) -> bool {
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
}

impl Docker {
    /// Connects as the Docker CLI would (DOCKER_HOST, else the local socket) and pings.
    pub async fn connect() -> Result<Self, DockerError> {
        let host = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unix:///var/run/docker.sock".into());
        let client = bollard::Docker::connect_with_defaults().map_err(|source| {
            DockerError::Unreachable {
                host: host.clone(),
                source,
            }
        })?;
        client
            .ping()
            .await
            .map_err(|source| DockerError::Unreachable {
                host: host.clone(),
                source,
            })?;
        Ok(Docker { client, host })
    }

    /// The Docker host in use, as given (redact it before printing).
    pub fn host(&self) -> &str {
        &self.host
    }

    fn refused(
        &self,
        action: impl Into<String>,
    ) -> impl FnOnce(bollard::errors::Error) -> DockerError {
        let host = self.host.clone();
        let action = action.into();
        move |source| DockerError::Refused {
            host,
            action,
            source,
        }
    }

    /// Sends SIGKILL to a container.
    pub async fn kill(&self, id: &str) -> Result<(), DockerError> {
        self.client
            .kill_container(id, None)
            .await
            .map_err(self.refused(format!("kill container {id}")))
    }

    /// Starts a stopped container again (same filesystem, same port bindings).
    pub async fn start(&self, id: &str) -> Result<(), DockerError> {
        self.client
            .start_container(id, None)
            .await
            .map_err(self.refused(format!("start container {id}")))
    }

    /// Stops a container gracefully (SIGTERM, then SIGKILL after Docker's grace
    /// period) and starts it again.
    pub async fn restart(&self, id: &str) -> Result<(), DockerError> {
        self.client
            .restart_container(id, None)
            .await
            .map_err(self.refused(format!("restart container {id}")))
    }

    /// Freezes a container's processes.
    pub async fn pause(&self, id: &str) -> Result<(), DockerError> {
        self.client
            .pause_container(id)
            .await
            .map_err(self.refused(format!("pause container {id}")))
    }

    /// Thaws a paused container.
    pub async fn unpause(&self, id: &str) -> Result<(), DockerError> {
        self.client
            .unpause_container(id)
            .await
            .map_err(self.refused(format!("unpause container {id}")))
    }

    /// Cuts a container off `network` (a partition: its published ports stop
    /// answering too).
    pub async fn disconnect(&self, network: &str, id: &str) -> Result<(), DockerError> {
        let request = bollard::models::NetworkDisconnectRequest {
            container: id.to_owned(),
            force: Some(true),
        };
        self.client
            .disconnect_network(network, request)
            .await
            .map_err(self.refused(format!("disconnect container {id} from {network}")))
    }

    /// The containers (running or not) whose name (or id, of 12 hex digits or more)
    /// is `name`, or, when none is, those of a Compose service named `name`: `(id,
    /// name)`, names without Docker's `/`.
    pub async fn find_containers(&self, name: &str) -> Result<Vec<(String, String)>, DockerError> {
        let containers = self
            .client
            .list_containers(Some(ListContainersOptionsBuilder::new().all(true).build()))
            .await
            .map_err(self.refused("list containers"))?;
        let named = |c: &bollard::models::ContainerSummary| {
            c.names
                .iter()
                .flatten()
                .next()
                .map(|n| n.trim_start_matches('/').to_owned())
                .unwrap_or_default()
        };
        // An id as `docker ps` shows it (12 hex digits) or longer also names one.
        let an_id = name.len() >= 12 && name.chars().all(|c| c.is_ascii_hexdigit());
        let by_name: Vec<_> = containers
            .iter()
            .filter(|c| {
                c.names
                    .iter()
                    .flatten()
                    .any(|n| n.trim_start_matches('/') == name)
                    || (an_id && c.id.as_deref().is_some_and(|id| id.starts_with(name)))
            })
            .filter_map(|c| Some((c.id.clone()?, named(c))))
            .collect();
        if !by_name.is_empty() {
            return Ok(by_name);
        }
        Ok(containers
            .iter()
            .filter(|c| {
                c.labels
                    .as_ref()
                    .and_then(|l| l.get("com.docker.compose.service"))
                    .is_some_and(|s| s == name)
            })
            .filter_map(|c| Some((c.id.clone()?, named(c))))
            .collect())
    }

    /// Whether a container is running and, where it has a healthcheck, healthy:
    /// `Ok((running, health))`, `health` `None` when it has no healthcheck.
    pub async fn running_and_health(
        &self,
        id: &str,
    ) -> Result<(bool, Option<String>), DockerError> {
        let r = self
            .client
            .inspect_container(id, None)
            .await
            .map_err(self.refused(format!("inspect container {id}")))?;
        let state = r.state.unwrap_or_default();
        let health = state
            .health
            .and_then(|h| h.status)
            .map(|s| s.to_string())
            .filter(|s| !s.is_empty() && s != "none");
        Ok((state.running.unwrap_or(false), health))
    }

    /// The networks a container is attached to, with its settings on each (its
    /// aliases: a Compose service's name), to attach it again as it was.
    pub async fn attachments(
        &self,
        id: &str,
    ) -> Result<Vec<(String, bollard::models::EndpointSettings)>, DockerError> {
        let r = self
            .client
            .inspect_container(id, None)
            .await
            .map_err(self.refused(format!("inspect container {id}")))?;
        Ok(r.network_settings
            .and_then(|n| n.networks)
            .unwrap_or_default()
            .into_iter()
            .collect())
    }

    /// Attaches a container to `network` again with the settings it had there
    /// (aliases, addresses), healing a partition.
    pub async fn reattach(
        &self,
        network: &str,
        id: &str,
        was: &bollard::models::EndpointSettings,
    ) -> Result<(), DockerError> {
        let settings = bollard::models::EndpointSettings {
            aliases: was.aliases.clone(),
            links: was.links.clone(),
            ipam_config: was.ipam_config.clone(),
            driver_opts: was.driver_opts.clone(),
            ..Default::default()
        };
        let request = bollard::models::NetworkConnectRequest {
            container: id.to_owned(),
            endpoint_config: Some(settings),
        };
        self.client
            .connect_network(network, request)
            .await
            .map_err(self.refused(format!("connect container {id} to {network}")))
    }

    /// Present locally, else pulled, else missing with the pull's error.
    pub async fn ensure_image(&self, image: &ImageRef) -> ImageAvailability {
        if self.client.inspect_image(&image.to_string()).await.is_ok() {
            return ImageAvailability::Local;
        }
        let options = CreateImageOptionsBuilder::new()
            .from_image(&image.name)
            .tag(&image.tag)
            .build();
        let mut stream = self.client.create_image(Some(options), None, None);
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(detail) = info.error_detail {
                        return ImageAvailability::Missing {
                            pull_error: detail.message.unwrap_or_default(),
                        };
                    }
                }
                Err(e) => {
                    return ImageAvailability::Missing {
                        pull_error: pull_error_text(&e),
                    };
                }
            }
        }
        if self.client.inspect_image(&image.to_string()).await.is_ok() {
            ImageAvailability::Pulled
        } else {
            ImageAvailability::Missing {
                pull_error: "the pull ended without the image".into(),
            }
        }
    }

    /// Creates the run's bridge network, labelled with the run.
    pub async fn create_network(&self, name: &str, run_id: &str) -> Result<(), DockerError> {
        self.client
            .create_network(NetworkCreateRequest {
                name: name.into(),
                driver: Some("bridge".into()),
                labels: Some(run_labels(run_id)),
                ..Default::default()
            })
            .await
            .map(|_| ())
            .map_err(self.refused(format!("create network {name}")))
    }

    /// The containers, stopped ones too, carrying `label_filter` (`KEY` or
    /// `KEY=VALUE`).
    async fn labelled_containers(
        &self,
        label_filter: &str,
    ) -> Result<Vec<bollard::models::ContainerSummary>, DockerError> {
        let filters = HashMap::from([("label", vec![label_filter])]);
        self.client
            .list_containers(Some(
                ListContainersOptionsBuilder::new()
                    .all(true)
                    .filters(&filters)
                    .build(),
            ))
            .await
            .map_err(self.refused("list containers"))
    }

    /// The networks carrying `label_filter` (`KEY` or `KEY=VALUE`).
    async fn labelled_networks(
        &self,
        label_filter: &str,
    ) -> Result<Vec<bollard::models::Network>, DockerError> {
        let filters = HashMap::from([("label", vec![label_filter])]);
        self.client
            .list_networks(Some(
                ListNetworksOptionsBuilder::new().filters(&filters).build(),
            ))
            .await
            .map_err(self.refused("list networks"))
    }

    /// Force-removes every container, then every network, labelled with `run_id`.
    /// Returns how many objects were removed.
    pub async fn remove_run(&self, run_id: &str) -> Result<usize, DockerError> {
        self.remove_labelled(&format!("{LABEL_RUN}={run_id}")).await
    }

    async fn remove_labelled(&self, label_filter: &str) -> Result<usize, DockerError> {
        let containers = self.labelled_containers(label_filter).await?;
        let removals = containers.iter().filter_map(|c| c.id.clone()).map(|id| {
            let client = self.client.clone();
            async move {
                client
                    .remove_container(
                        &id,
                        Some(
                            RemoveContainerOptionsBuilder::new()
                                .force(true)
                                .v(true)
                                .build(),
                        ),
                    )
                    .await
                    .is_ok()
            }
        });
        let mut removed = futures::future::join_all(removals)
            .await
            .into_iter()
            .filter(|ok| *ok)
            .count();
        let networks = self.labelled_networks(label_filter).await?;
        for id in networks.into_iter().filter_map(|n| n.id) {
            // A network is refused while a container is still attached: another
            // removal of the same run (a drop, Ctrl-C) may still be removing one.
            for attempt in 0..20 {
                match self.client.remove_network(&id).await {
                    Ok(()) => {
                        removed += 1;
                        break;
                    }
                    Err(bollard::errors::Error::DockerResponseServerError {
                        status_code: 404,
                        ..
                    }) => break,
                    Err(_) if attempt < 19 => {
                        tokio::time::sleep(std::time::Duration::from_millis(250)).await
                    }
                    Err(_) => {}
                }
            }
        }
        Ok(removed)
    }

    /// Force-removes every container and network this process started (labelled
    /// with its pid on this host), whatever their run: for Ctrl-C in commands that
    /// start several runs.
    pub async fn remove_this_process_runs(&self) -> Result<usize, DockerError> {
        self.remove_labelled(&format!("{LABEL_PID}={}", std::process::id()))
            .await
    }

    /// The names of the containers and networks labelled with `run_id` that still
    /// exist (after a run has ended: what it leaked).
    pub async fn run_leftovers(&self, run_id: &str) -> Result<Vec<String>, DockerError> {
        let label = format!("{LABEL_RUN}={run_id}");
        let containers = self.labelled_containers(&label).await?;
        let networks = self.labelled_networks(&label).await?;
        Ok(containers
            .into_iter()
            .map(|c| {
                let name = c
                    .names
                    .and_then(|n| n.into_iter().next())
                    .unwrap_or_default();
                format!("container {}", name.trim_start_matches('/'))
            })
            .chain(
                networks
                    .into_iter()
                    .map(|n| format!("network {}", n.name.unwrap_or_default())),
            )
            .collect())
    }

    /// Removes what earlier runs on this host left behind when their process died
    /// (killed, or a test binary whose statics were never dropped). Returns the run ids.
    pub async fn reap_stale_runs(&self) -> Result<Vec<String>, DockerError> {
        let containers = self.labelled_containers(LABEL_RUN).await?;
        let networks = self.labelled_networks(LABEL_RUN).await?;
        let here = hostname();
        let mut stale: Vec<String> = containers
            .into_iter()
            .filter_map(|c| c.labels)
            .chain(networks.into_iter().filter_map(|n| n.labels))
            .filter(|labels| {
                labels.get(LABEL_HOST).map(String::as_str) == Some(here.as_str())
                    && !labels.get(LABEL_PID).is_some_and(|p| process_alive(p))
            })
            .filter_map(|labels| labels.get(LABEL_RUN).cloned())
            .collect();
        stale.sort();
        stale.dedup();
        for run in &stale {
            self.remove_run(run).await?;
        }
        Ok(stale)
    }

    /// What Docker says of a container's state (`docker inspect`'s `State`); `Ok(None)`
    /// when there is no such container (it was removed).
    pub async fn container_state(&self, id: &str) -> Result<Option<ContainerState>, DockerError> {
        match self.client.inspect_container(id, None).await {
            Ok(r) => {
                let s = r.state.unwrap_or_default();
                Ok(Some(ContainerState {
                    running: s.running.unwrap_or(false),
                    exit_code: s.exit_code,
                    oom_killed: s.oom_killed.unwrap_or(false),
                    finished_at: s
                        .finished_at
                        .filter(|t| !t.is_empty() && !t.starts_with("0001-")),
                    error: s.error.filter(|e| !e.is_empty()),
                }))
            }
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(self.refused(format!("inspect container {id}"))(e)),
        }
    }

    /// The last `lines` lines a container wrote (stdout and stderr).
    pub async fn tail_logs(&self, container_id: &str, lines: usize) -> String {
        use testcontainers::bollard::query_parameters::LogsOptionsBuilder;
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .tail(&lines.to_string())
            .build();
        let mut out = String::new();
        let mut stream = self.client.logs(container_id, Some(options));
        while let Some(Ok(chunk)) = stream.next().await {
            out.push_str(&chunk.to_string());
        }
        out
    }
}

/// The useful part of a pull error (bollard wraps the engine's JSON message).
fn pull_error_text(e: &bollard::errors::Error) -> String {
    match e {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_bogus_pid_is_not() {
        assert!(process_alive(&std::process::id().to_string()));
        assert!(!process_alive("4294967295"));
        assert!(!process_alive("not-a-pid"));
    }
}
