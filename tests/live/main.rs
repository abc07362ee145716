//! The live suite: every test that starts containers (a stack, a compose
//! deployment, a gate's two sides) or runs a real program against them, in one test
//! binary of the `lgtm-check` crate (`harness/Cargo.toml` names this file), so that
//! they run side by side instead of one binary after another: most of their time is
//! spent waiting on the backends (a ready probe, a scrape, a flush), not computing.
//! `.cargo/config.toml` raises the number of test threads for that
//! (`RUST_TEST_THREADS`; a caller's own value wins). Each test starts what it needs
//! under a run id, project name or subnet of its own and looks only at its own
//! containers, so they do not see one another.
//!
//! Run a part: `cargo test -p lgtm-check --test live deployments` (a module's name
//! filters its tests). A test whose image or Docker is missing says `SKIPPED` with
//! the reason.
//!
//! Order: libtest starts tests in the order of their names. The conformance suite's
//! cases each wait for the runs they judge, so its module is named to sort last
//! (`z_conformance`), and its three runs are started by the test that sorts first
//! ([`a_the_long_runs_start_first`]): they go on while the other tests run, and its
//! cases find them done instead of holding test threads while they wait. So is
//! `settled`'s run, which mostly waits (20 s), and would otherwise start late, by
//! name, and end the binary alone.

#[path = "../../harness/tests/common/mod.rs"]
mod common;

mod app;
mod app_python;
mod cleanup;
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
// Sorted last on purpose (see the module doc).
#[path = "conformance.rs"]
mod z_conformance;

/// Starts the conformance suite's runs and `settled`'s run in the background and
/// returns; their cases judge them (see the module doc for why this test sorts
/// first).
#[test]
fn a_the_long_runs_start_first() {
    z_conformance::start_all_runs();
    settled::start();
}
