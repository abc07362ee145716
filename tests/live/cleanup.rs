//! A run's containers and network are removed whatever ends it: Ctrl-C during
//! `lgtm-check run` (it exits 130 having removed them), the process killed outright
//! (SIGKILL can remove nothing: `lgtm-check cleanup` removes what is left, as the next
//! run's start does), and a panic while a library [`Stack`] is up (its drop removes
//! them). Each case first sees the run's objects exist, then none labelled with its
//! run id.
//!
//! Skipped, with the reason, when Docker or the Prometheus image is missing;
//! `LGTM_CHECK_REQUIRE_ALL=1` turns the skip into a failure.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;

use lgtm_check::Stack;
use lgtm_check::core::component::Component;
use lgtm_check::stack::docker::LABEL_RUN;

const PROMETHEUS: &str = "lgtm-check/prometheus:debian";

fn skip() -> bool {
    let Some(why) = common::cannot_run(&[PROMETHEUS.to_string()]) else {
        return false;
    };
    assert!(
        std::env::var("LGTM_CHECK_REQUIRE_ALL").as_deref() != Ok("1"),
        "required but skipped: {why}"
    );
    eprintln!("SKIPPED: {why}");
    true
}

/// The containers and networks labelled with `run_id`, as the docker CLI lists them.
fn labelled(run_id: &str) -> Vec<String> {
    let filter = format!("label={LABEL_RUN}={run_id}");
    let mut found = Vec::new();
    for args in [
        ["ps", "-a", "--format", "container {{.Names}}"].as_slice(),
        ["network", "ls", "--format", "network {{.Name}}"].as_slice(),
    ] {
        let out = Command::new("docker")
            .args(args)
            .args(["--filter", &filter])
            .output()
            .expect("docker runs");
        assert!(out.status.success(), "docker {args:?} failed: {out:?}");
        found.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_owned),
        );
    }
    found
}

/// `lgtm-check run` under `run_id` (its progress in a file, returned), once the first
/// of its containers exists.
fn run_until_a_container_exists(run_id: &str) -> (Child, PathBuf) {
    let log = std::env::temp_dir().join(format!("lgtm-check-cleanup-{run_id}.log"));
    let mut child = common::lgtm_check()
        .args(["run", "--scenario", "http-service", "--run-id", run_id])
        .args(["--image", &format!("prometheus={PROMETHEUS}")])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("a log file"))
        .spawn()
        .expect("lgtm-check starts");
    let since = Instant::now();
    while !labelled(run_id).iter().any(|o| o.starts_with("container ")) {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the run ended ({status}) before a container existed:\n{}",
                read(&log)
            );
        }
        assert!(
            since.elapsed() < Duration::from_secs(60),
            "no container of run {run_id} after 60 s:\n{}",
            read(&log)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, log)
}

fn read(log: &PathBuf) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

fn signal(child: &Child, name: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success(), "kill -{name} failed");
}

/// The child's exit code (`None`: ended by a signal), within 60 s.
fn wait(child: &mut Child) -> Option<i32> {
    let since = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("the child can be waited for") {
            return status.code();
        }
        if since.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the run did not end within 60 s of its signal");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ctrl_c_during_a_run_removes_its_containers_and_network() {
    if skip() {
        return;
    }
    let run_id = format!("ctrlc{}", std::process::id());
    let (mut child, log) = run_until_a_container_exists(&run_id);
    signal(&child, "INT");
    let code = wait(&mut child);
    let left = labelled(&run_id);
    let progress = read(&log);
    let _ = std::fs::remove_file(&log);
    assert_eq!(code, Some(130), "exit code after Ctrl-C:\n{progress}");
    assert!(
        progress.contains(&format!("interrupted; removing run {run_id}")),
        "{progress}"
    );
    assert!(left.is_empty(), "left after Ctrl-C: {left:?}\n{progress}");
}

#[test]
fn a_killed_runs_leftovers_are_removed_by_cleanup() {
    if skip() {
        return;
    }
    let run_id = format!("killed{}", std::process::id());
    let (mut child, log) = run_until_a_container_exists(&run_id);
    signal(&child, "KILL");
    assert_eq!(wait(&mut child), None, "ended by SIGKILL");
    let _ = std::fs::remove_file(&log);
    // A container whose creation was under way appears within a moment. (Another
    // test's stack starting meanwhile may already remove them: it reaps dead runs
    // the same way `cleanup` does.)
    std::thread::sleep(Duration::from_secs(2));
    let before = labelled(&run_id);
    let out = common::lgtm_check()
        .arg("cleanup")
        .output()
        .expect("lgtm-check cleanup runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "cleanup failed: {out:?}");
    assert!(stdout.starts_with("removed "), "{stdout}");
    let left = labelled(&run_id);
    assert!(
        left.is_empty(),
        "left after cleanup: {left:?} (before it: {before:?}); cleanup said: {stdout}"
    );
}

#[test]
fn a_stack_dropped_by_a_panic_is_removed() {
    if skip() {
        return;
    }
    let run_id = format!("panic{}", std::process::id());
    let id = run_id.clone();
    let joined = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        rt.block_on(async {
            let _stack = Stack::builder()
                .components([Component::Prometheus])
                .image(Component::Prometheus, PROMETHEUS.parse().unwrap())
                .run_id(&id)
                .start()
                .await
                .expect("the stack starts");
            let up = labelled(&id);
            assert!(
                up.iter().any(|o| o.starts_with("container "))
                    && up.iter().any(|o| o.starts_with("network ")),
                "the stack's container and network exist: {up:?}"
            );
            panic!("a test failing while its stack is up (on purpose)");
        })
    })
    .join();
    let why = joined.expect_err("the thread panicked");
    let why = why
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| why.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(
        why.contains("on purpose"),
        "it panicked for another reason: {why}"
    );
    let left = labelled(&run_id);
    assert!(left.is_empty(), "left after the panic: {left:?}");
}
