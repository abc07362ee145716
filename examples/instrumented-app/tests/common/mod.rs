//! What the app's tests share: one Loki + Tempo + Prometheus stack per test binary,
//! Prometheus scraping the app's `/metrics`, and one run of the app at a time.

use std::path::PathBuf;
use std::time::Duration;

use instrumented_app::{App, Config};
use lgtm_check::core::component::Component;
use lgtm_check::{SharedStack, Stack, StackError};
use lgtm_check_recorder::manifest::Manifest;

static STACK: SharedStack = SharedStack::new();

/// The port the app's `/metrics` listens on, scraped by the stack's Prometheus.
const METRICS_PORT: u16 = 38_917;

/// One app run at a time: they share the scraped port.
pub static ONE_APP: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The shared stack, or `None` (after saying why) when Docker or an image is missing.
pub fn stack() -> Option<&'static Stack> {
    let started = STACK.get_or_start(|| {
        let mut builder = Stack::builder()
            .components([Component::Loki, Component::Tempo, Component::Prometheus])
            .scrape_port(METRICS_PORT);
        // The Prometheus image, where the default one cannot be had (read here, at the edge).
        if let Ok(image) = std::env::var("LGTM_CHECK_IMAGE_PROMETHEUS") {
            builder = builder.image(
                Component::Prometheus,
                image
                    .parse()
                    .expect("LGTM_CHECK_IMAGE_PROMETHEUS is an image reference"),
            );
        }
        builder
    });
    match started {
        Ok(stack) => Some(stack),
        Err(e @ (StackError::ImageMissing { .. } | StackError::Docker(_))) => {
            eprintln!("SKIPPED: {e}");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

/// Runs the app under `run_id`, sends it a few requests, waits for two scrapes,
/// stops it (every exporter flushed) and returns the recorder's manifest.
pub async fn run_app(stack: &Stack, run_id: &str, rename_order_attribute: bool) -> Manifest {
    let app = App::start(Config {
        run_id: run_id.into(),
        loki_url: stack.loki_url().unwrap(),
        otlp_http_url: stack.otlp_http_url().unwrap(),
        listen: ([0, 0, 0, 0], METRICS_PORT).into(),
        rename_order_attribute,
    });
    let http = reqwest::Client::new();
    for id in [7, 8, 9] {
        let r = http
            .get(format!("http://127.0.0.1:{}/orders/{id}", app.addr.port()))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "GET /orders/{id}: {}", r.status());
    }
    // Stopped only once Prometheus has scraped the run's counter at its final value
    // (it scrapes every second, once it is up): the shape holds the metric, and the
    // exact check compares the last scraped value with what the app counted.
    let query = url::Url::parse_with_params(
        &format!("{}/api/v1/query", stack.prometheus_query_url().unwrap()),
        [(
            "query",
            format!("sum(orders_served_total{{run_id=\"{run_id}\"}}) == 3"),
        )],
    )
    .unwrap();
    let started = std::time::Instant::now();
    loop {
        let body = http
            .get(query.clone())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if body.contains("\"value\"") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no scrape of the app in 60 s: {body}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let path: PathBuf = std::env::temp_dir().join(format!("{run_id}.manifest.json"));
    app.stop(&path).unwrap();
    let manifest = Manifest::read(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    manifest
}
