//! Replays an MCAP recording's camera images (`kind = "mcap"`): Foxglove `CompressedImage`
//! messages (JSON encoding; JPEG or PNG) on one topic, in file order, with the recorded
//! capture times and sequence numbers, at the original pace or as fast as the pipeline takes
//! them. A field recording (`[recorder]`) becomes a reproducible input.
//!
//! The file is read as a stream (mcap's sans-io reader): memory is one record, whatever the
//! recording's length.

use std::collections::HashSet;
use std::fs::File;
use std::io::Read as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine as _;
use mcap::sans_io::linear_reader::{LinearReadEvent, LinearReader, LinearReaderOptions};

use super::{Frame, Source, SourceError};

/// The topic the recorder writes camera images to.
pub const IMAGE_TOPIC: &str = "/camera/image";
/// Largest record accepted (a corrupt length must not allocate gigabytes).
const RECORD_LIMIT: usize = 256 << 20;
/// Read size per request from the file.
const READ_BYTES: usize = 1 << 16;

fn default_topic() -> String {
    IMAGE_TOPIC.to_owned()
}

/// Settings of the MCAP replay source.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McapConfig {
    /// The recording.
    pub path: PathBuf,
    /// Keep the recorded pace (log times) instead of going as fast as the pipeline goes.
    #[serde(default)]
    pub realtime: bool,
    /// Start again at the end of the file.
    #[serde(default, rename = "loop")]
    pub looping: bool,
    /// Topic of the `foxglove.CompressedImage` messages.
    #[serde(default = "default_topic")]
    pub topic: String,
}

/// Frames from an MCAP recording.
pub struct McapSource {
    config: McapConfig,
    file: File,
    reader: LinearReader,
    channels: HashSet<u16>,
    /// Recorded log time and wall-clock instant of the first frame (realtime pacing).
    origin: Option<(u64, Instant)>,
    /// Sequence offset added per loop, so looped frames keep increasing numbers.
    seq_offset: u64,
    max_seq: u64,
    frames: u64,
    done: bool,
}

/// The image bytes and format of a `foxglove.CompressedImage` JSON message.
pub fn decode_compressed_image(message: &[u8]) -> Result<(Vec<u8>, String), String> {
    let v: serde_json::Value =
        serde_json::from_slice(message).map_err(|e| format!("not a JSON message: {e}"))?;
    let data = v["data"]
        .as_str()
        .ok_or("CompressedImage without a `data` string")?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| format!("CompressedImage `data` is not base64: {e}"))?;
    Ok((bytes, v["format"].as_str().unwrap_or("").to_owned()))
}

impl McapSource {
    pub fn open(config: &McapConfig) -> Result<Self, SourceError> {
        let file = File::open(&config.path).map_err(|e| {
            SourceError::Failed(format!(
                "cannot open recording {}: {e}",
                config.path.display()
            ))
        })?;
        Ok(McapSource {
            config: config.clone(),
            file,
            reader: new_reader(),
            channels: HashSet::new(),
            origin: None,
            seq_offset: 0,
            max_seq: 0,
            frames: 0,
            done: false,
        })
    }

    fn restart(&mut self) -> Result<(), SourceError> {
        self.file = File::open(&self.config.path).map_err(|e| {
            SourceError::Failed(format!(
                "cannot reopen recording {}: {e}",
                self.config.path.display()
            ))
        })?;
        self.reader = new_reader();
        self.channels.clear();
        self.origin = None;
        self.seq_offset += self.max_seq + 1;
        Ok(())
    }

    fn bad(&self, what: impl std::fmt::Display) -> SourceError {
        SourceError::BadFrame(format!("{}: {what}", self.config.path.display()))
    }

    /// Waits until the recorded time of `log_time` (realtime replay).
    fn pace(&mut self, log_time: u64) {
        if !self.config.realtime {
            return;
        }
        match self.origin {
            None => self.origin = Some((log_time, Instant::now())),
            Some((t0, start)) => {
                let due = start + Duration::from_nanos(log_time.saturating_sub(t0));
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
            }
        }
    }
}

fn new_reader() -> LinearReader {
    LinearReader::new_with_options(
        LinearReaderOptions::default().with_record_length_limit(RECORD_LIMIT),
    )
}

impl Source for McapSource {
    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        loop {
            if self.done {
                return Ok(None);
            }
            let event = match self.reader.next_event() {
                None => {
                    if self.config.looping && self.frames > 0 {
                        self.restart()?;
                        continue;
                    }
                    self.done = true;
                    return Ok(None);
                }
                Some(Err(mcap::McapError::UnexpectedEof)) => {
                    // A recording cut short (power loss): its messages up to here are good.
                    tracing::warn!(
                        "{}: the recording ends without its summary (cut short?); replayed what it has",
                        self.config.path.display()
                    );
                    if self.config.looping && self.frames > 0 {
                        self.restart()?;
                        continue;
                    }
                    self.done = true;
                    return Ok(None);
                }
                Some(Err(e)) => {
                    // Nothing after a corrupt record can be trusted: report it once and end.
                    self.done = true;
                    return Err(self.bad(format!("not a readable MCAP file: {e}")));
                }
                Some(Ok(event)) => event,
            };
            let (opcode, data) = match event {
                LinearReadEvent::ReadRequest(n) => {
                    let buf = self.reader.insert(n.max(READ_BYTES));
                    let got = self.file.read(buf).map_err(|e| {
                        SourceError::Failed(format!(
                            "reading recording {}: {e}",
                            self.config.path.display()
                        ))
                    })?;
                    self.reader.notify_read(got);
                    continue;
                }
                LinearReadEvent::Record { opcode, data } => (opcode, data),
            };
            let record = match mcap::parse_record(opcode, data) {
                Ok(r) => r,
                Err(e) => {
                    let msg = format!("unreadable record: {e}");
                    return Err(self.bad(msg));
                }
            };
            let (header, message) = match record {
                mcap::records::Record::Channel(c) => {
                    if c.topic == self.config.topic {
                        self.channels.insert(c.id);
                    }
                    continue;
                }
                mcap::records::Record::Message { header, data }
                    if self.channels.contains(&header.channel_id) =>
                {
                    (header, data.into_owned())
                }
                _ => continue,
            };
            let seq = self.seq_offset + u64::from(header.sequence);
            self.max_seq = self.max_seq.max(u64::from(header.sequence));
            let (bytes, format) = decode_compressed_image(&message)
                .map_err(|m| self.bad(format!("message {}: {m}", header.sequence)))?;
            let image = image::load_from_memory(&bytes)
                .map_err(|e| self.bad(format!("{format} image {}: {e}", header.sequence)))?
                .to_rgb8();
            self.pace(header.log_time);
            self.frames += 1;
            return Ok(Some(Frame {
                seq,
                timestamp_us: header.log_time / 1000,
                image,
            }));
        }
    }

    fn describe(&self) -> String {
        format!(
            "mcap:{} {}{}",
            self.config.path.display(),
            self.config.topic,
            if self.config.realtime {
                " (recorded pace)"
            } else {
                ""
            }
        )
    }

    fn is_live(&self) -> bool {
        // At the recorded pace frames come on their own clock, like a camera's.
        self.config.realtime
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_and_missing_files_are_named_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = McapConfig {
            path: dir.path().join("none.mcap"),
            realtime: false,
            looping: false,
            topic: default_topic(),
        };
        let e = McapSource::open(&missing)
            .err()
            .expect("missing file fails");
        assert!(e.to_string().contains("none.mcap"), "{e}");
        let garbage = dir.path().join("garbage.mcap");
        std::fs::write(&garbage, b"this is not an mcap file at all, just text").expect("write");
        let mut s = McapSource::open(&McapConfig {
            path: garbage,
            ..missing
        })
        .expect("opens");
        let Err(e) = s.next_frame() else {
            panic!("garbage is an error")
        };
        assert!(e.to_string().contains("garbage.mcap"), "{e}");
        assert!(matches!(s.next_frame(), Ok(None)), "then the source ends");
    }
}
