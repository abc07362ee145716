//! Helpers shared by the live integration tests.

use lgtm_check::scenario::find_binary;

/// A port free at the time of asking, for a program that binds it seconds later:
/// below the kernel's ephemeral range, where no outgoing connection takes it
/// meanwhile ([`lgtm_check::stack::free_port`]).
#[allow(dead_code)] // not every test binary that shares these helpers starts a program
pub fn free_port() -> u16 {
    lgtm_check::stack::free_port().expect("a free port")
}

/// Why a live test that runs the http-service scenario against `images` cannot run
/// here, if it cannot: Docker missing, an image not present, or the scenario binary
/// not built.
#[allow(dead_code)] // not every test binary that shares these helpers starts a stack
pub fn cannot_run(images: &[String]) -> Option<String> {
    if let Some(why) = images.iter().find_map(|image| image_missing(image)) {
        return Some(why);
    }
    find_binary("http-service", None)
        .err()
        .map(|e| format!("{e} (cargo build -p lgtm-scenarios)"))
}

/// Why `image` cannot be used here, if it cannot: Docker missing or the image not
/// present locally.
#[allow(dead_code)] // not every test binary that shares these helpers starts a stack
pub fn image_missing(image: &str) -> Option<String> {
    match std::process::Command::new("docker")
        .args(["image", "inspect", image])
        .output()
    {
        Err(e) => Some(format!("docker cannot be run: {e}")),
        Ok(o) if !o.status.success() => Some(format!("image {image} is not available")),
        Ok(_) => None,
    }
}

/// The `lgtm-check` binary as a command without the caller's `LGTM_CHECK_*`,
/// `OTEL_*` and `DOCKER_HOST`: a test sets what it needs.
#[allow(dead_code)] // not every test binary that shares these helpers runs the CLI
pub fn lgtm_check() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_lgtm-check"));
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("LGTM_CHECK_") || k.starts_with("OTEL_") || k == "DOCKER_HOST" {
            command.env_remove(&key);
        }
    }
    command
}

/// What `lgtm-check run --target external` did: exit code, stdout, stderr and the
/// JSON report (`Null` when none was written).
#[allow(dead_code)] // read by the test binaries that run external targets
pub struct ExternalRun {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub report: serde_json::Value,
}

/// Runs `lgtm-check run --target external` without the caller's `LGTM_CHECK_*`,
/// `OTEL_*` and `DOCKER_HOST`, in an empty directory (no lgtm-check.toml), with
/// `args` and the variables `env`.
#[allow(dead_code)] // not every test binary that shares these helpers runs it
pub fn run_external(args: &[&str], env: &[(&str, &str)]) -> ExternalRun {
    external("run", args, env)
}

/// [`run_external`] for any command that takes the target's flags (`run`, `app`).
#[allow(dead_code)] // not every test binary that shares these helpers runs it
pub fn external(command: &str, args: &[&str], env: &[(&str, &str)]) -> ExternalRun {
    let dir = std::env::temp_dir().join(format!(
        "lgtm-check-external-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("report.json");
    let out = lgtm_check()
        .current_dir(&dir)
        .envs(env.iter().copied())
        .args([command, "--target", "external", "--json"])
        .arg(&json)
        .args(args)
        .output()
        .expect("lgtm-check runs");
    let report = std::fs::read_to_string(&json)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    let _ = std::fs::remove_dir_all(&dir);
    ExternalRun {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        report,
    }
}

/// Waits until `base`'s `GET /ready` answers 200 (a tap or gateway that has started),
/// for at most 10 s; panics naming it otherwise.
#[allow(dead_code)] // used by the test binaries that start a tap
pub async fn wait_ready(base: &str) {
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if let Ok(r) = http.get(format!("{base}/ready")).send().await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the tap at {base} did not start");
}
