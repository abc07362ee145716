//! Evaluates a finished run's metrics checks twice, `WAIT_SECS` apart, against a
//! Prometheus-API backend that goes on scraping the scenario (`--hold`), and prints
//! both verdicts of each check: a check pinned to its run gives the same answer both
//! times. For contrast it also prints the guide's request rate evaluated at the
//! moment of asking, which drifts to 0 once the run's increase leaves its `[5m]`.
//!
//! ```sh
//! cargo run -p lgtm-check --example recheck_metrics -- http://127.0.0.1:9090 http-service.manifest.json 360
//! ```

use std::time::Duration;

use lgtm_check::clients::Endpoint;
use lgtm_check::clients::prometheus::PromClient;
use lgtm_check::core::catalog::metrics_checks;
use lgtm_check::core::component::Component;
use lgtm_check::core::expect::evaluate;
use lgtm_check::execute::{Backends, execute};
use lgtm_check_recorder::manifest::Manifest;

async fn round(backends: &Backends, m: &Manifest, client: &PromClient) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for c in metrics_checks(m) {
        let verdict = match execute(&c.query, c.component, backends).await {
            Ok(observed) => {
                let v = evaluate(&c.expect, &observed);
                format!(
                    "{} {}",
                    if v.is_pass() { "PASS" } else { "FAIL" },
                    v.summary()
                )
            }
            Err(e) => format!("ERROR {e:?}"),
        };
        println!("  {:<32} {verdict}", c.id);
        out.push((c.id, verdict));
    }
    let now = format!(
        "sum(rate(http_requests_total{{run_id=\"{}\"}}[5m]))",
        m.run_id
    );
    let total: u64 = m.metrics.counters.iter().map(|c| c.value).sum();
    match client.query(&now, None).await {
        Ok(s) => println!(
            "  for contrast, at the moment of asking: {now} = {:?} (the run's: {})",
            s.first().map(|s| s.value),
            total as f64 / 300.0
        ),
        Err(e) => println!("  for contrast: {e}"),
    }
    out
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, path, wait] = args.as_slice() else {
        anyhow::bail!("usage: recheck_metrics PROMETHEUS_URL MANIFEST WAIT_SECS");
    };
    let m = Manifest::read(std::path::Path::new(path))?;
    let http = reqwest::Client::new();
    let backends = Backends::from_endpoints(&http, [Endpoint::new(Component::Mimir, url)]);
    let client = PromClient::with_endpoint(http.clone(), Endpoint::new(Component::Mimir, url));
    println!("first evaluation:");
    let first = round(&backends, &m, &client).await;
    tokio::time::sleep(Duration::from_secs(wait.parse()?)).await;
    println!("again, {wait} s later:");
    let second = round(&backends, &m, &client).await;
    println!("same verdicts: {}", first == second);
    Ok(())
}
