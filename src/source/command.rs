//! Frames from another program's standard output: `rpicam-vid` on a Raspberry Pi camera
//! module, `gst-launch-1.0 ... ! fdsink` on a Jetson CSI camera, `ffmpeg` for network streams.
//!
//! Those programs are the supported way to reach cameras that sit behind an ISP (libcamera,
//! Argus); a pipe keeps their libraries out of this binary. A supervisor thread starts the
//! program (argv, no shell, in its own process group), reads its stdout, cuts it into frames
//! (JPEGs at their markers, raw frames by size) and keeps only the newest one for
//! [`Source::next_frame`], which decodes it: stale frames are never decoded. When the program
//! exits or stops writing for `stall_timeout_ms` (three times that for a run's first frame),
//! it is killed and restarted after a back-off; each failure surfaces once from `next_frame`
//! with the last lines of the program's stderr (all of which go to the log at debug level). Dropping the source kills the process group,
//! reaps the program and waits at most [`SHUTDOWN_WAIT`] for the supervisor.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read};
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::convert::{self, PixelFormat};
use super::mjpeg::MjpegSplitter;
use super::video::{require_program, INSTALL_HINT as FFMPEG_HINT};
use super::{now_us, Frame, Source, SourceError};
use crate::util::Backoff;

/// First restart delay after the program exited or stalled.
pub const DEFAULT_RESTART_INITIAL_MS: u64 = 250;
/// Restart delay ceiling (delays double up to this; a frame resets them).
pub const DEFAULT_RESTART_MAX_MS: u64 = 5_000;
/// No frame for this long while the program runs counts as a stall: it is killed and
/// restarted. A run's first frame gets [`STARTUP_FACTOR`] times as long (`rpicam-vid` needs
/// about 1 s to bring a sensor up, Argus a few).
pub const DEFAULT_STALL_TIMEOUT_MS: u64 = 3_000;
/// A run's first frame may take this many stall timeouts (program start-up).
pub const STARTUP_FACTOR: u32 = 3;
/// Largest accepted raw frame side (a bigger configured size is a typo, not a frame to allocate).
const MAX_SIDE: u32 = 16_384;
/// Bytes read from the program's stdout at a time.
const READ_CHUNK: usize = 64 * 1024;
/// Lines of the program's stderr kept for error messages.
const STDERR_LINES: usize = 8;
/// Longest stderr line kept or logged (longer ones are cut).
const STDERR_LINE_MAX: usize = 300;
/// How long dropping the source waits for the supervisor to reap the program.
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(2);
/// How long the supervisor waits for the stderr reader to deliver the last lines of a program
/// that exited.
const STDERR_DRAIN_WAIT: Duration = Duration::from_millis(200);

fn default_format() -> PixelFormat {
    PixelFormat::Mjpeg
}
fn default_restart_initial_ms() -> u64 {
    DEFAULT_RESTART_INITIAL_MS
}
fn default_restart_max_ms() -> u64 {
    DEFAULT_RESTART_MAX_MS
}
fn default_stall_timeout_ms() -> u64 {
    DEFAULT_STALL_TIMEOUT_MS
}

/// Settings of the command source (`kind = "command"`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandConfig {
    /// Program and arguments (argv, run without a shell), e.g.
    /// `["rpicam-vid", "-t", "0", "-n", "--codec", "mjpeg", "-o", "-"]`.
    pub command: Vec<String>,
    /// What the program writes: `mjpeg` (concatenated JPEGs), `i420` (alias `yuv420`),
    /// `rgb24`, or `yuyv`, `bgr24`, `grey`.
    #[serde(default = "default_format")]
    pub format: PixelFormat,
    /// Frame size: required for the raw formats; for MJPEG, frames of another size are
    /// rejected when it is given.
    #[serde(default)]
    pub width: Option<u32>,
    #[serde(default)]
    pub height: Option<u32>,
    #[serde(default = "default_restart_initial_ms")]
    pub restart_initial_ms: u64,
    #[serde(default = "default_restart_max_ms")]
    pub restart_max_ms: u64,
    #[serde(default = "default_stall_timeout_ms")]
    pub stall_timeout_ms: u64,
}

impl CommandConfig {
    /// Config for `command` writing `format`, with defaults for everything else.
    pub fn new(command: &[&str], format: PixelFormat) -> Self {
        CommandConfig {
            command: command.iter().map(|s| (*s).to_string()).collect(),
            format,
            width: None,
            height: None,
            restart_initial_ms: DEFAULT_RESTART_INITIAL_MS,
            restart_max_ms: DEFAULT_RESTART_MAX_MS,
            stall_timeout_ms: DEFAULT_STALL_TIMEOUT_MS,
        }
    }

    /// The configured size, checked: both or neither, non-zero, at most [`MAX_SIDE`], and
    /// present for the raw formats.
    pub fn size(&self) -> Result<Option<(u32, u32)>, String> {
        let size = match (self.width, self.height) {
            (Some(w), Some(h)) => Some((w, h)),
            (None, None) => None,
            _ => return Err("width and height go together: set both or neither".into()),
        };
        if let Some((w, h)) = size {
            if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE {
                return Err(format!("unsupported frame size {w}x{h}"));
            }
        }
        if size.is_none() && self.format != PixelFormat::Mjpeg {
            return Err(format!(
                "format {:?} needs width and height (the program writes bare pixels)",
                self.format
            )
            .to_lowercase());
        }
        Ok(size)
    }
}

/// Install hint for the programs the presets use.
fn install_hint(program: &Path) -> &'static str {
    match program.file_name().and_then(|n| n.to_str()) {
        Some("rpicam-vid" | "libcamera-vid") => {
            "install it with `sudo apt install rpicam-apps` (Raspberry Pi OS bookworm; \
             `libcamera-apps` on bullseye, where the program is `libcamera-vid`)"
        }
        Some("gst-launch-1.0") => {
            "install it with `sudo apt install gstreamer1.0-tools` (JetPack ships it)"
        }
        Some("ffmpeg") => FFMPEG_HINT,
        _ => "check the program name and PATH",
    }
}

/// Counters of a program-backed source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommandStats {
    /// Times the program was started.
    pub starts: u64,
    /// Complete frames read from the program.
    pub frames: u64,
    /// Frames replaced by a newer one before `next_frame` took them (newest wins).
    pub replaced: u64,
    /// Bytes skipped outside JPEG frames.
    pub skipped_bytes: u64,
    /// JPEG frames dropped as torn or oversized.
    pub dropped_frames: u64,
    /// Times the program was killed for writing nothing within the stall timeout.
    pub stalls: u64,
}

/// A complete frame as the program wrote it, with the time its last byte arrived.
struct RawFrame {
    data: Vec<u8>,
    at_us: u64,
}

#[derive(Default)]
struct State {
    latest: Option<RawFrame>,
    /// A recycled buffer for the next raw frame.
    spare: Option<Vec<u8>>,
    /// A failure not yet reported by `next_frame`.
    failure: Option<String>,
    /// The last failure, for the stall message while the program is down.
    last_failure: Option<String>,
    /// The running program (killed by the watchdog and by drop).
    child: Option<Child>,
    /// Last frame or program start, for the stall watchdog.
    last_activity: Option<Instant>,
    /// Frames from the current run of the program.
    run_frames: u64,
    /// The watchdog killed the program; its exit is not a second failure.
    stall_killed: bool,
    stop: bool,
    stats: CommandStats,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves consistent data (plain fields).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Kills the program and, on Linux, everything in its process group (a wrapper's children).
fn kill(child: &mut Child) {
    #[cfg(target_os = "linux")]
    {
        if let Ok(pgid) = i32::try_from(child.id()) {
            // SAFETY: kill(2) with a negative pid signals the process group the child leads
            // (it was started with process_group(0)); no memory is involved.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
    let _ = child.kill();
}

/// What the supervisor runs; built by [`CommandSource`] and by the network stream source.
#[derive(Clone, Debug)]
pub(crate) struct Spec {
    /// Prefix of messages ("command", "stream rtsp://...").
    pub what: String,
    pub argv: Vec<String>,
    pub format: PixelFormat,
    pub size: Option<(u32, u32)>,
    pub restart_initial: Duration,
    pub restart_max: Duration,
    pub stall_timeout: Duration,
}

impl Spec {
    fn program(&self) -> &str {
        self.argv.first().map_or("", String::as_str)
    }
}

/// A program whose stdout is a frame stream; see the module documentation.
pub struct CommandSource {
    spec: Spec,
    shared: Arc<Shared>,
    supervisor: Option<JoinHandle<()>>,
    done: mpsc::Receiver<()>,
    seq: u64,
}

impl CommandSource {
    /// Checks the configuration and that the program exists, then starts it.
    pub fn open(config: &CommandConfig) -> Result<Self, SourceError> {
        let size = config
            .size()
            .map_err(|m| SourceError::Failed(format!("command: {m}")))?;
        let spec = Spec {
            what: "command".into(),
            argv: config.command.clone(),
            format: config.format,
            size,
            restart_initial: Duration::from_millis(config.restart_initial_ms),
            restart_max: Duration::from_millis(config.restart_max_ms),
            stall_timeout: Duration::from_millis(config.stall_timeout_ms.max(1)),
        };
        Self::start(spec)
    }

    /// Starts the supervisor for `spec` (argv checked here).
    pub(crate) fn start(spec: Spec) -> Result<Self, SourceError> {
        let Some(program) = spec.argv.first() else {
            return Err(SourceError::Failed(format!(
                "{}: the command is empty (give the program and its arguments)",
                spec.what
            )));
        };
        let program = Path::new(program);
        require_program(&spec.what, program, install_hint(program))?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let (done_tx, done) = mpsc::channel();
        let supervisor = {
            let (spec, shared) = (spec.clone(), Arc::clone(&shared));
            std::thread::Builder::new()
                .name("command-source".into())
                .spawn(move || {
                    supervise(&spec, &shared);
                    let _ = done_tx.send(());
                })
        }
        .map_err(|e| SourceError::Failed(format!("{}: cannot start a thread: {e}", spec.what)))?;
        Ok(CommandSource {
            spec,
            shared,
            supervisor: Some(supervisor),
            done,
            seq: 0,
        })
    }

    /// Counters so far.
    pub fn stats(&self) -> CommandStats {
        self.shared.lock().stats
    }

    /// Waits for the newest frame, a failure, or a stall; never longer than the stall
    /// timeout, so the caller (and shutdown) is not held up by a program that is starting.
    fn wait_frame(&mut self) -> Result<RawFrame, SourceError> {
        let stall = self.spec.stall_timeout;
        let call_deadline = Instant::now() + stall;
        let mut st = self.shared.lock();
        loop {
            if let Some(f) = st.latest.take() {
                return Ok(f);
            }
            if let Some(msg) = st.failure.take() {
                return Err(SourceError::Failed(msg));
            }
            let now = Instant::now();
            // A run's first frame gets STARTUP_FACTOR stall periods (a sensor to bring up, an
            // RTSP session to set up and probe); later frames one.
            let allowance = if st.run_frames == 0 {
                stall * STARTUP_FACTOR
            } else {
                stall
            };
            let kill_at = match st.last_activity {
                Some(t) if st.child.is_some() => Some(t + allowance),
                _ => None,
            };
            if kill_at.is_some_and(|k| now >= k) {
                let quiet = st
                    .last_activity
                    .map_or(allowance, |t| now.saturating_duration_since(t));
                if let Some(child) = st.child.as_mut() {
                    kill(child);
                }
                st.stall_killed = true;
                st.stats.stalls += 1;
                self.shared.changed.notify_all();
                return Err(SourceError::Failed(format!(
                    "{}: `{}` wrote no frame for {:.1} s; restarting it",
                    self.spec.what,
                    self.spec.program(),
                    quiet.as_secs_f64()
                )));
            }
            if now >= call_deadline {
                let why = match (&st.child, &st.last_failure) {
                    (Some(_), _) if st.run_frames == 0 => {
                        format!("`{}` is starting", self.spec.program())
                    }
                    (Some(_), _) => format!("`{}` is running", self.spec.program()),
                    (None, Some(f)) => f.clone(),
                    (None, None) => "the program is not running".into(),
                };
                return Err(SourceError::Failed(format!(
                    "{}: no frame for {:.1} s: {why}",
                    self.spec.what,
                    stall.as_secs_f64()
                )));
            }
            let deadline = kill_at.map_or(call_deadline, |k| k.min(call_deadline));
            st = self
                .shared
                .changed
                .wait_timeout(st, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    fn convert(&self, data: &[u8]) -> Result<image::RgbImage, SourceError> {
        match (self.spec.format, self.spec.size) {
            (PixelFormat::Mjpeg, size) => {
                let img = convert::decode_jpeg(data)?;
                match size {
                    Some((w, h)) if img.dimensions() != (w, h) => {
                        Err(SourceError::BadFrame(format!(
                            "{}: JPEG frame is {}x{}, the configured size is {w}x{h}",
                            self.spec.what,
                            img.width(),
                            img.height()
                        )))
                    }
                    _ => Ok(img),
                }
            }
            (format, Some((w, h))) => convert::to_rgb(format, data, w, h, 0),
            (_, None) => Err(SourceError::Failed(format!(
                "{}: raw frames need a size",
                self.spec.what
            ))),
        }
    }
}

impl Source for CommandSource {
    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        let raw = self.wait_frame()?;
        let image = self.convert(&raw.data);
        if self.spec.format != PixelFormat::Mjpeg {
            self.shared.lock().spare = Some(raw.data);
        }
        let frame = Frame {
            seq: self.seq,
            timestamp_us: raw.at_us,
            image: image?,
        };
        self.seq += 1;
        Ok(Some(frame))
    }

    fn describe(&self) -> String {
        let size = self
            .spec
            .size
            .map_or(String::new(), |(w, h)| format!(" {w}x{h}"));
        format!(
            "{}:{} {}{size}",
            self.spec.what,
            self.spec.program(),
            self.spec.format
        )
    }

    fn is_live(&self) -> bool {
        true
    }
}

impl Drop for CommandSource {
    fn drop(&mut self) {
        {
            let mut st = self.shared.lock();
            st.stop = true;
            if let Some(child) = st.child.as_mut() {
                kill(child);
            }
        }
        self.shared.changed.notify_all();
        match self.done.recv_timeout(SHUTDOWN_WAIT) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                if let Some(t) = self.supervisor.take() {
                    let _ = t.join();
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => tracing::warn!(
                program = self.spec.program(),
                "{}: the program's output did not close within {:?}; not waiting for it",
                self.spec.what,
                SHUTDOWN_WAIT
            ),
        }
    }
}

/// Cuts the byte stream into frames.
enum Framer {
    Mjpeg(MjpegSplitter),
    Fixed {
        len: usize,
        buf: Vec<u8>,
        filled: usize,
    },
}

/// How a run of the program ended, for the failure message.
#[derive(Default)]
struct RunTotals {
    bytes: u64,
    frames: u64,
    partial: usize,
    /// Splitter counters already added to the stats.
    skipped: u64,
    dropped: u64,
}

/// Start, read, restart until stopped.
fn supervise(spec: &Spec, shared: &Shared) {
    let mut backoff = Backoff::new(spec.restart_initial, spec.restart_max);
    let frame_len = spec
        .size
        .and_then(|(w, h)| convert::frame_len(spec.format, w, h));
    loop {
        if shared.lock().stop {
            return;
        }
        let message = match run_once(spec, shared, frame_len) {
            Ok(None) => return,
            Ok(Some((msg, frames))) => {
                if frames > 0 {
                    backoff.reset();
                }
                msg
            }
            Err(msg) => msg,
        };
        let delay = backoff.next_delay();
        let message = format!("{message}; restarting in {} ms", delay.as_millis());
        tracing::debug!(program = spec.program(), "{message}");
        let mut st = shared.lock();
        if st.stall_killed {
            st.stall_killed = false;
        } else {
            st.failure = Some(message.clone());
        }
        st.last_failure = Some(message);
        shared.changed.notify_all();
        let until = Instant::now() + delay;
        while !st.stop {
            let now = Instant::now();
            if now >= until {
                break;
            }
            st = shared
                .changed
                .wait_timeout(st, until - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }
}

/// One run of the program: `Ok(None)` when stopped, `Ok(Some((why it ended, frames)))`,
/// `Err` when it could not start.
fn run_once(
    spec: &Spec,
    shared: &Shared,
    frame_len: Option<usize>,
) -> Result<Option<(String, u64)>, String> {
    let mut cmd = Command::new(spec.program());
    cmd.args(&spec.argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Own process group: killed as a whole, and a terminal's Ctrl-C reaches only us.
        cmd.process_group(0);
    }
    let mut child = cmd.spawn().map_err(|e| {
        if e.kind() == ErrorKind::NotFound {
            format!(
                "{}: program {} not found: {}",
                spec.what,
                spec.program(),
                install_hint(Path::new(spec.program()))
            )
        } else {
            format!("{}: cannot run {}: {e}", spec.what, spec.program())
        }
    })?;
    let (Some(mut stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        kill(&mut child);
        let _ = child.wait();
        return Err(format!("{}: pipes unavailable", spec.what));
    };
    let (tail, stderr_done) = forward_stderr(stderr, spec.program().to_string());
    {
        let mut st = shared.lock();
        if st.stop {
            kill(&mut child);
            let _ = child.wait();
            return Ok(None);
        }
        st.child = Some(child);
        st.last_activity = Some(Instant::now());
        st.run_frames = 0;
        st.stats.starts += 1;
    }
    tracing::debug!(argv = ?spec.argv, "{}: started", spec.what);

    let mut framer = match frame_len {
        Some(len) => Framer::Fixed {
            len,
            buf: vec![0; len],
            filled: 0,
        },
        None => Framer::Mjpeg(MjpegSplitter::new()),
    };
    let mut totals = RunTotals::default();
    let mut chunk = vec![0u8; READ_CHUNK];
    loop {
        let read = match &mut framer {
            // Raw frames are read straight into the frame buffer.
            Framer::Fixed { len, buf, filled } => stdout
                .read(&mut buf[*filled..*len])
                .inspect(|&n| *filled += n),
            Framer::Mjpeg(split) => stdout
                .read(&mut chunk)
                .inspect(|&n| split.push(&chunk[..n])),
        };
        match read {
            Ok(0) => break,
            Ok(n) => {
                totals.bytes += n as u64;
                publish(shared, &mut framer, &mut totals);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                tracing::debug!("{}: reading the program's output: {e}", spec.what);
                break;
            }
        }
    }
    match &mut framer {
        Framer::Fixed { filled, .. } => totals.partial = *filled,
        Framer::Mjpeg(split) => split.finish(),
    }
    publish(shared, &mut framer, &mut totals);

    // End of output: make sure the program is gone, reap it, collect its last words.
    let child = shared.lock().child.take();
    let status = child.map(|mut c| {
        kill(&mut c);
        c.wait()
    });
    let _ = stderr_done.recv_timeout(STDERR_DRAIN_WAIT);
    if shared.lock().stop {
        return Ok(None);
    }
    let status = match status {
        Some(Ok(s)) => s.to_string(),
        Some(Err(e)) => format!("unknown status ({e})"),
        None => "an unknown status".into(),
    };
    let mut msg = format!(
        "{}: `{}` ended ({status}) after {} frames",
        spec.what,
        spec.program(),
        totals.frames
    );
    match &framer {
        Framer::Mjpeg(split) if totals.frames == 0 && split.skipped_bytes() > 0 => {
            msg.push_str(&format!(
                "; its {} bytes of output held no JPEG frame (they start with \"{}\"): is it \
                 writing MJPEG to stdout?",
                totals.bytes,
                split.skipped_sample()
            ));
        }
        Framer::Fixed { len, .. } if totals.partial > 0 => {
            msg.push_str(&format!(
                "; {} bytes of an unfinished frame ({len} bytes per {} frame{}): do the \
                 program's format and size match the configuration?",
                totals.partial,
                spec.format,
                spec.size
                    .map_or(String::new(), |(w, h)| format!(" of {w}x{h}"))
            ));
        }
        _ => {}
    }
    let lines = tail
        .lock()
        .map(|t| t.iter().cloned().collect::<Vec<_>>())
        .unwrap_or_default();
    if !lines.is_empty() {
        msg.push_str("; last stderr lines: ");
        msg.push_str(&lines.join(" | "));
    }
    Ok(Some((msg, totals.frames)))
}

/// Hands complete frames to the slot (the newest replaces an untaken one).
fn publish(shared: &Shared, framer: &mut Framer, totals: &mut RunTotals) {
    let mut ready = Vec::new();
    match framer {
        Framer::Mjpeg(split) => {
            while let Some(f) = split.next_frame() {
                ready.push(f);
            }
        }
        Framer::Fixed { len, buf, filled } => {
            if *filled < *len {
                return;
            }
            {
                let spare = shared.lock().spare.take();
                let next = match spare {
                    Some(v) if v.len() == *len => v,
                    _ => vec![0; *len],
                };
                ready.push(std::mem::replace(buf, next));
                *filled = 0;
            }
        }
    }
    let mut st = shared.lock();
    if let Framer::Mjpeg(split) = framer {
        // The splitter counts per run; the stats add up across runs.
        st.stats.skipped_bytes += split.skipped_bytes() - totals.skipped;
        st.stats.dropped_frames += split.dropped_frames() - totals.dropped;
        (totals.skipped, totals.dropped) = (split.skipped_bytes(), split.dropped_frames());
    }
    for data in ready {
        totals.frames += 1;
        st.stats.frames += 1;
        st.run_frames += 1;
        st.last_activity = Some(Instant::now());
        if let Some(old) = st.latest.replace(RawFrame {
            data,
            at_us: now_us(),
        }) {
            st.stats.replaced += 1;
            if st.spare.is_none() {
                st.spare = Some(old.data);
            }
        }
    }
    drop(st);
    shared.changed.notify_all();
}

/// Forwards the program's stderr to the log at debug level, line by line, keeping the last
/// [`STDERR_LINES`]. The receiver gets a message when stderr closes.
fn forward_stderr(
    mut stderr: ChildStderr,
    program: String,
) -> (Arc<Mutex<VecDeque<String>>>, mpsc::Receiver<()>) {
    let tail = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_LINES)));
    let (tx, rx) = mpsc::channel();
    let sink = Arc::clone(&tail);
    let spawned = std::thread::Builder::new()
        .name("command-stderr".into())
        .spawn(move || {
            let mut buf = [0u8; 4096];
            let mut line: Vec<u8> = Vec::with_capacity(STDERR_LINE_MAX);
            let emit = |line: &mut Vec<u8>| {
                let text = String::from_utf8_lossy(line).trim().to_string();
                line.clear();
                if text.is_empty() {
                    return;
                }
                tracing::debug!(program = %program, "stderr: {text}");
                if let Ok(mut t) = sink.lock() {
                    if t.len() == STDERR_LINES {
                        t.pop_front();
                    }
                    t.push_back(text);
                }
            };
            loop {
                let n = match stderr.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(_) => break,
                };
                // Progress lines end in '\r' (ffmpeg, rpicam-vid): treat it as a line end.
                for &b in &buf[..n] {
                    if b == b'\n' || b == b'\r' {
                        emit(&mut line);
                    } else if line.len() < STDERR_LINE_MAX {
                        line.push(b);
                    }
                }
            }
            emit(&mut line);
            let _ = tx.send(());
        });
    if spawned.is_err() {
        tracing::warn!("command: cannot start the stderr reader; stderr is not forwarded");
    }
    (tail, rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_validation() {
        let mut c = CommandConfig::new(&["x"], PixelFormat::I420);
        assert!(c.size().unwrap_err().contains("needs width and height"));
        c.width = Some(640);
        assert!(c.size().unwrap_err().contains("go together"));
        c.height = Some(480);
        assert_eq!(c.size().unwrap(), Some((640, 480)));
        c.height = Some(0);
        assert!(c.size().is_err());
        let c = CommandConfig::new(&["x"], PixelFormat::Mjpeg);
        assert_eq!(c.size().unwrap(), None);

        let c: CommandConfig = toml::from_str(
            "command = [\"rpicam-vid\", \"-o\", \"-\"]\nformat = \"yuv420\"\nwidth = 8\nheight = 6",
        )
        .unwrap();
        assert_eq!(c.format, PixelFormat::I420);
        assert_eq!(c.stall_timeout_ms, DEFAULT_STALL_TIMEOUT_MS);
        assert!(toml::from_str::<CommandConfig>("command = [\"a\"]\nfromat = \"mjpeg\"").is_err());
    }

    #[test]
    fn empty_or_missing_program_is_a_clear_error() {
        let err = CommandSource::open(&CommandConfig::new(&[], PixelFormat::Mjpeg))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("command is empty"), "{err}");
        let err = CommandSource::open(&CommandConfig::new(
            &["/nonexistent/rpicam-vid", "-o", "-"],
            PixelFormat::Mjpeg,
        ))
        .err()
        .unwrap()
        .to_string();
        assert!(
            err.contains("/nonexistent/rpicam-vid") && err.contains("apt install rpicam-apps"),
            "{err}"
        );
        let err = CommandSource::open(&CommandConfig::new(
            &["edgepose-no-such-program-anywhere"],
            PixelFormat::Mjpeg,
        ))
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("not found"), "{err}");
    }
}
