//! edgepose: camera frames in, multi-person poses out, streamed to robots.
//!
//! The modules form a one-way stack in data-flow order; a module uses only those listed
//! before it (the command line is the binary's, `src/cli`, not part of the library):
//!
//! 1. [`util`] (back-off, sizes), [`pose`] (the frame result and its JSON schema), [`tap`]
//!    (finished frames offered to readers outside the pipeline)
//! 2. [`synth`] (synthetic scenes) → [`source`] (cameras, files, video, synthetic)
//! 3. [`infer`]: model card → pre-processing → backend → decode → TTA → detector
//! 4. [`track`] → [`sink`] / [`display`]
//! 5. [`eval`] (COCO metrics over a detector), [`config`] (the TOML file), [`pipeline`] (the
//!    daemon's threads)
//! 6. readers of the pipeline's tap: [`http`] (web view, metrics), [`recorder`] (MCAP)

pub mod util;

pub mod pose;
pub mod tap;

pub mod synth;

pub mod source;

pub mod infer;

pub mod track;

pub mod display;
pub mod sink;

pub mod config;
pub mod eval;
pub mod pipeline;

pub mod http;
pub mod recorder;

pub use edgepose_decoder as decoder;
pub use edgepose_wire as wire;
