//! The `/metrics` endpoint serves no scrape before the scenario's series are
//! registered: the very first scrape already shows each of them at zero, so the first
//! sample of every series is the zero a rate starts from. With `zeros_first` (a
//! scraper is part of the test) the first two scrapes show the zeros even when the
//! workload has already counted (one the scraper gave up on stores nothing), and the
//! next one the counts.

use lgtm_scenarios::metrics_endpoint::{
    MetricsEndpoint, REQUEST_DURATION, REQUESTS_TOTAL, ZERO_SCRAPES,
};

#[tokio::test]
async fn the_first_scrape_shows_every_series_at_zero_and_the_next_the_counts() {
    let endpoint = MetricsEndpoint::start("127.0.0.1:0".parse().unwrap(), "svc", "r0", true, || {
        for status in ["200", "500"] {
            metrics::counter!(REQUESTS_TOTAL, "method" => "GET", "path" => "/a", "status" => status)
                .increment(0);
        }
        let _ = metrics::histogram!(REQUEST_DURATION, "method" => "GET", "path" => "/a");
    })
    .await
    .unwrap();
    // The workload counts before any scraper came.
    metrics::counter!(REQUESTS_TOTAL, "method" => "GET", "path" => "/a", "status" => "200")
        .increment(3);
    // The workload is done: its values are the scraper's once a scrape after the
    // zeros' has been answered.
    let scrapes = endpoint.scrapes.clone();
    let fresh = tokio::spawn(async move {
        scrapes
            .wait_for_fresh(std::time::Duration::from_secs(10))
            .await
    });
    // the first request the listener accepts
    let scrape = || async {
        reqwest::get(format!("http://{}/metrics", endpoint.addr))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let body = scrape().await;
    assert_eq!(ZERO_SCRAPES, 2);
    assert_eq!(
        scrape().await,
        body,
        "the second scrape shows the zeros too"
    );
    let value = |name: &str, label: &str| -> Option<String> {
        body.lines()
            .find(|l| l.starts_with(&format!("{name}{{")) && l.contains(label))
            .and_then(|l| l.rsplit_once(' '))
            .map(|(_, v)| v.to_string())
    };
    for status in ["200", "500"] {
        assert_eq!(
            value(REQUESTS_TOTAL, &format!("status=\"{status}\"")).as_deref(),
            Some("0"),
            "{body}"
        );
    }
    assert_eq!(
        value(&format!("{REQUEST_DURATION}_count"), "path=\"/a\"").as_deref(),
        Some("0"),
        "{body}"
    );
    assert_eq!(endpoint.scrapes.completed(), 2);
    tokio::task::yield_now().await;
    assert!(!fresh.is_finished(), "the zeros' scrapes hold no count");
    let second = scrape().await;
    assert!(
        second.lines().any(|l| l.starts_with(REQUESTS_TOTAL)
            && l.contains("status=\"200\"")
            && l.ends_with(" 3")),
        "{second}"
    );
    assert_eq!(endpoint.scrapes.completed(), 3);
    tokio::task::yield_now().await;
    assert!(!fresh.is_finished(), "one fresh scrape is not enough");
    scrape().await;
    fresh
        .await
        .unwrap()
        .expect("two fresh scrapes hold the counts");
    // Nothing scraped after this point: no fresh scrape, and the wait says so.
    let err = endpoint
        .scrapes
        .wait_for_fresh(std::time::Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("wanted 6 completed scrapes, saw 4"),
        "{err}"
    );
}
