//! Reporters: render the [`crate::core::report::Report`] (and progress events) into any
//! writer, so tests can render into memory.
//!
//! One file per reporter: [`terminal`], [`json`], [`junit`], and the upgrade gate's
//! [`gate`].

pub mod gate;
pub mod json;
pub mod junit;
pub mod terminal;
