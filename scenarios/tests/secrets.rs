//! Secrets never print: a scenario binary given canary secrets in every credential
//! input (userinfo of `--loki-url` and of the OTLP endpoint, `LOKI_PASSWORD`,
//! `OTEL_EXPORTER_OTLP_HEADERS`) shows no byte of them on stdout, on stderr or in
//! its manifest — when its backends refuse connections (so it prints its errors),
//! when its settings are wrong, and when everything is delivered. The credentials
//! still reach the backend, as `Authorization` headers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};

const URL_USER: &str = "CanaryUrlUser4k";
const URL_PASSWORD: &str = "CanaryUrlPass5m";
const OTLP_PASSWORD: &str = "CanaryOtlpPass6n";
const LOKI_PASSWORD: &str = "CanaryLokiPass7p";
const HEADER_TOKEN: &str = "CanaryHeaderTok8r";

const CANARIES: [&str; 5] = [
    URL_USER,
    URL_PASSWORD,
    OTLP_PASSWORD,
    LOKI_PASSWORD,
    HEADER_TOKEN,
];

/// A port on 127.0.0.1 that refuses connections.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An HTTP server that answers every request `200` with an empty body and keeps
/// each request's head (to see which credentials arrived).
fn sink() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let seen = seen.clone();
            std::thread::spawn(move || serve(stream, &seen));
        }
    });
    (port, heads)
}

fn serve(stream: TcpStream, seen: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    loop {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let length = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        seen.lock().unwrap().push(head);
        if out
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\ncontent-type: application/x-protobuf\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

/// What one run of `error-burst` printed and wrote.
struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    manifest: Option<String>,
}

/// Runs `error-burst` with `args` and `env` only (none of the caller's `OTEL_*`,
/// `LGTM_CHECK_*` or `LOKI_PASSWORD`).
fn error_burst(name: &str, args: &[String], env: &[(&str, String)]) -> Outcome {
    let dir: PathBuf =
        std::env::temp_dir().join(format!("lgtm-secrets-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = dir.join("m.json");
    let mut command = Command::new(env!("CARGO_BIN_EXE_error-burst"));
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("OTEL_") || k.starts_with("LGTM_CHECK_") || k == "LOKI_PASSWORD" {
            command.env_remove(&key);
        }
    }
    let out = command
        .args([
            "--run-id",
            name,
            "--failures",
            "3",
            "--successes",
            "1",
            "--manifest",
        ])
        .arg(&manifest)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("RUST_LOG", "debug")
        .output()
        .expect("error-burst runs");
    let written = std::fs::read_to_string(&manifest).ok();
    let _ = std::fs::remove_dir_all(&dir);
    Outcome {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        manifest: written,
    }
}

fn assert_no_canary(name: &str, o: &Outcome) {
    for (what, text) in [
        ("stdout", o.stdout.as_str()),
        ("stderr", o.stderr.as_str()),
        ("manifest", o.manifest.as_deref().unwrap_or_default()),
    ] {
        for c in CANARIES {
            assert!(
                !text.contains(c),
                "{name}: {what} shows the secret {c}:\n{text}"
            );
        }
    }
}

fn headers_env() -> (&'static str, String) {
    (
        "OTEL_EXPORTER_OTLP_HEADERS",
        format!("authorization=Bearer%20{HEADER_TOKEN}"),
    )
}

#[test]
fn backends_that_refuse_connections_print_errors_without_secrets() {
    let (loki, otlp) = (closed_port(), closed_port());
    // Credentials in both URLs; the OTLP headers from the environment.
    let urls = error_burst(
        "refused-urls",
        &[
            "--loki-url".into(),
            format!("http://{URL_USER}:{URL_PASSWORD}@127.0.0.1:{loki}"),
            "--otlp-endpoint".into(),
            format!("http://otlp:{OTLP_PASSWORD}@127.0.0.1:{otlp}"),
            "--otlp-protocol".into(),
            "grpc".into(),
        ],
        &[headers_env()],
    );
    assert_ne!(urls.code, Some(0), "{}", urls.stderr);
    assert!(urls.stderr.contains("Error:"), "{}", urls.stderr);
    assert_no_canary("refused-urls", &urls);

    // The Loki password from its variable; the OTLP endpoint from OTEL_*.
    let env = error_burst(
        "refused-env",
        &[
            "--loki-url".into(),
            format!("http://127.0.0.1:{loki}"),
            "--loki-user".into(),
            URL_USER.into(),
        ],
        &[
            ("LOKI_PASSWORD", LOKI_PASSWORD.into()),
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!("http://otlp:{OTLP_PASSWORD}@127.0.0.1:{otlp}"),
            ),
            headers_env(),
        ],
    );
    assert_ne!(env.code, Some(0), "{}", env.stderr);
    assert!(env.stderr.contains("Error:"), "{}", env.stderr);
    // The user name is not a secret, but here it is a canary too: it was only
    // given, never printed.
    assert_no_canary("refused-env", &env);
}

#[test]
fn bad_settings_are_named_without_secrets() {
    for (name, args, env) in [
        (
            "bad-scheme",
            vec![
                "--loki-url".to_string(),
                format!("htp://{URL_USER}:{URL_PASSWORD}@127.0.0.1:1"),
            ],
            vec![],
        ),
        (
            "two-credentials",
            vec![
                "--loki-url".to_string(),
                format!("http://{URL_USER}:{URL_PASSWORD}@127.0.0.1:1"),
                "--loki-user".into(),
                "someone".into(),
            ],
            vec![("LOKI_PASSWORD", LOKI_PASSWORD.to_string())],
        ),
        (
            "no-host",
            vec![],
            vec![(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!("http://otlp:{OTLP_PASSWORD}@"),
            )],
        ),
    ] {
        let o = error_burst(name, &args, &env);
        assert_ne!(o.code, Some(0), "{name}: {}", o.stderr);
        assert!(o.stderr.contains("***@"), "{name}: {}", o.stderr);
        assert_no_canary(name, &o);
    }
}

#[test]
fn a_delivered_run_keeps_secrets_out_of_its_output_and_manifest() {
    let (port, heads) = sink();
    let o = error_burst(
        "delivered",
        &[
            "--loki-url".into(),
            format!("http://{URL_USER}:{URL_PASSWORD}@127.0.0.1:{port}"),
            "--otlp-endpoint".into(),
            format!("http://otlp:{OTLP_PASSWORD}@127.0.0.1:{port}"),
            "--otlp-protocol".into(),
            "http/protobuf".into(),
        ],
        // Not `authorization`: a header of the environment wins over the URL's
        // credentials, and both must be seen to arrive.
        &[(
            "OTEL_EXPORTER_OTLP_HEADERS",
            format!("x-api-key={HEADER_TOKEN}"),
        )],
    );
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(o.manifest.is_some(), "the manifest was written");
    assert!(o.stdout.contains("\"event\":\"manifest\""), "{}", o.stdout);
    assert_no_canary("delivered", &o);

    // The credentials left the URLs but were sent, as basic auth.
    let heads = heads.lock().unwrap();
    let header = |path: &str, name: &str| {
        heads
            .iter()
            .filter(|h| h.starts_with(&format!("POST {path}")))
            .filter_map(|h| {
                h.lines().find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
                })
            })
            .collect::<Vec<_>>()
    };
    let authorization = |path: &str| header(path, "authorization");
    let basic = |user: &str, password: &str| {
        use base64::Engine as _;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    };
    let loki = authorization("/loki/api/v1/push");
    assert!(!loki.is_empty(), "no push reached the sink: {heads:?}");
    assert!(
        loki.iter().all(|a| *a == basic(URL_USER, URL_PASSWORD)),
        "{loki:?}"
    );
    let otlp = authorization("/v1/traces");
    assert!(
        !otlp.is_empty(),
        "no span export reached the sink: {heads:?}"
    );
    assert!(
        otlp.iter().all(|a| *a == basic("otlp", OTLP_PASSWORD)),
        "{otlp:?}"
    );
    assert!(
        header("/v1/traces", "x-api-key")
            .iter()
            .all(|v| v == HEADER_TOKEN),
        "{heads:?}"
    );
}
