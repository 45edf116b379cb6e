//! Small helpers every layer may use (they import nothing else from the crate): the one
//! exponential back-off, the one `WxH` size type and the one rate limit for repeated warnings.

pub mod backoff;
pub mod ratelimit;
pub mod size;

pub use backoff::Backoff;
pub use size::Size;
