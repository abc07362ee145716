//! lgtm-check: an end-to-end conformance harness for the Grafana LGTM stack.
//!
//! For your own tests: [`Stack`] starts Loki, Tempo, Prometheus and Mimir (or some of
//! them) in containers and gives your app their endpoints; [`assert`](mod@assert) waits until what
//! your app sent is there, with the catalog's own checks. See the manual's "From Rust
//! tests" (`docs/src/rust-tests.md`).
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::{Duration, SystemTime};
//! use lgtm_check::Stack;
//! use lgtm_check::assert::{Assertion, window};
//! use lgtm_check::core::component::Component;
//!
//! let stack = Stack::builder().components([Component::Loki, Component::Tempo]).start().await?;
//! let start = SystemTime::now();
//! // …run your app with LOKI_URL = stack.loki_url()? and
//! //   OTEL_EXPORTER_OTLP_ENDPOINT = stack.otlp_http_url()?…
//! let w = window(start, SystemTime::now());
//! stack.assert(&Assertion::log_count(r#"{service="my-app"}"#, w, 10)).await?;
//! # Ok(()) }
//! ```
//!
//! # Features
//!
//! - `cli` (default): the `lgtm-check` command and what only it uses: the run, soak,
//!   gate, app, shape, tap and record commands, the reporters (terminal, JSON, JUnit),
//!   the benchmark and the runner of the scenario programs. Implies `gateway` and `tls`.
//! - `gateway`: the recording gateway (`gateway`) and the deployment it forwards to
//!   (`external`): OTLP's messages and gRPC services, its HTTP server. Implies `tls`.
//! - `tls`: HTTPS to a deployment and Docker over TLS (rustls). A [`Stack`]'s
//!   endpoints are plain HTTP on this host and a local Docker is a socket: a user's
//!   test needs neither.
//!
//! A user's test needs none of them: `lgtm-check = { version = "0.1", default-features
//! = false }` is [`Stack`], the assertions, the checks and their catalog, the shape
//! snapshots, the manifest and the gateway's record types.
//!
//! The modules:
//! - [`core`]: plain data and pure functions (components, plan, checks, expectations,
//!   catalog, report model, the gateway's record);
//! - [`stack`], [`clients`]: adapters to Docker and the backends' HTTP APIs;
//! - [`wait`]: the one poll loop of every check;
//! - [`assert`](mod@assert): waiting assertions on a [`Stack`] for a user's own tests;
//! - [`execute`]: one check's wait–evaluate–report path;
//! - [`concurrent`]: a run's checks, concurrently, each on its own clock;
//! - [`shape`]: telemetry-shape snapshots of a run;
//! - [`durability`], [`fault`], [`liveness`], [`remote_write`], [`served_config`]:
//!   what arrived of each signal, faults injected into the stack's containers, their
//!   deaths, the remote-write push-back, the configs the backends serve.
//!
//! With `gateway`:
//! - [`gateway`]: the recording gateway between a program and the backends, which
//!   forwards every request and records every item with the backend's answer;
//! - [`external`]: a running deployment as the target.
//!
//! With `cli`:
//! - [`runner`]: the CLI's run: [`Stack`], scenarios and catalog, reporting through
//!   events; [`scenario`]: the scenario processes; [`soak`]: the run N times;
//! - [`report`]: terminal, JSON and JUnit reporters;
//! - [`shape_command`]: `lgtm-check shape`;
//! - [`app_command`]: `lgtm-check app`, any program run against the stack and checked;
//! - [`gate_command`], [`gate_workload`]: `lgtm-check gate`, the catalog on a baseline and
//!   a candidate, compared ([`core::gate`]);
//! - [`tap_command`]: `lgtm-check tap`, the gateway on its own in front of a running
//!   deployment;
//! - [`record_command`]: `lgtm-check run --target external --record PATH`, a tap's
//!   record checked against the deployment;
//! - [`bench`](mod@bench): `lgtm-check bench`.

#![warn(missing_docs)]
// The overview above links every module; built without a feature, the links to the
// modules it leaves out cannot resolve (docs.rs builds with every feature).
#![cfg_attr(not(feature = "cli"), allow(rustdoc::broken_intra_doc_links))]

pub mod assert;
pub mod clients;
pub mod concurrent;
pub mod core;
pub mod durability;
pub mod execute;
pub mod fault;
pub mod liveness;
pub mod remote_write;
pub mod served_config;
pub mod shape;
pub mod stack;
pub mod wait;

// The recording gateway and the deployment it forwards to (they share its probing).
#[cfg(feature = "gateway")]
pub mod external;
#[cfg(feature = "gateway")]
pub mod gateway;

// What only the command line uses.
#[cfg(feature = "cli")]
pub mod app_command;
#[cfg(feature = "cli")]
pub mod bench;
#[cfg(feature = "cli")]
pub mod gate_command;
#[cfg(feature = "cli")]
pub mod gate_workload;
#[cfg(feature = "cli")]
pub mod record_command;
#[cfg(feature = "cli")]
pub mod report;
#[cfg(feature = "cli")]
pub mod runner;
#[cfg(feature = "cli")]
pub mod scenario;
#[cfg(feature = "cli")]
pub mod shape_command;
#[cfg(feature = "cli")]
pub mod soak;
#[cfg(feature = "cli")]
pub mod tap_command;

pub use stack::{SharedStack, Stack, StackBuilder, StackError};
