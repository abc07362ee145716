//! The stack: each component as a container on the run's own network, started in
//! parallel by testcontainers and ready when its real ready endpoint says so.
//!
//! Main items: [`ComponentSpec`] (plain data: image, command, files, ports, ready
//! endpoint; built by [`specs`]), [`start_component`], [`Running`].

pub mod configs;
pub mod docker;
mod handle;

pub use handle::{SharedStack, Stack, StackBuilder, StackError, fresh_run_id};

/// A free TCP port on all interfaces for a program the Prometheus role scrapes through
/// the host gateway: [`free_port`] (the port is written into Prometheus's
/// configuration before the program binds it).
pub fn scrape_port() -> std::io::Result<u16> {
    free_port()
}

/// A free TCP port on all interfaces, for a port chosen before the program that
/// listens on it binds it. It is taken below the kernel's ephemeral range
/// (`/proc/sys/net/ipv4/ip_local_port_range`, where it can be read): a port of that
/// range may meanwhile become the local end of any outgoing connection.
///
/// ```
/// let port = lgtm_check::stack::free_port().unwrap();
/// assert!(std::net::TcpListener::bind(("0.0.0.0", port)).is_ok());
/// ```
pub fn free_port() -> std::io::Result<u16> {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse::<u32>().ok());
    if let Some(low) = low.filter(|l| *l > 11_000 && *l <= 65_535) {
        const FROM: u32 = 10_000;
        let mut seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
            ^ u64::from(std::process::id()).rotate_left(32);
        for _ in 0..64 {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let port = FROM + ((seed >> 33) as u32) % (low - FROM);
            if let Ok(l) = std::net::TcpListener::bind(("0.0.0.0", port as u16)) {
                return Ok(l.local_addr()?.port());
            }
        }
    }
    Ok(std::net::TcpListener::bind("0.0.0.0:0")?
        .local_addr()?
        .port())
}

use std::borrow::Cow;
use std::time::{Duration, Instant};

use testcontainers::core::{ContainerPort, Host, IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, Image, ImageExt, TestcontainersError};

use crate::core::component::{Component, ImageRef};
use crate::core::plan::{ConfigSet, MimirFlavour};
use docker::{Docker, run_labels};

/// The image of one component, as testcontainers sees it. Readiness is polled by
/// [`start_component`] so a container that exits (a rejected config) is reported at
/// once with its own log line, instead of waiting out a timeout.
#[derive(Debug, Clone)]
pub struct ComponentImage {
    image: ImageRef,
    cmd: Vec<String>,
    ports: Vec<ContainerPort>,
}

impl Image for ComponentImage {
    fn name(&self) -> &str {
        &self.image.name
    }

    fn tag(&self) -> &str {
        &self.image.tag
    }

    fn ready_conditions(&self) -> Vec<WaitFor> {
        Vec::new()
    }

    fn cmd(&self) -> impl IntoIterator<Item = impl Into<Cow<'_, str>>> {
        self.cmd.iter().map(String::as_str)
    }

    fn expose_ports(&self) -> &[ContainerPort] {
        &self.ports
    }
}

/// Everything needed to run one component: plain data.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentSpec {
    /// The LGTM role this container fills.
    pub component: Component,
    /// The image it runs (for the Mimir role, maybe a Cortex or Prometheus stand-in).
    pub image: ImageRef,
    /// Name on the run's network (other containers address it by this name).
    pub container_name: String,
    /// The arguments given to the image's entrypoint (`-config.file=…`).
    pub cmd: Vec<String>,
    /// Files copied in before start: (path in the container, contents).
    pub files: Vec<(String, String)>,
    /// Environment variables of the container (Grafana's `GF_*` settings).
    pub env: Vec<(String, String)>,
    /// The HTTP port (readiness and queries).
    pub http_port: u16,
    /// Further container ports published to the host (Tempo's OTLP 4317 and 4318).
    pub other_ports: Vec<u16>,
    /// Path on the HTTP port that answers 200 once the component is ready
    /// (`/ready`, Prometheus' `/-/ready`, Grafana's `/api/health`).
    pub ready_path: String,
    /// Add `host.docker.internal` → the host (for scraping scenarios on the host).
    pub reach_host: bool,
    /// Prefix of the query API under the HTTP port (Mimir: `/prometheus`).
    pub api_prefix: String,
    /// What fills the role when it is not the component itself (`cortex`,
    /// `prometheus` for the Mimir role); `None` for the real component. Reports
    /// show it beside the image.
    pub stand_in: Option<String>,
    /// Publish its ports on host ports chosen before it starts, so a container
    /// started again after a fault keeps its addresses (`run --fault`).
    pub fixed_ports: bool,
}

/// What the stack needs to know to lay itself out.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The run id: part of every container's and the network's name.
    pub run_id: String,
    /// The Docker network of the run (`lgtm-check-<run id>`); containers reach each
    /// other on it by container name.
    pub network: String,
    /// `host:port` where the Prometheus role scrapes the scenario.
    pub scrape_target: String,
    /// What fills the Mimir role (Mimir, Cortex, or a Prometheus receiver): decides
    /// its port, push path and query prefix.
    pub mimir: MimirFlavour,
    /// Which configuration files the components run with (fixed, or the guide's own).
    pub configs: ConfigSet,
}

impl Layout {
    /// The container name of `c` in this run.
    pub fn container_name(&self, c: Component) -> String {
        format!("lgtm-check-{}-{}", self.run_id, c.name())
    }
}

impl Layout {
    /// The same layout with the fixed configs.
    pub fn fixed(&self) -> Layout {
        Layout {
            configs: ConfigSet::Fixed,
            ..self.clone()
        }
    }
}

/// The specs of the components to start, given the images to use.
pub fn specs(layout: &Layout, images: &[(Component, ImageRef)]) -> Vec<ComponentSpec> {
    images
        .iter()
        .map(|(c, image)| spec(layout, *c, image.clone()))
        .collect()
}

fn spec(layout: &Layout, component: Component, image: ImageRef) -> ComponentSpec {
    let fixed = fixed_spec(layout, component, image);
    match layout.configs {
        ConfigSet::Fixed => fixed,
        ConfigSet::Guide => with_guide_files(layout, fixed),
    }
}

/// The same component with the guide's own configuration files. Cortex and the
/// Prometheus stand-in keep theirs: the guide has none for them.
fn with_guide_files(layout: &Layout, mut spec: ComponentSpec) -> ComponentSpec {
    let url = |c: Component, port: u16, path: &str| {
        format!("http://{}:{port}{path}", layout.container_name(c))
    };
    let replace = |spec: &mut ComponentSpec, path: &str, text: String| {
        if let Some(f) = spec.files.iter_mut().find(|(p, _)| p == path) {
            f.1 = text;
        }
    };
    match spec.component {
        Component::Loki => replace(
            &mut spec,
            "/etc/loki/config.yaml",
            configs::guide::LOKI.into(),
        ),
        Component::Tempo => replace(
            &mut spec,
            "/etc/tempo/config.yaml",
            configs::guide::TEMPO.into(),
        ),
        Component::Mimir if layout.mimir == MimirFlavour::Mimir => replace(
            &mut spec,
            "/etc/mimir/config.yaml",
            configs::guide::MIMIR.into(),
        ),
        Component::Mimir => {}
        Component::Prometheus => replace(
            &mut spec,
            "/etc/prometheus/prometheus.yml",
            configs::guide::prometheus(
                &layout.scrape_target,
                &url(
                    Component::Mimir,
                    layout.mimir.port(),
                    layout.mimir.push_path(),
                ),
            ),
        ),
        Component::Grafana => {
            replace(
                &mut spec,
                "/etc/grafana/provisioning/datasources/datasources.yaml",
                configs::datasources_with(
                    configs::guide::GRAFANA_DATASOURCES,
                    &url(Component::Loki, 3100, ""),
                    &url(Component::Tempo, 3200, ""),
                    &url(
                        Component::Mimir,
                        layout.mimir.port(),
                        layout.mimir.query_prefix(),
                    ),
                ),
            );
            replace(
                &mut spec,
                "/var/lib/grafana/dashboards/lgtm-rust.json",
                configs::guide::DASHBOARD.into(),
            );
            // The guide's compose: GF_FEATURE_TOGGLES_ENABLE=traceToMetrics,traceToLogs.
            spec.env.push((
                "GF_FEATURE_TOGGLES_ENABLE".into(),
                "traceToMetrics,traceToLogs".into(),
            ));
        }
    }
    spec
}

fn fixed_spec(layout: &Layout, component: Component, image: ImageRef) -> ComponentSpec {
    let name = layout.container_name(component);
    let base = ComponentSpec {
        component,
        image,
        container_name: name,
        cmd: Vec::new(),
        files: Vec::new(),
        env: Vec::new(),
        http_port: 0,
        other_ports: Vec::new(),
        ready_path: "/ready".into(),
        reach_host: false,
        api_prefix: String::new(),
        stand_in: None,
        fixed_ports: false,
    };
    match component {
        Component::Loki => ComponentSpec {
            cmd: vec!["-config.file=/etc/loki/config.yaml".into()],
            files: vec![("/etc/loki/config.yaml".into(), configs::LOKI.into())],
            http_port: 3100,
            ..base
        },
        Component::Tempo => ComponentSpec {
            cmd: vec!["-config.file=/etc/tempo/config.yaml".into()],
            files: vec![("/etc/tempo/config.yaml".into(), configs::TEMPO.into())],
            http_port: 3200,
            other_ports: vec![4317, 4318],
            ..base
        },
        Component::Mimir => match layout.mimir {
            MimirFlavour::Mimir => ComponentSpec {
                cmd: vec!["-config.file=/etc/mimir/config.yaml".into()],
                files: vec![("/etc/mimir/config.yaml".into(), configs::MIMIR.into())],
                http_port: 9009,
                api_prefix: "/prometheus".into(),
                ..base
            },
            MimirFlavour::Cortex => ComponentSpec {
                cmd: vec![
                    "-config.file=/etc/cortex/config.yaml".into(),
                    "-target=all".into(),
                    // Only a flag in Cortex, not a config field.
                    "-api.build-info-enabled=true".into(),
                ],
                files: vec![("/etc/cortex/config.yaml".into(), configs::CORTEX.into())],
                http_port: 9009,
                api_prefix: "/prometheus".into(),
                stand_in: Some("cortex".into()),
                ..base
            },
            MimirFlavour::Prometheus => ComponentSpec {
                cmd: vec![
                    "--config.file=/etc/prometheus/prometheus.yml".into(),
                    "--storage.tsdb.path=/prometheus".into(),
                    "--web.enable-remote-write-receiver".into(),
                    // Remote-written exemplars are kept only with exemplar storage.
                    "--enable-feature=exemplar-storage".into(),
                ],
                files: vec![(
                    "/etc/prometheus/prometheus.yml".into(),
                    configs::PROMETHEUS_RECEIVER.into(),
                )],
                http_port: 9090,
                ready_path: "/-/ready".into(),
                stand_in: Some("prometheus".into()),
                ..base
            },
        },
        Component::Prometheus => ComponentSpec {
            cmd: vec![
                "--config.file=/etc/prometheus/prometheus.yml".into(),
                "--storage.tsdb.path=/prometheus".into(),
            ],
            files: vec![(
                "/etc/prometheus/prometheus.yml".into(),
                configs::prometheus_scraper(
                    &layout.scrape_target,
                    &format!(
                        "http://{}:{}{}",
                        layout.container_name(Component::Mimir),
                        layout.mimir.port(),
                        layout.mimir.push_path()
                    ),
                ),
            )],
            http_port: 9090,
            ready_path: "/-/ready".into(),
            reach_host: true,
            ..base
        },
        Component::Grafana => ComponentSpec {
            files: vec![
                (
                    "/etc/grafana/provisioning/datasources/datasources.yaml".into(),
                    configs::grafana_datasources(
                        &format!("http://{}:3100", layout.container_name(Component::Loki)),
                        &format!("http://{}:3200", layout.container_name(Component::Tempo)),
                        &format!(
                            "http://{}:{}{}",
                            layout.container_name(Component::Mimir),
                            layout.mimir.port(),
                            layout.mimir.query_prefix()
                        ),
                    ),
                ),
                (
                    "/etc/grafana/provisioning/dashboards/dashboards.yaml".into(),
                    configs::GRAFANA_DASHBOARDS_PROVIDER.into(),
                ),
                (
                    "/var/lib/grafana/dashboards/lgtm-rust.json".into(),
                    configs::GRAFANA_DASHBOARD.into(),
                ),
            ],
            env: vec![
                ("GF_AUTH_ANONYMOUS_ENABLED".into(), "true".into()),
                ("GF_AUTH_ANONYMOUS_ORG_ROLE".into(), "Admin".into()),
            ],
            http_port: 3000,
            ready_path: "/api/health".into(),
            ..base
        },
    }
}

/// A started, ready component.
pub struct Running {
    /// What was started.
    pub spec: ComponentSpec,
    /// The container; dropping it removes it.
    pub container: ContainerAsync<ComponentImage>,
    /// Base URL from the host, including the API prefix.
    pub api_url: String,
    /// Host address of each container port (e.g. Tempo's 4317 for OTLP/gRPC).
    pub host_ports: std::collections::BTreeMap<u16, String>,
    /// Time from the start request until the ready endpoint answered 200.
    pub ready: Duration,
}

/// Why a component is not running.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Docker could not create or start the container, or tell its host port (a
    /// name still taken, a port conflict, the daemon gone).
    #[error("{component} ({image}) could not be created: {detail}")]
    Create {
        /// The role that was being started.
        component: Component,
        /// The image, as `name:tag`.
        image: String,
        /// Docker's error, as testcontainers reports it.
        detail: String,
    },
    #[error(
        "{component} ({image}) exited before it was ready (exit code {code:?}); its log: {log_line}"
    )]
    /// The process stopped before the ready endpoint answered 200: most often the
    /// component refused its configuration.
    Exited {
        /// The role that was being started.
        component: Component,
        /// The image, as `name:tag`.
        image: String,
        /// The container's exit code, when Docker tells it.
        code: Option<i64>,
        /// The line of its log that says why (see [`reason_line`]).
        log_line: String,
    },
    #[error("{component} ({image}) was not ready at {url} within {waited:?}; last answer: {last}")]
    /// Still running, but its ready endpoint did not answer 200 within
    /// [`READY_TIMEOUT`].
    NotReady {
        /// The role that was being started.
        component: Component,
        /// The image, as `name:tag`.
        image: String,
        /// The ready URL that was polled, from the host.
        url: String,
        /// How long it was polled ([`READY_TIMEOUT`]).
        waited: Duration,
        /// Its last answer: `HTTP <status>: <body>`, or the transport error.
        last: String,
    },
}

/// How long a component may take to become ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// Picks the line of a log that says why a process stopped: the last line that
/// mentions an error (with the indented lines that continue it), else the last line.
pub fn reason_line(log: &str) -> String {
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    let is_error = |l: &&str| {
        let l = l.to_ascii_lowercase();
        l.contains("error") || l.contains("fatal") || l.contains("panic")
    };
    // An indented line continues the line above it, so judge only unindented lines.
    let starts: Vec<usize> = (0..lines.len())
        .filter(|&i| i == 0 || !lines[i].starts_with(char::is_whitespace))
        .collect();
    let Some(&start) = starts
        .iter()
        .rev()
        .find(|&&i| {
            let end = starts
                .iter()
                .find(|&&j| j > i)
                .copied()
                .unwrap_or(lines.len());
            lines[i..end].iter().any(is_error)
        })
        .or(starts.last())
    else {
        return "(no log output)".into();
    };
    let continued = lines[start + 1..]
        .iter()
        .take_while(|l| l.starts_with(char::is_whitespace));
    std::iter::once(lines[start])
        .chain(continued.copied())
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Starts one component on the network and waits until its ready endpoint answers 200.
pub async fn start_component(
    docker: &Docker,
    spec: ComponentSpec,
    network: &str,
    run_id: &str,
    http: &reqwest::Client,
) -> Result<Running, StartError> {
    start_component_then(docker, spec, network, run_id, http, || {}).await
}

/// [`start_component`], calling `on_started` as soon as the container is running,
/// before it is ready (the stack makes the others' containers only then, so the
/// Prometheus role's clock starts first).
pub(crate) async fn start_component_then(
    docker: &Docker,
    spec: ComponentSpec,
    network: &str,
    run_id: &str,
    http: &reqwest::Client,
    on_started: impl FnOnce(),
) -> Result<Running, StartError> {
    let image = ComponentImage {
        image: spec.image.clone(),
        cmd: spec.cmd.clone(),
        ports: std::iter::once(spec.http_port)
            .chain(spec.other_ports.iter().copied())
            .map(|p| p.tcp())
            .collect(),
    };
    let mut request = image
        .with_network(network)
        .with_container_name(&spec.container_name)
        .with_labels(run_labels(run_id))
        .with_startup_timeout(READY_TIMEOUT);
    for (path, contents) in &spec.files {
        request = request.with_copy_to(path.as_str(), contents.clone().into_bytes());
    }
    for (k, v) in &spec.env {
        request = request.with_env_var(k, v);
    }
    if spec.reach_host {
        request = request.with_host("host.docker.internal", Host::HostGateway);
    }
    if spec.fixed_ports {
        for p in std::iter::once(spec.http_port).chain(spec.other_ports.iter().copied()) {
            let host_port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .map_err(|e| StartError::Create {
                    component: spec.component,
                    image: spec.image.to_string(),
                    detail: format!("no free host port for {p}: {e}"),
                })?;
            request = request.with_mapped_port(host_port, p.tcp());
        }
    }
    let started = Instant::now();
    let create_error = |e: TestcontainersError| StartError::Create {
        component: spec.component,
        image: spec.image.to_string(),
        detail: e.to_string(),
    };
    let container = request.start().await.map_err(create_error)?;
    on_started();
    let host = container.get_host().await.map_err(create_error)?;
    let port = container
        .get_host_port_ipv4(spec.http_port)
        .await
        .map_err(create_error)?;
    let root = format!("http://{host}:{port}");
    let ready_url = format!("{root}{}", spec.ready_path);
    let mut last;
    loop {
        match http.get(&ready_url).send().await {
            Ok(r) if r.status().is_success() => break,
            Ok(r) => {
                let status = r.status();
                let body = r.text().await.unwrap_or_default();
                last = format!("HTTP {status}: {}", body.trim());
            }
            Err(e) => last = e.to_string(),
        }
        if !container.is_running().await.unwrap_or(false) {
            let code = container.exit_code().await.ok().flatten();
            let log = docker.tail_logs(container.id(), 30).await;
            // Free the name at once, so the component can be started again.
            let _ = container.rm().await;
            return Err(StartError::Exited {
                component: spec.component,
                image: spec.image.to_string(),
                code,
                log_line: reason_line(&log),
            });
        }
        if started.elapsed() > READY_TIMEOUT {
            return Err(StartError::NotReady {
                component: spec.component,
                image: spec.image.to_string(),
                url: ready_url,
                waited: READY_TIMEOUT,
                last,
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ready = started.elapsed();
    let mut host_ports = std::collections::BTreeMap::new();
    for p in std::iter::once(spec.http_port).chain(spec.other_ports.iter().copied()) {
        if let Ok(hp) = container.get_host_port_ipv4(p).await {
            host_ports.insert(p, format!("{host}:{hp}"));
        }
    }
    Ok(Running {
        api_url: format!("{root}{}", spec.api_prefix),
        host_ports,
        spec,
        container,
        ready,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_scrape_port_is_free_and_below_the_ephemeral_range() {
        let port = super::scrape_port().unwrap();
        assert!(
            std::net::TcpListener::bind(("0.0.0.0", port)).is_ok(),
            "{port}"
        );
        if let Some(low) = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .ok()
            .and_then(|t| t.split_whitespace().next()?.parse::<u16>().ok())
            .filter(|l| *l > 11_000)
        {
            assert!((10_000..low).contains(&port), "{port} not below {low}");
        }
    }

    use super::*;

    fn layout(mimir: MimirFlavour) -> Layout {
        Layout {
            run_id: "r1".into(),
            network: "lgtm-check-r1".into(),
            scrape_target: "host.docker.internal:9999".into(),
            mimir,
            configs: ConfigSet::Fixed,
        }
    }

    #[test]
    fn scraper_writes_to_the_mimir_role_by_name() {
        let all: Vec<_> = Component::ALL
            .iter()
            .map(|c| (*c, c.default_image()))
            .collect();
        let specs = specs(&layout(MimirFlavour::Prometheus), &all);
        let prom = specs
            .iter()
            .find(|s| s.component == Component::Prometheus)
            .unwrap();
        let config = &prom.files[0].1;
        assert!(
            config.contains("http://lgtm-check-r1-mimir:9090/api/v1/write"),
            "{config}"
        );
        assert!(config.contains("host.docker.internal:9999"), "{config}");
        assert!(prom.reach_host);
        let mimir = specs
            .iter()
            .find(|s| s.component == Component::Mimir)
            .unwrap();
        assert_eq!(mimir.stand_in.as_deref(), Some("prometheus"));
        assert!(
            mimir
                .cmd
                .contains(&"--web.enable-remote-write-receiver".to_string())
        );

        let specs = super::specs(&layout(MimirFlavour::Mimir), &all);
        let prom = specs
            .iter()
            .find(|s| s.component == Component::Prometheus)
            .unwrap();
        assert!(
            prom.files[0]
                .1
                .contains("http://lgtm-check-r1-mimir:9009/api/v1/push")
        );
        let mimir = specs
            .iter()
            .find(|s| s.component == Component::Mimir)
            .unwrap();
        assert_eq!(
            (mimir.api_prefix.as_str(), mimir.stand_in.clone()),
            ("/prometheus", None)
        );
    }

    #[test]
    fn guide_mode_runs_the_guides_files_with_only_addresses_put_in() {
        let all: Vec<_> = Component::ALL
            .iter()
            .map(|c| (*c, c.default_image()))
            .collect();
        let mut l = layout(MimirFlavour::Mimir);
        l.configs = ConfigSet::Guide;
        let specs = specs(&l, &all);
        let file = |c: Component| {
            specs.iter().find(|s| s.component == c).unwrap().files[0]
                .1
                .clone()
        };
        assert!(file(Component::Loki).contains("enforce_metric_name: false"));
        assert_eq!(file(Component::Tempo), configs::guide::TEMPO);
        assert_eq!(file(Component::Mimir), configs::guide::MIMIR);
        let prom = file(Component::Prometheus);
        assert!(
            prom.contains("scrape_interval: 15s") && prom.contains("host.docker.internal:9999"),
            "{prom}"
        );
        assert!(
            prom.contains("http://lgtm-check-r1-mimir:9009/api/v1/push"),
            "{prom}"
        );
        assert!(!prom.contains("rust-app:9090"));
    }

    #[test]
    fn reason_line_prefers_the_error() {
        let log = "level=info msg=starting\nfailed parsing config: /etc/loki/config.yaml: yaml: unmarshal errors:\n  line 40: field enforce_metric_name not found in type validation.plain\nlevel=info msg=bye\n";
        assert_eq!(
            reason_line(log),
            "failed parsing config: /etc/loki/config.yaml: yaml: unmarshal errors: line 40: field enforce_metric_name not found in type validation.plain"
        );
        assert_eq!(reason_line("a\nb\n"), "b");
        assert_eq!(reason_line(""), "(no log output)");
    }
}
