//! The result of one frame as it travels from the decoder to the sinks and the display, and
//! its one JSON schema (the JSON-lines sink, MQTT's `poses/json`, `edgepose listen`,
//! `detect --json` and `decode --json`):
//!
//! ```json
//! {"version":1,"device_id":7,"seq":42,"timestamp_us":1700000000000000,"width":640,
//!  "height":480,"model_id":3,
//!  "persons":[{"track_id":5,"score":0.87,"keypoints":[[320.25,110.5,0.93],null, ...]}]}
//! ```
//!
//! `keypoints` always has 17 entries in COCO order; `null` marks an absent keypoint; present
//! ones are `[x, y, score]` in source-image pixels with score in [0, 1].
//!
//! Frames of a named camera (`[sources.<name>]`) also carry `"camera": "<name>"` and
//! `"camera_index"` (the wire frame's camera index), with `version` 2; decoded wire frames of
//! version 2 carry `camera_index` only (the wire has no names).

use edgepose_decoder::{DecodeStats, Person, Persons};
use edgepose_wire::{PoseFrame, NUM_KEYPOINTS, PROTOCOL_VERSION, PROTOCOL_VERSION_V1};
use serde::{Deserialize, Serialize};

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

/// One frame as a JSON object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonFrame {
    /// Schema version; equals the wire protocol version.
    pub version: u8,
    pub device_id: u32,
    /// The camera's name (`[sources.<name>]`); absent for the single `[source]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera: Option<String>,
    /// The camera's index (wire version 2); absent for the single `[source]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera_index: Option<u8>,
    pub seq: u64,
    pub timestamp_us: u64,
    pub width: u32,
    pub height: u32,
    pub model_id: u16,
    pub persons: Vec<JsonPerson>,
}

/// One person in a [`JsonFrame`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonPerson {
    pub track_id: u32,
    pub score: f32,
    /// Parts the decoder grouped: in `detect` and `decode` output; frames leave it out (the
    /// wire does not carry it, and the sink's frames equal what `listen` prints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_parts: Option<u8>,
    /// 17 entries; `None` (JSON `null`) = absent; else `[x, y, score]`.
    pub keypoints: Vec<Option<[f32; 3]>>,
}

impl JsonPerson {
    /// A decoded person at full float precision, with its part count.
    pub fn from_person(p: &Person) -> JsonPerson {
        JsonPerson {
            track_id: p.track_id,
            score: p.score,
            num_parts: Some(p.num_parts),
            keypoints: p
                .keypoints
                .iter()
                .map(|k| k.present.then_some([k.x, k.y, k.score]))
                .collect(),
        }
    }

    /// A person list (`detect --json`, `decode --json`).
    pub fn list(persons: &[Person]) -> Vec<JsonPerson> {
        persons.iter().map(JsonPerson::from_person).collect()
    }
}

impl JsonFrame {
    /// From the pipeline's frame, at full float precision.
    pub fn from_poses(frame: &FramePoses, device_id: u32) -> Self {
        JsonFrame {
            version: if frame.camera.is_some() {
                PROTOCOL_VERSION
            } else {
                PROTOCOL_VERSION_V1
            },
            device_id,
            camera: frame.camera.as_ref().map(|c| c.name.to_string()),
            camera_index: frame.camera.as_ref().map(|c| c.index),
            seq: frame.seq,
            timestamp_us: frame.timestamp_us,
            width: frame.width,
            height: frame.height,
            model_id: frame.model_id,
            persons: frame
                .persons
                .iter()
                .map(|p| JsonPerson {
                    num_parts: None,
                    ..JsonPerson::from_person(p)
                })
                .collect(),
        }
    }

    /// From a received wire frame (quarter-pixel coordinates, 8-bit scores).
    pub fn from_wire(frame: &PoseFrame) -> Self {
        JsonFrame {
            version: frame.version,
            device_id: frame.device_id,
            camera: None,
            camera_index: (frame.version != PROTOCOL_VERSION_V1).then_some(frame.camera),
            seq: frame.seq,
            timestamp_us: frame.timestamp_us,
            width: u32::from(frame.width),
            height: u32::from(frame.height),
            model_id: frame.model_id,
            persons: frame
                .persons
                .iter()
                .map(|p| JsonPerson {
                    track_id: p.track_id,
                    score: p.score_f32(),
                    num_parts: None,
                    keypoints: p
                        .keypoints
                        .iter()
                        .map(|k| k.is_present().then(|| [k.x_px(), k.y_px(), k.score_f32()]))
                        .collect(),
                })
                .collect(),
        }
    }

    /// Checks the invariant the schema promises (17 keypoints per person).
    pub fn is_well_formed(&self) -> bool {
        self.persons
            .iter()
            .all(|p| p.keypoints.len() == NUM_KEYPOINTS)
    }
}
