//! Capture stage: everything that produces frames implements [`Source`].

use image::RgbImage;

/// One captured frame (RGB8) with its capture time.
#[derive(Clone, Debug)]
pub struct Frame {
    /// Sequence number, increasing by one per frame produced by the source.
    pub seq: u64,
    /// Capture time, microseconds since the Unix epoch.
    pub timestamp_us: u64,
    pub image: RgbImage,
}

/// Error from a source; `Recoverable` errors mean "skip this frame and call again".
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// This frame is bad (corrupt JPEG, short read); the source can go on.
    #[error("bad frame: {0}")]
    BadFrame(String),
    /// The device failed; the caller may retry with backoff.
    #[error("source failed: {0}")]
    Failed(String),
}

/// A frame producer. `Ok(None)` = the source is finished (end of a non-looping file list).
pub trait Source: Send {
    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError>;
    /// Human-readable description for logs ("v4l2:/dev/video0 640x480 MJPEG").
    fn describe(&self) -> String;
}
