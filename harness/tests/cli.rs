//! The `lgtm-check` binary's answers to bad input, which need no running stack.
//!
//! Each test runs the binary without the caller's `LGTM_CHECK_*`, `OTEL_*` and
//! `DOCKER_HOST` (only what the test sets), so the answers do not depend on who runs
//! the tests.

use std::process::Command;

/// Whether the caller's variable `key` must not reach the binary.
fn callers_own(key: &str) -> bool {
    key.starts_with("LGTM_CHECK_") || key.starts_with("OTEL_") || key == "DOCKER_HOST"
}

fn lgtm_check(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lgtm-check"));
    for (key, _) in std::env::vars_os() {
        if callers_own(&key.to_string_lossy()) {
            command.env_remove(key);
        }
    }
    let out = command
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("lgtm-check runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn docker_unreachable_is_one_clear_error_with_exit_code_2() {
    let (code, _, stderr) = lgtm_check(
        &["run"],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("Docker is not reachable at unix:///nonexistent/docker.sock"),
        "{stderr}"
    );
}

#[test]
fn credentials_in_docker_host_never_print() {
    // Port 9 (discard) refuses connections here.
    let (code, stdout, stderr) = lgtm_check(
        &["run"],
        &[("DOCKER_HOST", "tcp://someone:CanaryDockerPw3@127.0.0.1:9")],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("Docker is not reachable at tcp://***@127.0.0.1:9"),
        "{stderr}"
    );
    for text in [&stdout, &stderr] {
        assert!(!text.contains("CanaryDockerPw3"), "{text}");
        assert!(!text.contains("someone"), "{text}");
    }
}

#[test]
fn a_bad_image_override_is_named_with_exit_code_2() {
    let (code, _, stderr) = lgtm_check(&["run", "--image", "lokii=grafana/loki:3.3.2"], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("unknown component `lokii`"), "{stderr}");
    let (code, _, stderr) = lgtm_check(&["images"], &[("LGTM_CHECK_IMAGE_TEMPO", "tempo:")]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("LGTM_CHECK_IMAGE_TEMPO"), "{stderr}");
}

#[test]
fn images_shows_defaults_env_and_flags_in_layers() {
    let (code, stdout, stderr) = lgtm_check(
        &["images", "--image", "loki=grafana/loki:3.3.2"],
        &[("LGTM_CHECK_IMAGE_TEMPO", "grafana/tempo:2.7.0")],
    );
    assert_eq!(code, 0, "{stderr}");
    let line = |c: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(c))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        line("loki").contains("grafana/loki:3.3.2") && line("loki").contains("Flag"),
        "{stdout}"
    );
    assert!(
        line("tempo").contains("grafana/tempo:2.7.0") && line("tempo").contains("Env"),
        "{stdout}"
    );
    assert!(
        line("mimir").contains("grafana/mimir:2.14.0") && line("mimir").contains("Default"),
        "{stdout}"
    );
}

#[test]
fn app_without_a_program_is_a_named_usage_error_with_exit_code_2() {
    let (code, stdout, stderr) = lgtm_check(&["app"], &[]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("no program to run"), "{stderr}");
    let (code, _, stderr) = lgtm_check(&["app", "--otlp-protocol", "thrift", "--", "true"], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--otlp-protocol `thrift`"), "{stderr}");
}

#[test]
fn gate_flags_are_validated_before_anything_starts() {
    // Docker is unreachable: every answer below comes before it is needed.
    let no_docker = [("DOCKER_HOST", "unix:///nonexistent/docker.sock")];
    let (code, _, stderr) = lgtm_check(
        &["gate", "--baseline", "loki=grafana/loki:3.2.0"],
        &no_docker,
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("nothing to gate"), "{stderr}");
    let (code, _, stderr) = lgtm_check(
        &["gate", "--candidate", "loki=grafana/loki:3.4.6,tempo"],
        &no_docker,
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--candidate `tempo`: expected COMPONENT=IMAGE"),
        "{stderr}"
    );
    let (code, _, stderr) = lgtm_check(
        &["gate", "--candidate", "lokii=grafana/loki:3.4.6"],
        &no_docker,
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("unknown component `lokii`"), "{stderr}");
    // A candidate config that does not exist stops the gate before the baseline runs.
    let (code, stdout, stderr) = lgtm_check(
        &[
            "gate",
            "--baseline",
            "tempo=grafana/tempo:2.6.0",
            "--candidate",
            "tempo=grafana/tempo:2.7.2",
            "--candidate-config",
            "tempo=/nonexistent/tempo.yaml",
        ],
        &no_docker,
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("tempo: cannot read the config file /nonexistent/tempo.yaml"),
        "{stderr}"
    );
    assert!(!stderr.contains("Docker is not reachable"), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
}

/// A fresh directory for this test's files.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lgtm-check-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_bad_gate_table_exits_2_naming_the_file_and_key() {
    let no_docker = [("DOCKER_HOST", "unix:///nonexistent/docker.sock")];
    let dir = scratch("bad-gate");
    let file = dir.join("lgtm-check.toml");
    let config = file.to_str().unwrap();
    std::fs::write(
        &file,
        "[gate]\nbaseline = { loki = \"grafana/loki:3.2.0\" }\ncandidate-images = { loki = \"grafana/loki:3.4.6\" }\n",
    )
    .unwrap();
    let (code, stdout, stderr) = lgtm_check(&["gate", "--config", config], &no_docker);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot read {config}: line 3, column 1: key `candidate-images`, unknown field `candidate-images`"
        )),
        "{stderr}"
    );
    assert!(stdout.is_empty(), "{stdout}");
    // An unknown component, and an image that is not one, are named too.
    std::fs::write(
        &file,
        "[gate]\ncandidate = { lokii = \"grafana/loki:3.4.6\" }\n",
    )
    .unwrap();
    let (code, _, stderr) = lgtm_check(&["gate", "--config", config], &no_docker);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!("cannot read {config}: line 2")) && stderr.contains("lokii"),
        "{stderr}"
    );
    std::fs::write(&file, "[gate]\ncandidate = { loki = \"grafana/loki:\" }\n").unwrap();
    let (code, _, stderr) = lgtm_check(&["gate", "--config", config], &no_docker);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{config}: [gate] candidate.loki = `grafana/loki:`: `grafana/loki:` is not an image reference"
        )),
        "{stderr}"
    );
    // A --config that does not exist is an error, not an empty file.
    let missing = dir.join("nope.toml");
    let (code, _, stderr) =
        lgtm_check(&["gate", "--config", missing.to_str().unwrap()], &no_docker);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("nope.toml"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_gate_table_gives_the_sides_under_the_flags_with_paths_from_its_directory() {
    let no_docker = [("DOCKER_HOST", "unix:///nonexistent/docker.sock")];
    let dir = scratch("gate-table");
    std::fs::create_dir_all(dir.join("ci")).unwrap();
    std::fs::write(
        dir.join("ci/lgtm-check.toml"),
        "[gate]\n\
         baseline = { tempo = \"grafana/tempo:2.6.0\" }\n\
         candidate = { tempo = \"grafana/tempo:2.7.2\" }\n\
         candidate-config = { tempo = \"tempo-2.7.yaml\" }\n",
    )
    .unwrap();
    // Found in the current directory without --config; its config path starts from
    // the file's directory, and the check of that file comes before Docker.
    let mut command = Command::new(env!("CARGO_BIN_EXE_lgtm-check"));
    for (key, _) in std::env::vars_os() {
        if callers_own(&key.to_string_lossy()) {
            command.env_remove(key);
        }
    }
    let out = command
        .current_dir(dir.join("ci"))
        .args(["gate"])
        .envs(no_docker)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("tempo: cannot read the config file tempo-2.7.yaml"),
        "{stderr}"
    );
    // With --config from elsewhere, the path is joined to the file's directory.
    let config = dir.join("ci/lgtm-check.toml");
    let (code, _, stderr) = lgtm_check(&["gate", "--config", config.to_str().unwrap()], &no_docker);
    assert_eq!(code, 2, "{stderr}");
    let joined = dir.join("ci").join("tempo-2.7.yaml");
    assert!(
        stderr.contains(&format!(
            "tempo: cannot read the config file {}",
            joined.display()
        )),
        "{stderr}"
    );
    // A flag replaces the file's entry for its component: with the file's config
    // there, the plan is made and the gate goes on to Docker.
    std::fs::write(&joined, "# a config\n").unwrap();
    let (code, _, stderr) = lgtm_check(
        &[
            "gate",
            "--config",
            config.to_str().unwrap(),
            "--candidate-config",
            "tempo=/nonexistent/flag.yaml",
        ],
        &no_docker,
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("tempo: cannot read the config file /nonexistent/flag.yaml"),
        "{stderr}"
    );
    let (code, _, stderr) = lgtm_check(&["gate", "--config", config.to_str().unwrap()], &no_docker);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("Docker is not reachable"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
