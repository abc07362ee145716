//! Telemetry-shape snapshots at the edge: collecting the [`Shape`] of what arrived
//! under a run id from Loki, Tempo and a Prometheus-API backend ([`collect`],
//! [`collect_settled`]), and the snapshot workflow ([`check_snapshot`],
//! [`assert_shape`]): a missing file, or `LGTM_CHECK_UPDATE=1`, writes the snapshot;
//! otherwise a difference fails with the changes and the command that accepts them,
//! and the new shape is written beside the file as `<file>.new`.
//!
//! The model, the file format and the diff are pure, in [`crate::core::shape`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt, TryStreamExt};

use crate::clients::ClientError;
use crate::clients::loki::LokiClient;
use crate::clients::prometheus::PromClient;
use crate::clients::tempo::TempoClient;
use crate::core::check::Window;
use crate::core::component::Component;
use crate::core::shape::{MetricTypes, ObservedRun, Shape, ShapeChange, ShapeParseError};
use crate::core::shape::{diff, render_changes};
use crate::execute::Backends;
use crate::wait::{Attempt, WaitFailure, poll_until};

/// The variable that makes [`assert_shape`] write snapshots instead of comparing.
pub const UPDATE_VAR: &str = "LGTM_CHECK_UPDATE";

/// Most traces [`collect`] reads for one run; a run with more is an error rather
/// than a shape of part of it.
pub const MAX_TRACES: usize = 10_000;

/// Lines per Loki page.
const LOKI_PAGE: usize = 5000;

/// Trace fetches in flight at once.
const TRACE_FETCHES: usize = 8;

/// The backends a shape is read from; any may be absent (its signal is then not in
/// the shape).
#[derive(Debug, Clone, Copy, Default)]
pub struct ShapeSources<'a> {
    /// Where log lines are read.
    pub loki: Option<&'a LokiClient>,
    /// Where traces are searched and fetched by id.
    pub tempo: Option<&'a TempoClient>,
    /// Where series and metric metadata are read.
    pub metrics: Option<&'a PromClient>,
}

impl<'a> ShapeSources<'a> {
    /// Loki, Tempo, and for metrics the Mimir role if it is up, else Prometheus.
    pub fn from_backends(b: &'a Backends) -> Self {
        ShapeSources {
            loki: b.loki.as_ref(),
            tempo: b.tempo.as_ref(),
            metrics: b
                .prometheus_api
                .get(&Component::Mimir)
                .or_else(|| b.prometheus_api.get(&Component::Prometheus)),
        }
    }
}

/// Why a shape could not be collected.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// A backend could not be asked or refused a query; the source names the
    /// component, the redacted URL and the query.
    #[error("could not read the telemetry shape")]
    Client(#[from] ClientError),
    /// The run's TraceQL search returned [`MAX_TRACES`] traces or more.
    #[error(
        "tempo found {found} traces for `{query}`, the most lgtm-check reads; the shape would be of part of the run"
    )]
    TooManyTraces {
        /// The TraceQL search that found them.
        query: String,
        /// How many traces it returned.
        found: usize,
    },
    /// A trace the search found is unknown to `/api/traces/<id>` (not yet flushed;
    /// [`collect_settled`] asks again).
    #[error("tempo found trace {trace_id} by `{query}` but does not return it by id")]
    TraceNotFound {
        /// The TraceQL search that found it.
        query: String,
        /// The trace id, in hex.
        trace_id: String,
    },
    /// [`collect_settled`] saw the shape still changing, or a backend failing, until
    /// its deadline; holds the last answer or the error.
    #[error("the telemetry shape did not settle: {0}")]
    NotSettled(String),
    /// [`collect_settled`]'s deadline passed with every backend answering, and
    /// nothing under the run id.
    #[error("nothing arrived under run id `{run_id}` within {:.1} s: no span, series or log line", .waited.as_secs_f64())]
    NothingArrived {
        /// The run id asked for.
        run_id: String,
        /// How long it was asked for.
        waited: Duration,
    },
}

/// Reads everything that arrived under `run_id` in `window` (pinned by the caller:
/// the same run gives the same shape whenever this is called): Loki lines of
/// `{run_id="…"}`, Tempo traces of `{ resource.run_id = "…" }` fetched by id, and
/// the series with label `run_id` with the backend's metric metadata (its types;
/// from the names where the backend serves no metadata).
pub async fn collect(
    sources: ShapeSources<'_>,
    run_id: &str,
    window: Window,
) -> Result<Shape, CollectError> {
    Ok(Shape::build(&observe(sources, run_id, window).await?))
}

/// What [`collect`] reads, before it becomes a shape.
pub async fn observe(
    sources: ShapeSources<'_>,
    run_id: &str,
    window: Window,
) -> Result<ObservedRun, CollectError> {
    let mut run = ObservedRun::default();
    if let Some(loki) = sources.loki {
        let (start, end) = window.nanos();
        let selector = format!("{{run_id=\"{run_id}\"}}");
        run.logs = loki
            .query_range_all(&selector, start, end, LOKI_PAGE)
            .await?;
        if run.logs.is_empty() {
            // Sent over OTLP, the run id is structured metadata, not a stream label.
            let otlp = format!("{{service_name=~\".+\"}} | run_id=\"{run_id}\"");
            run.logs = loki.query_range_all(&otlp, start, end, LOKI_PAGE).await?;
        }
    }
    if let Some(tempo) = sources.tempo {
        let (start, end) = window.seconds();
        let query = format!("{{ resource.run_id = \"{run_id}\" }}");
        let found = tempo.search(&query, start, end, MAX_TRACES).await?;
        if found.len() >= MAX_TRACES {
            return Err(CollectError::TooManyTraces {
                query,
                found: found.len(),
            });
        }
        run.traces = stream::iter(found)
            .map(|t| {
                let query = query.clone();
                async move {
                    match tempo.trace_batches(&t.trace_id).await? {
                        Some(batches) => Ok(batches),
                        None => Err(CollectError::TraceNotFound {
                            query,
                            trace_id: t.trace_id,
                        }),
                    }
                }
            })
            .buffer_unordered(TRACE_FETCHES)
            .try_collect()
            .await?;
    }
    if let Some(prom) = sources.metrics {
        let (start, end) = (
            window.start_unix_ms as f64 / 1000.0,
            window.end_unix_ms as f64 / 1000.0,
        );
        let matcher = format!("{{run_id=\"{run_id}\"}}");
        run.series = prom.series_between(&[&matcher], start, end).await?;
        // Sent over OTLP, the run id is a resource attribute: on `target_info` only
        // (Prometheus's translation), whose `job` picks out the run's series.
        let jobs: std::collections::BTreeSet<String> = run
            .series
            .iter()
            .filter(|l| l.get("__name__").map(String::as_str) == Some("target_info"))
            .filter_map(|l| l.get("job").cloned())
            .collect();
        for job in jobs {
            let by_job = format!("{{job=\"{job}\"}}");
            for l in prom.series_between(&[&by_job], start, end).await? {
                if !run.series.contains(&l) {
                    run.series.push(l);
                }
            }
        }
        run.metric_types = match prom.metadata().await {
            Ok(types) => types,
            // A backend without the metadata API: the names decide the types.
            Err(ClientError::Status { .. }) => MetricTypes::new(),
            Err(e) => return Err(e.into()),
        };
    }
    Ok(run)
}

/// How long [`collect_settled`] must see the same shape before it takes it: longer
/// than a scrape interval, Tempo's idle period before a trace is searchable, and a
/// Loki push batch.
pub const SETTLE_QUIET: Duration = Duration::from_secs(3);

/// [`collect`] again and again until it gives the same non-empty shape, counts
/// included, for [`SETTLE_QUIET`] (everything of the run has arrived and been
/// indexed), or `deadline` passes. The shape itself still comes from the pinned
/// `window`: the wall clock only paces the asking.
pub async fn collect_settled(
    sources: ShapeSources<'_>,
    run_id: &str,
    window: Window,
    deadline: Duration,
) -> Result<Shape, CollectError> {
    let last: Arc<Mutex<Option<(Shape, Instant)>>> = Arc::default();
    let attempt = || {
        let last = last.clone();
        async move {
            let shape = collect(sources, run_id, window)
                .await
                .map_err(|e| match &e {
                    CollectError::Client(c) if c.is_transient() => Attempt::NotYet(error_chain(&e)),
                    CollectError::TraceNotFound { .. } => Attempt::NotYet(error_chain(&e)),
                    _ => Attempt::Fatal(error_chain(&e)),
                })?;
            let seen = format!(
                "{} traces, {} series, {} log lines",
                shape.counts.traces,
                shape.counts.series.values().sum::<usize>(),
                shape.counts.log_lines.values().sum::<usize>()
            );
            let mut last = last.lock().expect("not poisoned");
            let since = match last.as_ref() {
                Some((previous, since)) if *previous == shape => *since,
                _ => Instant::now(),
            };
            let settled = !shape.is_empty() && since.elapsed() >= SETTLE_QUIET;
            *last = Some((shape.clone(), since));
            if settled {
                Ok(shape)
            } else if shape.is_empty() {
                Err(Attempt::NotYet("nothing arrived yet".into()))
            } else {
                Err(Attempt::NotYet(format!(
                    "{seen}, unchanged for {:.1} s",
                    since.elapsed().as_secs_f64()
                )))
            }
        }
    };
    match poll_until(deadline, attempt).await {
        Ok((shape, _)) => Ok(shape),
        Err(WaitFailure::TimedOut { waited, .. }) if nothing(&last) => {
            Err(CollectError::NothingArrived {
                run_id: run_id.into(),
                waited,
            })
        }
        Err(WaitFailure::TimedOut { waited, last_seen }) => Err(CollectError::NotSettled(format!(
            "after {:.1} s, last {last_seen}",
            waited.as_secs_f64()
        ))),
        Err(WaitFailure::Fatal(m) | WaitFailure::Rejected(m)) => Err(CollectError::NotSettled(m)),
    }
}

/// Whether the backends answered, and the last answer was empty.
fn nothing(last: &Mutex<Option<(Shape, Instant)>>) -> bool {
    matches!(&*last.lock().expect("not poisoned"), Some((s, _)) if s.is_empty())
}

/// Whether a snapshot is compared or (re)written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateMode {
    /// Write the file only if it is missing; otherwise compare.
    Compare,
    /// Write the file whatever it holds (`LGTM_CHECK_UPDATE=1`).
    Update,
}

impl UpdateMode {
    /// `Update` when `LGTM_CHECK_UPDATE` is `1`, `true`, `yes` or `always`; the one
    /// place the snapshot workflow reads the environment.
    pub fn from_env() -> Self {
        Self::from_value(std::env::var(UPDATE_VAR).ok().as_deref())
    }

    /// The mode for a value of `LGTM_CHECK_UPDATE`.
    ///
    /// ```
    /// use lgtm_check::shape::UpdateMode;
    ///
    /// assert_eq!(UpdateMode::from_value(Some("1")), UpdateMode::Update);
    /// assert_eq!(UpdateMode::from_value(Some("0")), UpdateMode::Compare);
    /// assert_eq!(UpdateMode::from_value(None), UpdateMode::Compare);
    /// ```
    pub fn from_value(value: Option<&str>) -> Self {
        match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            Some("1" | "true" | "yes" | "always") => UpdateMode::Update,
            _ => UpdateMode::Compare,
        }
    }
}

/// What comparing with a snapshot found.
#[derive(Debug, Clone, PartialEq)]
pub enum SnapshotOutcome {
    /// The shape is the recorded one (counts aside).
    Matched {
        /// The snapshot file.
        path: PathBuf,
    },
    /// The file was written: it was missing, or an update was asked for.
    Written {
        /// The snapshot file.
        path: PathBuf,
        /// `true` when there was no file; `false` when `LGTM_CHECK_UPDATE` replaced it.
        was_missing: bool,
    },
    /// The shape differs; the new one is in `new_file`.
    Differs {
        /// The snapshot file, left as it was.
        path: PathBuf,
        /// `<file>.new`, where the new shape was written for review.
        new_file: PathBuf,
        /// Every difference between the recorded shape and the new one.
        changes: Vec<ShapeChange>,
    },
}

impl SnapshotOutcome {
    /// Whether the check passed (matched or written).
    pub fn passed(&self) -> bool {
        !matches!(self, SnapshotOutcome::Differs { .. })
    }

    /// What happened, for people; for a difference, every change and how to accept
    /// it in a test (`test` names the test to rerun, when known).
    pub fn message(&self, test: Option<&str>) -> String {
        self.message_accepting(&accept_command(test))
    }

    /// [`SnapshotOutcome::message`] for a CLI user: a difference is accepted by
    /// rerunning `lgtm-check <command>` with `--update`.
    ///
    /// ```
    /// use lgtm_check::shape::SnapshotOutcome;
    ///
    /// let o = SnapshotOutcome::Differs {
    ///     path: "app.shape.yaml".into(),
    ///     new_file: "app.shape.yaml.new".into(),
    ///     changes: vec![],
    /// };
    /// assert!(o.message_for_cli("app").ends_with("rerun `lgtm-check app` with --update"));
    /// ```
    pub fn message_for_cli(&self, command: &str) -> String {
        self.message_accepting(&format!("rerun `lgtm-check {command}` with --update"))
    }

    fn message_accepting(&self, accept: &str) -> String {
        match self {
            SnapshotOutcome::Matched { path } => {
                format!("telemetry shape matches {}", path.display())
            }
            SnapshotOutcome::Written { path, was_missing } => format!(
                "telemetry shape written to {} ({}); review and commit it",
                path.display(),
                if *was_missing {
                    "there was none"
                } else {
                    "an update was asked for"
                }
            ),
            SnapshotOutcome::Differs {
                path,
                new_file,
                changes,
            } => format!(
                "telemetry shape differs from {} ({} changes):\n{}the new shape is in {}; to accept it: {}",
                path.display(),
                changes.len(),
                render_changes(changes),
                new_file.display(),
                accept,
            ),
        }
    }
}

/// The command that accepts a changed shape.
///
/// ```
/// use lgtm_check::shape::accept_command;
///
/// assert_eq!(accept_command(Some("shop_shape")), "LGTM_CHECK_UPDATE=1 cargo test -- shop_shape");
/// ```
pub fn accept_command(test: Option<&str>) -> String {
    match test {
        Some(t) => format!("{UPDATE_VAR}=1 cargo test -- {t}"),
        None => format!("{UPDATE_VAR}=1 cargo test"),
    }
}

/// Why a snapshot could not be compared; the file is left as it was.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The snapshot file exists but cannot be read (permissions, not a file).
    #[error("cannot read the telemetry-shape snapshot {}", .path.display())]
    Read {
        /// The snapshot file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The snapshot, its directory or its `.new` file cannot be written.
    #[error("cannot write the telemetry-shape snapshot {}", .path.display())]
    Write {
        /// The file that could not be written.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a snapshot this lgtm-check reads (bad YAML, unknown field,
    /// other schema version).
    #[error("{} is not a telemetry-shape snapshot", .path.display())]
    Parse {
        /// The snapshot file.
        path: PathBuf,
        /// Why it could not be read as a shape.
        #[source]
        source: ShapeParseError,
    },
    /// The shape is empty: nothing arrived, and an empty snapshot would pass on
    /// nothing.
    #[error(
        "nothing arrived: no span, series or log line; a snapshot of nothing is not written to {}",
        .path.display()
    )]
    Empty {
        /// The snapshot file that was not written.
        path: PathBuf,
    },
}

/// `<file>.new`, where a differing shape is written.
///
/// ```
/// use std::path::Path;
/// use lgtm_check::shape::new_file_path;
///
/// assert_eq!(new_file_path(Path::new("tests/shop.shape.yaml")), Path::new("tests/shop.shape.yaml.new"));
/// ```
pub fn new_file_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".new");
    PathBuf::from(name)
}

fn write(path: &Path, text: &str) -> Result<(), SnapshotError> {
    let err = |source| SnapshotError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    std::fs::write(path, text).map_err(err)
}

/// Compares `shape` with the snapshot at `path`, or writes it there when the file is
/// missing or `mode` is [`UpdateMode::Update`]. On a difference, the new shape goes
/// to `<file>.new` and the snapshot stays as it was; a leftover `.new` is removed
/// when the shape matches or is written. An empty shape is an error, never written.
pub fn check_snapshot(
    path: &Path,
    shape: &Shape,
    mode: UpdateMode,
) -> Result<SnapshotOutcome, SnapshotError> {
    if shape.is_empty() {
        return Err(SnapshotError::Empty {
            path: path.to_owned(),
        });
    }
    let new_file = new_file_path(path);
    let text = match std::fs::read_to_string(path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(SnapshotError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let written = |was_missing| {
        write(path, &shape.render())?;
        let _ = std::fs::remove_file(&new_file);
        Ok(SnapshotOutcome::Written {
            path: path.to_owned(),
            was_missing,
        })
    };
    let text = match (text, mode) {
        (None, _) => return written(true),
        (Some(_), UpdateMode::Update) => return written(false),
        (Some(t), UpdateMode::Compare) => t,
    };
    let recorded = Shape::parse(&text).map_err(|source| SnapshotError::Parse {
        path: path.to_owned(),
        source,
    })?;
    let changes = diff(&recorded, shape);
    if changes.is_empty() {
        let _ = std::fs::remove_file(&new_file);
        return Ok(SnapshotOutcome::Matched {
            path: path.to_owned(),
        });
    }
    write(&new_file, &shape.render())?;
    Ok(SnapshotOutcome::Differs {
        path: path.to_owned(),
        new_file,
        changes,
    })
}

/// For tests: compares `shape` with the snapshot at `path` (mode from
/// `LGTM_CHECK_UPDATE`), says on stderr when it wrote the file, and panics with
/// every change and the command that accepts them when the shape differs.
///
/// ```no_run
/// # async fn t(backends: &lgtm_check::execute::Backends, window: lgtm_check::core::check::Window) {
/// use lgtm_check::shape::{ShapeSources, assert_shape, collect};
/// let shape = collect(ShapeSources::from_backends(backends), "r1", window).await.unwrap();
/// assert_shape("tests/snapshots/my-service.shape.yaml", &shape);
/// # }
/// ```
#[track_caller]
pub fn assert_shape(path: impl AsRef<Path>, shape: &Shape) -> SnapshotOutcome {
    let test = std::thread::current().name().map(str::to_owned);
    let test = test.as_deref().filter(|t| *t != "main");
    match check_snapshot(path.as_ref(), shape, UpdateMode::from_env()) {
        Ok(o) if o.passed() => {
            if matches!(o, SnapshotOutcome::Written { .. }) {
                eprintln!("{}", o.message(test));
            }
            o
        }
        Ok(o) => panic!("{}", o.message(test)),
        Err(e) => panic!("{}", error_chain(&e)),
    }
}

/// An error and its causes, `: `-separated.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(&format!(": {s}"));
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::{loki, prometheus, tempo};
    use crate::core::observed::Observed;

    fn data(path: &str) -> String {
        std::fs::read_to_string(format!("{}/tests/data/{path}", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
    }

    /// A shape from answers recorded from Tempo 2.6.0, Loki 3.2.0 and Prometheus 2.42.
    fn recorded() -> Shape {
        let Observed::Logs(logs) =
            loki::decode_query(&data("loki/query_range_streams.json")).unwrap()
        else {
            panic!("streams")
        };
        let mut metric_types =
            prometheus::decode_metadata(&data("prometheus/metadata_counter.json")).unwrap();
        metric_types.extend(
            prometheus::decode_metadata(&data("prometheus/metadata_histogram.json")).unwrap(),
        );
        let mut series = prometheus::decode_series(&data("prometheus/series.json")).unwrap();
        series.push(
            [
                (
                    "__name__",
                    "prometheus_http_request_duration_seconds_bucket",
                ),
                ("handler", "/metrics"),
                ("le", "0.1"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into(),
        );
        series.push(
            [
                ("__name__", "prometheus_http_requests_total"),
                ("code", "200"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into(),
        );
        Shape::build(&ObservedRun {
            traces: vec![tempo::decode_trace_batches(&data("tempo/trace_by_id.json")).unwrap()],
            series,
            metric_types,
            logs,
        })
    }

    #[test]
    fn recorded_answers_give_their_shape() {
        let s = recorded();
        let expected = data("shape/recorded.shape.yaml");
        assert_eq!(
            s.render(),
            expected,
            "harness/tests/data/shape/recorded.shape.yaml"
        );
        let users = &s.spans["rust-app"]["GET /api/users"]["server"];
        assert!(users.attributes.contains("http.request.method"));
        assert_eq!(users.status.iter().collect::<Vec<_>>(), ["error"]);
        assert!(s.resources["rust-app"].contains("service.name"));
        assert_eq!(
            s.metrics["prometheus_http_request_duration_seconds"].metric_type,
            "histogram"
        );
        assert_eq!(
            s.metrics["prometheus_http_requests_total"].metric_type,
            "counter"
        );
        assert!(s.logs["rust-app"].labels.contains("detected_level"));
        assert!(s.logs["rust-app"].fields.contains("trace_id"));
    }

    #[test]
    fn a_recorded_trace_decodes_into_its_batches_and_the_same_spans() {
        let body = data("tempo/trace_by_id.json");
        let batches = tempo::decode_trace_batches(&body).unwrap();
        let flat: Vec<_> = batches.iter().flat_map(|b| b.spans.clone()).collect();
        assert_eq!(flat, tempo::decode_trace(&body).unwrap());
        assert_eq!(batches[0].resource["service.name"], "rust-app");
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("lgtm-check-shape-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_missing_snapshot_is_written_then_matched_and_a_change_fails_with_the_command() {
        let dir = temp_dir("workflow");
        let path = dir.join("snapshots/app.shape.yaml");
        let shape = recorded();
        let o = check_snapshot(&path, &shape, UpdateMode::Compare).unwrap();
        assert_eq!(
            o,
            SnapshotOutcome::Written {
                path: path.clone(),
                was_missing: true
            }
        );
        assert!(
            o.message(None).contains("written to"),
            "{}",
            o.message(None)
        );
        assert!(matches!(
            check_snapshot(&path, &shape, UpdateMode::Compare).unwrap(),
            SnapshotOutcome::Matched { .. }
        ));

        let mut changed = shape.clone();
        let users = changed
            .spans
            .get_mut("rust-app")
            .unwrap()
            .get_mut("GET /api/users")
            .unwrap()
            .get_mut("server")
            .unwrap();
        users.attributes.remove("http.request.method");
        users.attributes.insert("http.method".into());
        let o = check_snapshot(&path, &changed, UpdateMode::Compare).unwrap();
        assert!(!o.passed());
        let m = o.message(Some("shape_test"));
        assert!(
            m.contains("- removed span `GET /api/users` (server) of `rust-app`: attribute `http.request.method`"),
            "{m}"
        );
        assert!(
            m.contains(
                "+ added   span `GET /api/users` (server) of `rust-app`: attribute `http.method`"
            ),
            "{m}"
        );
        assert!(
            m.ends_with("LGTM_CHECK_UPDATE=1 cargo test -- shape_test"),
            "{m}"
        );
        let new_file = new_file_path(&path);
        assert_eq!(
            std::fs::read_to_string(&new_file).unwrap(),
            changed.render()
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            shape.render(),
            "kept"
        );

        // Accepting: the update mode writes it and removes the `.new`.
        let o = check_snapshot(&path, &changed, UpdateMode::Update).unwrap();
        assert_eq!(
            o,
            SnapshotOutcome::Written {
                path: path.clone(),
                was_missing: false
            }
        );
        assert!(!new_file.exists());
        assert!(
            check_snapshot(&path, &changed, UpdateMode::Compare)
                .unwrap()
                .passed()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn nothing_is_never_written_and_a_broken_file_is_named_and_kept() {
        let dir = temp_dir("errors");
        let path = dir.join("app.shape.yaml");
        let empty = Shape::build(&ObservedRun::default());
        let e = check_snapshot(&path, &empty, UpdateMode::Update).unwrap_err();
        assert!(matches!(e, SnapshotError::Empty { .. }), "{e}");
        assert!(!path.exists());

        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&path, "not: [a snapshot").unwrap();
        let e = check_snapshot(&path, &recorded(), UpdateMode::Compare).unwrap_err();
        assert!(matches!(e, SnapshotError::Parse { .. }), "{e}");
        assert!(error_chain(&e).contains("app.shape.yaml is not a telemetry-shape snapshot"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "not: [a snapshot");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_run_where_nothing_arrives_never_settles() {
        let window = Window {
            start_unix_ms: 1_795_613_000_000,
            end_unix_ms: 1_795_614_000_000,
        };
        let e = collect_settled(
            ShapeSources::default(),
            "r1",
            window,
            Duration::from_millis(300),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&e, CollectError::NothingArrived { run_id, .. } if run_id == "r1"),
            "{e}"
        );
        assert!(
            e.to_string()
                .starts_with("nothing arrived under run id `r1`"),
            "{e}"
        );
    }

    #[test]
    fn the_update_variable_is_read_from_its_value() {
        assert_eq!(UpdateMode::from_value(None), UpdateMode::Compare);
        assert_eq!(UpdateMode::from_value(Some("0")), UpdateMode::Compare);
        assert_eq!(UpdateMode::from_value(Some("1")), UpdateMode::Update);
        assert_eq!(UpdateMode::from_value(Some("always")), UpdateMode::Update);
    }
}
