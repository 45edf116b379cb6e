//! Small helpers every layer may use (they import nothing else from the crate).

pub mod backoff;

pub use backoff::Backoff;
