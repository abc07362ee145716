//! The pure core of lgtm-check: components and images, the run plan, checks and their
//! expectations, the catalog derived from manifests, and the report model.
//!
//! Nothing in here performs I/O (no Docker, no HTTP, no files): the stack, the clients
//! and the reporters are adapters around these types.

pub mod answer;
pub mod catalog;
pub mod catalog_config;
pub mod catalog_grafana;
pub mod catalog_record;
pub mod catalog_telemetry;
pub mod changes;
pub mod check;
pub mod component;
pub mod config_diff;
pub mod corpus;
pub mod corpus_templates;
pub mod dashboard;
pub mod durability;
pub mod event;
pub mod expect;
pub mod fault;
pub mod gate;
pub mod gate_corpus;
pub mod observed;
pub mod otlp_mapping;
pub mod plan;
pub mod quantile;
pub mod record;
pub mod report;
pub mod scenarios;
pub mod settings;
pub mod shape;
pub mod target;
pub mod user_queries;
pub mod workload;
