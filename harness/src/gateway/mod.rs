//! lgtm-check's recording gateway: it sits between a program and the backends,
//! records every item the program sends ([`crate::core::record::Record`]) and
//! forwards each request to its backend, passing the backend's answer back.
//!
//! [`decode`]: the receivers, pure (request bodies into OTLP messages and record
//! entries).

pub mod decode;
