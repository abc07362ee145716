//! The live conformance suite: one real run (stack in containers, scenarios, every
//! check), then one test case per catalog check and per component, so `cargo test`
//! names each.
//!
//! A check passes here only if the backend answered with the expected data. A check
//! or component skipped because its image is missing passes as a test (it prints
//! SKIPPED with the reason) unless a component it needs is required. A run in which
//! no check passed fails the suite (`the_run_verified_something`).
//!
//! The suite reads only these variables of the caller's environment, on purpose:
//! - `LGTM_CHECK_IMAGE_<COMPONENT>`: images, as for the CLI;
//! - `LGTM_CHECK_REQUIRE=a,b` and `LGTM_CHECK_REQUIRE_ALL=1`: components that must
//!   really run, as for the CLI;
//! - `LGTM_CHECK_ALLOW_NOTHING_VERIFIED=1`: accept a run that verified nothing (e.g.
//!   on a machine without any image), instead of failing.
//!
//! Every other `LGTM_CHECK_*` variable (`LGTM_CHECK_FAULTS`, `LGTM_CHECK_RUN_ID`,
//! `LGTM_CHECK_SCENARIO_DIR`, …) is ignored: each run sets its own run id and faults.
//! The scenarios get no `OTEL_*` or `LGTM_CHECK_*` variable from the caller either
//! (the harness passes them their settings as flags).

use std::sync::OnceLock;

use lgtm_check::core::component::Component;
use lgtm_check::core::plan::{Env, RawRun, RunPlan};
use lgtm_check::core::report::{CheckReport, CheckStatus, ComponentStatus, Report, exit};
use lgtm_check::report::terminal;
use lgtm_check::runner;
use rstest::rstest;

static REPORT: OnceLock<Result<Report, String>> = OnceLock::new();

/// The variable that lets a run that verified nothing pass the suite.
const ALLOW_NOTHING_VERIFIED: &str = "LGTM_CHECK_ALLOW_NOTHING_VERIFIED";

/// The caller's environment, reduced to the variables this suite honours (see the
/// module doc).
fn suite_env() -> Env {
    Env::from_vars(std::env::vars()).only(|k| {
        k.starts_with("LGTM_CHECK_IMAGE_")
            || k == "LGTM_CHECK_REQUIRE"
            || k == "LGTM_CHECK_REQUIRE_ALL"
            || k == ALLOW_NOTHING_VERIFIED
    })
}

/// Whether `value` of a boolean variable says yes.
fn yes(value: Option<&str>) -> bool {
    value.is_some_and(|v| v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// Runs the whole job once with `raw` on a runtime of its own; containers are gone
/// before any case asserts.
fn run_once(raw: RawRun, run_id: String, progress: bool) -> Result<Report, String> {
    run_once_in(suite_env(), raw, run_id, progress)
}

/// [`run_once`] with the given environment.
fn run_once_in(env: Env, raw: RawRun, run_id: String, progress: bool) -> Result<Report, String> {
    std::thread::spawn(move || {
        let plan = RunPlan::build(raw, &env, run_id).map_err(|e| e.to_string())?;
        let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
        let report = rt
            .block_on(runner::run(&plan, &|e| {
                if progress {
                    let _ = terminal::progress(&e, &mut std::io::stderr());
                }
            }))
            .map_err(|e| format!("{e}: {:?}", std::error::Error::source(&e)))?;
        if progress {
            let mut out = Vec::new();
            let _ = terminal::render(&report, &mut out);
            eprintln!("{}", String::from_utf8_lossy(&out));
        }
        Ok(report)
    })
    .join()
    .unwrap_or_else(|_| Err("the run panicked".into()))
}

/// A check of a report, by id.
fn check_in<'a>(report: &'a Report, id: &str) -> &'a CheckReport {
    report
        .checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("the report has no check {id}"))
}

/// A skip is honest when it is not because of a required component.
fn skipped_honestly(report: &Report, c: &CheckReport) {
    assert!(
        !c.skipped_for_required(&report.required),
        "{} was SKIPPED because of a required component ({:?}): {}",
        c.id,
        report.required,
        c.reason
    );
    eprintln!("SKIPPED {}: {}", c.id, c.reason);
}

/// The run of every check, for all cases.
fn report() -> &'static Report {
    start_all_runs();
    REPORT
        .get_or_init(main_run)
        .as_ref()
        .unwrap_or_else(|e| panic!("lgtm-check could not run: {e}"))
}

fn main_run() -> Result<Report, String> {
    let raw = RawRun {
        require_all: yes(suite_env().get("LGTM_CHECK_REQUIRE_ALL")),
        check_timeout_secs: 60,
        ..RawRun::default()
    };
    run_once(raw, format!("t{:x}", std::process::id()), true)
}

/// Starts the suite's three full runs (the main one, the broken one and the guide's)
/// at the same time, each in a thread of its own, the first time any case needs one:
/// cases block on the run they judge, and the runs overlap instead of following one
/// another (the guide's waits for its 15 s scrapes most of the time).
pub(crate) fn start_all_runs() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        std::thread::spawn(|| REPORT.get_or_init(main_run));
        std::thread::spawn(|| BROKEN.get_or_init(broken_run));
        std::thread::spawn(|| GUIDE.get_or_init(guide_run));
    });
}

/// A run that verified nothing is not a success, unless the caller accepts it
/// explicitly (`LGTM_CHECK_ALLOW_NOTHING_VERIFIED=1`).
#[test]
fn the_run_verified_something() {
    let report = report();
    let Some(why) = &report.nothing_verified else {
        assert!(report.summary.passed > 0);
        return;
    };
    if yes(suite_env().get(ALLOW_NOTHING_VERIFIED)) {
        eprintln!("{why} (accepted: {ALLOW_NOTHING_VERIFIED} is set)");
        return;
    }
    panic!("{why}; set {ALLOW_NOTHING_VERIFIED}=1 to accept a run that verifies nothing");
}

/// With no image available at all, the run verifies nothing, exits with its own
/// code, and groups the skips by the missing image.
#[test]
fn a_run_without_any_image_verifies_nothing() {
    // `.invalid` never resolves (RFC 2606), so no registry can answer.
    const NONE: &str = "lgtm-check.invalid/none:0";
    let raw = RawRun {
        images: Component::ALL
            .into_iter()
            .map(|c| format!("{c}={NONE}"))
            .collect(),
        check_timeout_secs: 5,
        ..RawRun::default()
    };
    // Nothing is required here, whatever the caller requires of the main run: the
    // point is the exit code of a run that skipped everything.
    let env = suite_env().only(|k| k.starts_with("LGTM_CHECK_IMAGE_"));
    let report = run_once_in(env, raw, format!("n{:x}", std::process::id()), false)
        .unwrap_or_else(|e| panic!("lgtm-check could not run: {e}"));
    assert_eq!(report.summary.passed, 0);
    assert_eq!(report.summary.failed, 0);
    assert_eq!(report.exit_code(), exit::NOTHING_VERIFIED);
    let why = report.nothing_verified.as_deref().unwrap_or_default();
    assert!(
        why.starts_with(&format!(
            "nothing was verified: every component needed by every check was skipped: image {NONE} is not available"
        )),
        "{why}"
    );
    // One cause for every check that needs a component (all share the image), plus
    // the checks' own reasons (a check that cannot run at all).
    let by_image = &report.skips[0];
    assert_eq!(by_image.cause, format!("image {NONE} is not available"));
    assert_eq!(by_image.components.len(), Component::ALL.len());
    assert!(
        report.skips.iter().skip(1).all(|g| g.components.is_empty()),
        "{:?}",
        report.skips
    );
    for c in &report.checks {
        assert!(
            !c.reason.contains('\n') && !c.reason.contains("could not be pulled"),
            "{}: the pull error belongs to the cause, not to each check: {}",
            c.id,
            c.reason
        );
    }
}

#[rstest]
#[case::metrics_http_requests_total_exact("metrics.http_requests_total.exact")]
#[case::metrics_http_request_duration_seconds_count("metrics.http_request_duration_seconds.count")]
#[case::metrics_http_request_duration_seconds_sum("metrics.http_request_duration_seconds.sum")]
#[case::metrics_http_request_duration_seconds_buckets(
    "metrics.http_request_duration_seconds.buckets"
)]
#[case::promql_guide_request_rate("promql.guide.request_rate")]
#[case::promql_guide_p95_latency("promql.guide.p95_latency")]
#[case::promql_guide_error_ratio("promql.guide.error_ratio")]
#[case::promql_guide_sum_by_path("promql.guide.sum_by_path")]
#[case::promql_process_cpu("promql.process_cpu")]
#[case::promql_guide_cpu_original("promql.guide.cpu.original")]
#[case::http_logs_exact("http.logs.exact")]
#[case::http_traces_exact_ids("http.traces.exact_ids")]
#[case::http_traces_span_trees("http.traces.span_trees")]
#[case::http_correlation_logs_to_traces("http.correlation.logs_to_traces")]
#[case::http_correlation_traces_to_logs("http.correlation.traces_to_logs")]
#[case::otlp_traces_exact("otlp.traces.exact")]
#[case::otlp_logs_exact("otlp.logs.exact")]
#[case::otlp_logs_by_trace_id("otlp.logs.by_trace_id")]
#[case::otlp_metrics_exact("otlp.metrics.exact")]
#[case::otlp_correlation_metrics_to_traces("otlp.correlation.metrics_to_traces")]
#[case::otlp_correlation_exemplars_to_traces("otlp.correlation.exemplars_to_traces")]
#[case::logql_guide_basic_filter("logql.guide.basic_filter")]
#[case::logql_guide_regex("logql.guide.regex")]
#[case::logql_guide_json_level("logql.guide.json_level")]
#[case::logql_guide_errors_by_endpoint("logql.guide.errors_by_endpoint")]
#[case::logql_guide_p95_latency("logql.guide.p95_latency")]
#[case::logql_guide_p95_latency_original("logql.guide.p95_latency.original")]
#[case::logql_guide_errors_by_endpoint_original("logql.guide.errors_by_endpoint.original")]
#[case::logql_guide_query_logs_original("logql.guide.query_logs.original")]
#[case::logql_guide_lines_with_trace_id("logql.guide.lines_with_trace_id")]
#[case::traceql_guide_slow("traceql.guide.slow")]
#[case::traceql_guide_service_errors("traceql.guide.service_errors")]
#[case::traceql_guide_service_errors_original("traceql.guide.service_errors.original")]
#[case::traceql_guide_db("traceql.guide.db")]
#[case::traceql_guide_complex_legacy("traceql.guide.complex.legacy")]
#[case::traceql_guide_complex_semconv("traceql.guide.complex.semconv")]
#[case::traceql_guide_complex_original("traceql.guide.complex.original")]
#[case::traceql_guide_traces_to_logs_original("traceql.guide.traces_to_logs.original")]
#[case::traceql_guide_rate("traceql.guide.rate")]
#[case::traceql_guide_rate_original("traceql.guide.rate.original")]
#[case::traceql_upgrade_regex_partial_match("traceql.upgrade.regex_partial_match")]
#[case::traceql_upgrade_regex_explicit_wildcards("traceql.upgrade.regex_explicit_wildcards")]
#[case::dashboard_panel1_a("dashboard.panel1.A")]
#[case::dashboard_panel2_a("dashboard.panel2.A")]
#[case::dashboard_panel2_b("dashboard.panel2.B")]
#[case::dashboard_panel2_c("dashboard.panel2.C")]
#[case::dashboard_panel3_a("dashboard.panel3.A")]
#[case::dashboard_panel5_a("dashboard.panel5.A")]
#[case::dashboard_panel4_a("dashboard.panel4.A")]
#[case::dashboard_panel6_a("dashboard.panel6.A")]
#[case::grafana_derived_field_trace_id("grafana.derived_field.trace_id")]
#[case::grafana_health("grafana.health")]
#[case::grafana_datasource_loki("grafana.datasource.loki")]
#[case::grafana_datasource_tempo("grafana.datasource.tempo")]
#[case::grafana_datasource_mimir("grafana.datasource.mimir")]
#[case::grafana_dashboard_loaded("grafana.dashboard.loaded")]
#[case::grafana_dashboard_panel1_a("grafana.dashboard.panel1.A")]
#[case::grafana_dashboard_panel2_a("grafana.dashboard.panel2.A")]
#[case::grafana_dashboard_panel2_b("grafana.dashboard.panel2.B")]
#[case::grafana_dashboard_panel2_c("grafana.dashboard.panel2.C")]
#[case::grafana_dashboard_panel3_a("grafana.dashboard.panel3.A")]
#[case::grafana_dashboard_panel5_a("grafana.dashboard.panel5.A")]
#[case::grafana_dashboard_panel4_a("grafana.dashboard.panel4.A")]
#[case::grafana_dashboard_panel6_a("grafana.dashboard.panel6.A")]
#[case::chain_logs_exact("chain.logs.exact")]
#[case::chain_traces_exact_ids("chain.traces.exact_ids")]
#[case::chain_traces_span_trees("chain.traces.span_trees")]
#[case::chain_correlation_logs_to_traces("chain.correlation.logs_to_traces")]
#[case::chain_correlation_traces_to_logs("chain.correlation.traces_to_logs")]
#[case::errors_logs_exact("errors.logs.exact")]
#[case::errors_traces_exact_ids("errors.traces.exact_ids")]
#[case::errors_traces_span_trees("errors.traces.span_trees")]
#[case::errors_correlation_logs_to_traces("errors.correlation.logs_to_traces")]
#[case::errors_correlation_traces_to_logs("errors.correlation.traces_to_logs")]
#[case::sampling_traces_exact_ids("sampling.traces.exact_ids")]
#[case::sampling_traces_span_trees("sampling.traces.span_trees")]
#[case::sampling_sampling_count_within_bound("sampling.sampling.count_within_bound")]
#[case::config_loki_retention_period("config.loki.retention_period")]
#[case::config_loki_compactor_retention_enabled("config.loki.compactor_retention_enabled")]
#[case::config_tempo_block_retention("config.tempo.block_retention")]
#[case::config_mimir_retention("config.mimir.compactor_blocks_retention_period")]
fn check_passed_or_was_honestly_skipped(#[case] id: &str) {
    let report = report();
    let c = check_in(report, id);
    match c.status {
        CheckStatus::Pass => {}
        CheckStatus::Fail => panic!("{id} FAILED: {}\n  query: {}", c.reason, c.query),
        CheckStatus::Skip => skipped_honestly(report, c),
    }
}

#[rstest]
#[case::loki(Component::Loki)]
#[case::tempo(Component::Tempo)]
#[case::mimir(Component::Mimir)]
#[case::prometheus(Component::Prometheus)]
#[case::grafana(Component::Grafana)]
fn component_ran_or_was_honestly_skipped(#[case] component: Component) {
    let report = report();
    let c = report
        .components
        .iter()
        .find(|c| c.name == component)
        .unwrap_or_else(|| panic!("the report has no component {component}"));
    let reason = c.reason.clone().unwrap_or_default();
    match c.status {
        ComponentStatus::Ready => assert!(c.ready_ms.is_some(), "{component} ready without a time"),
        ComponentStatus::Failed => panic!("{component} FAILED to start: {reason}"),
        ComponentStatus::Skipped => {
            assert!(
                reason.contains("is not available"),
                "{component} skipped for another reason: {reason}"
            );
            assert!(
                !report.required.contains(&component),
                "{component} is required but was SKIPPED: {reason}"
            );
            eprintln!("SKIPPED {component}: {reason}");
        }
    }
    if let Some(stand_in) = &c.stand_in {
        assert!(
            !report.required.contains(&component),
            "{component} is required but a stand-in ({stand_in}) ran"
        );
        eprintln!("{component}: stand-in {stand_in}");
    }
}

/// The run as a whole: nothing required was missing, and no container is left.
#[test]
fn run_is_complete_and_cleaned_up() {
    let report = report();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let left = std::process::Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("label=org.lgtm-check.run-id={}", report.run_id),
        ])
        .output()
        .expect("docker ps");
    assert!(
        left.stdout.is_empty(),
        "containers left: {}",
        String::from_utf8_lossy(&left.stdout)
    );
}

/// Every check the catalog makes has a case above (so none goes unnamed).
#[test]
fn every_catalog_check_has_a_case() {
    // rustfmt may break a long case over lines: compare without whitespace.
    let cases: String = include_str!("conformance.rs").split_whitespace().collect();
    for c in &report().checks {
        assert!(
            cases.contains(&format!("(\"{}\")", c.id)),
            "no #[case] for check {}",
            c.id
        );
    }
}

/// A second run whose http-service manifest lies the way a regressed
/// instrumentation would (`LGTM_CHECK_FAULTS`): the named checks must fail, with a
/// message that says what is wrong, where their backend runs.
static BROKEN: OnceLock<Result<Report, String>> = OnceLock::new();

fn broken_report() -> &'static Report {
    start_all_runs();
    BROKEN
        .get_or_init(broken_run)
        .as_ref()
        .unwrap_or_else(|e| panic!("lgtm-check could not run: {e}"))
}

fn broken_run() -> Result<Report, String> {
    let raw = RawRun {
        check_timeout_secs: 8,
        faults: vec![
            "drop-span".into(),
            "mislabel-log".into(),
            "extra-count".into(),
            "drop-legacy-attributes".into(),
            "wrong-attribute".into(),
            "duplicate-log".into(),
            "extra-label".into(),
            "unforwarded-otlp-logs".into(),
            "unforwarded-otlp-metrics".into(),
        ],
        ..RawRun::default()
    };
    run_once(raw, format!("b{:x}", std::process::id()), false)
}

#[rstest]
#[case::extra_count("metrics.http_requests_total.exact", "\"}: got ")]
#[case::dropped_span("http.traces.span_trees", "(SELECT phantom) missing")]
#[case::dropped_span_seen_from_logs("http.correlation.logs_to_traces", "(SELECT phantom) missing")]
#[case::mislabelled_log("http.logs.exact", "expected lines missing")]
#[case::mislabelled_log_by_level("logql.guide.json_level", "expected lines missing")]
#[case::extra_count_in_rates("promql.guide.sum_by_path", "\"}: got ")]
#[case::legacy_attributes_dropped("traceql.guide.complex.legacy", "missing traces")]
#[case::wrong_attribute("http.traces.span_trees", "attribute url.path is \"")]
#[case::duplicate_log("http.logs.exact", "arrived 2 times")]
#[case::duplicate_log_by_trace("http.correlation.traces_to_logs", "arrived 2 times")]
#[case::extra_label("http.logs.exact", "(stored in a stream without tier=\"web\")")]
#[case::unforwarded_otlp_logs("otlp.logs.exact", "17 of 17 log records missing")]
#[case::unforwarded_otlp_metrics("otlp.metrics.exact", "missing series")]
fn a_broken_scenario_fails_the_named_check(#[case] id: &str, #[case] message: &str) {
    let report = broken_report();
    let c = check_in(report, id);
    match c.status {
        CheckStatus::Fail => assert!(
            c.reason.contains(message),
            "{id} failed, but its message does not say `{message}`: {}",
            c.reason
        ),
        CheckStatus::Pass => panic!("{id} passed although the scenario broke it: {}", c.reason),
        CheckStatus::Skip => skipped_honestly(report, c),
    }
}

/// A run with the guide's own configs (`--configs guide`): its defect list names
/// what breaks, with each backend's own evidence, for every backend that runs.
static GUIDE: OnceLock<Result<Report, String>> = OnceLock::new();

fn guide_run() -> Result<Report, String> {
    let raw = RawRun {
        check_timeout_secs: 45,
        configs: Some("guide".into()),
        ..RawRun::default()
    };
    run_once(raw, format!("g{:x}", std::process::id()), false)
}

#[test]
fn guide_mode_lists_the_guides_defects() {
    start_all_runs();
    let report = GUIDE
        .get_or_init(guide_run)
        .as_ref()
        .unwrap_or_else(|e| panic!("lgtm-check could not run: {e}"));
    let defect = |id: &str| report.guide_defects.iter().find(|d| d.id == id);
    let ran = |c: Component| {
        report
            .components
            .iter()
            .any(|r| r.name == c && r.status == ComponentStatus::Ready)
    };
    let ids: Vec<&str> = report.guide_defects.iter().map(|d| d.id.as_str()).collect();
    if ran(Component::Prometheus) && ran(Component::Mimir) {
        assert!(defect("promql.guide.cpu.original").is_some(), "{ids:?}");
    }
    if ran(Component::Loki) {
        let refused = defect("component.loki").unwrap_or_else(|| panic!("{ids:?}"));
        assert!(
            refused
                .evidence
                .contains("field enforce_metric_name not found"),
            "{}",
            refused.evidence
        );
        let p95 = defect("logql.guide.p95_latency.original").unwrap_or_else(|| panic!("{ids:?}"));
        assert!(p95.evidence.contains("parse error"), "{}", p95.evidence);
    }
    if ran(Component::Tempo) {
        for id in [
            "traceql.guide.service_errors.original",
            "traceql.guide.rate.original",
            // the guide's Tempo config has no local-blocks processor
            "traceql.guide.rate",
        ] {
            assert!(defect(id).is_some(), "{id} not in {ids:?}");
        }
        // ... which Tempo's served configuration says at once: the check does not
        // wait its timeout for series that cannot come.
        let rate = defect("traceql.guide.rate").unwrap();
        assert!(
            rate.evidence
                .contains("no local-blocks processor is enabled"),
            "{}",
            rate.evidence
        );
    }
    assert!(
        !report.guide_defects.is_empty() || !(ran(Component::Prometheus) || ran(Component::Loki)),
        "no defect found although backends ran"
    );
}
