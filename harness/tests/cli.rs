//! The `lgtm-check` binary's answers to bad input, which need no running stack.

use std::process::Command;

fn lgtm_check(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lgtm-check"))
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
