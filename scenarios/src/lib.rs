//! Scenarios for lgtm-check: programs that emit exactly known telemetry and write a
//! [`manifest::Manifest`] of what they emitted.
//!
//! The [`manifest`] module is lgtm-check-recorder's, re-exported (plain data shared
//! with the harness, available without the `telemetry` feature); [`faults`] is plain
//! data too, which falsifies a
//! manifest on purpose to test the harness, and [`redact`], which hides credentials
//! in anything that prints a URL; [`prompb`] is the remote-write wire format. The
//! scenario binaries under `src/bin/`
//! need the `telemetry` feature (on by default).

#![warn(missing_docs)]

pub mod faults;
#[cfg(feature = "prompb")]
pub mod prompb;
pub use lgtm_check_recorder::manifest;
pub mod redact;

#[cfg(feature = "telemetry")]
pub mod burst;
#[cfg(feature = "telemetry")]
pub mod checkout_chain;
#[cfg(feature = "telemetry")]
pub mod cli;
#[cfg(feature = "telemetry")]
pub mod http_service;
#[cfg(feature = "telemetry")]
pub mod loki_push;
#[cfg(feature = "telemetry")]
pub mod metrics_endpoint;
#[cfg(feature = "telemetry")]
pub mod otlp_service;
#[cfg(feature = "telemetry")]
pub mod remote_write;
#[cfg(feature = "telemetry")]
pub mod sampling;
#[cfg(feature = "telemetry")]
pub mod telemetry;
#[cfg(feature = "telemetry")]
pub mod volume;
