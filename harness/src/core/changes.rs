//! The catalogue of named upstream changes: for each client-visible change of Loki,
//! Tempo and the Mimir role (Mimir, or Cortex standing in for it) that the upstream
//! CHANGELOGs, upgrade guides and release notes document, what changed, what a user
//! should do about it, and a probe that shows it. A gate lists the changes between
//! its baseline and candidate versions in these words, so that a difference it finds
//! is named ("Tempo 2.7.0 anchors TraceQL regexes (#4329)") rather than merely
//! reported.
//!
//! Main items: [`NamedChange`] and its [`Probe`], the catalogue [`CHANGES`], and the
//! functions that select from it: [`between`] (the changes an upgrade crosses),
//! [`for_query`] (the changes a query probes), [`in_range`] and [`version_tuple`].
//!
//! Coverage: Loki 3.3–3.7 (from 3.2), Tempo 2.7–2.10 (from 2.6), Mimir 2.15–2.17
//! (from 2.14) and Cortex 1.19–1.21 (from 1.18). Every entry names the upstream pull
//! request its CHANGELOG line (or upgrade guide, or release notes) cites; the
//! CHANGELOG wording is kept in a comment above the entry. No entry is verified
//! against live images yet ([`NamedChange::verified_live`]).
//!
//! Plain data and pure functions: nothing here performs I/O.

use serde::Serialize;

use crate::core::component::Component;
use crate::core::corpus::Language;

/// An upstream project whose releases the catalogue follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Project {
    /// Grafana Loki (logs).
    Loki,
    /// Grafana Tempo (traces).
    Tempo,
    /// Grafana Mimir (metrics).
    Mimir,
    /// Cortex, Mimir's ancestor, which fills the Mimir role where Mimir cannot run.
    Cortex,
}

impl Project {
    /// Every project, in report order.
    pub const ALL: [Project; 4] = [
        Project::Loki,
        Project::Tempo,
        Project::Mimir,
        Project::Cortex,
    ];

    /// The lowercase name, which also starts every [`NamedChange::id`] of the project.
    pub fn name(self) -> &'static str {
        match self {
            Project::Loki => "loki",
            Project::Tempo => "tempo",
            Project::Mimir => "mimir",
            Project::Cortex => "cortex",
        }
    }

    /// The name as a user writes it in a sentence (`Loki`, `Cortex`).
    pub fn title(self) -> &'static str {
        match self {
            Project::Loki => "Loki",
            Project::Tempo => "Tempo",
            Project::Mimir => "Mimir",
            Project::Cortex => "Cortex",
        }
    }

    /// The GitHub repository whose pull requests [`NamedChange::pr`] numbers.
    ///
    /// ```
    /// use lgtm_check::core::changes::Project;
    /// assert_eq!(Project::Cortex.repo(), "cortexproject/cortex");
    /// ```
    pub fn repo(self) -> &'static str {
        match self {
            Project::Loki => "grafana/loki",
            Project::Tempo => "grafana/tempo",
            Project::Mimir => "grafana/mimir",
            Project::Cortex => "cortexproject/cortex",
        }
    }

    /// The role the project fills in the stack: Cortex fills the Mimir role.
    pub fn role(self) -> Component {
        match self {
            Project::Loki => Component::Loki,
            Project::Tempo => Component::Tempo,
            Project::Mimir | Project::Cortex => Component::Mimir,
        }
    }

    /// The query language the project answers, and so the language of its
    /// [`Probe::Query`] probes.
    pub fn language(self) -> Language {
        match self {
            Project::Loki => Language::LogQl,
            Project::Tempo => Language::TraceQl,
            Project::Mimir | Project::Cortex => Language::PromQl,
        }
    }
}

/// What kind of client-visible change a [`NamedChange`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// What is stored from the same push changes (labels, metadata, rejections).
    Ingest,
    /// The same query over the same data answers differently, or now parses or fails.
    QuerySemantics,
    /// A configuration key is removed or renamed, or a configuration is read
    /// differently.
    Config,
    /// A configuration default changes.
    Default,
    /// An HTTP endpoint, status code or response shape changes.
    HttpApi,
    /// Something shipped is removed (a receiver, a tool in the image, a format).
    Removal,
}

impl ChangeKind {
    /// The snake_case name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            ChangeKind::Ingest => "ingest",
            ChangeKind::QuerySemantics => "query_semantics",
            ChangeKind::Config => "config",
            ChangeKind::Default => "default",
            ChangeKind::HttpApi => "http_api",
            ChangeKind::Removal => "removal",
        }
    }
}

/// How a gate can show a [`NamedChange`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Probe {
    /// A query over the gate's deterministic workload whose answer differs across the
    /// change (an answer on one side and an error on the other counts). The language
    /// is always the project's ([`Project::language`]).
    Query {
        /// The query language (LogQL for Loki, TraceQL for Tempo, PromQL for the
        /// Mimir role).
        language: Language,
        /// The query, as the gate asks it.
        query: &'static str,
    },
    /// A configuration default that changed: the dotted YAML path as served by the
    /// component's `/config` (Loki, Mimir, Cortex) or `/status/config` (Tempo), e.g.
    /// `limits_config.max_query_series`. A value the gate's own configuration sets
    /// hides a changed default, so compare the defaults where the component can serve
    /// them.
    Default {
        /// The dotted YAML path of the key.
        key: &'static str,
    },
    /// A configuration key removed or renamed: a configuration that sets it is refused
    /// by the version after the change. The dotted YAML path.
    RemovedKey {
        /// The dotted YAML path of the key.
        key: &'static str,
    },
    /// No probe can show the change with the gate's workload and configuration.
    Documented {
        /// Why the gate cannot show it (and, where one exists, what would).
        reason: &'static str,
    },
}

impl Probe {
    /// The language and query of a [`Probe::Query`].
    pub fn query(&self) -> Option<(Language, &'static str)> {
        match *self {
            Probe::Query { language, query } => Some((language, query)),
            _ => None,
        }
    }

    /// The configuration key of a [`Probe::Default`] or [`Probe::RemovedKey`].
    pub fn key(&self) -> Option<&'static str> {
        match *self {
            Probe::Default { key } | Probe::RemovedKey { key } => Some(key),
            _ => None,
        }
    }
}

/// One client-visible upstream change, with the words a gate reports it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NamedChange {
    /// A stable slug: the project, the release's `major.minor`, then what changed
    /// (`tempo-2.7-traceql-regex-anchored`).
    pub id: &'static str,
    /// The project that made the change.
    pub project: Project,
    /// The first release with the change (`2.7.0`). Where a fix was backported to an
    /// earlier patch release, that patch release.
    pub release: &'static str,
    /// The upstream pull request, in [`Project::repo`].
    pub pr: u32,
    /// What kind of change it is.
    pub kind: ChangeKind,
    /// What changed, in one sentence a user understands.
    pub summary: &'static str,
    /// What the user should do, concretely.
    pub action: &'static str,
    /// How a gate can show it.
    pub probe: Probe,
    /// Whether the probe has been seen to show the change on live images of both
    /// sides. False until an integrator has done so; Loki 3.5 and later cannot be
    /// built here ([`LOKI_UNBUILDABLE_FROM`]), so their entries stay unverified.
    pub verified_live: bool,
}

/// The first Loki release that cannot be built on this machine, so whose changes
/// cannot be verified live here.
pub const LOKI_UNBUILDABLE_FROM: (u32, u32, u32) = (3, 5, 0);

impl NamedChange {
    /// The upstream pull request's address.
    ///
    /// ```
    /// use lgtm_check::core::changes::by_id;
    /// let change = by_id("tempo-2.7-traceql-regex-anchored").unwrap();
    /// assert_eq!(change.url(), "https://github.com/grafana/tempo/pull/4329");
    /// ```
    pub fn url(&self) -> String {
        format!(
            "https://github.com/{}/pull/{}",
            self.project.repo(),
            self.pr
        )
    }

    /// The line a gate prints: project, release, pull request, what changed and what
    /// to do.
    ///
    /// ```
    /// use lgtm_check::core::changes::by_id;
    /// let line = by_id("tempo-2.7-traceql-regex-anchored").unwrap().headline();
    /// assert!(line.starts_with("Tempo 2.7.0 (#4329): "));
    /// ```
    pub fn headline(&self) -> String {
        format!(
            "{} {} (#{}): {} {}",
            self.project.title(),
            self.release,
            self.pr,
            self.summary,
            self.action
        )
    }

    /// Whether the change can be verified live on this machine: every change except
    /// those of Loki releases from [`LOKI_UNBUILDABLE_FROM`] on.
    pub fn verifiable_here(&self) -> bool {
        self.project != Project::Loki
            || version_tuple(self.release).is_some_and(|v| v < LOKI_UNBUILDABLE_FROM)
    }
}

/// A version's `(major, minor, patch)`: a leading `v` and any pre-release or build
/// suffix (`-rc.1`, `+build`) are ignored, and a missing patch is 0. `None` for
/// anything else (`latest`, `main`, `1.2.3.4`).
///
/// ```
/// use lgtm_check::core::changes::version_tuple;
/// assert_eq!(version_tuple("v2.7.2"), Some((2, 7, 2)));
/// assert_eq!(version_tuple("3.4.6"), Some((3, 4, 6)));
/// assert_eq!(version_tuple("2.10.0-rc.1"), Some((2, 10, 0)));
/// assert_eq!(version_tuple("latest"), None);
/// ```
pub fn version_tuple(v: &str) -> Option<(u32, u32, u32)> {
    let v = v.trim();
    let v = v.strip_prefix(['v', 'V']).unwrap_or(v);
    let core = v.split(['-', '+']).next().unwrap_or("");
    let mut parts = core.split('.');
    let number = |p: Option<&str>| -> Option<u32> {
        let p = p?;
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        p.parse().ok()
    };
    let major = number(parts.next())?;
    let minor = number(parts.next())?;
    let patch = match parts.next() {
        None => 0,
        some => number(some)?,
    };
    if parts.next().is_some() {
        return None;
    }
    Some((major, minor, patch))
}

/// Whether an upgrade from `baseline_version` to `candidate_version` crosses the
/// change: `baseline < release <= candidate`. False when a version does not parse
/// ([`version_tuple`]) and for a downgrade.
///
/// ```
/// use lgtm_check::core::changes::{by_id, in_range};
/// let regex = by_id("tempo-2.7-traceql-regex-anchored").unwrap(); // release 2.7.0
/// assert!(in_range(regex, "2.6.1", "2.7.0"));
/// assert!(!in_range(regex, "2.7.0", "2.8.0"));
/// assert!(!in_range(regex, "2.6.0", "latest"));
/// ```
pub fn in_range(change: &NamedChange, baseline_version: &str, candidate_version: &str) -> bool {
    crosses(
        change,
        version_tuple(baseline_version),
        version_tuple(candidate_version),
    )
}

fn crosses(
    change: &NamedChange,
    baseline: Option<(u32, u32, u32)>,
    candidate: Option<(u32, u32, u32)>,
) -> bool {
    match (baseline, version_tuple(change.release), candidate) {
        (Some(b), Some(r), Some(c)) => b < r && r <= c,
        _ => false,
    }
}

/// The changes of `project` that an upgrade from `baseline_version` to
/// `candidate_version` crosses ([`in_range`]), in catalogue order (by release).
///
/// ```
/// use lgtm_check::core::changes::{between, Project};
/// let ids: Vec<&str> = between(Project::Tempo, "2.6.0", "2.7.2").map(|c| c.id).collect();
/// assert!(ids.contains(&"tempo-2.7-traceql-regex-anchored"));
/// assert_eq!(between(Project::Tempo, "2.7.0", "2.7.0").count(), 0);
/// ```
pub fn between(
    project: Project,
    baseline_version: &str,
    candidate_version: &str,
) -> impl Iterator<Item = &'static NamedChange> {
    let baseline = version_tuple(baseline_version);
    let candidate = version_tuple(candidate_version);
    CHANGES
        .iter()
        .filter(move |c| c.project == project && crosses(c, baseline, candidate))
}

/// The changes whose probe is `query` in `language` (compared with runs of
/// whitespace collapsed). Several changes can share one probe; the caller keeps those
/// of the project it runs ([`between`]).
///
/// ```
/// use lgtm_check::core::changes::for_query;
/// use lgtm_check::core::corpus::Language;
/// let ids: Vec<&str> = for_query(Language::TraceQl, r#"{ span.http.route =~ "users" }"#)
///     .map(|c| c.id)
///     .collect();
/// assert_eq!(ids, ["tempo-2.7-traceql-regex-anchored"]);
/// ```
pub fn for_query(
    language: Language,
    query: &str,
) -> impl Iterator<Item = &'static NamedChange> + '_ {
    CHANGES.iter().filter(move |c| {
        c.probe
            .query()
            .is_some_and(|(l, q)| l == language && same_query(q, query))
    })
}

/// The change with this id.
pub fn by_id(id: &str) -> Option<&'static NamedChange> {
    CHANGES.iter().find(|c| c.id == id)
}

fn same_query(a: &str, b: &str) -> bool {
    a.split_whitespace().eq(b.split_whitespace())
}

/// The catalogue, by project and then by release.
pub const CHANGES: &[NamedChange] = &[
    // ----------------------------------------------------------------- Loki 3.3
    // (3.2.2 and 3.3.0) CHANGELOG: "**logql:** Updated JSONExpressionParser not to
    // unescape extracted values if it is JSON object. (#14499)"
    NamedChange {
        id: "loki-3.2-json-expression-keeps-object-escapes",
        project: Project::Loki,
        release: "3.2.2",
        pr: 14499,
        kind: ChangeKind::QuerySemantics,
        summary: r#"`| json l="field"` on a field whose value is a JSON object yields the object as written, escapes included, instead of unescaping it into invalid JSON."#,
        action: "Drop workarounds that re-escaped such labels; parse them again with `| json` where needed.",
        probe: Probe::Documented {
            reason: r#"The workload's nested object (`user`) contains no escaped character, so its text is the same on both sides. A nested string with an escaped quote (`"user":{"id":"u7","agent":"curl \"8\""}`) would show it with `{job="lgtm-gate", format="json"} | json u="user" | line_format "{{.u}}"`."#,
        },
        verified_live: false,
    },
    // CHANGELOG 3.3.0: "always write detected_level when enabled, even if unknown
    // (#14464)"
    NamedChange {
        id: "loki-3.3-detected-level-unknown",
        project: Project::Loki,
        release: "3.3.0",
        pr: 14464,
        kind: ChangeKind::Ingest,
        summary: r#"With level discovery on (the default), a line whose level cannot be detected gets `detected_level="unknown"` structured metadata; it got none."#,
        action: r#"Select such lines with `detected_level="unknown"`, and expect a new `unknown` series where metric queries group by `detected_level`."#,
        probe: Probe::Query {
            language: Language::LogQl,
            query: r#"sum by (detected_level) (count_over_time({job="lgtm-gate", format="plain"}[5m]))"#,
        },
        verified_live: true,
    },
    // CHANGELOG 3.3.0: "level detection for warning level (#14444)"
    NamedChange {
        id: "loki-3.3-level-field-warning",
        project: Project::Loki,
        release: "3.3.0",
        pr: 14444,
        kind: ChangeKind::Ingest,
        summary: "A level field whose value is `warning` is detected as `warn` directly; before, Loki searched the whole line, where an `info` or `error` elsewhere won.",
        action: "Expect `detected_level=\"warn\"` on such lines and drop workarounds that matched them by line content.",
        probe: Probe::Documented {
            reason: "The workload's level fields say `warn`, never `warning`.",
        },
        verified_live: false,
    },
    // CHANGELOG 3.3.0: "add app_name as a service label (#13660)"
    NamedChange {
        id: "loki-3.3-service-name-from-app-name",
        project: Project::Loki,
        release: "3.3.0",
        pr: 13660,
        kind: ChangeKind::Default,
        summary: "`app_name` joins the default labels (`limits_config.discover_service_name`) from which Loki derives `service_name` for a stream that has none.",
        action: "Streams with `app_name` but no `service_name` move from `service_name=\"unknown_service\"` to the `app_name` value; adjust queries and per-service retention, or set `discover_service_name` to the old list.",
        probe: Probe::Default {
            key: "limits_config.discover_service_name",
        },
        verified_live: false,
    },
    // CHANGELOG 3.3.0: "skipping label if it contains special symbol (#14068)"
    NamedChange {
        id: "loki-3.3-parsed-invalid-utf8-kept",
        project: Project::Loki,
        release: "3.3.0",
        pr: 14068,
        kind: ChangeKind::QuerySemantics,
        summary: "A value parsed by `| json` or `| logfmt` that contains invalid UTF-8 keeps its label, with the invalid bytes replaced by spaces; the label was dropped or emptied.",
        action: "Queries that relied on such labels being empty now see a value; match it with the spaces.",
        probe: Probe::Documented {
            reason: "The workload writes only valid UTF-8.",
        },
        verified_live: false,
    },
    // ----------------------------------------------------------------- Loki 3.4
    // CHANGELOG 3.4.0: "allow comparison against zero bytes (#15217)"
    NamedChange {
        id: "loki-3.4-zero-bytes-literal",
        project: Project::Loki,
        release: "3.4.0",
        pr: 15217,
        kind: ChangeKind::QuerySemantics,
        summary: "LogQL reads `0B` as zero bytes, so `| bytes > 0B` parses; before, `0B` was taken for the start of a binary number and the query was refused.",
        action: "Byte comparisons against zero work as written; drop workarounds such as `> 1B`.",
        probe: Probe::Query {
            language: Language::LogQl,
            query: r#"sum(count_over_time({job="lgtm-gate", format="logfmt"} | logfmt | bytes > 0B [5m]))"#,
        },
        verified_live: false,
    },
    // CHANGELOG 3.4.0: "Return error 422 (Unprocessable Content) when push request
    // does not contain any streams (#13706)"
    NamedChange {
        id: "loki-3.4-push-without-streams-422",
        project: Project::Loki,
        release: "3.4.0",
        pr: 13706,
        kind: ChangeKind::HttpApi,
        summary: "A push request that contains no streams is answered 422 Unprocessable Entity; it was accepted.",
        action: "Stop sending empty pushes (e.g. as heartbeats), or treat 422 on them as harmless.",
        probe: Probe::Documented {
            reason: "Every push of the gate carries streams.",
        },
        verified_live: false,
    },
    // CHANGELOG 3.4.0: "Add otlp attribute deployment.environment.name to list of
    // default labels (#14747)"
    NamedChange {
        id: "loki-3.4-otlp-deployment-environment-name-label",
        project: Project::Loki,
        release: "3.4.0",
        pr: 14747,
        kind: ChangeKind::Default,
        summary: "OTLP logs whose resource has `deployment.environment.name` get it as the stream label `deployment_environment_name` by default.",
        action: "Expect the new label (and more streams) from such senders; drop the attribute through `limits_config.otlp_config` if it is unwanted.",
        probe: Probe::Default {
            key: "distributor.otlp_config.default_resource_attributes_as_index_labels",
        },
        verified_live: false,
    },
    // CHANGELOG 3.4.0: "sanitize structured metadata during ingestion in the
    // distributor (#15141)"
    NamedChange {
        id: "loki-3.4-structured-metadata-names-sanitized",
        project: Project::Loki,
        release: "3.4.0",
        pr: 15141,
        kind: ChangeKind::Ingest,
        summary: "The distributor rewrites structured metadata names into valid label names at ingestion (`k8s.pod.name` becomes `k8s_pod_name`), and replaces invalid UTF-8 in their values with spaces.",
        action: "Query such metadata by its sanitized name.",
        probe: Probe::Documented {
            reason: "The workload's metadata names (`trace_id`, `pod`) are already valid label names; a dotted name such as `k8s.pod.name` would show it.",
        },
        verified_live: false,
    },
    // ----------------------------------------------------------------- Loki 3.5
    // Loki 3.5 and later cannot be built here: these entries stay unverified.
    //
    // CHANGELOG 3.5.0: "Adjust with offset in last, first and quantile over time
    // queries. (#15915)"
    NamedChange {
        id: "loki-3.5-sharded-over-time-offset",
        project: Project::Loki,
        release: "3.5.0",
        pr: 15915,
        kind: ChangeKind::QuerySemantics,
        summary: "Sharded `first_over_time`, `last_over_time` and `quantile_over_time` honour `offset`; the shards ignored it.",
        action: "Re-check dashboards that use these functions with `offset`: their values change to the intended ones.",
        probe: Probe::Documented {
            reason: "Only queries that Loki shards show it; the gate's 270 lines are too few to be split into shards.",
        },
        verified_live: false,
    },
    // CHANGELOG 3.5.0: "update log level discovery from json to detect nested fields
    // (#16026)"
    NamedChange {
        id: "loki-3.5-nested-json-level",
        project: Project::Loki,
        release: "3.5.0",
        pr: 16026,
        kind: ChangeKind::Ingest,
        summary: "Log level discovery also finds a level field nested inside a JSON line.",
        action: "Expect `detected_level` from the nested field on such lines, where it was `unknown` or taken from the line's text.",
        probe: Probe::Documented {
            reason: "The workload's JSON lines carry `level` at the top level.",
        },
        verified_live: false,
    },
    // CHANGELOG 3.5.0: "only allow aggregated metric queries from logs drilldown app
    // (#16670)"
    NamedChange {
        id: "loki-3.5-aggregated-metrics-drilldown-only",
        project: Project::Loki,
        release: "3.5.0",
        pr: 16670,
        kind: ChangeKind::HttpApi,
        summary: "Queries of `__aggregated_metric__` streams are refused unless they come from Grafana's Logs Drilldown app.",
        action: "Read aggregated metrics through Logs Drilldown, not from dashboards or the query API.",
        probe: Probe::Documented {
            reason: "The gate does not enable metric aggregation, so there are no aggregated metric streams.",
        },
        verified_live: false,
    },
    // ----------------------------------------------------------------- Loki 3.6
    // CHANGELOG 3.6.0: "**distributor:** extended detected level for debug and
    // critical level (#18370)"
    NamedChange {
        id: "loki-3.6-level-detection-brackets",
        project: Project::Loki,
        release: "3.6.0",
        pr: 18370,
        kind: ChangeKind::Ingest,
        summary: "Level detection in unstructured lines changed: a bare `ERROR` or `error` no longer counts (only `err:`, `[error]` and the like), while a bare `DEBUG` or `debug` now does.",
        action: "Expect plain-text `ERROR …` lines to become `detected_level=\"unknown\"` and `DEBUG …` lines `debug`; log the level as `level=error` to keep it detected.",
        probe: Probe::Query {
            language: Language::LogQl,
            query: r#"sum by (detected_level) (count_over_time({job="lgtm-gate", format="plain"}[5m]))"#,
        },
        verified_live: false,
    },
    // CHANGELOG 3.6.0: "**distributor:** Add MaxRecvMsgSize config for uncompressed
    // message size limits (#16915)". Upgrade guide: "Distributor Max Receive Limits
    // for uncompressed bytes … default value is set to `100MB`."
    NamedChange {
        id: "loki-3.6-distributor-max-recv-msg-size",
        project: Project::Loki,
        release: "3.6.0",
        pr: 16915,
        kind: ChangeKind::Default,
        summary: "The distributor refuses a push whose uncompressed body exceeds `distributor.max_recv_msg_size`, 100 MB by default.",
        action: "Send smaller batches, or raise `distributor.max_recv_msg_size`.",
        probe: Probe::Default {
            key: "distributor.max_recv_msg_size",
        },
        verified_live: false,
    },
    // CHANGELOG 3.6.0: "**structured metadata:** Unescape JSON structured metadata
    // string values (#13919)"; also "correctly handle escaping in json parsing API
    // (#17068)"
    NamedChange {
        id: "loki-3.6-structured-metadata-json-unescaped",
        project: Project::Loki,
        release: "3.6.0",
        pr: 13919,
        kind: ChangeKind::Ingest,
        summary: r#"Structured metadata values sent in a JSON push are unescaped (`\n` becomes a newline, `\"` a quote); they were stored with their escapes."#,
        action: "Match such values by their real characters, not their escaped form.",
        probe: Probe::Documented {
            reason: "The workload's metadata values (`trace_id`, `pod`) contain nothing to escape; a value with an escaped quote or newline would show it.",
        },
        verified_live: false,
    },
    // CHANGELOG 3.6.0: "**logql:** Fix inconsistency with parsed field short
    // circuiting (#17104)"
    NamedChange {
        id: "loki-3.6-parsed-field-precedence-consistent",
        project: Project::Loki,
        release: "3.6.0",
        pr: 17104,
        kind: ChangeKind::QuerySemantics,
        summary: "Whether a field parsed from the line takes precedence over structured metadata of the same name no longer depends on the first line a query happens to read.",
        action: "Re-check queries that filter on a name present both as structured metadata and in the line (such as `trace_id`); from 3.7 the parsed one is named `<name>_extracted`.",
        probe: Probe::Documented {
            reason: "The workload's structured `trace_id` equals the `trace_id` in its line, so whichever wins, the answer is the same.",
        },
        verified_live: false,
    },
    // CHANGELOG 3.6.0: "persist patterns as aggregated metrics (#17737)"; the
    // configuration reference renames `downsample_period` to `sample_period`.
    NamedChange {
        id: "loki-3.6-pattern-aggregation-sample-period",
        project: Project::Loki,
        release: "3.6.0",
        pr: 17737,
        kind: ChangeKind::Config,
        summary: "`pattern_ingester.metric_aggregation.downsample_period` is renamed `sample_period`.",
        action: "Rename the key; a configuration that still sets `downsample_period` is refused.",
        probe: Probe::RemovedKey {
            key: "pattern_ingester.metric_aggregation.downsample_period",
        },
        verified_live: false,
    },
    // CHANGELOG 3.6.x: "⚠ BREAKING CHANGES: move the Loki UI to a Grafana Plugin
    // (#19390)"; the configuration reference drops the `ui` cluster settings.
    NamedChange {
        id: "loki-3.6-ui-moved-to-grafana-plugin",
        project: Project::Loki,
        release: "3.6.0",
        pr: 19390,
        kind: ChangeKind::Removal,
        summary: "Loki's built-in web UI moved to a Grafana plugin; the `ui` block keeps `enabled` but loses its cluster settings (`node_name`, `advertise_addr`, `discovery`, …).",
        action: "Use the UI through its Grafana plugin, and delete the removed `ui` settings, which are refused.",
        probe: Probe::RemovedKey {
            key: "ui.discovery.join_peers",
        },
        verified_live: false,
    },
    // Loki 3.6.0's release notes list the image without busybox (#19502); the
    // upgrade guide dates the removal to 3.5.8, the release notes to 3.6.0.
    NamedChange {
        id: "loki-3.6-image-without-shell",
        project: Project::Loki,
        release: "3.6.0",
        pr: 19502,
        kind: ChangeKind::Removal,
        summary: "The Loki image no longer contains busybox: there is no `/bin/sh`, `wget` or other tool inside the container.",
        action: "Replace in-container healthchecks (`wget … /ready`) with checks from outside, and debug with `kubectl debug` instead of a shell in the container.",
        probe: Probe::Documented {
            reason: "The gate checks Loki over HTTP from outside the container; a healthcheck that runs a shell inside it would show the change.",
        },
        verified_live: false,
    },
    // ----------------------------------------------------------------- Loki 3.7
    // CHANGELOG 3.7.0: "⚠ BREAKING CHANGES: parsed labels should not override
    // structured metadata (#19991)"
    NamedChange {
        id: "loki-3.7-parsed-labels-keep-structured-metadata",
        project: Project::Loki,
        release: "3.7.0",
        pr: 19991,
        kind: ChangeKind::QuerySemantics,
        summary: "A label parsed from the line (`| json`, `| logfmt`, …) no longer overrides structured metadata of the same name: the parsed one is named `<name>_extracted`.",
        action: r#"Filter on the line's field as `<name>_extracted` (`| logfmt | trace_id_extracted="…"`); `<name>` is now the structured metadata."#,
        probe: Probe::Query {
            language: Language::LogQl,
            query: r#"sum(count_over_time({job="lgtm-gate", format="logfmt"} | logfmt | trace_id_extracted != "" [5m]))"#,
        },
        verified_live: false,
    },
    // Commit in v3.7.0: "fix: improve log line level detection (#19944)" (word
    // boundaries), refined by "chore: Improve level detection and best guess
    // capability (#21132)".
    NamedChange {
        id: "loki-3.7-level-detection-whole-words",
        project: Project::Loki,
        release: "3.7.0",
        pr: 19944,
        kind: ChangeKind::Ingest,
        summary: "Level detection in unstructured lines looks for a level as a whole word, in any case, and takes the first one in the line (`ERROR`, `WARN` and `Debug` count; `terror` and `misc:error` do not).",
        action: "Expect `detected_level` of plain-text lines to change again: `ERROR …` is `error` and `WARN …` is `warn`.",
        probe: Probe::Query {
            language: Language::LogQl,
            query: r#"sum by (detected_level) (count_over_time({job="lgtm-gate", format="plain"}[5m]))"#,
        },
        verified_live: false,
    },
    // CHANGELOG 3.7.0: "**server:** return status bad request code for interval
    // limit error (#19895)"
    NamedChange {
        id: "loki-3.7-interval-limit-400",
        project: Project::Loki,
        release: "3.7.0",
        pr: 19895,
        kind: ChangeKind::HttpApi,
        summary: "A query refused with `[interval] value exceeds limit` (a range selector too long) is answered 400 Bad Request instead of a server error.",
        action: "Treat it as the query's fault: shorten the range selector rather than retrying.",
        probe: Probe::Documented {
            reason: "The gate's range selectors (`[5m]`) stay far within the limit.",
        },
        verified_live: false,
    },
    // ---------------------------------------------------------------- Tempo 2.7
    // CHANGELOG 2.7.0: "[ENHANCEMENT] Use Prometheus fast regexp for TraceQL regular
    // expression matchers. #4329 — **BREAKING CHANGE** All regular expression
    // matchers will now be fully anchored. `span.foo =~ "bar"` will now be evaluated
    // as `span.foo =~ "^bar$"`". Upgrade guide 2.7: "Anchored regular expressions
    // matchers in TraceQL".
    NamedChange {
        id: "tempo-2.7-traceql-regex-anchored",
        project: Project::Tempo,
        release: "2.7.0",
        pr: 4329,
        kind: ChangeKind::QuerySemantics,
        summary: "TraceQL regex matchers are fully anchored: `span.foo =~ \"bar\"` now means `=~ \"^bar$\"`, so a pattern that matched part of a value no longer matches.",
        action: "Write the partial match explicitly: `=~ \".*users.*\"` instead of `=~ \"users\"`.",
        probe: Probe::Query {
            language: Language::TraceQl,
            query: r#"{ span.http.route =~ "users" }"#,
        },
        verified_live: true,
    },
    // CHANGELOG 2.7.0: "[ENHANCEMENT] **BREAKING CHANGE** Add maximum spans per span
    // set. Users can set `max_spans_per_span_set` to 0 to obtain the old behavior.
    // [#4275](https://github.com/grafana/tempo/pull/4383)" — the link, and the
    // commit, are #4383. Upgrade guide 2.7: "Maximum spans per span set".
    NamedChange {
        id: "tempo-2.7-max-spans-per-span-set",
        project: Project::Tempo,
        release: "2.7.0",
        pr: 4383,
        kind: ChangeKind::Default,
        summary: "Search refuses a request for more than 100 spans per span set (`spss`) with 400 Bad Request: `query_frontend.search.max_spans_per_span_set` defaults to 100.",
        action: "Ask for at most 100 spans per span set, or set `query_frontend.search.max_spans_per_span_set: 0` to restore the old, unlimited behaviour.",
        probe: Probe::Default {
            key: "query_frontend.search.max_spans_per_span_set",
        },
        verified_live: false,
    },
    // CHANGELOG 2.7.0: "[CHANGE] Update the Open-Telemetry dependencies to v0.116.0
    // #4466 — **BREAKING CHANGE** After this update the Open-Telemetry Collector
    // receiver will connect to `localhost` instead of all interfaces `0.0.0.0`."
    // (The upgrade guide cites #4465.)
    NamedChange {
        id: "tempo-2.7-receivers-bind-localhost",
        project: Project::Tempo,
        release: "2.7.0",
        pr: 4466,
        kind: ChangeKind::Default,
        summary: "OTLP and other receivers without an explicit `endpoint` listen on `localhost` instead of `0.0.0.0`, so Tempo in a container no longer receives spans from outside it.",
        action: "Set each receiver's endpoint explicitly, e.g. `distributor.receivers.otlp.protocols.http.endpoint: \"tempo:4318\"` (or `0.0.0.0:4318`).",
        probe: Probe::Documented {
            reason: "The gate's Tempo configuration sets both OTLP endpoints to `0.0.0.0` explicitly; a configuration that leaves them out would show it (no span arrives).",
        },
        verified_live: false,
    },
    // CHANGELOG 2.7.0: "**BREAKING CHANGE** Migrate from OpenTracing to OpenTelemetry
    // instrumentation. Removed the `use_otel_tracer` configuration option. #4028,#3646"
    NamedChange {
        id: "tempo-2.7-use-otel-tracer-removed",
        project: Project::Tempo,
        release: "2.7.0",
        pr: 3646,
        kind: ChangeKind::Config,
        summary: "The `use_otel_tracer` option is removed: Tempo's own tracing is always OpenTelemetry, configured by the standard `OTEL_*` environment variables.",
        action: "Delete `use_otel_tracer` (a configuration that sets it is refused) and configure Tempo's own tracing with `OTEL_*` variables, e.g. `OTEL_TRACES_EXPORTER`.",
        probe: Probe::RemovedKey {
            key: "use_otel_tracer",
        },
        verified_live: false,
    },
    // CHANGELOG 2.7.0: "Prevent massive allocations in the frontend … #3996 —
    // **BREAKING CHANGE** Removed `querier_forget_delay` setting from the frontend.
    // This configuration option did nothing."
    NamedChange {
        id: "tempo-2.7-querier-forget-delay-removed",
        project: Project::Tempo,
        release: "2.7.0",
        pr: 3996,
        kind: ChangeKind::Config,
        summary: "`query_frontend.querier_forget_delay`, which did nothing, is removed.",
        action: "Delete it from the configuration; a configuration that sets it is refused.",
        probe: Probe::RemovedKey {
            key: "query_frontend.querier_forget_delay",
        },
        verified_live: false,
    },
    // CHANGELOG 2.7.0: "[CHANGE] update default config values to better align with
    // production workloads #4340" (ingester_shards 1 -> 3)
    NamedChange {
        id: "tempo-2.7-search-ingester-shards-default",
        project: Project::Tempo,
        release: "2.7.0",
        pr: 4340,
        kind: ChangeKind::Default,
        summary: "Search splits its ingester request into 3 shards by default (`query_frontend.search.ingester_shards`, was 1).",
        action: "Nothing for results; set `ingester_shards: 1` to keep the old number of ingester jobs per search.",
        probe: Probe::Default {
            key: "query_frontend.search.ingester_shards",
        },
        verified_live: false,
    },
    // Same PR (#4340): max_bytes_per_tag_values_query 5000000 -> 1000000.
    NamedChange {
        id: "tempo-2.7-tag-values-response-limit-default",
        project: Project::Tempo,
        release: "2.7.0",
        pr: 4340,
        kind: ChangeKind::Default,
        summary: "A tag-values response is capped at 1 MB by default (`max_bytes_per_tag_values_query`, was 5 MB), so tags with many values list fewer of them.",
        action: "Raise `overrides.defaults.read.max_bytes_per_tag_values_query` if tag-value lists come back truncated.",
        probe: Probe::Default {
            key: "overrides.defaults.read.max_bytes_per_tag_values_query",
        },
        verified_live: false,
    },
    // CHANGELOG 2.7.0: "[CHANGE] Return 422 for TRACE_TOO_LARGE queries #4160"
    NamedChange {
        id: "tempo-2.7-trace-too-large-422",
        project: Project::Tempo,
        release: "2.7.0",
        pr: 4160,
        kind: ChangeKind::HttpApi,
        summary: "Fetching a trace larger than the size limit is answered 422 Unprocessable Entity instead of a server error.",
        action: "Treat 422 from trace by ID as \"too large\", not as an outage; raise `max_bytes_per_trace` if such traces must be read.",
        probe: Probe::Documented {
            reason: "The workload's traces are far below the trace size limit.",
        },
        verified_live: false,
    },
    // CHANGELOG 2.7.0: "[BUGFIX] Fix traceql metrics returning incorrect data for
    // falsey queries and unscoped attributes #4409" (commit: "Fix falsey metrics
    // queries to not return any data")
    NamedChange {
        id: "tempo-2.7-metrics-falsey-query-empty",
        project: Project::Tempo,
        release: "2.7.0",
        pr: 4409,
        kind: ChangeKind::QuerySemantics,
        summary: "A TraceQL metrics query whose filter can never match (`{ false }`) returns no data; it returned data.",
        action: "Trust empty TraceQL metrics for such filters; re-check panels built on them.",
        probe: Probe::Query {
            language: Language::TraceQl,
            query: "{ false } | count_over_time()",
        },
        verified_live: true,
    },
    // Same PR (#4409): "Fix metrics evaluator incorrectly optimizing away callback
    // when unscoped attrs present".
    NamedChange {
        id: "tempo-2.7-metrics-unscoped-attribute",
        project: Project::Tempo,
        release: "2.7.0",
        pr: 4409,
        kind: ChangeKind::QuerySemantics,
        summary: "TraceQL metrics over a filter on an unscoped attribute (`.http.route`) count only the matching spans; the filter could be skipped.",
        action: "Re-check TraceQL metrics panels that filter on unscoped attributes: their values drop to the matching spans.",
        probe: Probe::Query {
            language: Language::TraceQl,
            query: r#"{ .http.route = "/health" } | count_over_time()"#,
        },
        verified_live: true,
    },
    // CHANGELOG 2.7.0: "[FEATURE] TraceQL metrics queries: add min_over_time #3975"
    NamedChange {
        id: "tempo-2.7-metrics-min-over-time",
        project: Project::Tempo,
        release: "2.7.0",
        pr: 3975,
        kind: ChangeKind::QuerySemantics,
        summary: "TraceQL metrics gain `min_over_time()`; the query was refused before.",
        action: "Use `| min_over_time(duration)` for the smallest value per step.",
        probe: Probe::Query {
            language: Language::TraceQl,
            query: r#"{ resource.service.name = "checkout" } | min_over_time(duration)"#,
        },
        verified_live: true,
    },
    // CHANGELOG 2.7.0: "[FEATURE] TraceQL metrics queries: add max_over_time #4065"
    NamedChange {
        id: "tempo-2.7-metrics-max-over-time",
        project: Project::Tempo,
        release: "2.7.0",
        pr: 4065,
        kind: ChangeKind::QuerySemantics,
        summary: "TraceQL metrics gain `max_over_time()`; the query was refused before.",
        action: "Use `| max_over_time(duration)` for the largest value per step.",
        probe: Probe::Query {
            language: Language::TraceQl,
            query: r#"{ resource.service.name = "checkout" } | max_over_time(duration)"#,
        },
        verified_live: true,
    },
    // CHANGELOG 2.7.0: "[FEATURE] TraceQL metrics: avg_over_time #4073"
    NamedChange {
        id: "tempo-2.7-metrics-avg-over-time",
        project: Project::Tempo,
        release: "2.7.0",
        pr: 4073,
        kind: ChangeKind::QuerySemantics,
        summary: "TraceQL metrics gain `avg_over_time()`; the query was refused before.",
        action: "Use `| avg_over_time(duration)` for the mean per step (its calculation is corrected in 2.10.1).",
        probe: Probe::Query {
            language: Language::TraceQl,
            query: r#"{ resource.service.name = "checkout" } | avg_over_time(duration)"#,
        },
        verified_live: true,
    },
    // CHANGELOG 2.7.1: "[CHANGE] Default to snappy compression for all gRPC
    // communications internal to Tempo. #4696". (2.7.0 had disabled compression in
    // the querier and distributor, #4429; 2.7.1 set snappy everywhere.)
    NamedChange {
        id: "tempo-2.7-grpc-compression-snappy",
        project: Project::Tempo,
        release: "2.7.1",
        pr: 4696,
        kind: ChangeKind::Default,
        summary: "Internal gRPC traffic is compressed with snappy by default; the querier's connection to the query frontend used gzip.",
        action: "Expect less CPU and more bytes between components; set `grpc_compression` on the clients to keep gzip or turn compression off.",
        probe: Probe::Default {
            key: "querier.frontend_worker.grpc_client_config.grpc_compression",
        },
        verified_live: false,
    },
    // ---------------------------------------------------------------- Tempo 2.8
    // CHANGELOG 2.8.0: "[CHANGE] **BREAKING CHANGE** Change default http-listen-port
    // from 80 to 3200 #4960"
    NamedChange {
        id: "tempo-2.8-http-listen-port-3200",
        project: Project::Tempo,
        release: "2.8.0",
        pr: 4960,
        kind: ChangeKind::Default,
        summary: "Tempo's HTTP server listens on port 3200 by default, not 80.",
        action: "Set `server.http_listen_port` explicitly, or point clients, probes and datasources at port 3200.",
        probe: Probe::Default {
            key: "server.http_listen_port",
        },
        verified_live: false,
    },
    // CHANGELOG 2.8.0: "[CHANGE] **BREAKING CHANGE** Remove tempo serverless. The
    // following configuration options are no longer valid … #4599"
    NamedChange {
        id: "tempo-2.8-serverless-removed",
        project: Project::Tempo,
        release: "2.8.0",
        pr: 4599,
        kind: ChangeKind::Removal,
        summary: "Tempo serverless is removed, with its options `querier.search.external_endpoints`, `external_backend`, `google_cloud_run`, `prefer_self` and `external_hedge_requests_*`.",
        action: "Delete those options (a configuration that sets them is refused) and scale queriers instead.",
        probe: Probe::RemovedKey {
            key: "querier.search.external_endpoints",
        },
        verified_live: false,
    },
    // CHANGELOG 2.8.0: "[CHANGE] **BREAKING CHANGE** Enforce max attribute size at
    // event, link, and instrumentation scope. Make config per-tenant. Renamed
    // max_span_attr_byte to max_attribute_bytes #4633"
    NamedChange {
        id: "tempo-2.8-max-span-attr-byte-renamed",
        project: Project::Tempo,
        release: "2.8.0",
        pr: 4633,
        kind: ChangeKind::Config,
        summary: "`distributor.max_span_attr_byte` is renamed `max_attribute_bytes`, becomes a per-tenant limit and also truncates event, link and scope attributes.",
        action: "Rename the setting (the old key is refused) and move it to the overrides if it differs per tenant.",
        probe: Probe::RemovedKey {
            key: "distributor.max_span_attr_byte",
        },
        verified_live: false,
    },
    // CHANGELOG 2.8.0: "**BREAKING CHANGE** Upgrade OTEL Collector to v0.122.1. The
    // `name` dimension from `tempo_receiver_accepted_span` and
    // `tempo_receiver_refused_spans` changes from `tempo/jaeger_receiver` to
    // `jaeger/jaeger_receiver`. #4893"
    NamedChange {
        id: "tempo-2.8-receiver-metric-name-label",
        project: Project::Tempo,
        release: "2.8.0",
        pr: 4893,
        kind: ChangeKind::HttpApi,
        summary: "The `name` label of `tempo_receiver_accepted_spans` and `tempo_receiver_refused_spans` changes, e.g. from `tempo/jaeger_receiver` to `jaeger/jaeger_receiver`.",
        action: "Update dashboards and alerts that select these metrics by `name`.",
        probe: Probe::Documented {
            reason: "The gate queries traces, not Tempo's own metrics.",
        },
        verified_live: false,
    },
    // CHANGELOG 2.8.0: "[BUGFIX] TraceQL: Fix behavior of {} >> { span.attr-that-
    // doesnt-exist != "foo" } #5007" (commit: "Fix issue where != was returning true
    // when an attr value did not exist")
    NamedChange {
        id: "tempo-2.8-not-equal-needs-attribute",
        project: Project::Tempo,
        release: "2.8.0",
        pr: 5007,
        kind: ChangeKind::QuerySemantics,
        summary: "In structural queries, `span.x != \"foo\"` no longer matches spans that have no `x` at all.",
        action: "Where spans without the attribute should match too, write `(span.x != \"foo\" || span.x = nil)` (2.10 and later).",
        probe: Probe::Query {
            language: Language::TraceQl,
            query: r#"{ } >> { span.gate.absent != "foo" }"#,
        },
        verified_live: false,
    },
    // CHANGELOG 2.8.0: "[BUGFIX] Make comparison to nil symmetric #4869" (commit:
    // "Fix false matches for {} | avg(.dne) != 0")
    NamedChange {
        id: "tempo-2.8-aggregate-over-missing-attribute",
        project: Project::Tempo,
        release: "2.8.0",
        pr: 4869,
        kind: ChangeKind::QuerySemantics,
        summary: "An aggregate over an attribute no span has (`avg(span.x) != 0`) no longer matches, and `nil != x` now means the same as `x != nil`.",
        action: "Re-check searches that aggregate over optional attributes; traces without the attribute drop out.",
        probe: Probe::Query {
            language: Language::TraceQl,
            query: "{ } | avg(span.gate.absent) != 0",
        },
        verified_live: false,
    },
    // CHANGELOG 2.8.0: "[BUGFIX] Fix behavior for queries like {.foo && true} and
    // {.foo || false} #4855"
    NamedChange {
        id: "tempo-2.8-boolean-attribute-with-static",
        project: Project::Tempo,
        release: "2.8.0",
        pr: 4855,
        kind: ChangeKind::QuerySemantics,
        summary: "Filters that combine a boolean attribute with a constant (`{ .foo && true }`, `{ .foo || false }`) match by the attribute's value.",
        action: "Re-check searches of that shape; their results change to the spans whose attribute is true.",
        probe: Probe::Documented {
            reason: "The workload has no boolean span attribute; one (e.g. `cache.hit`) would show it with `{ span.cache.hit && true }`.",
        },
        verified_live: false,
    },
    // ---------------------------------------------------------------- Tempo 2.9
    // CHANGELOG 2.9.0: "[CHANGE] **BREAKING CHANGE** TraceQL Metrics buckets are
    // calculated based on data in past. #5366". Upgrade guide 2.9: "Bucket
    // calculation changes … aligns behavior with Prometheus".
    NamedChange {
        id: "tempo-2.9-metrics-buckets-left-open",
        project: Project::Tempo,
        release: "2.9.0",
        pr: 5366,
        kind: ChangeKind::QuerySemantics,
        summary: "A TraceQL metrics sample at time t covers the step before it, `(t-step, t]`, as in Prometheus; it covered the step after, `[t, t+step)`, which left the last bucket empty.",
        action: "Expect every series to move by one step; review alerts and dashboards that read the first or last bucket.",
        probe: Probe::Query {
            language: Language::TraceQl,
            query: r#"{ resource.service.name = "checkout" } | count_over_time()"#,
        },
        verified_live: false,
    },
    // CHANGELOG 2.9.0: "[BUGFIX] Correct instant query calculation. #5252"
    NamedChange {
        id: "tempo-2.9-metrics-instant-query",
        project: Project::Tempo,
        release: "2.9.0",
        pr: 5252,
        kind: ChangeKind::QuerySemantics,
        summary: "A TraceQL metrics instant query (`/api/metrics/query`) returns exactly one value per series, computed over the whole range.",
        action: "Re-check panels that use instant TraceQL metrics queries; their values change.",
        probe: Probe::Query {
            language: Language::TraceQl,
            query: r#"{ resource.service.name = "checkout" } | count_over_time()"#,
        },
        verified_live: false,
    },
    // CHANGELOG 2.9.0: "[CHANGE] **BREAKING CHANGE** Fix incorrect TraceQL metrics
    // results when series labels include strings and integers with same textural
    // representation. This also changes the TraceQL metrics responses of
    // `/api/metrics/query_range` and `/api/metrics/query` to remove the redundant
    // `prom_labels` field … #5659"
    NamedChange {
        id: "tempo-2.9-metrics-prom-labels-removed",
        project: Project::Tempo,
        release: "2.9.0",
        pr: 5659,
        kind: ChangeKind::HttpApi,
        summary: "TraceQL metrics responses drop the `prom_labels` field, and series whose labels differ only as string versus integer (`\"500\"` and `500`) stay apart.",
        action: "Read series labels from `labels`, not `prom_labels`.",
        probe: Probe::Documented {
            reason: "The gate reads `labels`, and no workload attribute holds both a string and an integer of the same text.",
        },
        verified_live: false,
    },
    // CHANGELOG 2.9.0: "[BUGFIX] Fix incorrect TraceQL string comparison of strings
    // starting with numbers. #5658"
    NamedChange {
        id: "tempo-2.9-string-comparison-unquoted",
        project: Project::Tempo,
        release: "2.9.0",
        pr: 5658,
        kind: ChangeKind::QuerySemantics,
        summary: "TraceQL `<`, `<=`, `>`, `>=` on strings compare the values themselves; they compared the quoted values, which got strings starting with digits (and other characters before a backtick) wrong.",
        action: "Re-check searches that compare strings with `<` or `>`; their results change.",
        probe: Probe::Query {
            language: Language::TraceQl,
            query: r#"{ resource.gate.seed > "" }"#,
        },
        verified_live: true,
    },
    // CHANGELOG 2.9.0: "[BUGFIX] Fix for structural operator with empty left-hand
    // spanset. #5578"
    NamedChange {
        id: "tempo-2.9-structural-empty-left-side",
        project: Project::Tempo,
        release: "2.9.0",
        pr: 5578,
        kind: ChangeKind::QuerySemantics,
        summary: "A structural query whose left side matches nothing is evaluated: the negated operators (`{ name = \"none\" } !< { … }`) return the right side's spans, where nothing came back.",
        action: "Re-check searches with `!<`, `!>`, `!<<`, `!>>` or `!~`; they may now return traces.",
        probe: Probe::Query {
            language: Language::TraceQl,
            query: r#"{ name = "no such span" } !< { name = "SELECT users" }"#,
        },
        verified_live: true,
    },
    // CHANGELOG 2.9.0: "[BUGFIX] Do not allow very small steps. #5441" (commit:
    // "Checks if step is too small and generates too many time series")
    NamedChange {
        id: "tempo-2.9-metrics-small-step-refused",
        project: Project::Tempo,
        release: "2.9.0",
        pr: 5441,
        kind: ChangeKind::HttpApi,
        summary: "A TraceQL metrics range query whose step would yield too many points is refused.",
        action: "Use a larger `step` for long ranges.",
        probe: Probe::Documented {
            reason: "The gate's step (15s over five minutes) is far from the limit.",
        },
        verified_live: false,
    },
    // CHANGELOG 2.9.0: "[CHANGE] Return Bad Request from all frontend endpoints if
    // the tenant can't be extracted. #5480"
    NamedChange {
        id: "tempo-2.9-tenant-extraction-400",
        project: Project::Tempo,
        release: "2.9.0",
        pr: 5480,
        kind: ChangeKind::HttpApi,
        summary: "Every query-frontend endpoint answers 400 Bad Request when it cannot tell the tenant of a request.",
        action: "With multitenancy on, send `X-Scope-OrgID` on every request, including tag and metrics endpoints.",
        probe: Probe::Documented {
            reason: "The gate runs Tempo single-tenant.",
        },
        verified_live: false,
    },
    // --------------------------------------------------------------- Tempo 2.10
    // CHANGELOG 2.10.0: "[FEATURE] TraceQL: Add support for attribute = nil #4905"
    NamedChange {
        id: "tempo-2.10-equals-nil",
        project: Project::Tempo,
        release: "2.10.0",
        pr: 4905,
        kind: ChangeKind::QuerySemantics,
        summary: "TraceQL supports `attribute = nil`, which matches spans without the attribute.",
        action: "Use `{ span.x = nil }` to find spans missing an attribute.",
        probe: Probe::Query {
            language: Language::TraceQl,
            query: "{ span.db.system = nil }",
        },
        verified_live: true,
    },
    // CHANGELOG 2.10.0: "[CHANGE] **BREAKING CHANGE** Validate tenant ID in frontend
    // and distributor #5786"
    NamedChange {
        id: "tempo-2.10-tenant-id-validated",
        project: Project::Tempo,
        release: "2.10.0",
        pr: 5786,
        kind: ChangeKind::HttpApi,
        summary: "Tenant IDs are validated as in Mimir (letters, digits and `!-_.*'()`, at most 150 characters, not empty, `.` or `..`); other IDs are refused on write and read.",
        action: "Rename tenants whose IDs break these rules before upgrading.",
        probe: Probe::Documented {
            reason: "The gate runs Tempo single-tenant.",
        },
        verified_live: false,
    },
    // CHANGELOG 2.10.0: "[CHANGE] Remove vParquet2 encoding #6071 — **BREAKING
    // CHANGE** … It will no longer be recognized as a valid encoding and cannot read
    // any remaining vParquet2 blocks."
    NamedChange {
        id: "tempo-2.10-vparquet2-removed",
        project: Project::Tempo,
        release: "2.10.0",
        pr: 6071,
        kind: ChangeKind::Removal,
        summary: "The vParquet2 block format is removed: `storage.trace.block.version: vParquet2` is refused and existing vParquet2 blocks cannot be read.",
        action: "Before upgrading, write vParquet3 or later and wait until every vParquet2 block has expired.",
        probe: Probe::Documented {
            reason: "The gate's Tempo writes the default block format, and each side starts with empty storage.",
        },
        verified_live: false,
    },
    // CHANGELOG 2.10.0: "[CHANGE] Remove busybox from Tempo image to make it more
    // minimal and prevent future vulnerabilities #5717"
    NamedChange {
        id: "tempo-2.10-image-without-shell",
        project: Project::Tempo,
        release: "2.10.0",
        pr: 5717,
        kind: ChangeKind::Removal,
        summary: "The Tempo image no longer contains busybox: there is no shell or other tool inside the container.",
        action: "Run init steps such as `chown` in a separate image, and debug with `kubectl debug` instead of a shell in the container.",
        probe: Probe::Documented {
            reason: "The gate checks Tempo over HTTP from outside the container.",
        },
        verified_live: false,
    },
    // CHANGELOG 2.10.1: "[BUGFIX] Correct instant query calculation for rate()
    // #6205"
    NamedChange {
        id: "tempo-2.10-metrics-instant-rate",
        project: Project::Tempo,
        release: "2.10.1",
        pr: 6205,
        kind: ChangeKind::QuerySemantics,
        summary: "An instant TraceQL metrics `rate()` returns the right rate; the instant flag was not passed on, so it was computed as for a range query.",
        action: "Re-check panels and alerts built on instant `| rate()` queries.",
        probe: Probe::Query {
            language: Language::TraceQl,
            query: r#"{ resource.service.name = "checkout" } | rate()"#,
        },
        verified_live: false,
    },
    // CHANGELOG 2.10.1: "[BUGFIX] Correct avg_over_time calculation #6252"
    NamedChange {
        id: "tempo-2.10-metrics-avg-over-time-fixed",
        project: Project::Tempo,
        release: "2.10.1",
        pr: 6252,
        kind: ChangeKind::QuerySemantics,
        summary: "TraceQL metrics `avg_over_time()` computes the correct mean; it was miscalculated.",
        action: "Re-check panels built on `| avg_over_time(…)`: their values change.",
        probe: Probe::Query {
            language: Language::TraceQl,
            query: r#"{ resource.service.name = "checkout" } | avg_over_time(duration)"#,
        },
        verified_live: false,
    },
    // CHANGELOG 2.10.2: "[CHANGE] Set default `max_result_limit` for search to
    // 256*1024 #6525"
    NamedChange {
        id: "tempo-2.10-search-max-result-limit-default",
        project: Project::Tempo,
        release: "2.10.2",
        pr: 6525,
        kind: ChangeKind::Default,
        summary: "A search may ask for at most 262144 traces (`query_frontend.search.max_result_limit`, was unlimited).",
        action: "Keep `limit` at or below 262144, or raise `max_result_limit`.",
        probe: Probe::Default {
            key: "query_frontend.search.max_result_limit",
        },
        verified_live: false,
    },
    // CHANGELOG 2.10.6: "🛑 Breaking changes 🛑 `distributor`: Dropped support for the
    // OpenCensus receiver. (#7322)"
    NamedChange {
        id: "tempo-2.10-opencensus-receiver-removed",
        project: Project::Tempo,
        release: "2.10.6",
        pr: 7322,
        kind: ChangeKind::Removal,
        summary: "The OpenCensus receiver is removed; a configuration that enables it is refused.",
        action: "Send spans over OTLP and delete `distributor.receivers.opencensus`.",
        probe: Probe::RemovedKey {
            key: "distributor.receivers.opencensus",
        },
        verified_live: false,
    },
    // --------------------------------------------------------------- Mimir 2.15
    // CHANGELOG 2.15.0: "[CHANGE] Querier: Lookback and range selectors are left
    // open and right closed (previously left closed and right closed) … This
    // upgrades PromQL compatibility from Prometheus 2.0 to 3.0. #9844 #10188"
    NamedChange {
        id: "mimir-2.15-range-selectors-left-open",
        project: Project::Mimir,
        release: "2.15.0",
        pr: 9844,
        kind: ChangeKind::QuerySemantics,
        summary: "PromQL range selectors and the lookback are left-open, as in Prometheus 3: `[1m]` at time t covers `(t-1m, t]`, so a sample exactly at t-1m no longer counts.",
        action: "Expect one sample fewer wherever samples align with the evaluation time; widen ranges that needed it (with a 1m scrape interval, `rate(x[1m])` needs `[2m]`).",
        probe: Probe::Query {
            language: Language::PromQl,
            query: r#"count_over_time(gate_inflight_requests{job="lgtm-gate"}[1m])"#,
        },
        verified_live: false,
    },
    // Release notes 2.15: "PromQL compatibility has been upgraded from Prometheus
    // 2.0 to 3.0" (#9844), pointing at the Prometheus 3.0 migration guide;
    // Prometheus 3.0.0: "holt_winters is now called double_exponential_smoothing and
    // moves behind the experimental-promql-functions feature flag. #14930".
    // CHANGELOG 2.15.0: "Add experimental `double_exponential_smoothing` PromQL
    // function. Experimental functions are disabled by default … #9844"
    NamedChange {
        id: "mimir-2.15-holt-winters-renamed",
        project: Project::Mimir,
        release: "2.15.0",
        pr: 9844,
        kind: ChangeKind::QuerySemantics,
        summary: "`holt_winters` is no longer a PromQL function: Prometheus 3 renamed it `double_exponential_smoothing`, an experimental function that is off by default.",
        action: "Rewrite queries as `double_exponential_smoothing(…)` and enable experimental functions for the tenant, or drop them.",
        probe: Probe::Query {
            language: Language::PromQl,
            query: r#"holt_winters(gate_temperature_celsius{job="lgtm-gate"}[5m], 0.5, 0.5)"#,
        },
        verified_live: false,
    },
    // CHANGELOG 2.15.0: "[CHANGE] Querier: The `.` pattern in regular expressions in
    // PromQL matches newline characters. … #9844"
    NamedChange {
        id: "mimir-2.15-regex-dot-matches-newline",
        project: Project::Mimir,
        release: "2.15.0",
        pr: 9844,
        kind: ChangeKind::QuerySemantics,
        summary: "In PromQL regular expressions `.` matches a newline, so `=~\"foo.*\"` also matches label values that contain `\\n`.",
        action: "Write `[^\\n]` instead of `.` where a newline must not match.",
        probe: Probe::Documented {
            reason: "No label value of the workload contains a newline; a series with one (e.g. `note=\"a\\nb\"`) would show it with `count(gate_note{note=~\"a.b\"})`.",
        },
        verified_live: false,
    },
    // CHANGELOG 2.15.0: "[CHANGE] Querier: promql(native histograms): Introduce
    // exponential interpolation. #9844"
    NamedChange {
        id: "mimir-2.15-native-histogram-exponential-interpolation",
        project: Project::Mimir,
        release: "2.15.0",
        pr: 9844,
        kind: ChangeKind::QuerySemantics,
        summary: "`histogram_quantile` over native histograms interpolates exponentially within a bucket, so its values change.",
        action: "Expect different quantiles from native histograms; classic histograms are unchanged.",
        probe: Probe::Documented {
            reason: "The workload sends classic histograms only.",
        },
        verified_live: false,
    },
    // CHANGELOG 2.15.0: "[CHANGE] Remove deprecated
    // `api.get-request-for-ingester-shutdown-enabled` setting, which scheduled for
    // removal in 2.15. #10197"
    NamedChange {
        id: "mimir-2.15-ingester-shutdown-get-removed",
        project: Project::Mimir,
        release: "2.15.0",
        pr: 10197,
        kind: ChangeKind::Config,
        summary: "The deprecated `api.get_request_for_ingester_shutdown_enabled` setting is removed, so the ingester's shutdown endpoint no longer accepts GET.",
        action: "Delete the setting (it is refused) and call `/ingester/shutdown` with POST.",
        probe: Probe::RemovedKey {
            key: "api.get_request_for_ingester_shutdown_enabled",
        },
        verified_live: false,
    },
    // CHANGELOG 2.15.0: "[CHANGE] Distributor: Drop experimental
    // `-distributor.direct-otlp-translation-enabled` flag, since direct OTLP
    // translation is well tested at this point. #9647"
    NamedChange {
        id: "mimir-2.15-direct-otlp-translation-flag-removed",
        project: Project::Mimir,
        release: "2.15.0",
        pr: 9647,
        kind: ChangeKind::Config,
        summary: "The experimental `distributor.direct_otlp_translation_enabled` setting is removed; direct OTLP translation is always on.",
        action: "Delete the setting; a configuration that sets it is refused.",
        probe: Probe::RemovedKey {
            key: "distributor.direct_otlp_translation_enabled",
        },
        verified_live: false,
    },
    // CHANGELOG 2.15.0: "[CHANGE] Ingester: Replace `cortex_discarded_samples_total`
    // label from `sample-out-of-bounds` to `sample-timestamp-too-old`. #9885"
    NamedChange {
        id: "mimir-2.15-discarded-reason-renamed",
        project: Project::Mimir,
        release: "2.15.0",
        pr: 9885,
        kind: ChangeKind::HttpApi,
        summary: "`cortex_discarded_samples_total` reports samples that are too old with `reason=\"sample-timestamp-too-old\"` instead of `sample-out-of-bounds`.",
        action: "Update alerts and dashboards that select the old reason.",
        probe: Probe::Documented {
            reason: "The gate queries the workload's metrics, not Mimir's own.",
        },
        verified_live: false,
    },
    // CHANGELOG 2.15.0: "[ENHANCEMENT] The distributor now validates that received
    // label values only contain allowed characters. #9185"
    NamedChange {
        id: "mimir-2.15-label-values-validated",
        project: Project::Mimir,
        release: "2.15.0",
        pr: 9185,
        kind: ChangeKind::Ingest,
        summary: "The distributor refuses series whose label values contain characters it does not allow, such as invalid UTF-8.",
        action: "Fix senders that write such label values; their samples are rejected.",
        probe: Probe::Documented {
            reason: "The workload's label values are plain ASCII.",
        },
        verified_live: false,
    },
    // --------------------------------------------------------------- Mimir 2.16
    // CHANGELOG 2.16.0: "[CHANGE] Ingester: enable native histograms ingestion by
    // default, meaning`ingester.native-histograms-ingestion-enabled` defaults to
    // true. #10867"
    NamedChange {
        id: "mimir-2.16-native-histograms-ingested-by-default",
        project: Project::Mimir,
        release: "2.16.0",
        pr: 10867,
        kind: ChangeKind::Default,
        summary: "Ingesters store native histograms by default (`limits.native_histograms_ingestion_enabled: true`); they were dropped.",
        action: "Expect native-histogram series from senders that send them, and the series and storage they cost; set the limit to false for tenants that should not have them.",
        probe: Probe::Default {
            key: "limits.native_histograms_ingestion_enabled",
        },
        verified_live: false,
    },
    // CHANGELOG 2.16.0: "[CHANGE] Querier / Query-frontend: Remove experimental
    // `-querier.promql-experimental-functions-enabled` and
    // `-query-frontend.block-promql-experimental-functions` CLI flags and respective
    // YAML configuration options … You can enable them using the per-tenant setting
    // `enabled_promql_experimental_functions`. #10660 #10712"
    NamedChange {
        id: "mimir-2.16-experimental-functions-per-tenant",
        project: Project::Mimir,
        release: "2.16.0",
        pr: 10660,
        kind: ChangeKind::Config,
        summary: "Experimental PromQL functions are enabled per tenant only: `querier.promql_experimental_functions_enabled` and the query frontend's block flag are removed.",
        action: "List the functions in `limits.enabled_promql_experimental_functions` (e.g. `double_exponential_smoothing`) and delete the removed settings, which are refused.",
        probe: Probe::RemovedKey {
            key: "querier.promql_experimental_functions_enabled",
        },
        verified_live: false,
    },
    // CHANGELOG 2.16.0: "[ENHANCEMENT] Distributor: discard float and histogram
    // samples with duplicated timestamps from each timeseries in a request before
    // the request is forwarded to ingesters. … #10145 #10430"
    NamedChange {
        id: "mimir-2.16-duplicate-timestamps-discarded",
        project: Project::Mimir,
        release: "2.16.0",
        pr: 10145,
        kind: ChangeKind::Ingest,
        summary: "The distributor discards samples that repeat a timestamp within one series of a write request, counting them as `reason=\"sample_duplicate_timestamp\"`.",
        action: "Fix senders that write two samples of a series with one timestamp.",
        probe: Probe::Documented {
            reason: "The workload writes one sample per series and timestamp.",
        },
        verified_live: false,
    },
    // CHANGELOG 2.16.0: "[CHANGE] Build: removed Mimir Alpine Docker image and
    // related CI tests. #10469"
    NamedChange {
        id: "mimir-2.16-alpine-image-removed",
        project: Project::Mimir,
        release: "2.16.0",
        pr: 10469,
        kind: ChangeKind::Removal,
        summary: "Mimir is published only as a distroless image; the Alpine-based image (with a shell) is no longer built.",
        action: "Switch to the default image, and debug with `kubectl debug` instead of a shell in the container.",
        probe: Probe::Documented {
            reason: "The gate uses the default image.",
        },
        verified_live: false,
    },
    // --------------------------------------------------------------- Mimir 2.17
    // CHANGELOG 2.17.0: "[CHANGE] Querier: Use Mimir Query Engine (MQE) by default.
    // Set `-querier.query-engine=prometheus` to continue using Prometheus' engine.
    // #11501"
    NamedChange {
        id: "mimir-2.17-mimir-query-engine-default",
        project: Project::Mimir,
        release: "2.17.0",
        pr: 11501,
        kind: ChangeKind::Default,
        summary: "Queries run on the Mimir Query Engine (MQE) by default instead of Prometheus' engine (`querier.query_engine: mimir`).",
        action: "Compare the results of critical queries after the upgrade; set `querier.query_engine: prometheus` to go back.",
        probe: Probe::Default {
            key: "querier.query_engine",
        },
        verified_live: false,
    },
    // CHANGELOG 2.17.0: "[CHANGE] Ingester: Out-of-order native histograms are now
    // enabled whenever both native histogram and out-of-order ingestion is enabled.
    // The `-ingester.ooo-native-histograms-ingestion-enabled` CLI flag and
    // corresponding `ooo_native_histograms_ingestion_enabled` runtime configuration
    // option have been removed. #10956"
    NamedChange {
        id: "mimir-2.17-ooo-native-histograms-setting-removed",
        project: Project::Mimir,
        release: "2.17.0",
        pr: 10956,
        kind: ChangeKind::Config,
        summary: "`ooo_native_histograms_ingestion_enabled` is removed: out-of-order native histograms are accepted whenever native histograms and out-of-order ingestion both are.",
        action: "Delete the setting (it is refused), and turn off native histograms or the out-of-order window where out-of-order native histograms must stay refused.",
        probe: Probe::RemovedKey {
            key: "limits.ooo_native_histograms_ingestion_enabled",
        },
        verified_live: false,
    },
    // CHANGELOG 2.17.0: "[CHANGE] Memberlist: Apply new default configuration values
    // for MemberlistKV. … #11874 `memberlist.packet-dial-timeout`: `500ms`,
    // `memberlist.packet-write-timeout`: `500ms`, `memberlist.max-concurrent-writes`:
    // `5`, `memberlist.acquire-writer-timeout`: `1s`"
    NamedChange {
        id: "mimir-2.17-memberlist-defaults",
        project: Project::Mimir,
        release: "2.17.0",
        pr: 11874,
        kind: ChangeKind::Default,
        summary: "Memberlist defaults change: `packet_dial_timeout` and `packet_write_timeout` 500ms, `max_concurrent_writes` 5, `acquire_writer_timeout` 1s.",
        action: "On high-latency networks, raise the memberlist timeouts if gossip packets are dropped.",
        probe: Probe::Default {
            key: "memberlist.packet_dial_timeout",
        },
        verified_live: false,
    },
    // CHANGELOG 2.17.0: "[CHANGE] Distributor: moved HA tracker timeout config to
    // limits. #11774 Moved `distributor.ha_tracker.ha_tracker_update_timeout` to
    // `limits.ha_tracker_update_timeout` …"
    NamedChange {
        id: "mimir-2.17-ha-tracker-timeouts-moved",
        project: Project::Mimir,
        release: "2.17.0",
        pr: 11774,
        kind: ChangeKind::Config,
        summary: "The HA tracker's `ha_tracker_update_timeout`, `ha_tracker_update_timeout_jitter_max` and `ha_tracker_failover_timeout` move from `distributor.ha_tracker` to `limits`.",
        action: "Move the three settings under `limits` (they can now differ per tenant).",
        probe: Probe::RemovedKey {
            key: "distributor.ha_tracker.ha_tracker_update_timeout",
        },
        verified_live: false,
    },
    // -------------------------------------------------------------- Cortex 1.19
    // CHANGELOG 1.19.0: "[CHANGE] Change all max async concurrency default values
    // `50` to `3` #6268"
    NamedChange {
        id: "cortex-1.19-cache-max-async-concurrency",
        project: Project::Cortex,
        release: "1.19.0",
        pr: 6268,
        kind: ChangeKind::Default,
        summary: "Every cache's `max_async_concurrency` default drops from 50 to 3, so fewer cache writes run at once.",
        action: "If asynchronous cache writes back up, raise `max_async_concurrency` on the caches that need it.",
        probe: Probe::Default {
            key: "blocks_storage.bucket_store.chunks_cache.memcached.max_async_concurrency",
        },
        verified_live: false,
    },
    // CHANGELOG 1.19.0: "[CHANGE] Change default value of
    // `-blocks-storage.bucket-store.index-cache.multilevel.max-async-concurrency`
    // from `50` to `3` #6265"
    NamedChange {
        id: "cortex-1.19-multilevel-cache-max-async-concurrency",
        project: Project::Cortex,
        release: "1.19.0",
        pr: 6265,
        kind: ChangeKind::Default,
        summary: "The multi-level index cache's `max_async_concurrency` default drops from 50 to 3.",
        action: "Raise `blocks_storage.bucket_store.index_cache.multilevel.max_async_concurrency` if backfilling the multi-level cache lags.",
        probe: Probe::Default {
            key: "blocks_storage.bucket_store.index_cache.multilevel.max_async_concurrency",
        },
        verified_live: false,
    },
    // CHANGELOG 1.19.0: "[CHANGE] Enable Compactor and Alertmanager in target all.
    // #6204"
    NamedChange {
        id: "cortex-1.19-target-all-adds-compactor-alertmanager",
        project: Project::Cortex,
        release: "1.19.0",
        pr: 6204,
        kind: ChangeKind::Config,
        summary: "`-target=all` also runs the compactor and the Alertmanager.",
        action: "Give a single-binary Cortex the compactor's and Alertmanager's settings (`compactor.data_dir`, `alertmanager_storage`), or list the wanted modules in `-target`.",
        probe: Probe::Documented {
            reason: "The gate's Cortex configuration already configures both, so its start and readiness do not change.",
        },
        verified_live: false,
    },
    // CHANGELOG 1.19.0: "[CHANGE] gRPC Client: Expose connection timeout and set
    // default to value to 5s. #6523"
    NamedChange {
        id: "cortex-1.19-grpc-connect-timeout",
        project: Project::Cortex,
        release: "1.19.0",
        pr: 6523,
        kind: ChangeKind::Default,
        summary: "gRPC clients give up connecting after 5s by default (`connect_timeout`); gRPC's own default was 20s.",
        action: "On slow networks, raise `connect_timeout` on the affected clients.",
        probe: Probe::Default {
            key: "ingester_client.grpc_client_config.connect_timeout",
        },
        verified_live: false,
    },
    // CHANGELOG 1.19.0: "[CHANGE] OTLP: Change OTLP handler to be consistent with the
    // Prometheus OTLP handler. #6272"
    NamedChange {
        id: "cortex-1.19-otlp-like-prometheus",
        project: Project::Cortex,
        release: "1.19.0",
        pr: 6272,
        kind: ChangeKind::Ingest,
        summary: "OTLP metrics are converted as Prometheus' OTLP receiver converts them, so metric and label names made from OTLP can change.",
        action: "Check the series names written by OTLP senders after the upgrade, and adjust their queries.",
        probe: Probe::Documented {
            reason: "The workload writes with Prometheus remote write, not OTLP.",
        },
        verified_live: false,
    },
    // CHANGELOG 1.19.0: "[BUGFIX] Query Frontend: Fix @ modifier not being applied
    // correctly on sub queries. #6450"
    NamedChange {
        id: "cortex-1.19-at-modifier-in-subqueries",
        project: Project::Cortex,
        release: "1.19.0",
        pr: 6450,
        kind: ChangeKind::QuerySemantics,
        summary: "The query frontend applies the `@` modifier inside subqueries; such queries could answer for the wrong time.",
        action: "Re-check queries that combine subqueries with `@`; their values change to the intended ones.",
        probe: Probe::Documented {
            reason: "No gate query uses the `@` modifier.",
        },
        verified_live: false,
    },
    // -------------------------------------------------------------- Cortex 1.20
    // CHANGELOG 1.20.0: "[ENHANCEMENT] Upgrade the Prometheus version to 3.6.0 and
    // add a `-name-validation-scheme` flag to support UTF-8. #7040 #7056" (Prometheus
    // 3 came in with "Update prometheus version to v3.1.0" #6583, which the CHANGELOG
    // does not list). Prometheus 3.0 migration guide: range selectors and the
    // lookback delta are left-open.
    NamedChange {
        id: "cortex-1.20-range-selectors-left-open",
        project: Project::Cortex,
        release: "1.20.0",
        pr: 7040,
        kind: ChangeKind::QuerySemantics,
        summary: "With Prometheus 3's PromQL, range selectors and the lookback are left-open: `[1m]` at time t covers `(t-1m, t]`, so a sample exactly at t-1m no longer counts.",
        action: "Expect one sample fewer wherever samples align with the evaluation time; widen ranges that needed it (with a 1m scrape interval, `rate(x[1m])` needs `[2m]`).",
        probe: Probe::Query {
            language: Language::PromQl,
            query: r#"count_over_time(gate_inflight_requests{job="lgtm-gate"}[1m])"#,
        },
        verified_live: true,
    },
    // Same upgrade (#7040); Prometheus 3.0.0: "regexp . now matches all characters".
    NamedChange {
        id: "cortex-1.20-regex-dot-matches-newline",
        project: Project::Cortex,
        release: "1.20.0",
        pr: 7040,
        kind: ChangeKind::QuerySemantics,
        summary: "With Prometheus 3's PromQL, `.` in a regular expression matches a newline, so `=~\"foo.*\"` also matches label values that contain `\\n`.",
        action: "Write `[^\\n]` instead of `.` where a newline must not match.",
        probe: Probe::Documented {
            reason: "No label value of the workload contains a newline.",
        },
        verified_live: false,
    },
    // CHANGELOG 1.20.0: "[CHANGE] Ingester: Remove EnableNativeHistograms config flag
    // and instead gate keep through new per-tenant limit at ingestion. #6718"
    NamedChange {
        id: "cortex-1.20-native-histograms-per-tenant",
        project: Project::Cortex,
        release: "1.20.0",
        pr: 6718,
        kind: ChangeKind::Config,
        summary: "Native histogram ingestion is switched by the per-tenant limit `limits.enable_native_histograms`; `blocks_storage.tsdb.enable_native_histograms` is gone.",
        action: "Move the setting to `limits` (or to a tenant's runtime overrides); left under `blocks_storage.tsdb` it is refused.",
        probe: Probe::RemovedKey {
            key: "blocks_storage.tsdb.enable_native_histograms",
        },
        verified_live: false,
    },
    // CHANGELOG 1.20.0: "[FEATURE] Querier: Support for configuring query optimizers
    // and enabling XFunctions in the Thanos engine. #6873"; the configuration
    // reference turns `thanos_engine: <boolean>` into a block with `enabled`.
    NamedChange {
        id: "cortex-1.20-thanos-engine-block",
        project: Project::Cortex,
        release: "1.20.0",
        pr: 6873,
        kind: ChangeKind::Config,
        summary: "`querier.thanos_engine` is a block of engine settings, no longer a boolean.",
        action: "Write `querier.thanos_engine.enabled: true`; `thanos_engine: true` is refused.",
        probe: Probe::RemovedKey {
            key: "querier.thanos_engine",
        },
        verified_live: false,
    },
    // CHANGELOG 1.20.0: "[CHANGE] StoreGateway/Alertmanager: Add default 5s
    // connection timeout on client. #6603"
    NamedChange {
        id: "cortex-1.20-store-gateway-client-connect-timeout",
        project: Project::Cortex,
        release: "1.20.0",
        pr: 6603,
        kind: ChangeKind::Default,
        summary: "The store-gateway and Alertmanager clients give up connecting after 5s by default.",
        action: "On slow networks, raise `querier.store_gateway_client.connect_timeout` (and the Alertmanager client's).",
        probe: Probe::Default {
            key: "querier.store_gateway_client.connect_timeout",
        },
        verified_live: false,
    },
    // CHANGELOG 1.20.0: "[CHANGE] Validate a tenantID when to use a single tenant
    // resolver. #6727"
    NamedChange {
        id: "cortex-1.20-tenant-id-validated",
        project: Project::Cortex,
        release: "1.20.0",
        pr: 6727,
        kind: ChangeKind::HttpApi,
        summary: "Tenant IDs are validated with the single-tenant resolver too; requests with an invalid `X-Scope-OrgID` are refused.",
        action: "Rename tenants whose IDs contain characters Cortex does not allow.",
        probe: Probe::Documented {
            reason: "The gate runs Cortex without multitenancy.",
        },
        verified_live: false,
    },
    // -------------------------------------------------------------- Cortex 1.21
    // CHANGELOG 1.21.0: "[CHANGE] Blocks storage: Bucket index is now enabled by
    // default. … #7259"
    NamedChange {
        id: "cortex-1.21-bucket-index-default",
        project: Project::Cortex,
        release: "1.21.0",
        pr: 7259,
        kind: ChangeKind::Default,
        summary: "The bucket index is enabled by default: queriers and store-gateways read each tenant's bucket index, which the compactor writes, instead of listing the bucket.",
        action: "Run the compactor so the index exists, or set `blocks_storage.bucket_store.bucket_index.enabled: false` (not recommended).",
        probe: Probe::Default {
            key: "blocks_storage.bucket_store.bucket_index.enabled",
        },
        verified_live: false,
    },
    // CHANGELOG 1.21.0: "[ENHANCEMENT] PromQL: Add `holt_winters` backwards
    // compatibility as alias for `double_exponential_smoothing`. #7223" (commit: "add
    // holt_winters to cortex parser … add query parsing validation in QFE")
    NamedChange {
        id: "cortex-1.21-holt-winters-alias",
        project: Project::Cortex,
        release: "1.21.0",
        pr: 7223,
        kind: ChangeKind::QuerySemantics,
        summary: "Cortex's own PromQL parser, which the query frontend uses, accepts `holt_winters` as an alias of `double_exponential_smoothing` (Prometheus 3's name for it).",
        action: "Keep `holt_winters` queries, or rewrite them as `double_exponential_smoothing`.",
        probe: Probe::Query {
            language: Language::PromQl,
            query: r#"holt_winters(gate_temperature_celsius{job="lgtm-gate"}[5m], 0.5, 0.5)"#,
        },
        verified_live: false,
    },
    // CHANGELOG 1.21.0: "[BUGFIX] Distributor: If remote write v2 is disabled,
    // explicitly return HTTP 415 (Unsupported Media Type) for Remote Write V2
    // requests instead of attempting to parse them as V1. #7238"
    NamedChange {
        id: "cortex-1.21-remote-write-v2-415",
        project: Project::Cortex,
        release: "1.21.0",
        pr: 7238,
        kind: ChangeKind::HttpApi,
        summary: "With remote write 2.0 disabled, a remote write 2.0 request is answered 415 Unsupported Media Type instead of being read as 1.0.",
        action: "Configure senders for remote write 1.0, or enable remote write 2.0 in Cortex.",
        probe: Probe::Documented {
            reason: "The gate writes remote write 1.0.",
        },
        verified_live: false,
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// The version each project's coverage starts from (the gate's baseline pin, and
    /// Cortex's), and the last minor release it covers.
    fn coverage(project: Project) -> ((u32, u32, u32), (u32, u32)) {
        match project {
            Project::Loki => ((3, 2, 0), (3, 7)),
            Project::Tempo => ((2, 6, 0), (2, 10)),
            Project::Mimir => ((2, 14, 0), (2, 17)),
            Project::Cortex => ((1, 18, 0), (1, 21)),
        }
    }

    #[test]
    fn ids_are_unique_slugs_naming_project_and_minor_release() {
        let mut seen = HashSet::new();
        for c in CHANGES {
            assert!(seen.insert(c.id), "duplicate id {}", c.id);
            assert!(
                c.id.bytes().all(|b| b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || b == b'-'
                    || b == b'.'),
                "{}: not a slug",
                c.id
            );
            let (major, minor, _) = version_tuple(c.release).unwrap();
            let prefix = format!("{}-{major}.{minor}-", c.project.name());
            assert!(
                c.id.starts_with(&prefix),
                "{} should start with {prefix}",
                c.id
            );
        }
    }

    #[test]
    fn every_release_parses_and_lies_in_the_covered_span() {
        for c in CHANGES {
            let v = version_tuple(c.release)
                .unwrap_or_else(|| panic!("{}: release {} does not parse", c.id, c.release));
            assert_eq!(
                c.release.split('.').count(),
                3,
                "{}: write the release in full",
                c.id
            );
            let (from, (last_major, last_minor)) = coverage(c.project);
            assert!(v > from, "{}: {} is not after {from:?}", c.id, c.release);
            assert!(
                (v.0, v.1) <= (last_major, last_minor),
                "{}: {} is past the covered releases",
                c.id,
                c.release
            );
        }
    }

    #[test]
    fn every_entry_has_a_pr_and_words() {
        for c in CHANGES {
            assert!(c.pr > 0, "{}", c.id);
            assert!(!c.summary.trim().is_empty(), "{}: no summary", c.id);
            assert!(!c.action.trim().is_empty(), "{}: no action", c.id);
            assert_ne!(c.summary, c.action, "{}", c.id);
            assert!(c.summary.ends_with('.'), "{}: summary is a sentence", c.id);
            assert!(c.action.ends_with('.'), "{}: action is a sentence", c.id);
        }
    }

    #[test]
    fn query_probes_are_non_empty_and_in_the_project_language() {
        for c in CHANGES {
            if let Probe::Query { language, query } = c.probe {
                assert!(!query.trim().is_empty(), "{}: empty query", c.id);
                assert_eq!(language, c.project.language(), "{}", c.id);
            }
        }
    }

    #[test]
    fn config_keys_are_dotted_paths_and_reasons_are_given() {
        for c in CHANGES {
            match c.probe {
                Probe::Default { key } | Probe::RemovedKey { key } => {
                    assert!(!key.is_empty(), "{}", c.id);
                    assert!(
                        key.split('.').all(|part| !part.is_empty()
                            && part.bytes().all(|b| b.is_ascii_lowercase()
                                || b.is_ascii_digit()
                                || b == b'_')),
                        "{}: `{key}` is not a dotted YAML path",
                        c.id
                    );
                }
                Probe::Documented { reason } => {
                    assert!(!reason.trim().is_empty(), "{}: no reason", c.id)
                }
                Probe::Query { .. } => {}
            }
        }
    }

    #[test]
    fn only_query_probes_are_verified_live_and_no_late_loki_can_be() {
        for c in CHANGES {
            // Verified live: a gate across the release showed the probe's answer
            // change at that release.
            if c.verified_live {
                assert!(c.probe.query().is_some(), "{}", c.id);
            }
            if !c.verifiable_here() {
                assert_eq!(c.project, Project::Loki, "{}", c.id);
                assert!(!c.verified_live, "{}", c.id);
            }
        }
    }

    #[test]
    fn catalogue_is_ordered_by_project_then_release() {
        let keys: Vec<_> = CHANGES
            .iter()
            .map(|c| (c.project, version_tuple(c.release).unwrap()))
            .collect();
        assert!(keys.windows(2).all(|w| w[0] <= w[1]), "{keys:?}");
    }

    #[test]
    fn version_tuple_reads_the_forms_images_use() {
        assert_eq!(version_tuple("v2.7.2"), Some((2, 7, 2)));
        assert_eq!(version_tuple("V1.21.1"), Some((1, 21, 1)));
        assert_eq!(version_tuple("3.4.6"), Some((3, 4, 6)));
        assert_eq!(version_tuple(" 3.4.6 "), Some((3, 4, 6)));
        assert_eq!(version_tuple("2.10.0-rc.1"), Some((2, 10, 0)));
        assert_eq!(version_tuple("v1.19.0-rc.2"), Some((1, 19, 0)));
        assert_eq!(version_tuple("2.10.0+build.5"), Some((2, 10, 0)));
        assert_eq!(version_tuple("3.4"), Some((3, 4, 0)));
        for bad in [
            "", "v", "latest", "main", "3", "3.", "1.2.3.4", "a.b.c", "3.x.0", "-1.2.3", "3..1",
        ] {
            assert_eq!(version_tuple(bad), None, "{bad:?}");
        }
    }

    /// The Tempo regex entry, moved to another release.
    fn change_at(release: &'static str) -> NamedChange {
        NamedChange {
            release,
            ..*by_id("tempo-2.7-traceql-regex-anchored").unwrap()
        }
    }

    #[test]
    fn in_range_is_baseline_exclusive_and_candidate_inclusive() {
        let c = change_at("2.7.0");
        assert!(in_range(&c, "2.6.0", "2.7.0"));
        assert!(in_range(&c, "v2.6.9", "v2.10.0"));
        assert!(!in_range(&c, "2.7.0", "2.7.0"), "baseline already has it");
        assert!(!in_range(&c, "2.7.0", "2.8.0"), "baseline already has it");
        assert!(
            !in_range(&c, "2.6.0", "2.6.9"),
            "candidate does not have it yet"
        );
        assert!(
            !in_range(&c, "2.8.0", "2.6.0"),
            "a downgrade crosses nothing"
        );
        assert!(
            in_range(&c, "2.6.0", "2.7.0-rc.1"),
            "pre-release counts as its release"
        );
        assert!(!in_range(&c, "latest", "2.8.0"));
        assert!(!in_range(&c, "2.6.0", "main"));
        assert!(!in_range(&change_at("next"), "2.6.0", "2.8.0"));
    }

    #[test]
    fn between_keeps_the_project_and_the_range() {
        let all: Vec<_> = between(Project::Tempo, "2.6.0", "2.10.99").collect();
        assert!(!all.is_empty());
        assert!(all.iter().all(|c| c.project == Project::Tempo));
        assert_eq!(
            all.len(),
            CHANGES
                .iter()
                .filter(|c| c.project == Project::Tempo)
                .count()
        );
        assert!(between(Project::Tempo, "2.6.0", "2.6.1").all(|c| c.release != "2.7.0"));
        assert_eq!(between(Project::Tempo, "2.6.0", "latest").count(), 0);
        for p in Project::ALL {
            assert!(between(p, "99.0.0", "99.1.0").next().is_none());
        }
        let mut previous = (0, 0, 0);
        for c in between(Project::Tempo, "2.6.0", "2.10.99") {
            let v = version_tuple(c.release).unwrap();
            assert!(v >= previous, "{} out of order", c.id);
            previous = v;
        }
    }

    #[test]
    fn for_query_matches_language_and_ignores_spacing() {
        let q = r#"{ span.http.route =~ "users" }"#;
        assert_eq!(
            for_query(Language::TraceQl, q)
                .map(|c| c.id)
                .collect::<Vec<_>>(),
            ["tempo-2.7-traceql-regex-anchored"]
        );
        assert_eq!(
            for_query(Language::TraceQl, "{span.http.route   =~ \"users\" }").count(),
            0,
            "tokens must be spaced as in the probe"
        );
        assert_eq!(
            for_query(Language::TraceQl, "  {  span.http.route =~\n\"users\" }  ").count(),
            1
        );
        assert_eq!(for_query(Language::LogQl, q).count(), 0);
        assert_eq!(for_query(Language::TraceQl, "{ }").count(), 0);
    }

    #[test]
    fn every_query_probe_is_found_by_for_query() {
        for c in CHANGES {
            if let Some((language, query)) = c.probe.query() {
                assert!(for_query(language, query).any(|f| f.id == c.id), "{}", c.id);
            }
        }
    }

    #[test]
    fn projects_map_to_roles_repos_and_languages() {
        assert_eq!(Project::Cortex.role(), Component::Mimir);
        assert_eq!(Project::Mimir.role(), Component::Mimir);
        assert_eq!(Project::Loki.role(), Component::Loki);
        assert_eq!(Project::Tempo.role(), Component::Tempo);
        assert_eq!(Project::Loki.repo(), "grafana/loki");
        assert_eq!(Project::Tempo.repo(), "grafana/tempo");
        assert_eq!(Project::Mimir.repo(), "grafana/mimir");
        assert_eq!(Project::Cortex.repo(), "cortexproject/cortex");
        assert_eq!(Project::Cortex.language(), Language::PromQl);
        for p in Project::ALL {
            assert_eq!(p.title().to_ascii_lowercase(), p.name());
        }
    }

    #[test]
    fn headline_and_url_name_the_release_and_pull_request() {
        let c = by_id("tempo-2.7-traceql-regex-anchored").unwrap();
        assert_eq!(c.url(), "https://github.com/grafana/tempo/pull/4329");
        let line = c.headline();
        assert!(
            line.starts_with("Tempo 2.7.0 (#4329): TraceQL regex"),
            "{line}"
        );
        assert!(line.ends_with(c.action), "{line}");
        assert!(by_id("no-such-change").is_none());
    }

    #[test]
    fn loki_from_3_5_is_not_verifiable_here() {
        let loki = |release| NamedChange {
            project: Project::Loki,
            ..change_at(release)
        };
        assert!(loki("3.4.6").verifiable_here());
        assert!(!loki("3.5.0").verifiable_here());
        assert!(!loki("3.7.0").verifiable_here());
        assert!(change_at("2.10.0").verifiable_here());
    }

    #[test]
    fn query_probes_ask_the_gate_workload() {
        for c in CHANGES {
            let Some((language, query)) = c.probe.query() else {
                continue;
            };
            match language {
                Language::LogQl | Language::PromQl => {
                    assert!(query.contains(r#"job="lgtm-gate""#), "{}: {query}", c.id)
                }
                // Trace filters select by service, span name or attribute; every
                // trace of the workload is the gate's.
                Language::TraceQl => assert!(query.starts_with('{'), "{}: {query}", c.id),
            }
        }
    }

    #[test]
    fn shared_probes_name_every_change_they_show() {
        let plain_levels =
            r#"sum by (detected_level) (count_over_time({job="lgtm-gate", format="plain"}[5m]))"#;
        let ids: Vec<_> = for_query(Language::LogQl, plain_levels)
            .map(|c| c.id)
            .collect();
        assert_eq!(
            ids,
            [
                "loki-3.3-detected-level-unknown",
                "loki-3.6-level-detection-brackets",
                "loki-3.7-level-detection-whole-words"
            ]
        );
        let left_open = r#"count_over_time(gate_inflight_requests{job="lgtm-gate"}[1m])"#;
        let projects: Vec<_> = for_query(Language::PromQl, left_open)
            .map(|c| c.project)
            .collect();
        assert_eq!(projects, [Project::Mimir, Project::Cortex]);
        // The caller keeps its own project's: a Cortex upgrade lists Cortex's entry.
        let cortex: Vec<_> = between(Project::Cortex, "v1.18.1", "v1.21.1")
            .filter(|c| c.probe.query() == Some((Language::PromQl, left_open)))
            .map(|c| c.id)
            .collect();
        assert_eq!(cortex, ["cortex-1.20-range-selectors-left-open"]);
    }

    #[test]
    fn every_project_and_covered_minor_release_has_entries() {
        let minors = |p: Project| -> HashSet<(u32, u32)> {
            CHANGES
                .iter()
                .filter(|c| c.project == p)
                .map(|c| {
                    let (major, minor, _) = version_tuple(c.release).unwrap();
                    (major, minor)
                })
                .collect()
        };
        for (project, wanted) in [
            (Project::Loki, &[(3, 3), (3, 4), (3, 5), (3, 6), (3, 7)][..]),
            (Project::Tempo, &[(2, 7), (2, 8), (2, 9), (2, 10)][..]),
            (Project::Mimir, &[(2, 15), (2, 16), (2, 17)][..]),
            (Project::Cortex, &[(1, 19), (1, 20), (1, 21)][..]),
        ] {
            let have = minors(project);
            for minor in wanted {
                assert!(have.contains(minor), "{project:?} has nothing in {minor:?}");
            }
        }
    }

    #[test]
    fn the_gate_baseline_to_latest_upgrade_lists_each_project() {
        for (project, baseline, candidate) in [
            (Project::Loki, "3.2.0", "3.7.6"),
            (Project::Tempo, "2.6.0", "2.10.8"),
            (Project::Mimir, "2.14.0", "2.17.11"),
            (Project::Cortex, "v1.18.1", "v1.21.1"),
        ] {
            let listed = between(project, baseline, candidate).count();
            let all = CHANGES.iter().filter(|c| c.project == project).count();
            assert_eq!(listed, all, "{project:?}");
        }
    }

    #[test]
    fn probes_serialize_with_their_kind() {
        let json = serde_json::to_value(change_at("2.7.0").probe).unwrap();
        assert_eq!(json["kind"], "query");
        assert_eq!(json["language"], "traceql");
        let json = serde_json::to_value(Probe::RemovedKey { key: "a.b" }).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "removed_key", "key": "a.b"})
        );
    }
}
