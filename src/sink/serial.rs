//! Wire frames over a serial port (UART, USB-serial adapter) to a robot's microcontroller.
//!
//! A writer thread owns the port. `send` only encodes the frame and queues it (bounded, oldest
//! dropped first), so a slow, full or unplugged port never stalls the pipeline. When the port
//! fails, the writer closes it and reopens it with exponential backoff; after a reopen or a
//! timed-out (possibly partial) write it first sends a lone 0x00 so the receiver's decoder
//! resynchronises at once.

use super::queue::DropOldestQueue;
use super::{encode_wire, Sink, SinkError, SinkStats, DEFAULT_MAX_AGE_MS};
use crate::pose::FramePoses;
use crate::util::ratelimit::RateLimit;
use crate::util::Backoff;
use serde::Deserialize;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long the writer waits for a frame before re-checking for shutdown.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Bound on `flush` and on `close` waiting for queued frames.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// Serial sink settings.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SerialConfig {
    /// Port path, e.g. `/dev/ttyUSB0`, `/dev/serial/by-id/...` (stable across replugging).
    pub device: String,
    /// Baud rate. A 6-person frame is about 600 bytes: 115200 baud carries ~19 such frames/s.
    pub baud: u32,
    /// Device id written into every wire frame.
    pub device_id: u32,
    /// Frames queued while the port is slow or gone; beyond that the oldest are dropped.
    pub queue_len: usize,
    /// A write that cannot progress for this long is abandoned (frame dropped, port kept).
    pub write_timeout_ms: u64,
    /// First delay before reopening a failed port; doubles up to `reopen_max_ms`.
    pub reopen_min_ms: u64,
    /// Longest delay between reopen attempts.
    pub reopen_max_ms: u64,
    /// Frames that waited longer than this for the port are dropped (counted as stale)
    /// instead of sent late; 0 = no limit.
    pub max_age_ms: u64,
}

impl Default for SerialConfig {
    fn default() -> Self {
        SerialConfig {
            device: String::new(),
            baud: 115_200,
            device_id: 0,
            queue_len: 8,
            write_timeout_ms: 200,
            reopen_min_ms: 100,
            reopen_max_ms: 5_000,
            max_age_ms: DEFAULT_MAX_AGE_MS,
        }
    }
}

impl SerialConfig {
    /// Parses the command-line form `DEV[:BAUD]` (`/dev/ttyUSB0:921600`).
    pub fn from_spec(spec: &str) -> Result<Self, SinkError> {
        let (device, baud) = match spec.rsplit_once(':') {
            Some((dev, baud)) if !dev.is_empty() => {
                let baud = baud.parse::<u32>().map_err(|_| {
                    SinkError::Config(format!("bad baud rate {baud:?} in serial spec {spec:?}"))
                })?;
                (dev.to_owned(), baud)
            }
            _ => (spec.to_owned(), SerialConfig::default().baud),
        };
        let c = SerialConfig {
            device,
            baud,
            ..SerialConfig::default()
        };
        c.validate()?;
        Ok(c)
    }

    fn validate(&self) -> Result<(), SinkError> {
        if self.device.is_empty() {
            return Err(SinkError::Config("serial device path is empty".into()));
        }
        if self.baud == 0 {
            return Err(SinkError::Config("serial baud rate must be > 0".into()));
        }
        Ok(())
    }
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    errors: AtomicU64,
    connects: AtomicU64,
    /// Frames lost in failed writes (the queue counts its own drops).
    write_dropped: AtomicU64,
    /// Whether the writer holds an open port (close only waits for a flush then).
    port_open: AtomicBool,
}

/// Serial-port sink; see the module docs.
pub struct SerialSink {
    config: SerialConfig,
    queue: Arc<DropOldestQueue<Vec<u8>>>,
    counters: Arc<Counters>,
    writer: Option<(JoinHandle<()>, mpsc::Receiver<()>)>,
}

impl SerialSink {
    /// Starts the writer thread. The port need not exist yet: it is opened (and reopened) in the
    /// background, and frames queue meanwhile.
    pub fn open(config: SerialConfig) -> Result<Self, SinkError> {
        config.validate()?;
        let queue = Arc::new(
            DropOldestQueue::new(config.queue_len)
                .with_max_age(Duration::from_millis(config.max_age_ms)),
        );
        let counters = Arc::new(Counters::default());
        let (done_tx, done_rx) = mpsc::channel();
        let w = Writer {
            config: config.clone(),
            queue: Arc::clone(&queue),
            counters: Arc::clone(&counters),
        };
        let handle = std::thread::Builder::new()
            .name("sink-serial".into())
            .spawn(move || {
                w.run();
                let _ = done_tx.send(());
            })
            .map_err(|source| SinkError::Io {
                context: "cannot start serial writer thread".into(),
                source,
            })?;
        Ok(SerialSink {
            config,
            queue,
            counters,
            writer: Some((handle, done_rx)),
        })
    }
}

impl Sink for SerialSink {
    fn send(&mut self, frame: &FramePoses) -> Result<(), SinkError> {
        let bytes = encode_wire(frame, self.config.device_id)?;
        if self.queue.push(bytes) {
            Ok(())
        } else {
            Err(SinkError::Closed)
        }
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        if self.queue.wait_idle(FLUSH_TIMEOUT) {
            Ok(())
        } else {
            Err(SinkError::Timeout("serial flush", FLUSH_TIMEOUT))
        }
    }

    fn close(&mut self) -> Result<(), SinkError> {
        let Some((handle, done)) = self.writer.take() else {
            return Ok(());
        };
        // With the port gone nothing would drain the queue: do not wait for it.
        let flushed =
            !self.counters.port_open.load(Ordering::Acquire) || self.queue.wait_idle(FLUSH_TIMEOUT);
        self.queue.close();
        // The writer exits within one write timeout; never hang the daemon's shutdown on it.
        let wait = Duration::from_millis(self.config.write_timeout_ms) + POLL_INTERVAL * 2;
        if done.recv_timeout(wait).is_ok() {
            let _ = handle.join();
        } else {
            tracing::warn!(port = %self.config.device, "serial writer did not stop; detaching it");
        }
        if flushed {
            Ok(())
        } else {
            Err(SinkError::Timeout("serial close (flush)", FLUSH_TIMEOUT))
        }
    }

    fn stats(&self) -> SinkStats {
        SinkStats {
            sent: self.counters.sent.load(Ordering::Relaxed),
            dropped: self.queue.dropped() + self.counters.write_dropped.load(Ordering::Relaxed),
            errors: self.counters.errors.load(Ordering::Relaxed),
            connects: self.counters.connects.load(Ordering::Relaxed),
            stale: self.queue.stale(),
            oversize: 0,
        }
    }

    fn describe(&self) -> String {
        format!("serial:{}@{}", self.config.device, self.config.baud)
    }
}

impl Drop for SerialSink {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// The writer thread's state: owns the port.
struct Writer {
    config: SerialConfig,
    queue: Arc<DropOldestQueue<Vec<u8>>>,
    counters: Arc<Counters>,
}

impl Writer {
    fn run(self) {
        let mut backoff = Backoff::new(
            Duration::from_millis(self.config.reopen_min_ms),
            Duration::from_millis(self.config.reopen_max_ms),
        );
        let write_timeout = Duration::from_millis(self.config.write_timeout_ms.max(1));
        let mut port: Option<Box<dyn serialport::SerialPort>> = None;
        // Whether the port has been failing since the last successful open (log once per outage).
        let mut outage = false;
        // Send a lone delimiter before the next frame (new port, or a partial write).
        let mut resync = true;
        // A port that opens and then fails every write must not log a line per frame.
        let mut write_failures = RateLimit::default();
        loop {
            let Some(p) = port.as_mut() else {
                if self.queue.is_closed() {
                    self.queue.clear();
                    return;
                }
                match serialport::new(&self.config.device, self.config.baud)
                    .timeout(write_timeout)
                    .open()
                {
                    Ok(p) => {
                        tracing::info!(port = %self.config.device, baud = self.config.baud, "serial port open");
                        port = Some(p);
                        self.counters.port_open.store(true, Ordering::Release);
                        outage = false;
                        resync = true;
                        backoff.reset();
                        self.counters.connects.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        self.counters.errors.fetch_add(1, Ordering::Relaxed);
                        if !outage {
                            tracing::warn!(port = %self.config.device, error = %e, "cannot open serial port; retrying with backoff");
                            outage = true;
                        }
                        if self.queue.sleep_unless_closed(backoff.next_delay()) {
                            self.queue.clear();
                            return;
                        }
                    }
                }
                continue;
            };
            let Some(frame) = self.queue.pop(POLL_INTERVAL) else {
                if self.queue.is_closed() {
                    return;
                }
                continue;
            };
            let result = (if resync { p.write_all(&[0]) } else { Ok(()) })
                .and_then(|()| p.write_all(&frame))
                .and_then(|()| p.flush());
            self.queue.done();
            match result {
                Ok(()) => {
                    resync = false;
                    self.counters.sent.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    self.counters.errors.fetch_add(1, Ordering::Relaxed);
                    self.counters.write_dropped.fetch_add(1, Ordering::Relaxed);
                    resync = true;
                    if e.kind() == std::io::ErrorKind::TimedOut {
                        // The other end is not reading (flow control); keep the port.
                        tracing::debug!(port = %self.config.device, "serial write timed out; frame dropped");
                    } else {
                        if let Some(repeated) = write_failures.hit() {
                            tracing::warn!(repeated, port = %self.config.device, error = %e, "serial write failed; reopening");
                        }
                        port = None;
                        self.counters.port_open.store(false, Ordering::Release);
                        outage = true;
                        if self.queue.sleep_unless_closed(backoff.next_delay()) {
                            self.queue.clear();
                            return;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_parsing() {
        let c = SerialConfig::from_spec("/dev/ttyUSB0:921600").expect("valid spec");
        assert_eq!((c.device.as_str(), c.baud), ("/dev/ttyUSB0", 921_600));
        let c = SerialConfig::from_spec("/dev/ttyACM1").expect("valid spec");
        assert_eq!(c.baud, 115_200);
        let e = SerialConfig::from_spec("/dev/ttyUSB0:fast").expect_err("bad baud");
        assert!(e.to_string().contains("fast"), "{e}");
        assert!(SerialConfig::from_spec("").is_err());
        assert!(SerialConfig::from_spec("/dev/x:0").is_err());
    }

    #[test]
    fn config_rejects_unknown_fields() {
        let c: SerialConfig =
            toml::from_str("device = \"/dev/ttyS0\"\nbaud = 9600").expect("known fields parse");
        assert_eq!((c.baud, c.queue_len), (9600, 8));
        let e = toml::from_str::<SerialConfig>("device = \"/dev/ttyS0\"\nbaudrate = 9600");
        assert!(e.is_err());
    }
}
