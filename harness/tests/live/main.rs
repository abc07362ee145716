//! The live suite: every test of the `lgtm-check` crate that starts containers (a
//! stack, a compose deployment, a gate's two sides) or a real program against them,
//! in one test binary, so that they run side by side instead of one binary after
//! another: most of their time is spent waiting on the backends (a scrape, a flush, a
//! ready probe), not computing. `.cargo/config.toml` raises the number of test
//! threads for that (`RUST_TEST_THREADS`, which a caller may still set). Each test
//! starts what it needs under a run id, project name or subnet of its own and checks
//! only its own containers, so they do not see one another.
//!
//! Run one part: `cargo test -p lgtm-check --test live deployments` (a module's
//! name filters its tests). Each test is `SKIPPED` with the reason when Docker or an
//! image it needs is missing.

#[path = "../common/mod.rs"]
mod common;

mod app;
mod app_python;
mod deployments;
mod empty_backend;
mod external;
mod faults_injected;
mod faults_midrun;
mod gate_corpus;
mod gate_live;
mod gate_path;
mod junit;
mod scrape;
mod settled;
mod shape_live;
