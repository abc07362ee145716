//! The gate's differential corpus against itself: two stacks of the same images
//! (Loki 3.2.0, Tempo 2.6.0, Cortex v1.18.1 in the Mimir role) ingest the same
//! workload and answer every corpus query; every answer must be identical (or both
//! empty, or both refused) — a difference here is nondeterminism in the workload,
//! the normalisation or a backend, and would be a false finding in every gate.
//!
//! Skipped, with the reason, when Docker or an image is missing;
//! `LGTM_CHECK_REQUIRE_ALL=1` turns the skip into a failure.

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use lgtm_check::core::answer::{Verdict, compare};
use lgtm_check::core::component::Component;
use lgtm_check::core::corpus_templates::generated;
use lgtm_check::core::workload::{DEFAULT_SEED, Workload};
use lgtm_check::gate_workload::{Targets, run_side};
use lgtm_check::stack::Stack;

const IMAGES: [&str; 3] = [
    "grafana/loki:3.2.0",
    "grafana/tempo:2.6.0",
    "cortexproject/cortex:v1.18.1",
];

async fn stack(run_id: &str) -> Stack {
    Stack::builder()
        .components([Component::Loki, Component::Tempo, Component::Mimir])
        .image(Component::Loki, IMAGES[0].parse().unwrap())
        .image(Component::Tempo, IMAGES[1].parse().unwrap())
        .image(Component::Mimir, IMAGES[2].parse().unwrap())
        .run_id(run_id)
        .start()
        .await
        .expect("the stack starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_images_answer_every_corpus_query_identically() {
    if let Some(why) = common::cannot_run(&IMAGES.map(String::from)) {
        if std::env::var("LGTM_CHECK_REQUIRE_ALL").is_ok_and(|v| v == "1") {
            panic!("cannot run: {why}");
        }
        eprintln!("skipped: {why}");
        return;
    }
    let id = format!("corpus{}", std::process::id());
    let (ida, idb) = (format!("{id}-a"), format!("{id}-b"));
    let (a, b) = tokio::join!(stack(&ida), stack(&idb));
    let w = Workload::generate(DEFAULT_SEED);
    let corpus = generated();
    let (ta, tb) = (Targets::of(&a), Targets::of(&b));
    let (sa, sb) = tokio::join!(
        run_side(&ta, &w, &corpus, Duration::from_secs(90), "a".into()),
        run_side(&tb, &w, &corpus, Duration::from_secs(90), "b".into())
    );
    // Three containers and the network each, counted as the CLI reports them
    // ("removed N containers and networks").
    let removed = (a.stop().await, b.stop().await);
    assert_eq!(removed, (4, 4), "objects removed by each stack's stop");
    eprintln!(
        "controls a: {:?}\ncontrols b: {:?}",
        sa.controls, sb.controls
    );
    eprintln!("elapsed: {} ms, {} ms", sa.elapsed_ms, sb.elapsed_ms);
    let mut tally: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut differences = Vec::new();
    for ((q, x), y) in corpus.iter().zip(&sa.answers).zip(&sb.answers) {
        let v = compare(x, y);
        let kind = match &v {
            Verdict::Identical => "identical",
            Verdict::BothEmpty => "both_empty",
            Verdict::BothRefused { .. } => "both_refused",
            _ => "different",
        };
        *tally
            .entry((q.language.name().into(), kind.into()))
            .or_default() += 1;
        if std::env::var("GATE_CORPUS_SHOW").is_ok() && kind != "identical" {
            eprintln!("{kind} {:?} {} :: {:?}", q.ask, q.query, x);
        }
        if v.is_difference() {
            differences.push(format!("{} {} → {v:?}", q.language.name(), q.query));
        }
    }
    eprintln!("{tally:#?}");
    for c in sa.controls.values().chain(sb.controls.values()) {
        assert!(c.complete(), "a control did not settle: {c:?}");
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}
