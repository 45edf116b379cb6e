//! JSON lines: one object per frame, for scripts, logs and debugging.
//!
//! The schema is [`crate::pose::JsonFrame`] (also used by `edgepose listen`, `detect`,
//! `decode` and `examples/python/edgepose_wire.py`).

use super::{is_gone, Sink, SinkError, SinkStats};
use crate::pose::FramePoses;
use crate::pose::JsonFrame;
use serde::Deserialize;
use std::fs::File;
use std::io::Write;
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
/// line goes out in one write so a reader (`tail -f`, a pipe) sees whole frames immediately,
/// and a failed write (full disk) leaves nothing half-buffered to corrupt the next line.
pub struct JsonlSink {
    out: Option<Box<dyn Write + Send>>,
    device_id: u32,
    target: String,
    stats: SinkStats,
    /// Set once the output is gone for good (broken pipe): every later send says so.
    gone: Option<String>,
}

impl JsonlSink {
    /// Opens the file (or takes stdout).
    pub fn open(config: &JsonlConfig) -> Result<Self, SinkError> {
        let path = config.path.as_ref().filter(|p| p.as_os_str() != "-");
        let (writer, target): (Box<dyn Write + Send>, String) = match path {
            None => {
                // A closed stdout (`>&-`) is reopened on /dev/null by Rust's start-up code, and
                // writes to it vanish: refuse it here instead of losing every frame silently.
                match stdout_state() {
                    StdoutState::Closed => {
                        return Err(SinkError::Config(
                            "standard output is closed: the JSON-lines sink has nowhere to \
                             write (set sinks.jsonl.path, or leave [sinks.jsonl] out)"
                                .into(),
                        ))
                    }
                    StdoutState::DevNull => {
                        tracing::warn!("standard output is /dev/null: the JSON lines are discarded")
                    }
                    StdoutState::Open => {}
                }
                (Box::new(std::io::stdout()), "stdout".to_owned())
            }
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
            out: Some(writer),
            device_id,
            target,
            stats: SinkStats {
                connects: 1,
                ..SinkStats::default()
            },
            gone: None,
        }
    }

    /// Counts a write error; a broken pipe or closed descriptor makes the sink gone for good.
    fn io_err(&mut self, context: &str, source: std::io::Error) -> SinkError {
        self.stats.errors += 1;
        if is_gone(&source) {
            let reason = format!("{source} (the reader went away or the output was closed)");
            self.gone = Some(reason.clone());
            return SinkError::Gone {
                target: format!("JSON lines to {}", self.target),
                reason,
            };
        }
        SinkError::Io {
            context: format!("{context} {}", self.target),
            source,
        }
    }
}

/// Where standard output goes, as far as the JSON-lines sink cares.
#[derive(Debug, PartialEq, Eq)]
enum StdoutState {
    Open,
    /// Closed when the process started (or now).
    Closed,
    /// Redirected to /dev/null on purpose.
    DevNull,
}

#[cfg(target_os = "linux")]
fn stdout_state() -> StdoutState {
    const STDOUT: i32 = 1;
    // SAFETY: F_GETFD / F_GETFL only query the descriptor's flags; no memory is touched.
    let (fd_flags, status) = unsafe {
        (
            libc::fcntl(STDOUT, libc::F_GETFD),
            libc::fcntl(STDOUT, libc::F_GETFL),
        )
    };
    if fd_flags == -1 {
        return StdoutState::Closed;
    }
    match std::fs::read_link("/proc/self/fd/1") {
        // Rust's runtime opens /dev/null read-write in place of a closed descriptor; a shell's
        // `>/dev/null` (or Command's Stdio::null) opens it write-only.
        Ok(p) if p == std::path::Path::new("/dev/null") => {
            if status != -1 && status & libc::O_ACCMODE == libc::O_RDWR {
                StdoutState::Closed
            } else {
                StdoutState::DevNull
            }
        }
        _ => StdoutState::Open,
    }
}

#[cfg(not(target_os = "linux"))]
fn stdout_state() -> StdoutState {
    StdoutState::Open
}

impl Sink for JsonlSink {
    fn send(&mut self, frame: &FramePoses) -> Result<(), SinkError> {
        if let Some(reason) = &self.gone {
            return Err(SinkError::Gone {
                target: format!("JSON lines to {}", self.target),
                reason: reason.clone(),
            });
        }
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
            // Nothing can be flushed to an output that is gone; it was reported already.
            Some(_) if self.gone.is_some() => Ok(()),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that fails every write with `kind`.
    struct Failing(std::io::ErrorKind);

    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::from(self.0))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_broken_pipe_is_gone_for_good_and_other_errors_are_counted() {
        let frame = FramePoses::default();
        let mut sink = JsonlSink::from_writer(
            Box::new(Failing(std::io::ErrorKind::BrokenPipe)),
            1,
            "t".into(),
        );
        for _ in 0..3 {
            let e = sink.send(&frame).expect_err("pipe is broken");
            assert!(matches!(e, SinkError::Gone { .. }), "{e}");
        }
        assert_eq!(sink.stats().errors, 1, "the pipe broke once");
        assert!(sink.close().is_ok());

        let mut sink = JsonlSink::from_writer(
            Box::new(Failing(std::io::ErrorKind::StorageFull)),
            1,
            "t".into(),
        );
        for _ in 0..3 {
            let e = sink.send(&frame).expect_err("disk is full");
            assert!(matches!(e, SinkError::Io { .. }), "{e}");
        }
        assert_eq!((sink.stats().errors, sink.stats().sent), (3, 0));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_full_disk_is_counted_not_fatal() {
        // /dev/full fails every write with ENOSPC, like a file system that filled up.
        let config = JsonlConfig {
            path: Some("/dev/full".into()),
            append: true,
            ..JsonlConfig::default()
        };
        let mut sink = JsonlSink::open(&config).expect("/dev/full opens");
        for _ in 0..5 {
            let e = sink.send(&FramePoses::default()).expect_err("ENOSPC");
            assert!(e.to_string().contains("/dev/full"), "{e}");
            assert!(!matches!(e, SinkError::Gone { .. }));
        }
        assert_eq!(sink.stats().errors, 5);
    }
}
