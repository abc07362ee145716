//! The Prometheus role scrapes an address the test serves (`scrape_port`), and a
//! PromQL assertion, pinned to a fixed evaluation time, sees the value. Uses the
//! pinned Prometheus image, else the locally built `lgtm-check/prometheus:debian`;
//! skips with the reason when neither is there.

use std::time::{Duration, SystemTime};

use lgtm_check::assert::{Assertion, Expected, ExpectedSeries, Labels};
use lgtm_check::core::component::Component;
use lgtm_check::{Stack, StackError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const EXPOSITION: &str = "# TYPE shop_orders_total counter\nshop_orders_total{shop=\"a\"} 7\n";

/// Serves EXPOSITION on every connection (a minimal `/metrics`).
async fn serve_metrics(listener: tokio::net::TcpListener) {
    loop {
        let Ok((mut conn, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf).await;
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{EXPOSITION}",
                EXPOSITION.len()
            );
            let _ = conn.write_all(response.as_bytes()).await;
        });
    }
}

async fn start(port: u16) -> Option<Stack> {
    for image in ["prom/prometheus:v2.54.0", "lgtm-check/prometheus:debian"] {
        match Stack::builder()
            .components([Component::Prometheus])
            .image(Component::Prometheus, image.parse().unwrap())
            .scrape_port(port)
            .start()
            .await
        {
            Ok(stack) => return Some(stack),
            Err(e @ StackError::ImageMissing { .. }) => eprintln!("{e}"),
            Err(e @ StackError::Docker(_)) => {
                eprintln!("SKIPPED: {e}");
                return None;
            }
            Err(e) => panic!("{e}"),
        }
    }
    eprintln!("SKIPPED: no Prometheus image");
    None
}

#[tokio::test]
async fn prometheus_scrapes_what_the_test_serves() {
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(serve_metrics(listener));
    let Some(stack) = start(port).await else {
        return;
    };
    assert!(stack.prometheus_query_url().unwrap().starts_with("http://"));
    // Evaluated at a fixed time: late enough for Prometheus' first scrapes (it
    // spreads them over its first seconds), so the answer is the value served, and
    // the same whenever it is asked.
    let at = SystemTime::now() + Duration::from_secs(20);
    let series = vec![ExpectedSeries {
        labels: Labels::from([
            ("__name__".to_string(), "shop_orders_total".to_string()),
            ("shop".to_string(), "a".to_string()),
            ("job".to_string(), "rust-app".to_string()),
            (
                "instance".to_string(),
                format!("host.docker.internal:{port}"),
            ),
        ]),
        expected: Expected::Exact(7.0),
    }];
    let seen = stack
        .assert(
            &Assertion::promql("shop_orders_total", at, series, true)
                .within(Duration::from_secs(60)),
        )
        .await;
    server.abort();
    seen.unwrap();
}
