//! The manual's generated pages, rendered from the code: the check catalog
//! (`docs/src/catalog.md`) from the catalog's own functions over recorded manifests,
//! and the command-line reference (`docs/src/cli.md`) from the `lgtm-check` binary's
//! `--help`. `examples/gen-docs` writes them; `tests/docs.rs` compares them with the
//! files, so a page that no longer says what the code does fails the tests.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use lgtm_check::core::catalog_config::retention_checks;
use lgtm_check::core::catalog_grafana::LoadedDashboard;
use lgtm_check::core::catalog_record::RecordMapping;
use lgtm_check::core::check::{Check, Query};
use lgtm_check::core::plan::{ConfigSet, MimirFlavour};
use lgtm_check::core::record::Record;
use lgtm_check::core::scenarios::{SCENARIOS, ScenarioSpec, VOLUME, checks_for};
use lgtm_check::stack::configs::catalog_context;
use lgtm_check_recorder::manifest::Manifest;

/// The catalog page, relative to the repository's root.
pub const CATALOG_PAGE: &str = "docs/src/catalog.md";
/// The command-line reference, relative to the repository's root.
pub const CLI_PAGE: &str = "docs/src/cli.md";
/// The command that writes both pages.
pub const REGENERATE: &str = "cargo run -p lgtm-check --example gen-docs";

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("harness/ has a parent")
        .to_path_buf()
}

/// Where each scenario's recorded manifest (and the OTLP scenario's record) is.
fn data(scenario: &str) -> PathBuf {
    match scenario {
        // Recorded against Loki 3.2.0 and Tempo 2.6.0 (harness/tests/data/SOURCES.md).
        "http-service" => root().join("harness/tests/data/manifests/http-service.json"),
        _ => root().join(format!("docs/data/{scenario}.json")),
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn manifest(scenario: &str) -> Manifest {
    let path = data(scenario);
    serde_json::from_str(&read(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The kind of question a check asks, for people.
fn asks(q: &Query) -> &'static str {
    match q {
        Query::PromQl { .. } => "PromQL",
        Query::Exemplars { .. } => "exemplars",
        Query::LogQlLines { .. } => "LogQL lines",
        Query::LogQlMetric { .. } => "LogQL metric",
        Query::TraceQlSearch { .. } => "TraceQL search",
        Query::TraceQlMetrics { .. } => "TraceQL metrics",
        Query::TracesById { .. } => "traces by id",
        Query::LogQlByTraceId { .. } => "LogQL by trace id",
        Query::ConfigField { .. } => "served config",
        Query::NotPossible { .. } => "nothing",
        Query::GrafanaHealth => "Grafana health",
        Query::GrafanaDatasourceHealth { .. } => "datasource health",
        Query::GrafanaDashboard { .. } => "Grafana dashboard",
        Query::GrafanaDsQuery { .. } => "Grafana /api/ds/query",
    }
}

/// The question itself, without the time it is asked at (that is the run's).
fn question(q: &Query) -> String {
    match q {
        Query::PromQl { expr, .. }
        | Query::LogQlLines { expr, .. }
        | Query::LogQlMetric { expr, .. } => expr.clone(),
        Query::Exemplars { expr, .. } => format!("exemplars of {expr}"),
        Query::TraceQlSearch { query, .. } | Query::TraceQlMetrics { query, .. } => query.clone(),
        Query::TracesById { .. } => "GET /api/traces/<id>, each trace".into(),
        Query::LogQlByTraceId { selector, .. } => {
            format!("{selector} | json | trace_id=\"<id>\", each trace")
        }
        Query::GrafanaDsQuery {
            datasource_uid,
            query,
            ..
        } => format!("({datasource_uid}) {}", query.text()),
        other => other.text(),
    }
}

/// At most 160 characters of a long query (a list of trace ids says nothing here).
fn shorten(text: &str) -> String {
    match text.char_indices().nth(160) {
        Some((i, _)) => format!("{} …", &text[..i]),
        None => text.to_owned(),
    }
}

/// A table cell: one line, pipes escaped, in code when asked (else `<` and `>` outside
/// the text's own code spans escaped, so that `<run>` is not taken for HTML).
fn cell(text: &str, code: bool) -> String {
    let one = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let escaped = one.replace('|', "\\|");
    if !code {
        return escaped
            .split('`')
            .enumerate()
            .map(|(i, part)| match i % 2 {
                0 => part.replace('<', "&lt;").replace('>', "&gt;"),
                _ => part.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("`");
    }
    if escaped.is_empty() || escaped == "-" {
        return escaped;
    }
    let ticks = if escaped.contains('`') { "`` " } else { "`" };
    let close = if escaped.contains('`') { " ``" } else { "`" };
    format!("{ticks}{escaped}{close}")
}

fn table(out: &mut String, checks: &[Check], run_ids: &[&str]) {
    let hide = |text: &str| {
        run_ids
            .iter()
            .filter(|r| !r.is_empty())
            .fold(text.to_string(), |t, r| t.replace(r, "<run>"))
    };
    out.push_str("| check | what must hold | asks | query |\n|---|---|---|---|\n");
    for c in checks {
        let needs: Vec<&str> = c.needs.iter().map(|n| n.name()).collect();
        let needs = if needs == [c.component.name()] || needs.is_empty() {
            String::new()
        } else {
            format!(" (needs {})", needs.join(", "))
        };
        let mut query = cell(&shorten(&hide(&question(&c.query))), true);
        if let Some(g) = &c.guide_original {
            let _ = write!(query, "<br>guide: {}", cell(g, true));
        }
        let _ = writeln!(
            out,
            "| `{}` | {} | {}: {}{} | {} |",
            c.id,
            cell(&hide(&c.title), false),
            c.component.name(),
            asks(&c.query),
            needs,
            query
        );
    }
}

/// The checks of one scenario, as a run of the fixed configs derives them.
fn scenario_checks(spec: &ScenarioSpec) -> (Vec<Check>, Vec<String>) {
    let provisioned =
        catalog_context(ConfigSet::Fixed, LoadedDashboard::NotRead).expect("the fixtures parse");
    // As when Grafana serves the provisioned dashboard: its checks are made too.
    let ctx = catalog_context(
        ConfigSet::Fixed,
        LoadedDashboard::Loaded(provisioned.dashboard.clone()),
    )
    .expect("the fixtures parse");
    let m = manifest(spec.binary);
    let mut run_ids = vec![m.run_id.clone()];
    let checks = if spec.gateway {
        let path = data(&format!("{}.record", spec.binary));
        let record = Record::parse(&read(&path), &path.display().to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        run_ids.push(record.run_id.clone());
        // The guide's pins: Loki 3.2.0, Mimir 2.14.0.
        let mapping = RecordMapping::for_backends(
            Some("3.2.0"),
            MimirFlavour::Mimir.otlp_translation(Some("2.14.0")),
        );
        checks_for(spec, &m, &ctx, Some((&record, &mapping)))
    } else {
        checks_for(spec, &m, &ctx, None)
    };
    (checks, run_ids)
}

/// `docs/src/catalog.md`.
pub fn catalog_page() -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<!-- Generated by `{REGENERATE}` from the catalog's code; do not edit. -->\n"
    );
    out.push_str(
        "# The check catalog\n\n\
         Every check of a default run (`lgtm-check run`, the fixed configs), as the catalog's \
         code (`harness/src/core/scenarios.rs` and the `catalog*.rs` beside it) derives it \
         from each scenario's manifest. The manifests are recorded runs \
         (`harness/tests/data/manifests/http-service.json`, `docs/data/*.json`; see \
         `docs/data/SOURCES.md`): the checks whose ids or titles hold a metric's name or a \
         count come from what that run emitted. `<run>` stands for the scenario's run id. \
         \"asks\" is the component whose API is queried and what kind of question; a check \
         is skipped when a component it needs is not running. Where ours differs from the \
         guide's query, the guide's is below it. What each family must hold is explained \
         in [What is checked](checks.md).\n\n\
         This page is generated: `",
    );
    out.push_str(REGENERATE);
    out.push_str(
        "` writes it, and `cargo test -p lgtm-check --test docs` fails when it is out of date.\n",
    );
    for spec in &SCENARIOS {
        let (checks, run_ids) = scenario_checks(spec);
        let ids: Vec<&str> = run_ids.iter().map(String::as_str).collect();
        let _ = writeln!(
            out,
            "\n## `{}` (`{}.*`)\n\n{} checks.\n",
            spec.binary,
            spec.prefix,
            checks.len()
        );
        table(&mut out, &checks, &ids);
    }
    let retention = retention_checks();
    let _ = writeln!(
        out,
        "\n## The components' configuration (`config.*`)\n\n{} checks, on the containers \
         lgtm-check starts only (an external deployment's retention is its own).\n",
        retention.len()
    );
    table(&mut out, &retention, &[]);
    let (volume, run_ids) = scenario_checks(&VOLUME);
    let ids: Vec<&str> = run_ids.iter().map(String::as_str).collect();
    let _ = writeln!(
        out,
        "\n## `volume` (`--scenario volume` only)\n\n{} checks (recorded with `--log-lines 20 \
         --spans 20 --series 3`).\n",
        volume.len()
    );
    table(&mut out, &volume, &ids);
    out
}

/// The subcommands a top-level `--help` lists, in its order (`help` left out).
fn subcommands(top: &str) -> Vec<String> {
    top.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// `docs/src/cli.md`, from `help(args)`: what `lgtm-check ARGS` prints.
pub fn cli_page(help: &dyn Fn(&[&str]) -> String) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<!-- Generated by `{REGENERATE}` from `lgtm-check --help`; do not edit. -->\n"
    );
    out.push_str(
        "# Command-line reference\n\n\
         What `lgtm-check COMMAND --help` prints, for every command: the flags, their \
         defaults and the variables that set them, from the command line's own definition. \
         What they do is explained in the chapters; how flags, the environment and \
         `lgtm-check.toml` combine, in [Configuration](configuration.md).\n\n\
         This page is generated: `",
    );
    out.push_str(REGENERATE);
    out.push_str(
        "` writes it, and `cargo test -p lgtm-check --test docs` fails when it is out of date.\n",
    );
    let top = help(&["--help"]);
    let _ = writeln!(out, "\n## `lgtm-check`\n\n```text\n{}\n```", top.trim_end());
    for sub in subcommands(&top) {
        let text = help(&[&sub, "--help"]);
        let _ = writeln!(
            out,
            "\n## `lgtm-check {sub}`\n\n```text\n{}\n```",
            text.trim_end()
        );
    }
    out
}
