//! JSON lines: one object per frame, for scripts, logs and debugging.
//!
//! The schema (also used by `edgepose listen` and `examples/python/edgepose_wire.py`):
//!
//! ```json
//! {"version":1,"device_id":7,"seq":42,"timestamp_us":1700000000000000,"width":640,
//!  "height":480,"model_id":3,
//!  "persons":[{"track_id":5,"score":0.87,"keypoints":[[320.25,110.5,0.93],null, ...]}]}
//! ```
//!
//! Frames of a named camera (`[sources.<name>]`) also carry `"camera": "<name>"` and
//! `"camera_index"` (the wire frame's camera index), and `version` 2; decoded wire frames of
//! version 2 carry `camera_index` only (the wire has no names).
//!
//! `keypoints` always has 17 entries in COCO order; `null` marks an absent keypoint; present
//! ones are `[x, y, score]` in source-image pixels with score in [0, 1].

use super::{Sink, SinkError, SinkStats};
use crate::pose::FramePoses;
use edgepose_wire::{PoseFrame, NUM_KEYPOINTS, PROTOCOL_VERSION, PROTOCOL_VERSION_V1};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

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
    /// 17 entries; `None` (JSON `null`) = absent; else `[x, y, score]`.
    pub keypoints: Vec<Option<[f32; 3]>>,
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
                    track_id: p.track_id,
                    score: p.score,
                    keypoints: p
                        .keypoints
                        .iter()
                        .map(|k| k.present.then_some([k.x, k.y, k.score]))
                        .collect(),
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

/// Where and how the JSON-lines sink writes.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JsonlConfig {
    /// Output file (created or truncated); `None` or `-` = standard output.
    pub path: Option<PathBuf>,
    /// Device id written into every object.
    pub device_id: u32,
    /// Append to the file instead of truncating it.
    pub append: bool,
}

/// Writes one JSON object per line. Writes are synchronous (files and terminals are fast); each
/// line is flushed so a reader (`tail -f`, a pipe) sees whole frames immediately.
pub struct JsonlSink {
    out: Option<BufWriter<Box<dyn Write + Send>>>,
    device_id: u32,
    target: String,
    stats: SinkStats,
}

impl JsonlSink {
    /// Opens the file (or takes stdout).
    pub fn open(config: &JsonlConfig) -> Result<Self, SinkError> {
        let path = config.path.as_ref().filter(|p| p.as_os_str() != "-");
        let (writer, target): (Box<dyn Write + Send>, String) = match path {
            None => (Box::new(std::io::stdout()), "stdout".to_owned()),
            Some(p) => {
                let file = File::options()
                    .create(true)
                    .write(true)
                    .append(config.append)
                    .truncate(!config.append)
                    .open(p)
                    .map_err(|source| SinkError::Io {
                        context: format!("cannot open JSON-lines output {}", p.display()),
                        source,
                    })?;
                (Box::new(file), p.display().to_string())
            }
        };
        Ok(Self::from_writer(writer, config.device_id, target))
    }

    /// Writes to any writer (tests, sockets).
    pub fn from_writer(writer: Box<dyn Write + Send>, device_id: u32, target: String) -> Self {
        JsonlSink {
            out: Some(BufWriter::new(writer)),
            device_id,
            target,
            stats: SinkStats {
                connects: 1,
                ..SinkStats::default()
            },
        }
    }

    fn io_err(&mut self, context: &str, source: std::io::Error) -> SinkError {
        self.stats.errors += 1;
        SinkError::Io {
            context: format!("{context} {}", self.target),
            source,
        }
    }
}

impl Sink for JsonlSink {
    fn send(&mut self, frame: &FramePoses) -> Result<(), SinkError> {
        let obj = JsonFrame::from_poses(frame, self.device_id);
        let mut line =
            serde_json::to_vec(&obj).map_err(|e| SinkError::Encode(format!("JSON: {e}")))?;
        line.push(b'\n');
        let out = self.out.as_mut().ok_or(SinkError::Closed)?;
        let res = out.write_all(&line).and_then(|()| out.flush());
        match res {
            Ok(()) => {
                self.stats.sent += 1;
                Ok(())
            }
            Err(e) => Err(self.io_err("cannot write JSON lines to", e)),
        }
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        let out = self.out.as_mut().ok_or(SinkError::Closed)?;
        match out.flush() {
            Ok(()) => Ok(()),
            Err(e) => Err(self.io_err("cannot flush", e)),
        }
    }

    fn close(&mut self) -> Result<(), SinkError> {
        match self.out.take() {
            None => Ok(()),
            Some(mut out) => out.flush().map_err(|e| self.io_err("cannot flush", e)),
        }
    }

    fn stats(&self) -> SinkStats {
        self.stats
    }

    fn describe(&self) -> String {
        format!("jsonl:{}", self.target)
    }
}

impl Drop for JsonlSink {
    fn drop(&mut self) {
        let _ = self.close();
    }
}
