//! The result of one frame as it travels from the decoder to the sinks and the display.

use edgepose_decoder::{DecodeStats, Persons};

/// Poses of one captured frame, in source-image pixels.
#[derive(Clone, Debug, Default)]
pub struct FramePoses {
    /// Frame sequence number assigned by the capture stage.
    pub seq: u64,
    /// Capture time, microseconds since the Unix epoch.
    pub timestamp_us: u64,
    /// Source-image size in pixels.
    pub width: u32,
    pub height: u32,
    /// Short model identifier (the model card's `id`).
    pub model_id: u16,
    /// Persons, with track ids filled in by the tracker (0 before tracking).
    pub persons: Persons,
    /// What the decoder had to drop for this frame.
    pub stats: DecodeStats,
}
