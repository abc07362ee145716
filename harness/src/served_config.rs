//! What a running component says about its configuration, over HTTP: its defaults
//! ([`served_defaults`]) and the configuration it runs with ([`served_config`]), as
//! the YAML text it serves, for [`crate::core::config_diff`] to compare.
//!
//! Where each component serves them ([`config_path`]):
//!
//! | component | running configuration | defaults |
//! |---|---|---|
//! | Loki | `GET /config` | `GET /config?mode=defaults` |
//! | Tempo | `GET /status/config` | `GET /status/config?mode=defaults` |
//! | Mimir, and Cortex in its role | `GET /config` | `GET /config?mode=defaults` |
//!
//! The endpoint is the component's root, as in [`crate::execute::Backends::roots`]
//! (for the Mimir role, a base that ends in its query prefix `/prometheus` is taken
//! back to the root). Prometheus and Grafana serve no such thing: what they answer
//! is an error here, as is any answer that is not a YAML configuration.

use crate::clients::{ClientError, Endpoint};
use crate::core::component::Component;
use crate::core::config_diff::flatten;

/// The path at which `component` serves its configuration (Tempo's under
/// `/status`); the defaults are the same path with `mode=defaults`.
pub fn config_path(component: Component) -> &'static str {
    match component {
        Component::Tempo => "/status/config",
        _ => "/config",
    }
}

/// The defaults of the component at `endpoint` (its root): the configuration it
/// would run with given no file and no flags, as it serves it (`mode=defaults`).
///
/// Errors: the transport's ([`ClientError::Unreachable`]), a status other than 200
/// ([`ClientError::Status`], [`ClientError::InvalidQuery`]), and
/// [`ClientError::Decode`] when the answer is not a YAML configuration (an HTML page:
/// another service, or Prometheus or Grafana behind the URL).
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use lgtm_check::clients::Endpoint;
/// use lgtm_check::core::component::Component;
/// use lgtm_check::core::config_diff::{diff_defaults, flatten};
/// use lgtm_check::served_config::served_defaults;
///
/// let http = reqwest::Client::new();
/// let old = served_defaults(&http, &Endpoint::new(Component::Loki, "http://localhost:3100")).await?;
/// let new = served_defaults(&http, &Endpoint::new(Component::Loki, "http://localhost:3101")).await?;
/// for change in diff_defaults(&flatten(&old)?, &flatten(&new)?) {
///     println!("{}: {:?} → {:?}", change.key, change.baseline, change.candidate);
/// }
/// # Ok(()) }
/// ```
pub async fn served_defaults(
    http: &reqwest::Client,
    endpoint: &Endpoint,
) -> Result<String, ClientError> {
    fetch(http, endpoint, Some("defaults")).await
}

/// The configuration the component at `endpoint` (its root) runs with: its defaults,
/// its file and its flags together, as it serves it. Errors as [`served_defaults`].
pub async fn served_config(
    http: &reqwest::Client,
    endpoint: &Endpoint,
) -> Result<String, ClientError> {
    fetch(http, endpoint, None).await
}

/// The root of `endpoint`: the Mimir role's query prefix taken off its base.
fn root(endpoint: &Endpoint) -> Endpoint {
    let mut root = endpoint.clone();
    if root.component == Component::Mimir
        && let Some(base) = root.base.strip_suffix("/prometheus")
    {
        root.base = base.to_owned();
    }
    root
}

/// What a request asks for, in errors: the path with its mode.
fn described(path: &str, mode: Option<&str>) -> String {
    match mode {
        Some(m) => format!("{path}?mode={m}"),
        None => path.to_owned(),
    }
}

async fn fetch(
    http: &reqwest::Client,
    endpoint: &Endpoint,
    mode: Option<&str>,
) -> Result<String, ClientError> {
    let endpoint = root(endpoint);
    let path = config_path(endpoint.component);
    let query = described(path, mode);
    let params: Vec<(&str, &str)> = mode.map(|m| ("mode", m)).into_iter().collect();
    let (status, body) = endpoint.get(http, path, &params).await?;
    if status != 200 {
        return Err(endpoint.error(path, &query, status, &body));
    }
    check_configuration(&body).map_err(|d| endpoint.decode_error(path, &query, d))?;
    Ok(body)
}

/// `Ok` when `body` is a served configuration: a YAML mapping with a `server`
/// section, which Loki, Tempo, Mimir and Cortex all have.
fn check_configuration(body: &str) -> Result<(), String> {
    let start: String = body.trim_start().chars().take(80).collect();
    let flat = flatten(body).map_err(|e| format!("{e} (it starts `{start}`)"))?;
    if flat.keys().any(|k| k.starts_with("server.")) {
        Ok(())
    } else {
        Err(format!(
            "no `server` section, so not a served configuration (it starts `{start}`)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::http::{StatusCode, Uri};

    use super::*;

    /// A recorded answer (`harness/tests/fixtures/recorded/`).
    fn recorded(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/tests/fixtures/recorded/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    /// A server that answers every request with `status` and `body`, and keeps the
    /// path and query it was asked for.
    async fn server(status: u16, body: String) -> (String, Arc<Mutex<Vec<String>>>) {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let seen = asked.clone();
        let app = Router::new().fallback(move |uri: Uri| {
            seen.lock().unwrap().push(uri.to_string());
            let body = body.clone();
            async move { (StatusCode::from_u16(status).unwrap(), body) }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}"), asked)
    }

    #[tokio::test]
    async fn each_component_is_asked_at_its_own_path_and_mode() {
        let http = reqwest::Client::new();
        let loki = recorded("loki-3.2.0-defaults.excerpt.yaml");
        let tempo = recorded("tempo-2.6.0-defaults.excerpt.yaml");
        let cases = [
            (Component::Loki, "", loki.clone(), "/config"),
            (Component::Tempo, "", tempo.clone(), "/status/config"),
            // the Mimir role's query prefix is taken back to the root
            (Component::Mimir, "/prometheus", loki, "/config"),
        ];
        for (component, suffix, body, path) in cases {
            let (base, asked) = server(200, body.clone()).await;
            let e = Endpoint::new(component, format!("{base}{suffix}"));
            assert_eq!(served_defaults(&http, &e).await.unwrap(), body);
            assert_eq!(served_config(&http, &e).await.unwrap(), body);
            assert_eq!(
                *asked.lock().unwrap(),
                vec![format!("{path}?mode=defaults"), path.to_string()],
                "{component}"
            );
        }
    }

    #[tokio::test]
    async fn a_missing_endpoint_is_a_status_error_with_the_server_s_words() {
        let http = reqwest::Client::new();
        // The Prometheus stand-in in the Mimir role serves no /config: its 404, recorded.
        let (base, _) = server(404, recorded("prometheus-2.42.0-config-404.txt")).await;
        let e = Endpoint::new(
            Component::Mimir,
            format!("http://user:Secret5@{}/prometheus", &base[7..]),
        );
        let err = served_defaults(&http, &e).await.unwrap_err();
        assert!(
            matches!(err, ClientError::Status { status: 404, .. }),
            "{err:?}"
        );
        let shown = err.to_string();
        assert!(
            shown.ends_with(
                "/config answered HTTP 404 to `/config?mode=defaults`: 404 page not found"
            ),
            "{shown}"
        );
        assert!(!shown.contains("Secret5") && !format!("{err:?}").contains("Secret5"));
    }

    #[tokio::test]
    async fn an_answer_that_is_not_a_configuration_is_a_decode_error() {
        let http = reqwest::Client::new();
        // Not recorded: what a web UI's single-page app answers at any path.
        let html = "<!doctype html><html lang=\"en\"><head><title>Prometheus</title></head></html>";
        let (base, _) = server(200, html.into()).await;
        let err = served_defaults(&http, &Endpoint::new(Component::Prometheus, base))
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::Decode { .. }), "{err:?}");
        assert!(
            err.to_string().contains("it starts `<!doctype html>"),
            "{err}"
        );
        // YAML, but no server section: not a configuration either
        let (base, _) = server(200, "status: success\ndata: {}\n".into()).await;
        let err = served_config(&http, &Endpoint::new(Component::Loki, base))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no `server` section"), "{err}");
    }

    #[tokio::test]
    async fn an_unreachable_server_is_an_unreachable_error() {
        let http = reqwest::Client::new();
        let e = Endpoint::new(Component::Tempo, "http://127.0.0.1:9");
        let err = served_defaults(&http, &e).await.unwrap_err();
        assert!(matches!(err, ClientError::Unreachable { .. }), "{err:?}");
        assert!(err.is_transient());
    }
}
