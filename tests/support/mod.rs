//! The one support module of the integration tests: every `tests/<area>.rs` binary declares
//! `mod support;`. [`skip`] is the skip-unless-CI rule; [`sinks`] holds pseudo-terminals, a
//! mosquitto broker started and killed by PID, and sample frames.
#![allow(dead_code, unused_imports)] // each binary uses a different subset

#[cfg(feature = "ort")]
pub mod ort;
pub mod sinks;
pub mod skip;

pub use sinks::*;
pub use skip::*;
