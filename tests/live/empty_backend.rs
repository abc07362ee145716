//! An empty Loki and an empty Tempo fail exactly the checks that should fail: the
//! log and trace checks of a recorded http-service run (its manifest,
//! `tests/data/manifests/http-service.json`, recorded against a stack that is gone)
//! are run against a fresh Loki + Tempo that never saw that run. Every check that
//! needs data fails, naming what is missing; none passes and none is skipped. The
//! only ones that pass are those that judge the query itself (the guide's queries
//! the backend must reject), which need no data.

use std::time::{Duration, Instant};

use lgtm_check::core::catalog_grafana::LoadedDashboard;
use lgtm_check::core::check::Query;
use lgtm_check::core::component::Component;
use lgtm_check::core::expect::Expectation;
use lgtm_check::core::plan::ConfigSet;
use lgtm_check::core::report::CheckStatus;
use lgtm_check::core::scenarios::{SCENARIOS, checks_for};
use lgtm_check::execute::run_check;
use lgtm_check::stack::configs::catalog_context;
use lgtm_check::{Stack, StackError};
use lgtm_check_recorder::manifest::Manifest;

#[tokio::test]
async fn an_empty_loki_and_tempo_fail_every_check_that_needs_the_runs_data() {
    let stack = match Stack::builder()
        .components([Component::Loki, Component::Tempo])
        .start()
        .await
    {
        Ok(stack) => stack,
        Err(e @ (StackError::ImageMissing { .. } | StackError::Docker(_))) => {
            eprintln!("SKIPPED: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let manifest = Manifest::read(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/manifests/http-service.json"),
    )
    .expect("the recorded manifest");
    let spec = SCENARIOS
        .iter()
        .find(|s| s.binary == "http-service")
        .unwrap();
    let ctx = catalog_context(ConfigSet::Fixed, LoadedDashboard::NotRead).unwrap();
    let checks: Vec<_> = checks_for(spec, &manifest, &ctx, None)
        .into_iter()
        .filter(|c| {
            c.needs
                .iter()
                .all(|n| matches!(n, Component::Loki | Component::Tempo))
        })
        .collect();
    // A check that cannot be asked at all (e.g. exemplars the exporter never
    // writes) is skipped with its own reason whatever the backends hold.
    let checks: Vec<_> = checks
        .into_iter()
        .filter(|c| !matches!(c.query, Query::NotPossible { .. }))
        .collect();
    let (query_only, data): (Vec<_>, Vec<_>) = checks
        .into_iter()
        .partition(|c| c.expect == Expectation::Rejected);
    assert!(
        data.len() >= 10,
        "the manifest yields the log and trace checks ({} found)",
        data.len()
    );
    let backends = stack.backends();
    let run = |c: &lgtm_check::core::check::Check| {
        let backends = &backends;
        let components = stack.components();
        let c = c.clone();
        async move {
            run_check(
                &c,
                backends,
                components,
                Instant::now(),
                Duration::from_secs(3),
            )
            .await
        }
    };
    let reports = futures::future::join_all(data.iter().map(run)).await;
    let mut wrong = Vec::new();
    for r in &reports {
        let named = [
            "missing",
            "not found",
            "no data to compare against",
            "returned no data",
            "no line with a trace id",
        ]
        .iter()
        .any(|w| r.reason.contains(w));
        eprintln!("{} {:?}: {}", r.id, r.status, r.reason);
        if r.status != CheckStatus::Fail || !named {
            wrong.push(format!("{} {:?}: {}", r.id, r.status, r.reason));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} checks did not fail for missing data:\n{}",
        wrong.len(),
        reports.len(),
        wrong.join("\n")
    );
    for r in futures::future::join_all(query_only.iter().map(run)).await {
        assert_eq!(r.status, CheckStatus::Pass, "{}: {}", r.id, r.reason);
    }
    eprintln!(
        "{} checks failed for missing data; {} judging only the query passed",
        reports.len(),
        query_only.len()
    );
}
