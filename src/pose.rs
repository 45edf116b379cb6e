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
    /// The named camera (`[sources.<name>]`) the frame came from; `None` for the single
    /// `[source]`, whose outputs keep their single-camera form (no JSON `camera`, wire
    /// version 1, MQTT topics without a camera level).
    pub camera: Option<CameraId>,
}

/// A named camera of a multi-camera daemon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraId {
    /// Position in the alphabetical order of the names (the wire frame's camera index).
    pub index: u8,
    /// The `<name>` of `[sources.<name>]`.
    pub name: std::sync::Arc<str>,
}

/// JSON form of one person, shared by every JSON output (`decode`, `detect`, the JSON-lines
/// sink): `{"score", "num_parts", "track_id", "keypoints": [[x, y, score] | null; 17]}` in
/// COCO-17 order, source-image pixels, `null` for an absent keypoint.
pub fn person_json(p: &edgepose_decoder::Person) -> serde_json::Value {
    let round = |v: f32| (v as f64 * 100.0).round() / 100.0;
    let kps: Vec<serde_json::Value> = p
        .keypoints
        .iter()
        .map(|k| {
            if k.present {
                serde_json::json!([
                    round(k.x),
                    round(k.y),
                    (k.score as f64 * 1000.0).round() / 1000.0
                ])
            } else {
                serde_json::Value::Null
            }
        })
        .collect();
    serde_json::json!({
        "score": (p.score as f64 * 1000.0).round() / 1000.0,
        "num_parts": p.num_parts,
        "track_id": p.track_id,
        "keypoints": kps,
    })
}

/// JSON form of a person list.
pub fn persons_json(persons: &[edgepose_decoder::Person]) -> serde_json::Value {
    serde_json::Value::Array(persons.iter().map(person_json).collect())
}
