//! The message types: what one frame of poses looks like on the wire.

use postcard::experimental::max_size::MaxSize;
use serde::{Deserialize, Serialize};

/// Version written in the first byte of every payload. Bump it for any change of the
/// [`PoseFrame`] layout; the envelope (COBS, CRC trailer, version byte first) never changes, so
/// old receivers can always tell "newer than me" from "corrupt".
///
/// Version 2 adds the camera index after the device id; receivers read versions 1 and 2.
pub const PROTOCOL_VERSION: u8 = 2;

/// The first protocol version (no camera index). Still written by a daemon with a single
/// unnamed `[source]`, so receivers built before version 2 keep working; decoded with
/// [`PoseFrame::camera`] = 0.
pub const PROTOCOL_VERSION_V1: u8 = 1;

/// Most persons one wire frame carries. The daemon sends the highest-scoring ones; a robot
/// rarely needs more, and the bound keeps MCU receive buffers around 2 KiB.
pub const MAX_WIRE_PERSONS: usize = 16;

/// COCO-17 keypoints per person, in COCO order (nose, left eye, right eye, ...).
pub const NUM_KEYPOINTS: usize = 17;

/// Keypoint coordinates are fixed point with this many units per pixel (quarter pixel). Values
/// below 16384 (4096 px) still fit a two-byte varint, so the precision costs nothing in size.
pub const COORD_UNITS_PER_PIXEL: u16 = 4;

/// Largest coordinate representable, in pixels (`u16::MAX / COORD_UNITS_PER_PIXEL`).
pub const MAX_COORD_PX: f32 = u16::MAX as f32 / COORD_UNITS_PER_PIXEL as f32;

/// Scores in [0, 1] are sent as `round(score * SCORE_SCALE)`.
pub const SCORE_SCALE: f32 = 255.0;

/// One keypoint: quarter-pixel coordinates and an 8-bit score. A score of 0 means "absent".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, MaxSize)]
pub struct WireKeypoint {
    /// x in units of 1/[`COORD_UNITS_PER_PIXEL`] pixel, from the left edge of the source image.
    pub x: u16,
    /// y in units of 1/[`COORD_UNITS_PER_PIXEL`] pixel, from the top edge of the source image.
    pub y: u16,
    /// Confidence, 1..=255 for a present keypoint; 0 = absent (x and y are then 0).
    pub score: u8,
}

impl WireKeypoint {
    /// The marker for a keypoint the decoder did not find.
    pub const ABSENT: WireKeypoint = WireKeypoint {
        x: 0,
        y: 0,
        score: 0,
    };

    /// A present keypoint from source-image pixels and a [0, 1] score.
    ///
    /// Coordinates are clamped to `0..=MAX_COORD_PX` (keypoints just outside the image are
    /// legal decoder output; negative values cannot be sent). The score is clamped to [0, 1]
    /// and never rounds down to 0, so a present keypoint stays present. NaN becomes 0.
    pub fn from_pixels(x: f32, y: f32, score: f32) -> Self {
        WireKeypoint {
            x: px_to_units(x),
            y: px_to_units(y),
            score: score_to_u8(score).max(1),
        }
    }

    /// Whether the keypoint was found.
    pub const fn is_present(&self) -> bool {
        self.score != 0
    }

    /// x in source-image pixels.
    pub fn x_px(&self) -> f32 {
        f32::from(self.x) / f32::from(COORD_UNITS_PER_PIXEL)
    }

    /// y in source-image pixels.
    pub fn y_px(&self) -> f32 {
        f32::from(self.y) / f32::from(COORD_UNITS_PER_PIXEL)
    }

    /// Score in [0, 1].
    pub fn score_f32(&self) -> f32 {
        f32::from(self.score) / SCORE_SCALE
    }
}

/// One person: a track id, a score and 17 keypoints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, MaxSize)]
pub struct WirePerson {
    /// Tracking id (stable across frames while the person stays in view); 0 = not tracked.
    pub track_id: u32,
    /// Person confidence, `round(score * 255)`.
    pub score: u8,
    /// COCO-17 keypoints, [`WireKeypoint::ABSENT`] where not found.
    pub keypoints: [WireKeypoint; NUM_KEYPOINTS],
}

impl WirePerson {
    /// Person score in [0, 1].
    pub fn score_f32(&self) -> f32 {
        f32::from(self.score) / SCORE_SCALE
    }
}

/// Persons of one wire frame.
pub type WirePersons = heapless::Vec<WirePerson, MAX_WIRE_PERSONS>;

/// One frame of poses as sent to robots. Field order here is the order on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PoseFrame {
    /// Protocol version; [`PoseFrame::new`] sets [`PROTOCOL_VERSION`]. The encoder writes the
    /// field as it is (so tests can produce other versions); receivers reject unknown ones.
    pub version: u8,
    /// Which camera/daemon sent the frame (configured per device).
    pub device_id: u32,
    /// Camera index within the device (version 2; 0 in version-1 frames, which do not carry
    /// it): the daemon's named cameras in the alphabetical order of their names.
    pub camera: u8,
    /// Frame sequence number from the capture stage; gaps mean dropped frames.
    pub seq: u64,
    /// Capture time, microseconds since the Unix epoch.
    pub timestamp_us: u64,
    /// Source-image width in pixels.
    pub width: u16,
    /// Source-image height in pixels.
    pub height: u16,
    /// Model identifier (the model card's numeric id).
    pub model_id: u16,
    /// Up to [`MAX_WIRE_PERSONS`] persons.
    pub persons: WirePersons,
}

impl PoseFrame {
    /// An empty frame of the current [`PROTOCOL_VERSION`] for camera 0.
    pub const fn new(
        device_id: u32,
        seq: u64,
        timestamp_us: u64,
        width: u16,
        height: u16,
        model_id: u16,
    ) -> Self {
        PoseFrame {
            version: PROTOCOL_VERSION,
            device_id,
            camera: 0,
            seq,
            timestamp_us,
            width,
            height,
            model_id,
            persons: heapless::Vec::new(),
        }
    }
}

/// Longest postcard varint of an unsigned integer of `bytes` bytes (7 payload bits per byte).
const fn varint_max_len(bytes: usize) -> usize {
    (bytes * 8).div_ceil(7)
}

/// postcard's `MaxSize` is not implemented for heapless 0.9's `Vec`, so the frame's bound is
/// spelled out: one field at a time, in wire order. A test checks it against a worst-case frame.
impl MaxSize for PoseFrame {
    const POSTCARD_MAX_SIZE: usize = 1 // version: u8, one raw byte
        + varint_max_len(4) // device_id: u32
        + 1 // camera: u8, one raw byte (version 2; version-1 frames are one byte shorter)
        + varint_max_len(8) // seq: u64
        + varint_max_len(8) // timestamp_us: u64
        + 3 * varint_max_len(2) // width, height, model_id: u16
        + 1 // persons length prefix: varint(<= 16) is one byte
        + MAX_WIRE_PERSONS * WirePerson::POSTCARD_MAX_SIZE;
}

/// The version-1 body: [`PoseFrame`] without the camera index, field for field in wire order.
#[derive(Serialize, Deserialize)]
pub(crate) struct BodyV1<P> {
    pub version: u8,
    pub device_id: u32,
    pub seq: u64,
    pub timestamp_us: u64,
    pub width: u16,
    pub height: u16,
    pub model_id: u16,
    pub persons: P,
}

impl BodyV1<WirePersons> {
    /// The frame this version-1 body describes (camera 0).
    pub(crate) fn into_frame(self) -> PoseFrame {
        PoseFrame {
            version: self.version,
            device_id: self.device_id,
            camera: 0,
            seq: self.seq,
            timestamp_us: self.timestamp_us,
            width: self.width,
            height: self.height,
            model_id: self.model_id,
            persons: self.persons,
        }
    }
}

impl<'a> BodyV1<&'a WirePersons> {
    /// `frame` in the version-1 layout (its camera index is not carried).
    pub(crate) fn of(frame: &'a PoseFrame) -> Self {
        BodyV1 {
            version: frame.version,
            device_id: frame.device_id,
            seq: frame.seq,
            timestamp_us: frame.timestamp_us,
            width: frame.width,
            height: frame.height,
            model_id: frame.model_id,
            persons: &frame.persons,
        }
    }
}

/// Pixels to fixed-point units, rounding to nearest, clamping to the representable range.
fn px_to_units(px: f32) -> u16 {
    // `as` saturates and maps NaN to 0; adding 0.5 before truncating rounds the (non-negative)
    // value to nearest without needing libm on no_std targets.
    (px.clamp(0.0, MAX_COORD_PX) * f32::from(COORD_UNITS_PER_PIXEL) + 0.5) as u16
}

/// A [0, 1] score to 0..=255, rounding to nearest.
pub(crate) fn score_to_u8(score: f32) -> u8 {
    (score.clamp(0.0, 1.0) * SCORE_SCALE + 0.5) as u8
}

impl WirePerson {
    /// A person with all keypoints absent and the given track id and [0, 1] score.
    pub fn new(track_id: u32, score: f32) -> Self {
        WirePerson {
            track_id,
            score: score_to_u8(score),
            keypoints: [WireKeypoint::ABSENT; NUM_KEYPOINTS],
        }
    }
}
