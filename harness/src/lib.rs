//! lgtm-check: an end-to-end conformance harness for the Grafana LGTM stack.
//!
//! - [`core`]: plain data and pure functions (components, plan, checks, expectations,
//!   catalog, report model);
//! - [`stack`], [`clients`], [`scenario`]: adapters to Docker, the backends' HTTP
//!   APIs and the scenario processes;
//! - [`wait`]: the one poll loop of every check;
//! - [`runner`]: one run, start to end, reporting through events;
//! - [`report`]: terminal and JSON reporters.

pub mod assert;
pub mod clients;
pub mod core;
pub mod execute;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod stack;
pub mod wait;

pub use stack::{SharedStack, Stack, StackBuilder, StackError};
