//! edgepose: camera frames in, multi-person poses out, streamed to robots.
//!
//! One module per pipeline stage, one trait per stage boundary:
//! [`source::Source`] → [`preprocess`] → [`backend::Backend`] → [`decode::Decoder`] →
//! [`track`] → [`sink::Sink`] / [`display::Display`].

pub mod backend;
pub mod cli;
pub mod config;
pub mod decode;
pub mod detector;
pub mod display;
pub mod eval;
pub mod http;
pub mod model;
pub mod pipeline;
pub mod pose;
pub mod preprocess;
pub mod recorder;
pub mod sink;
pub mod source;
pub mod synth;
pub mod tap;
pub mod track;
pub mod tta;

pub use edgepose_decoder as decoder;
pub use edgepose_wire as wire;
