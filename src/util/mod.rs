//! Small helpers every layer may use (they import nothing else from the crate): the one
//! exponential back-off and the one `WxH` size type.

pub mod backoff;
pub mod size;

pub use backoff::Backoff;
pub use size::Size;
