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
//! The modules:
//! - [`core`]: plain data and pure functions (components, plan, checks, expectations,
//!   catalog, report model);
//! - [`stack`], [`clients`], [`scenario`]: adapters to Docker, the backends' HTTP
//!   APIs and the scenario processes;
//! - [`wait`]: the one poll loop of every check;
//! - [`assert`](mod@assert): waiting assertions on a [`Stack`] for a user's own tests;
//! - [`execute`]: one check's wait–evaluate–report path;
//! - [`concurrent`]: a run's checks, concurrently, each on its own clock;
//! - [`runner`]: the CLI's run: [`Stack`], scenarios and catalog, reporting through
//!   events;
//! - [`report`]: terminal and JSON reporters;
//! - [`shape`], [`shape_command`]: telemetry-shape snapshots of a run;
//! - [`app_command`]: `lgtm-check app`, any program run against the stack and checked;
//! - [`gate_command`]: `lgtm-check gate`, the catalog on a baseline and a candidate,
//!   compared ([`core::gate`]);
//! - [`gateway`]: the recording gateway between a program and the backends, which
//!   forwards every request and records every item with the backend's answer;
//! - [`tap_command`]: `lgtm-check tap`, the gateway on its own in front of a running
//!   deployment;
//! - [`record_command`]: `lgtm-check run --target external --record PATH`, a tap's
//!   record checked against the deployment.

#![warn(missing_docs)]

pub mod app_command;
pub mod assert;
pub mod bench;
pub mod clients;
pub mod concurrent;
pub mod core;
pub mod durability;
pub mod execute;
pub mod external;
pub mod fault;
pub mod gate_command;
pub mod gate_workload;
pub mod gateway;
pub mod liveness;
pub mod record_command;
pub mod remote_write;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod served_config;
pub mod shape;
pub mod shape_command;
pub mod soak;
pub mod stack;
pub mod tap_command;
pub mod wait;

pub use stack::{SharedStack, Stack, StackBuilder, StackError};
