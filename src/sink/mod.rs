//! Outputs robots use: every pose consumer implements [`Sink`].
//!
//! - [`serial::SerialSink`]: wire frames ([`edgepose_wire`]) over a UART;
//! - [`mqtt::MqttSink`]: wire frames (and optionally JSON) to an MQTT broker;
//! - [`jsonl::JsonlSink`]: one JSON object per frame to stdout or a file;
//! - `ros2::Ros2Sink` (feature `ros2`): ROS4HRI and vision_msgs topics in a ROS 2 graph.
//!
//! The daemon calls sinks from one dedicated thread. Sinks that talk to devices or networks
//! never block that thread for long: `send` encodes the frame and hands it to a bounded queue
//! that a writer thread owned by the sink drains; when the device is slow or gone, the oldest
//! queued frames are dropped and counted (robots want the newest poses, not a backlog), and
//! so are frames that waited longer than the sink's `max_age_ms` (default
//! [`DEFAULT_MAX_AGE_MS`]): a robot must not act on poses from before an outage.
//!
//! Transient write errors are counted in [`SinkStats`] and returned; an output that is gone
//! for good (the reader of a pipe went away, stdout closed) is [`SinkError::Gone`], which ends
//! the daemon with a non-zero exit.

pub mod jsonl;
pub mod mqtt;
mod queue;
pub mod ros2;
pub mod serial;

use crate::pose::FramePoses;
use edgepose_wire::{PoseFrame, WireKeypoint, WirePerson, MAX_ENCODED_LEN, MAX_WIRE_PERSONS};
use std::time::Duration;

pub use jsonl::{JsonlConfig, JsonlSink};
pub use mqtt::{MqttConfig, MqttSink};
pub use ros2::Ros2Config;
#[cfg(feature = "ros2")]
pub use ros2::Ros2Sink;
pub use serial::{SerialConfig, SerialSink};

/// Error from a sink. Transient device trouble is not an error of `send` (the sink retries in
/// the background and counts drops); errors mean the sink cannot work as configured or is
/// closed.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The configuration cannot work (bad URL, bad device name, missing feature).
    #[error("invalid sink configuration: {0}")]
    Config(String),
    /// Writing failed (file sinks; device sinks retry instead).
    #[error("{context}: {source}")]
    Io {
        /// What the sink was doing.
        context: String,
        source: std::io::Error,
    },
    /// The frame could not be encoded.
    #[error("cannot encode frame: {0}")]
    Encode(String),
    /// `flush` or `close` gave up waiting for the device.
    #[error("{0} timed out after {1:?}")]
    Timeout(&'static str, Duration),
    /// The sink was closed.
    #[error("sink is closed")]
    Closed,
    /// The output is gone for good (broken pipe, closed stdout): nothing written from now on
    /// can arrive, so the daemon should stop.
    #[error("{target}: output is gone: {reason}")]
    Gone { target: String, reason: String },
}

/// Default `max_age_ms` of the queued sinks (serial, MQTT): a robot reacting to poses half a
/// second old is already late; older ones are dropped, not delivered.
pub const DEFAULT_MAX_AGE_MS: u64 = 500;

/// Whether a write error means the output can never be written again (the reading end of a
/// pipe or socket went away, the descriptor is closed), as opposed to a transient one (full
/// disk, a slow device).
pub fn is_gone(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::BrokenPipe | ErrorKind::ConnectionReset | ErrorKind::NotConnected
    ) || e.raw_os_error() == Some(EBADF)
}

/// `EBADF` (the descriptor is closed); the same number on every Unix edgepose targets.
const EBADF: i32 = 9;

/// Counters every sink keeps; the daemon logs and exports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SinkStats {
    /// Frames written to the device / published.
    pub sent: u64,
    /// Frames dropped because the queue was full (device slow or down).
    pub dropped: u64,
    /// Write or connection errors seen (each one followed by a retry).
    pub errors: u64,
    /// Successful (re)connections / port (re)opens.
    pub connects: u64,
    /// Frames dropped because they waited longer than the sink's maximum age.
    pub stale: u64,
    /// Messages not sent because they are larger than the output allows (MQTT packet size).
    pub oversize: u64,
}

/// A pose output. Called from one thread; implementations must return from `send` quickly.
pub trait Sink: Send {
    /// Queues or writes one frame. Returns quickly even when the device is down.
    fn send(&mut self, frame: &FramePoses) -> Result<(), SinkError>;
    /// Waits (bounded) until queued frames are written.
    fn flush(&mut self) -> Result<(), SinkError>;
    /// Flushes (bounded), says goodbye where the protocol has one, and stops background
    /// threads. Further `send`s fail with [`SinkError::Closed`]. Calling it twice is harmless.
    fn close(&mut self) -> Result<(), SinkError>;
    /// Counters so far.
    fn stats(&self) -> SinkStats;
    /// Human-readable description for logs ("serial:/dev/ttyUSB0@115200").
    fn describe(&self) -> String;
}

/// Converts one frame of poses into a wire frame for `device_id`: protocol version 2 with the
/// camera index for a named camera, version 1 (readable by every receiver) otherwise.
///
/// At most [`MAX_WIRE_PERSONS`] persons fit: the highest-scoring ones are kept (in their
/// original order). Image sizes above 65535 px saturate (the wire carries u16).
pub fn to_wire(frame: &FramePoses, device_id: u32) -> PoseFrame {
    let mut wire = PoseFrame::new(
        device_id,
        frame.seq,
        frame.timestamp_us,
        saturate_u16(frame.width),
        saturate_u16(frame.height),
        frame.model_id,
    );
    match &frame.camera {
        Some(c) => wire.camera = c.index,
        None => wire.version = edgepose_wire::PROTOCOL_VERSION_V1,
    }
    let persons = &frame.persons;
    let keep: Vec<usize> = if persons.len() <= MAX_WIRE_PERSONS {
        (0..persons.len()).collect()
    } else {
        let mut idx: Vec<usize> = (0..persons.len()).collect();
        idx.sort_by(|&a, &b| persons[b].score.total_cmp(&persons[a].score));
        idx.truncate(MAX_WIRE_PERSONS);
        idx.sort_unstable();
        idx
    };
    for i in keep {
        let p = &persons[i];
        let mut wp = WirePerson::new(p.track_id, p.score);
        for (w, k) in wp.keypoints.iter_mut().zip(p.keypoints.iter()) {
            *w = if k.present {
                WireKeypoint::from_pixels(k.x, k.y, k.score)
            } else {
                WireKeypoint::ABSENT
            };
        }
        // Cannot fail: at most MAX_WIRE_PERSONS indices were kept.
        let _ = wire.persons.push(wp);
    }
    wire
}

/// Encodes a frame for the wire (COBS frame including the 0x00 delimiter).
pub fn encode_wire(frame: &FramePoses, device_id: u32) -> Result<Vec<u8>, SinkError> {
    let mut buf = vec![0u8; MAX_ENCODED_LEN];
    let n = edgepose_wire::encode(&to_wire(frame, device_id), &mut buf)
        .map_err(|e| SinkError::Encode(e.to_string()))?;
    buf.truncate(n);
    Ok(buf)
}

fn saturate_u16(v: u32) -> u16 {
    u16::try_from(v).unwrap_or(u16::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgepose_decoder::{Keypoint, Person};

    fn person(score: f32, track_id: u32) -> Person {
        let mut p = Person {
            score,
            track_id,
            ..Person::default()
        };
        p.keypoints[3] = Keypoint::new(10.5, 20.25, 0.75);
        p
    }

    #[test]
    fn keeps_the_best_persons_in_order() {
        let mut f = FramePoses {
            width: 70_000,
            height: 480,
            ..FramePoses::default()
        };
        for i in 0..(MAX_WIRE_PERSONS + 4) {
            // Scores 0.00, 0.05, ...: the four lowest must go.
            let _ = f.persons.push(person(i as f32 * 0.05, i as u32));
        }
        let w = to_wire(&f, 9);
        assert_eq!(w.persons.len(), MAX_WIRE_PERSONS);
        let ids: Vec<u32> = w.persons.iter().map(|p| p.track_id).collect();
        let expected: Vec<u32> = (4..(MAX_WIRE_PERSONS as u32 + 4)).collect();
        assert_eq!(ids, expected);
        assert_eq!((w.width, w.height, w.device_id), (u16::MAX, 480, 9));
        let kp = w.persons[0].keypoints[3];
        assert_eq!((kp.x_px(), kp.y_px()), (10.5, 20.25));
        assert!(!w.persons[0].keypoints[0].is_present());
    }
}
