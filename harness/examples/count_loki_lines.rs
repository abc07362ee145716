//! Reads every line of a scenario run back from a Loki and judges them as the
//! `<scenario>.logs.exact` check does, printing the count and the verdict: a way to
//! measure paging on large runs, e.g. the `volume` scenario with `--log-lines 100000`.
//!
//! ```sh
//! cargo run -p lgtm-check --example count_loki_lines -- http://127.0.0.1:3100 volume.manifest.json
//! ```

use std::time::Instant;

use lgtm_check::clients::Endpoint;
use lgtm_check::clients::loki::LokiClient;
use lgtm_check::core::catalog_telemetry::logs_checks;
use lgtm_check::core::check::Query;
use lgtm_check::core::component::Component;
use lgtm_check::core::expect::{Expectation, evaluate_lines};
use lgtm_check_recorder::manifest::Manifest;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(path)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: count_loki_lines LOKI_URL MANIFEST");
    };
    let manifest = Manifest::read(std::path::Path::new(&path))?;
    let check = logs_checks("run", &manifest).remove(0);
    let (Query::LogQlLines { expr, window }, Expectation::Lines { lines, exact }) =
        (&check.query, &check.expect)
    else {
        anyhow::bail!("logs.exact is no log-line check");
    };
    let loki = LokiClient::new(reqwest::Client::new(), Endpoint::new(Component::Loki, url));
    let (start, end) = window.nanos();
    let asked = Instant::now();
    let got = loki.query_range_all(expr, start, end, 5000).await?;
    let read = asked.elapsed();
    let judged = Instant::now();
    let verdict = evaluate_lines(lines, &got, *exact);
    println!(
        "{}: manifest {} lines, Loki returned {} lines in {:.1}s; judged in {:.1}s: {}",
        check.query.text(),
        lines.len(),
        got.len(),
        read.as_secs_f64(),
        judged.elapsed().as_secs_f64(),
        verdict.summary()
    );
    Ok(())
}
