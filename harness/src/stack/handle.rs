//! [`Stack`]: the LGTM stack as a library, for the CLI's runner and for a user's own
//! `cargo test`. One builder ([`Stack::builder`]), one start
//! ([`StackBuilder::start`]), one handle whose `Drop` removes the containers and the
//! network (also while a test panics).
//!
//! Clean-up, in every case:
//! - the handle dropped (test passed, failed or panicked): containers and network
//!   removed before `drop` returns;
//! - Ctrl-C (SIGINT) while a stack is up: every live stack of the process is removed,
//!   then the process exits with 130;
//! - a [`SharedStack`] (one per test binary): removed when the process exits
//!   (an `atexit` hook; Rust never drops statics);
//! - SIGKILL, or a crash that skips `atexit`: nothing can run in the process; the
//!   containers carry the process id, and the next [`Stack`] start (or
//!   `lgtm-check cleanup`) removes those whose process is gone.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use futures::FutureExt;

use crate::clients::Endpoint;
use crate::core::component::{Component, ImageRef};
use crate::core::event::Event;
use crate::core::plan::{ConfigSet, Env, MimirFlavour};
use crate::core::report::{ComponentReport, ComponentStatus};
use crate::execute::Backends;

use super::docker::{Docker, DockerError, ImageAvailability};
use super::{ComponentSpec, Layout, Running, StartError};

/// Why a [`Stack`] could not start, or an endpoint is not there.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// Docker is unreachable or refused an action.
    #[error(transparent)]
    Docker(#[from] DockerError),
    /// The image is neither present nor pullable (only without
    /// [`StackBuilder::skip_unavailable`]).
    #[error("{component}: image {image} is not available: {pull_error}")]
    ImageMissing {
        /// The first component whose image is missing.
        component: Component,
        /// The image, as `name:tag`.
        image: String,
        /// Why the pull failed (no registry, unknown tag, no credentials).
        pull_error: String,
    },
    /// A component did not become ready: its refused config (its own log line), or
    /// a timeout with its last answer.
    #[error(transparent)]
    Start(#[from] StartError),
    /// A config override given as a path could not be read.
    #[error("{component}: cannot read the config file {path}")]
    ConfigFile {
        /// The component whose config it was to be.
        component: Component,
        /// The path as given to [`StackBuilder::config_file`].
        path: PathBuf,
        /// The I/O error of the read.
        #[source]
        source: std::io::Error,
    },
    /// An endpoint of a component this stack does not run.
    #[error("{component} is not running in this stack ({why})")]
    NotRunning {
        /// The component asked for.
        component: Component,
        /// Why it is absent: the reason it was skipped or failed, "it was not asked
        /// for", or the port that is not published.
        why: String,
    },
    /// The run id is not letters, digits and `-`.
    #[error("run id `{0}` may only contain ASCII letters, digits and `-`")]
    RunId(String),
    /// `LGTM_CHECK_IMAGE_<COMPONENT>` does not name an image.
    #[error("{var}=`{value}`: {reason}")]
    EnvImage {
        /// The variable's name (`LGTM_CHECK_IMAGE_LOKI`, …).
        var: String,
        /// Its value as set.
        value: String,
        /// Why it is not an image reference.
        reason: String,
    },
}

/// A component's config, replacing the default fixture.
#[derive(Debug, Clone)]
enum ConfigOverride {
    Text(String),
    Path(PathBuf),
}

/// Builds a [`Stack`]: which components, which images and configs, what the
/// Prometheus role scrapes, and how strict to be about missing images.
///
/// ```
/// use lgtm_check::Stack;
/// use lgtm_check::core::component::Component;
///
/// let builder = Stack::builder()
///     .components([Component::Loki, Component::Tempo])
///     .image(Component::Loki, "grafana/loki:3.2.0".parse().unwrap())
///     .config(Component::Loki, "auth_enabled: false\n# …the rest of your loki.yaml");
/// # drop(builder);
/// ```
#[derive(Debug, Clone)]
pub struct StackBuilder {
    run_id: Option<String>,
    components: BTreeSet<Component>,
    images: BTreeMap<Component, ImageRef>,
    configs: BTreeMap<Component, ConfigOverride>,
    config_set: ConfigSet,
    scrape_target: Option<String>,
    skip_unavailable: bool,
    fixed_ports: BTreeSet<Component>,
}

impl Default for StackBuilder {
    fn default() -> Self {
        StackBuilder {
            run_id: None,
            components: [
                Component::Loki,
                Component::Tempo,
                Component::Prometheus,
                Component::Mimir,
            ]
            .into_iter()
            .collect(),
            images: BTreeMap::new(),
            configs: BTreeMap::new(),
            config_set: ConfigSet::Fixed,
            scrape_target: None,
            skip_unavailable: false,
            fixed_ports: BTreeSet::new(),
        }
    }
}

impl StackBuilder {
    /// Only these components (default: Loki, Tempo, Prometheus, Mimir; Grafana on
    /// request).
    pub fn components(mut self, components: impl IntoIterator<Item = Component>) -> Self {
        self.components = components.into_iter().collect();
        self
    }

    /// Run `component` from `image` instead of its default
    /// ([`Component::default_image`]).
    pub fn image(mut self, component: Component, image: ImageRef) -> Self {
        self.images.insert(component, image);
        self
    }

    /// The images named by `LGTM_CHECK_IMAGE_<COMPONENT>` in `env` (build it at the
    /// edge: `Env::from_vars(std::env::vars())`), over the defaults.
    pub fn images_from(mut self, env: &Env) -> Result<Self, StackError> {
        for c in Component::ALL {
            let var = c.image_env_var();
            if let Some(value) = env.get(&var) {
                let image = value.parse().map_err(|reason| StackError::EnvImage {
                    var: var.clone(),
                    value: value.into(),
                    reason,
                })?;
                self.images.insert(c, image);
            }
        }
        Ok(self)
    }

    /// Run `component` with this config text (e.g. your own `loki.yaml`) instead of
    /// the fixture. For the Prometheus role, `${SCRAPE_TARGET}` and
    /// `${MIMIR_PUSH_URL}` are replaced by this stack's addresses.
    pub fn config(mut self, component: Component, text: impl Into<String>) -> Self {
        self.configs
            .insert(component, ConfigOverride::Text(text.into()));
        self
    }

    /// Like [`Self::config`], read from a file when the stack starts.
    pub fn config_file(mut self, component: Component, path: impl AsRef<Path>) -> Self {
        self.configs
            .insert(component, ConfigOverride::Path(path.as_ref().to_path_buf()));
        self
    }

    /// The guide's configs exactly as written instead of the fixed ones (a component
    /// that refuses its config is started again with the fixed one and the refusal
    /// is kept in its [`ComponentReport::refused_guide_config`]).
    pub fn config_set(mut self, set: ConfigSet) -> Self {
        self.config_set = set;
        self
    }

    /// Have the Prometheus role scrape `/metrics` on this host at `port` every
    /// second (listen on `0.0.0.0:port`: containers reach the host through its
    /// gateway, as `host.docker.internal`).
    pub fn scrape_port(self, port: u16) -> Self {
        self.scrape_target(format!("host.docker.internal:{port}"))
    }

    /// Have the Prometheus role scrape `target` (`host:port` as the containers see
    /// it). Without one, it scrapes itself.
    pub fn scrape_target(mut self, target: impl Into<String>) -> Self {
        self.scrape_target = Some(target.into());
        self
    }

    /// Publish these components' ports on host ports chosen before they start, so
    /// that one started again (after `docker kill` and `docker start`) keeps its
    /// addresses: what fault injection needs.
    pub fn fixed_ports(mut self, components: impl IntoIterator<Item = Component>) -> Self {
        self.fixed_ports.extend(components);
        self
    }

    /// Label the containers with this run id (default: a fresh one).
    pub fn run_id(mut self, run_id: impl Into<String>) -> Self {
        self.run_id = Some(run_id.into());
        self
    }

    /// Start what can run: a missing image skips its component (with the reason, in
    /// [`Stack::components`]) and a component that fails to start is reported as
    /// failed, instead of [`StackBuilder::start`] returning an error. With the Mimir
    /// image missing, a Prometheus remote-write receiver fills the Mimir role.
    pub fn skip_unavailable(mut self) -> Self {
        self.skip_unavailable = true;
        self
    }

    /// Starts the components in parallel and waits until each is ready.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), lgtm_check::StackError> {
    /// use lgtm_check::Stack;
    /// use lgtm_check::core::component::Component;
    ///
    /// let stack = Stack::builder()
    ///     .components([Component::Loki, Component::Tempo])
    ///     .start()
    ///     .await?;
    /// println!("push logs to {}", stack.loki_push_url()?);
    /// # Ok(()) }
    /// ```
    pub async fn start(self) -> Result<Stack, StackError> {
        self.start_with_events(&|_| {}).await
    }

    /// [`Self::start`], reporting progress as [`Event`]s (the CLI prints them).
    pub async fn start_with_events(
        self,
        on_event: &(dyn Fn(Event<'_>) + Sync),
    ) -> Result<Stack, StackError> {
        let run_id = match self.run_id.clone() {
            Some(id) => id,
            None => fresh_run_id(),
        };
        if run_id.is_empty()
            || !run_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(StackError::RunId(run_id));
        }
        let mut configs = BTreeMap::new();
        for (c, o) in &self.configs {
            let text = match o {
                ConfigOverride::Text(t) => t.clone(),
                ConfigOverride::Path(p) => {
                    std::fs::read_to_string(p).map_err(|source| StackError::ConfigFile {
                        component: *c,
                        path: p.clone(),
                        source,
                    })?
                }
            };
            configs.insert(*c, text);
        }
        let docker = Docker::connect().await?;
        on_event(Event::RunStarted {
            run_id: &run_id,
            docker_host: docker.host(),
        });
        let stale = docker.reap_stale_runs().await?;
        if !stale.is_empty() {
            on_event(Event::StaleRunsRemoved { run_ids: &stale });
        }
        // From here on, whatever happens, the run's objects are removed.
        let guard = RunGuard::new(docker.clone(), run_id.clone());
        let http = http_client();
        let image_of = |c: Component| {
            self.images
                .get(&c)
                .cloned()
                .unwrap_or_else(|| c.default_image())
        };

        // 1. Which images can run.
        let wanted: Vec<Component> = self.components.iter().copied().collect();
        let availability: BTreeMap<Component, ImageAvailability> =
            futures::future::join_all(wanted.iter().map(|&c| {
                let docker = docker.clone();
                let image = image_of(c);
                async move { (c, docker.ensure_image(&image).await) }
            }))
            .await
            .into_iter()
            .collect();
        let missing = |c: Component| match availability.get(&c) {
            Some(ImageAvailability::Missing { pull_error }) => Some(pull_error.clone()),
            _ => None,
        };
        if !self.skip_unavailable
            && let Some(c) = wanted.iter().copied().find(|c| missing(*c).is_some())
        {
            return Err(StackError::ImageMissing {
                component: c,
                image: image_of(c).to_string(),
                pull_error: missing(c).unwrap_or_default(),
            });
        }

        // 2. Who fills the Mimir role: Cortex by its image name; a Prometheus
        //    remote-write receiver when the Mimir image is missing.
        let prometheus_usable = match availability.get(&Component::Prometheus) {
            _ if !self.skip_unavailable || missing(Component::Mimir).is_none() => false,
            Some(a) => !matches!(a, ImageAvailability::Missing { .. }),
            None => !matches!(
                docker.ensure_image(&image_of(Component::Prometheus)).await,
                ImageAvailability::Missing { .. }
            ),
        };
        let (mimir, mimir_image, mimir_note) = match missing(Component::Mimir) {
            None => (
                MimirFlavour::from_image(&image_of(Component::Mimir)),
                image_of(Component::Mimir),
                None,
            ),
            Some(pull_error) if prometheus_usable => (
                MimirFlavour::Prometheus,
                image_of(Component::Prometheus),
                Some(format!(
                    "a Prometheus remote-write receiver fills the role, because image {} is not available: {pull_error}",
                    image_of(Component::Mimir)
                )),
            ),
            Some(_) => (MimirFlavour::Mimir, image_of(Component::Mimir), None),
        };

        // 3. The network, and the components in parallel.
        let layout = Layout {
            run_id: run_id.clone(),
            network: format!("lgtm-check-{run_id}"),
            scrape_target: self
                .scrape_target
                .clone()
                .unwrap_or_else(|| "localhost:9090".into()),
            mimir,
            configs: self.config_set,
        };
        docker.create_network(&layout.network, &run_id).await?;
        let mut reports: BTreeMap<Component, ComponentReport> = BTreeMap::new();
        let mut to_start = Vec::new();
        for &c in &wanted {
            let image = if c == Component::Mimir {
                mimir_image.clone()
            } else {
                image_of(c)
            };
            let stand_in_available = c == Component::Mimir && mimir_note.is_some();
            match missing(c) {
                Some(pull_error) if !stand_in_available => {
                    let report = ComponentReport {
                        version: None,
                        name: c,
                        image: image.to_string(),
                        status: ComponentStatus::Skipped,
                        ready_ms: None,
                        reason: Some(ComponentReport::image_missing_reason(
                            &image.to_string(),
                            &pull_error,
                        )),
                        stand_in: None,
                        refused_guide_config: None,
                        died: None,
                    };
                    on_event(Event::ComponentFinished(&report));
                    reports.insert(c, report);
                }
                _ => {
                    on_event(Event::ComponentStarting {
                        component: c,
                        image: &image,
                    });
                    to_start.push((c, image));
                }
            }
        }
        // Prometheus first: it scrapes a target of its configuration only after its
        // discovery manager's first 5 s tick, the longest wait of a default run, so
        // its container is running before the others' are made (made together, the
        // daemon started it about 0.5 s after the run began instead of 0.3 s).
        to_start.sort_by_key(|(c, _)| *c != Component::Prometheus);
        let mut specs = specs_with(&layout, &to_start, &configs);
        for spec in &mut specs {
            spec.fixed_ports = self.fixed_ports.contains(&spec.component);
        }
        let start = |spec: ComponentSpec| {
            let docker = docker.clone();
            let http = http.clone();
            let network = layout.network.clone();
            let run_id = run_id.clone();
            async move { super::start_component(&docker, spec, &network, &run_id, &http).await }
        };
        let (prometheus_running, after_prometheus) = futures::channel::oneshot::channel::<()>();
        let after_prometheus = after_prometheus.shared();
        let mut prometheus_running = Some(prometheus_running);
        let starts: Vec<_> = specs
            .into_iter()
            .map(|spec| {
                let first = spec.component == Component::Prometheus;
                let signal = if first {
                    prometheus_running.take()
                } else {
                    None
                };
                let after_prometheus = after_prometheus.clone();
                let docker = docker.clone();
                let http = http.clone();
                let network = layout.network.clone();
                let run_id = run_id.clone();
                async move {
                    if !first {
                        // Also goes on when Prometheus could not be started.
                        let _ = after_prometheus.await;
                    }
                    let running = move || {
                        if let Some(s) = signal {
                            let _ = s.send(());
                        }
                    };
                    super::start_component_then(&docker, spec, &network, &run_id, &http, running)
                        .await
                }
            })
            .collect();
        // Without a Prometheus to start, nobody waits.
        drop(prometheus_running);
        let mut started = futures::future::join_all(starts).await;
        // With the guide's configs, a component that refuses its config is started
        // again with the fixed one, so the guide's queries can still be run against
        // it; the refusal is kept as a guide defect.
        let mut refused: BTreeMap<Component, String> = BTreeMap::new();
        if self.config_set == ConfigSet::Guide {
            for (result, (c, image)) in started.iter_mut().zip(&to_start) {
                if let Err(e @ StartError::Exited { .. }) = result {
                    refused.insert(*c, e.to_string());
                    let mut spec =
                        specs_with(&layout.fixed(), &[(*c, image.clone())], &configs).remove(0);
                    spec.fixed_ports = self.fixed_ports.contains(c);
                    *result = start(spec).await;
                }
            }
        }
        let mut running: BTreeMap<Component, Running> = BTreeMap::new();
        let mut first_failure = None;
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
                        died: None,
                    };
                    running.insert(*c, r);
                    report
                }
                Err(e) => {
                    let report = ComponentReport {
                        version: None,
                        name: *c,
                        image: image.to_string(),
                        status: ComponentStatus::Failed,
                        ready_ms: None,
                        reason: Some(e.to_string()),
                        stand_in: None,
                        refused_guide_config: refused.get(c).cloned(),
                        died: None,
                    };
                    first_failure.get_or_insert(e);
                    report
                }
            };
            on_event(Event::ComponentFinished(&report));
            reports.insert(*c, report);
        }
        if let Some(e) = first_failure
            && !self.skip_unavailable
        {
            for (_, r) in running {
                let _ = r.container.rm().await;
            }
            guard.remove_now().await;
            return Err(e.into());
        }
        let mut guard = guard;
        guard.started = true;
        let mut stack = Stack {
            run_id,
            mimir,
            running,
            reports,
            guard: Some(guard),
        };
        let backends = stack.backends();
        for (c, report) in stack.reports.iter_mut() {
            if report.status == ComponentStatus::Ready {
                report.version = backends.version(*c).await;
            }
        }
        Ok(stack)
    }
}

/// The specs, with the user's config overrides in place of each component's main
/// config file.
fn specs_with(
    layout: &Layout,
    images: &[(Component, ImageRef)],
    configs: &BTreeMap<Component, String>,
) -> Vec<ComponentSpec> {
    let mut specs = super::specs(layout, images);
    for spec in &mut specs {
        let Some(text) = configs.get(&spec.component) else {
            continue;
        };
        // The Prometheus receiver standing in for Mimir keeps its own. Cortex takes
        // the override (a Cortex config, e.g. one with lower limits; a Mimir config
        // would be refused, and the role reported failed with Cortex's own words).
        if spec.component == Component::Mimir && layout.mimir == MimirFlavour::Prometheus {
            continue;
        }
        let text = if spec.component == Component::Prometheus {
            let push = format!(
                "http://{}:{}{}",
                layout.container_name(Component::Mimir),
                layout.mimir.port(),
                layout.mimir.push_path()
            );
            text.replace("${SCRAPE_TARGET}", &layout.scrape_target)
                .replace("${MIMIR_PUSH_URL}", &push)
        } else {
            text.clone()
        };
        if let Some(file) = spec.files.first_mut() {
            file.1 = text;
        }
    }
    specs
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client")
}

/// A fresh run id: `r` and 8 hex digits from the time and the process id.
pub fn fresh_run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.write_u32(std::process::id());
    format!("r{:08x}", h.finish() as u32)
}

/// A running stack. Dropping it removes its containers and network.
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use lgtm_check::Stack;
/// use lgtm_check::core::component::Component;
///
/// let stack = Stack::builder()
///     .components([Component::Loki, Component::Tempo])
///     .start()
///     .await?;
/// let otlp = stack.otlp_http_url()?; // e.g. http://127.0.0.1:49153
/// let loki = stack.loki_url()?;
/// // …point your app at them, then assert (see `lgtm_check::assert`).
/// drop(stack); // containers and network removed
/// # Ok(()) }
/// ```
pub struct Stack {
    run_id: String,
    mimir: MimirFlavour,
    running: BTreeMap<Component, Running>,
    reports: BTreeMap<Component, ComponentReport>,
    guard: Option<RunGuard>,
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack")
            .field("run_id", &self.run_id)
            .field("running", &self.running.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Stack {
    /// A builder with the defaults: Loki, Tempo, Prometheus and Mimir from their
    /// pinned images, with the fixed configs; a missing image is an error.
    pub fn builder() -> StackBuilder {
        StackBuilder::default()
    }

    /// The run id every container and network of this stack is labelled with.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Every component asked for: ready, skipped (with the reason) or failed.
    pub fn components(&self) -> &BTreeMap<Component, ComponentReport> {
        &self.reports
    }

    /// Whether `component` is up.
    pub fn is_running(&self, component: Component) -> bool {
        self.running.contains_key(&component)
    }

    /// What fills the Mimir role (Mimir, Cortex, or a Prometheus receiver).
    pub fn mimir_flavour(&self) -> MimirFlavour {
        self.mimir
    }

    /// The started components (container, spec, host ports).
    pub fn running(&self) -> &BTreeMap<Component, Running> {
        &self.running
    }

    fn get(&self, component: Component) -> Result<&Running, StackError> {
        self.running
            .get(&component)
            .ok_or_else(|| StackError::NotRunning {
                component,
                why: self
                    .reports
                    .get(&component)
                    .and_then(|r| r.reason.clone())
                    .unwrap_or_else(|| "it was not asked for".into()),
            })
    }

    fn host_port(&self, component: Component, port: u16) -> Result<String, StackError> {
        let r = self.get(component)?;
        r.host_ports
            .get(&port)
            .map(|a| format!("http://{a}"))
            .ok_or_else(|| StackError::NotRunning {
                component,
                why: format!("port {port} is not published"),
            })
    }

    /// The base URL of a component's query API from this host (Mimir's includes
    /// `/prometheus`).
    pub fn url(&self, component: Component) -> Result<String, StackError> {
        Ok(self.get(component)?.api_url.clone())
    }

    /// OTLP/gRPC, Tempo's 4317: `http://127.0.0.1:<port>` (what
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` takes with `grpc`).
    pub fn otlp_grpc_url(&self) -> Result<String, StackError> {
        self.host_port(Component::Tempo, 4317)
    }

    /// OTLP/HTTP base, Tempo's 4318: `http://127.0.0.1:<port>`; traces go to
    /// `<base>/v1/traces`.
    pub fn otlp_http_url(&self) -> Result<String, StackError> {
        self.host_port(Component::Tempo, 4318)
    }

    /// Loki's base URL (what tracing-loki's `url` takes).
    pub fn loki_url(&self) -> Result<String, StackError> {
        self.url(Component::Loki)
    }

    /// Loki's push endpoint: `<base>/loki/api/v1/push`.
    pub fn loki_push_url(&self) -> Result<String, StackError> {
        Ok(format!("{}/loki/api/v1/push", self.loki_url()?))
    }

    /// Loki's OTLP logs endpoint: `<base>/otlp/v1/logs`.
    pub fn loki_otlp_url(&self) -> Result<String, StackError> {
        Ok(format!("{}/otlp/v1/logs", self.loki_url()?))
    }

    /// The Mimir role's OTLP metrics endpoint from this host (Mimir's
    /// `/otlp/v1/metrics`, Cortex's `/api/v1/otlp/v1/metrics`); an error naming why
    /// for the Prometheus stand-in, which has none.
    pub fn metrics_otlp_url(&self) -> Result<String, StackError> {
        let r = self.get(Component::Mimir)?;
        let root = r.api_url.trim_end_matches(r.spec.api_prefix.as_str());
        match self.mimir.otlp_metrics_path() {
            Some(path) => Ok(format!("{root}{path}")),
            None => Err(StackError::NotRunning {
                component: Component::Mimir,
                why: "the Prometheus stand-in has no OTLP receiver".into(),
            }),
        }
    }

    /// How the running backends store what arrives over OTLP (by the versions they
    /// report): the expectations of the gateway's record.
    pub fn record_mapping(&self) -> crate::core::catalog_record::RecordMapping {
        let version = |c: Component| self.reports.get(&c).and_then(|r| r.version.clone());
        crate::core::catalog_record::RecordMapping::for_backends(
            version(Component::Loki).as_deref(),
            self.mimir
                .otlp_translation(version(Component::Mimir).as_deref()),
        )
    }

    /// The Prometheus-API query base of the metrics role: the Mimir role's (where
    /// the scraper and remote writes land), else the Prometheus scraper's own.
    pub fn prometheus_query_url(&self) -> Result<String, StackError> {
        self.url(Component::Mimir)
            .or_else(|_| self.url(Component::Prometheus))
    }

    /// The remote-write URL of the Mimir role from this host.
    pub fn remote_write_url(&self) -> Result<String, StackError> {
        let r = self.get(Component::Mimir)?;
        let root = r.api_url.trim_end_matches(r.spec.api_prefix.as_str());
        Ok(format!("{root}{}", self.mimir.push_path()))
    }

    /// Clients of every running component, for [`crate::execute`] and
    /// [`crate::assert`](mod@crate::assert). A fresh HTTP client each time, so a stack shared between
    /// tests' runtimes works from any of them.
    pub fn backends(&self) -> Backends {
        let http = http_client();
        let mut b = Backends::from_endpoints(
            &http,
            self.running
                .iter()
                .map(|(c, r)| Endpoint::new(*c, r.api_url.clone())),
        );
        b.http = Some(http);
        b.mimir = Some(self.mimir);
        b.roots = self
            .running
            .iter()
            .map(|(c, r)| {
                let root = r.api_url.trim_end_matches(r.spec.api_prefix.as_str());
                (*c, Endpoint::new(*c, root))
            })
            .collect();
        b
    }

    /// The Docker connection the stack was started with; `None` when it holds none.
    #[cfg(feature = "cli")]
    pub(crate) fn docker(&self) -> Option<Docker> {
        Some(self.guard.as_ref()?.docker.clone())
    }

    /// A watch on this stack's running containers, which notices those that die
    /// (see [`crate::liveness`]); deaths are timed from `started`. `None` when the
    /// stack holds no Docker connection.
    pub fn liveness(&self, started: std::time::Instant) -> Option<crate::liveness::Liveness> {
        let docker = self.guard.as_ref()?.docker.clone();
        let containers = self
            .running
            .iter()
            .map(|(c, r)| (*c, r.container.id().to_owned()))
            .collect();
        Some(crate::liveness::Liveness::watch(
            docker, containers, started,
        ))
    }

    /// Removes the containers and the network now; returns how many objects were
    /// removed. (Dropping the stack does the same.)
    pub async fn stop(mut self) -> usize {
        let running = std::mem::take(&mut self.running);
        // All at once: each removal waits for its container's end.
        let containers = futures::future::join_all(running.into_values().map(|r| r.container.rm()))
            .await
            .into_iter()
            .filter(Result::is_ok)
            .count();
        // Then whatever is still labelled with the run: the network, and any
        // container whose removal above failed.
        containers
            + match self.guard.take() {
                Some(g) => g.remove_now().await,
                None => 0,
            }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // One removal by label takes every container and the network; the
        // containers' own drop is skipped (it needs a runtime, and a stack may be
        // dropped outside one).
        let running = std::mem::take(&mut self.running);
        drop(self.guard.take());
        for (_, r) in running {
            std::mem::forget(r);
        }
    }
}

/// The stacks of this process that are up, for Ctrl-C and `atexit`.
static LIVE: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Removes a run's objects when dropped (on a thread of its own with its own
/// runtime, so it works while a runtime unwinds), and while it lives, on Ctrl-C.
struct RunGuard {
    docker: Docker,
    run_id: String,
    armed: bool,
    /// Every container is up: nothing is still being created.
    started: bool,
}

impl RunGuard {
    fn new(docker: Docker, run_id: String) -> Self {
        LIVE.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(run_id.clone());
        watch_ctrl_c();
        remove_at_exit();
        RunGuard {
            docker,
            run_id,
            armed: true,
            started: false,
        }
    }

    fn forget(&self) {
        LIVE.lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|id| id != &self.run_id);
    }

    async fn remove_now(mut self) -> usize {
        self.armed = false;
        let removed = self.docker.remove_run(&self.run_id).await.unwrap_or(0);
        // Forgotten only once removed: until then Ctrl-C removes it too.
        self.forget();
        removed
    }
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        if self.armed {
            // Held while removing, so that Ctrl-C does not end the process halfway.
            let _removing = REMOVING.lock().unwrap_or_else(|e| e.into_inner());
            self.forget();
            remove_blocking(vec![self.run_id.clone()], !self.started);
        }
    }
}

/// Held by whoever is removing runs; the Ctrl-C watcher takes it before it exits.
static REMOVING: Mutex<()> = Mutex::new(());

/// Removes runs with a fresh connection from a fresh runtime on a thread of its own
/// (the runtime that started them may be gone), and waits.
fn remove_blocking(runs: Vec<String>, again: bool) {
    if runs.is_empty() {
        return;
    }
    let _ = std::thread::spawn(move || {
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            rt.block_on(remove_runs(&runs, again));
        }
    })
    .join();
}

/// Removes the runs; with `again`, once more after a moment, for containers whose
/// creation was under way (a start interrupted) and that appeared after the first
/// sweep listed the run.
async fn remove_runs(runs: &[String], again: bool) {
    if let Ok(docker) = Docker::connect().await {
        futures::future::join_all(runs.iter().map(|id| docker.remove_run(id))).await;
        if again {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            futures::future::join_all(runs.iter().map(|id| docker.remove_run(id))).await;
        }
    }
}

/// Once per process: a thread that waits for Ctrl-C, removes every live stack, and
/// exits with 130 (the shell's code for SIGINT), as the process would have.
fn watch_ctrl_c() {
    static WATCHING: OnceLock<()> = OnceLock::new();
    WATCHING.get_or_init(|| {
        let _ = std::thread::Builder::new()
            .name("lgtm-check-ctrl-c".into())
            .spawn(|| {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                if rt.block_on(tokio::signal::ctrl_c()).is_err() {
                    return;
                }
                // A drop that is removing a stack finishes first; then what is left.
                let _removing = REMOVING.lock().unwrap_or_else(|e| e.into_inner());
                let runs = std::mem::take(&mut *LIVE.lock().unwrap_or_else(|e| e.into_inner()));
                for id in &runs {
                    eprintln!("lgtm-check: interrupted; removing run {id}");
                }
                rt.block_on(remove_runs(&runs, true));
                // Released first: `exit` runs the `atexit` hook, which takes it.
                drop(_removing);
                std::process::exit(130);
            });
    });
}

unsafe extern "C" {
    fn atexit(callback: extern "C" fn()) -> std::ffi::c_int;
}

/// Once per process: at exit, wait for a removal under way (a drop, Ctrl-C) and
/// remove the stacks still up (a [`SharedStack`]).
fn remove_at_exit() {
    static HOOK: OnceLock<()> = OnceLock::new();
    HOOK.get_or_init(|| {
        // SAFETY: registers a plain `extern "C" fn` with the C library.
        unsafe {
            atexit(remove_live_stacks_at_exit);
        }
    });
}

extern "C" fn remove_live_stacks_at_exit() {
    let _removing = REMOVING.lock().unwrap_or_else(|e| e.into_inner());
    let runs = std::mem::take(&mut *LIVE.lock().unwrap_or_else(|e| e.into_inner()));
    remove_blocking(runs, false);
}

/// One stack per test binary: started by the first test that asks, shared by the
/// others, removed when the process exits (Rust never drops a `static`; an `atexit`
/// hook removes it). Declare it as a `static`.
///
/// ```no_run
/// use lgtm_check::{SharedStack, Stack};
/// use lgtm_check::core::component::Component;
///
/// static STACK: SharedStack = SharedStack::new();
///
/// #[tokio::test]
/// async fn my_app_logs_its_requests() {
///     let stack = STACK
///         .get_or_start(|| Stack::builder().components([Component::Loki]))
///         .expect("the stack starts");
///     let loki = stack.loki_url().unwrap();
///     // …
/// }
/// ```
pub struct SharedStack {
    cell: OnceLock<Result<Stack, StackError>>,
}

impl Default for SharedStack {
    fn default() -> Self {
        Self::new()
    }
}

impl SharedStack {
    /// An empty slot, for a `static`.
    pub const fn new() -> Self {
        SharedStack {
            cell: OnceLock::new(),
        }
    }

    /// The shared stack, started by the first caller with `builder()`; every later
    /// caller gets the same stack (or the same error). Blocks while it starts (on a
    /// runtime of its own, so it outlives the first test's runtime); callable from
    /// sync and async tests.
    pub fn get_or_start(
        &'static self,
        builder: impl FnOnce() -> StackBuilder + Send + 'static,
    ) -> Result<&'static Stack, &'static StackError> {
        self.cell
            .get_or_init(|| {
                std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(1)
                        .enable_all()
                        .build()
                        .expect("a runtime to start the stack on");
                    rt.block_on(builder().start()).map(|mut stack| {
                        // Removed by the `atexit` hook, never by a drop.
                        if let Some(mut g) = stack.guard.take() {
                            g.armed = false;
                        }
                        stack
                    })
                })
                .join()
                .expect("the thread starting the stack")
            })
            .as_ref()
    }
}

#[cfg(test)]
mod tests {
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
    fn a_config_override_replaces_the_fixture_and_gets_this_stacks_addresses() {
        let images: Vec<_> = [Component::Loki, Component::Prometheus, Component::Mimir]
            .into_iter()
            .map(|c| (c, c.default_image()))
            .collect();
        let configs = BTreeMap::from([
            (Component::Loki, "auth_enabled: false # mine\n".to_string()),
            (
                Component::Prometheus,
                "targets: ['${SCRAPE_TARGET}'] # ${MIMIR_PUSH_URL}\n".to_string(),
            ),
            (Component::Mimir, "mine\n".to_string()),
        ]);
        let specs = specs_with(&layout(MimirFlavour::Prometheus), &images, &configs);
        let file = |c: Component| specs.iter().find(|s| s.component == c).unwrap().files[0].clone();
        assert_eq!(
            file(Component::Loki),
            (
                "/etc/loki/config.yaml".into(),
                "auth_enabled: false # mine\n".into()
            )
        );
        assert_eq!(
            file(Component::Prometheus).1,
            "targets: ['host.docker.internal:9999'] # http://lgtm-check-r1-mimir:9090/api/v1/write\n"
        );
        // A stand-in keeps its own config: the override is for Mimir.
        assert_ne!(file(Component::Mimir).1, "mine\n");
    }

    #[test]
    fn images_from_env_take_the_documented_variables_and_name_a_bad_one() {
        let env = Env::from_pairs([("LGTM_CHECK_IMAGE_LOKI", "grafana/loki:3.3.2")]);
        let b = Stack::builder().images_from(&env).unwrap();
        assert_eq!(b.images[&Component::Loki].to_string(), "grafana/loki:3.3.2");
        let bad = Env::from_pairs([("LGTM_CHECK_IMAGE_TEMPO", "x:")]);
        let e = Stack::builder().images_from(&bad).unwrap_err();
        assert!(e.to_string().contains("LGTM_CHECK_IMAGE_TEMPO"), "{e}");
    }

    #[test]
    fn fresh_run_ids_are_valid_run_ids() {
        let id = fresh_run_id();
        assert!(id.starts_with('r') && id.len() == 9, "{id}");
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
