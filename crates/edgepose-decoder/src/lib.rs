//! Fixed-memory multi-person pose decoding for edge devices and microcontrollers.
//!
//! Everything here is `no_std`, allocation-free and bounded: capacities are compile-time
//! constants, and anything that does not fit is *counted* in [`DecodeStats`], never a panic.
//! The same grouping engine serves the Simple Pose (body-part heatmaps) and OpenPose (PAF)
//! families; single-stage models (MoveNet, SMPR) only need thresholding and pose NMS; MoveNet's
//! CenterNet heads can also be decoded here instead of in its graph (`movenet_heads`).
//!
//! [`smpr`] is a library for users who bring an SMPR-style network (per-FPN-level person
//! logits, keypoint offsets, OKS rescoring): the edgepose daemon ships no such model and does
//! not load SMPR cards, so it is tested here (`tests/smpr.rs`) and benchmarked in the root
//! crate's `benches/decode.rs`. Feed it one [`SmprLevel`] of [`MapView`]s per level.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
// `!(v >= t)` is deliberate throughout: NaN must fail a threshold, which `v < t` would not.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub mod bottomup;
pub mod map;
pub mod movenet_heads;
pub mod peaks;
pub mod single;
pub mod skeleton;
pub mod smpr;
pub mod tta;
pub mod types;

pub use bottomup::{decode_paf, decode_simplepose, DecodeError, DecoderConfig, Workspace};
pub use map::{Geometry, Layout, MapError, MapView};
pub use movenet_heads::{decode_movenet_heads, movenet_heads_rows, MOVENET_HEADS_CHANNELS};
pub use single::{decode_movenet, oks, oks_nms, pose_area, SingleStageConfig};
pub use smpr::{decode_smpr, SmprConfig, SmprLevel, SmprNms, SmprWorkspace};
pub use types::*;
