//! JSON lines: one object per frame, for scripts, logs and debugging.
//!
//! The schema is [`crate::pose::JsonFrame`] (also used by `edgepose listen`, `detect`,
//! `decode` and `examples/python/edgepose_wire.py`).

use super::{Sink, SinkError, SinkStats};
use crate::pose::FramePoses;
use crate::pose::JsonFrame;
use serde::Deserialize;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

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
