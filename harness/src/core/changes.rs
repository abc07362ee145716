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
    fn nothing_is_verified_live_yet_and_no_late_loki_can_be() {
        for c in CHANGES {
            assert!(
                !c.verified_live,
                "{}: verified_live is for the integrator",
                c.id
            );
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

    fn change_at(release: &'static str) -> NamedChange {
        NamedChange {
            release,
            ..CHANGES[0]
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
            release,
            ..CHANGES[0]
        };
        assert!(loki("3.4.6").verifiable_here());
        assert!(!loki("3.5.0").verifiable_here());
        assert!(!loki("3.7.0").verifiable_here());
        assert!(change_at("2.10.0").verifiable_here());
    }

    #[test]
    fn probes_serialize_with_their_kind() {
        let json = serde_json::to_value(CHANGES[0].probe).unwrap();
        assert_eq!(json["kind"], "query");
        assert_eq!(json["language"], "traceql");
        let json = serde_json::to_value(Probe::RemovedKey { key: "a.b" }).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "removed_key", "key": "a.b"})
        );
    }
}
