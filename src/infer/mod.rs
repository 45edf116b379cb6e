//! Inference: image in, persons out, for one model. The submodules form a one-way chain, each
//! using only those before it:
//!
//! [`model`] (the card: everything about a network is data) → [`backend`] (tract, onnxruntime,
//! tract-CUDA) → [`preprocess`] (letterbox into the backend's input) → [`decode`] (output →
//! persons) → [`tta`] (extra passes averaged before the decode) → [`detector`] (the per-frame
//! chain the commands, benchmarks and the daemon share).

pub mod model;

pub mod backend;

pub mod preprocess;

pub mod decode;

pub mod tta;

pub mod detector;
