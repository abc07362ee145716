//! One stack per test binary: both tests get the same Loki, started once, and the
//! `atexit` hook removes it when the binary exits (check: `docker ps -a` shows no
//! `lgtm-check-*` container after `cargo test --test shared_stack`).

use lgtm_check::core::component::Component;
use lgtm_check::{SharedStack, Stack, StackError};

static STACK: SharedStack = SharedStack::new();

fn shared() -> Option<&'static Stack> {
    match STACK.get_or_start(|| Stack::builder().components([Component::Loki])) {
        Ok(stack) => Some(stack),
        Err(e @ (StackError::ImageMissing { .. } | StackError::Docker(_))) => {
            eprintln!("SKIPPED: {e}");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

async fn loki_is_ready(stack: &Stack) {
    let url = format!("{}/ready", stack.loki_url().unwrap());
    let r = reqwest::get(&url).await.unwrap();
    assert!(r.status().is_success(), "{url}: {}", r.status());
}

#[tokio::test]
async fn first_test_uses_the_shared_stack() {
    let Some(stack) = shared() else { return };
    loki_is_ready(stack).await;
}

#[tokio::test]
async fn second_test_gets_the_same_stack() {
    let Some(stack) = shared() else { return };
    assert_eq!(
        stack.run_id(),
        shared().unwrap().run_id(),
        "one stack per binary"
    );
    loki_is_ready(stack).await;
}
