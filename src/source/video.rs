//! Video files through an `ffmpeg` subprocess emitting raw RGB24 frames on its stdout.
//!
//! Decoding is delegated to the `ffmpeg` program (install it with `apt install ffmpeg`) rather
//! than linked: it reads every container and codec, keeps codec CVEs out of this binary, and
//! costs nothing when no video is used. The frame size is probed with `ffprobe` (same package).
//! Frames carry media time: open time + frame index / frame rate, so smoothing downstream sees
//! the video's real frame spacing even when frames are processed faster than real time.

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{now_us, Frame, Source, SourceError};

/// Largest accepted frame side; a larger probe result means a broken file, not a frame to
/// allocate.
const MAX_SIDE: u32 = 16_384;
/// Bytes of ffmpeg's stderr kept for error messages.
const STDERR_TAIL_BYTES: usize = 4096;
/// What the user is told when a program is missing.
pub(crate) const INSTALL_HINT: &str =
    "install it with `apt install ffmpeg` (or set ffmpeg/ffprobe paths)";

fn default_ffmpeg() -> PathBuf {
    PathBuf::from("ffmpeg")
}

fn default_ffprobe() -> PathBuf {
    PathBuf::from("ffprobe")
}

/// Settings of the video-file source.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VideoConfig {
    /// Video file (anything ffmpeg reads).
    pub path: PathBuf,
    /// Start again at the end of the file.
    #[serde(default, rename = "loop")]
    pub looping: bool,
    /// Deliver frames at the file's frame rate (ffmpeg `-re`) instead of as fast as possible.
    #[serde(default)]
    pub realtime: bool,
    /// The `ffmpeg` program.
    #[serde(default = "default_ffmpeg")]
    pub ffmpeg: PathBuf,
    /// The `ffprobe` program.
    #[serde(default = "default_ffprobe")]
    pub ffprobe: PathBuf,
}

impl VideoConfig {
    /// Config for a file with defaults for everything else.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        VideoConfig {
            path: path.into(),
            looping: false,
            realtime: false,
            ffmpeg: default_ffmpeg(),
            ffprobe: default_ffprobe(),
        }
    }
}

/// What `ffprobe` says about the first video stream.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VideoInfo {
    pub width: u32,
    pub height: u32,
    /// Frames per second, `None` when the container does not say.
    pub fps: Option<f64>,
}

/// A running ffmpeg decoder.
struct Decoder {
    child: Child,
    stdout: ChildStdout,
    stderr_tail: Arc<Mutex<VecDeque<u8>>>,
}

impl Decoder {
    /// Stops ffmpeg and reaps it (no zombies when the source is dropped or restarted).
    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn stderr_text(&self) -> String {
        let tail = self
            .stderr_tail
            .lock()
            .map(|t| t.iter().copied().collect::<Vec<u8>>())
            .unwrap_or_default();
        String::from_utf8_lossy(&tail).trim().to_string()
    }
}

/// Frames of a video file.
pub struct VideoSource {
    config: VideoConfig,
    info: VideoInfo,
    decoder: Option<Decoder>,
    /// Frames produced so far (also across loops).
    seq: u64,
    start_us: u64,
    finished: bool,
}

impl VideoSource {
    /// Probes the file and starts ffmpeg; a missing file or program is an error here.
    pub fn open(config: &VideoConfig) -> Result<Self, SourceError> {
        if !config.path.is_file() {
            return Err(SourceError::Failed(format!(
                "video: {}: no such file",
                config.path.display()
            )));
        }
        let info = probe(&config.ffprobe, &config.path)?;
        let decoder = spawn(config)?;
        Ok(VideoSource {
            config: config.clone(),
            info,
            decoder: Some(decoder),
            seq: 0,
            start_us: now_us(),
            finished: false,
        })
    }

    /// Size and rate of the video stream.
    pub fn info(&self) -> VideoInfo {
        self.info
    }

    fn frame_bytes(&self) -> usize {
        self.info.width as usize * self.info.height as usize * 3
    }

    /// Reads one frame; `Ok(None)` at a clean end of stream.
    fn read_frame(&mut self) -> Result<Option<Vec<u8>>, SourceError> {
        let n = self.frame_bytes();
        let Some(dec) = self.decoder.as_mut() else {
            return Ok(None);
        };
        let mut buf = vec![0u8; n];
        let mut filled = 0;
        while filled < n {
            match dec.stdout.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(k) => filled += k,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(SourceError::Failed(format!(
                        "video {}: reading from ffmpeg: {e}",
                        self.config.path.display()
                    )))
                }
            }
        }
        if filled == n {
            return Ok(Some(buf));
        }
        // End of output: find out whether ffmpeg finished or failed.
        let Some(mut dec) = self.decoder.take() else {
            return Ok(None);
        };
        let status = dec.child.wait();
        let stderr = dec.stderr_text();
        match status {
            Ok(s) if s.success() && filled == 0 => Ok(None),
            Ok(s) if s.success() => Err(SourceError::BadFrame(format!(
                "video {}: last frame truncated ({filled} of {n} bytes)",
                self.config.path.display()
            ))),
            Ok(s) => Err(SourceError::Failed(format!(
                "video {}: ffmpeg exited with {s}: {stderr}",
                self.config.path.display()
            ))),
            Err(e) => Err(SourceError::Failed(format!(
                "video {}: waiting for ffmpeg: {e}",
                self.config.path.display()
            ))),
        }
    }
}

impl Source for VideoSource {
    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        if self.finished {
            return Ok(None);
        }
        let data = match self.read_frame()? {
            Some(d) => d,
            None if self.config.looping && self.seq > 0 => {
                tracing::debug!(path = %self.config.path.display(), "video: looping");
                self.decoder = Some(spawn(&self.config)?);
                match self.read_frame()? {
                    Some(d) => d,
                    None => {
                        self.finished = true;
                        return Ok(None);
                    }
                }
            }
            None => {
                self.finished = true;
                return Ok(None);
            }
        };
        let image = image::RgbImage::from_raw(self.info.width, self.info.height, data)
            .ok_or_else(|| SourceError::BadFrame("video: frame buffer size mismatch".into()))?;
        let timestamp_us = match self.info.fps {
            Some(fps) => self.start_us + (self.seq as f64 * 1e6 / fps).round() as u64,
            None => now_us(),
        };
        let frame = Frame {
            seq: self.seq,
            timestamp_us,
            image,
        };
        self.seq += 1;
        Ok(Some(frame))
    }

    fn describe(&self) -> String {
        format!(
            "video:{} {}x{}{}",
            self.config.path.display(),
            self.info.width,
            self.info.height,
            self.info
                .fps
                .map_or(String::new(), |f| format!(" @{f:.2}fps"))
        )
    }
}

impl Drop for VideoSource {
    fn drop(&mut self) {
        if let Some(dec) = self.decoder.take() {
            dec.stop();
        }
    }
}

/// Maps a spawn error to a clear message (missing program → `hint` on installing it).
pub(crate) fn program_error(
    what: &str,
    program: &Path,
    hint: &str,
    e: &std::io::Error,
) -> SourceError {
    if e.kind() == ErrorKind::NotFound {
        SourceError::Failed(format!(
            "{what}: program {} not found: {hint}",
            program.display()
        ))
    } else {
        SourceError::Failed(format!("{what}: cannot run {}: {e}", program.display()))
    }
}

/// Fails with `hint` when `program` is neither an existing file (a path) nor found on `PATH`
/// (a bare name). Checked before spawning because some environments (qemu-user, which
/// emulates `vfork` as `fork`) cannot report a failed exec from the spawn itself.
pub(crate) fn require_program(what: &str, program: &Path, hint: &str) -> Result<(), SourceError> {
    let found = if program.components().count() > 1 {
        program.is_file()
    } else {
        std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
    };
    if found {
        Ok(())
    } else {
        Err(program_error(
            what,
            program,
            hint,
            &std::io::Error::from(ErrorKind::NotFound),
        ))
    }
}

/// Runs ffprobe on the first video stream of a file.
pub fn probe(ffprobe: &Path, path: &Path) -> Result<VideoInfo, SourceError> {
    probe_input("video", ffprobe, &[], path.as_os_str(), None)
}

/// Interval at which a probe with a deadline checks whether ffprobe has finished.
const PROBE_POLL: Duration = Duration::from_millis(20);

/// Runs ffprobe on the first video stream of `input` (a file or a URL), with `options`
/// before the input (protocol options of network streams). With a `deadline`, an ffprobe
/// that has not answered in time (a camera that accepts the connection and sends nothing) is
/// killed and reported.
pub(crate) fn probe_input(
    what: &str,
    ffprobe: &Path,
    options: &[String],
    input: &OsStr,
    deadline: Option<Duration>,
) -> Result<VideoInfo, SourceError> {
    require_program(what, ffprobe, INSTALL_HINT)?;
    let shown = input.to_string_lossy();
    let mut child = Command::new(ffprobe)
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=width,height,avg_frame_rate,r_frame_rate",
            "-of",
            "default=noprint_wrappers=1",
        ])
        .args(options)
        .arg(input)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| program_error(what, ffprobe, INSTALL_HINT, &e))?;
    if let Some(limit) = deadline {
        let start = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if start.elapsed() < limit => std::thread::sleep(PROBE_POLL),
                Ok(None) | Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(SourceError::Failed(format!(
                        "{what}: ffprobe got no answer from {shown} within {:.1} s",
                        limit.as_secs_f64()
                    )));
                }
            }
        }
    }
    let out = child
        .wait_with_output()
        .map_err(|e| SourceError::Failed(format!("{what}: waiting for ffprobe: {e}")))?;
    if !out.status.success() {
        return Err(SourceError::Failed(format!(
            "{what}: ffprobe cannot read {shown}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    parse_probe(&String::from_utf8_lossy(&out.stdout))
        .map_err(|m| SourceError::Failed(format!("{what} {shown}: {m}")))
}

/// Parses ffprobe's `key=value` lines.
pub fn parse_probe(text: &str) -> Result<VideoInfo, String> {
    let (mut width, mut height, mut avg, mut r) = (None, None, None, None);
    for line in text.lines() {
        let Some((k, v)) = line.trim().split_once('=') else {
            continue;
        };
        match k {
            "width" => width = v.parse::<u32>().ok(),
            "height" => height = v.parse::<u32>().ok(),
            "avg_frame_rate" => avg = parse_rate(v),
            "r_frame_rate" => r = parse_rate(v),
            _ => {}
        }
    }
    let (Some(width), Some(height)) = (width, height) else {
        return Err("no video stream found (ffprobe reported no width/height)".into());
    };
    if width == 0 || height == 0 {
        // ffprobe "finds" a 0x0 stream in text and other non-video files.
        return Err(format!(
            "not a video file: ffprobe found no picture in it (a {width}x{height} stream)"
        ));
    }
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(format!(
            "unsupported video size {width}x{height} (at most {MAX_SIDE} pixels a side)"
        ));
    }
    Ok(VideoInfo {
        width,
        height,
        fps: avg.or(r),
    })
}

/// `30000/1001` → 29.97; `0/0` and garbage → `None`.
fn parse_rate(v: &str) -> Option<f64> {
    let (n, d) = v.split_once('/').unwrap_or((v, "1"));
    let (n, d) = (n.trim().parse::<f64>().ok()?, d.trim().parse::<f64>().ok()?);
    let fps = n / d;
    (fps.is_finite() && fps > 0.0).then_some(fps)
}

/// Starts ffmpeg decoding the first video stream to raw rgb24 on stdout.
fn spawn(config: &VideoConfig) -> Result<Decoder, SourceError> {
    require_program("video", &config.ffmpeg, INSTALL_HINT)?;
    let mut cmd = Command::new(&config.ffmpeg);
    cmd.args(["-hide_banner", "-nostdin", "-loglevel", "error"]);
    if config.realtime {
        cmd.arg("-re");
    }
    // No auto-rotation: output frames keep the probed coded size.
    cmd.arg("-noautorotate")
        .arg("-i")
        .arg(&config.path)
        .args([
            "-map", "0:v:0", "-an", "-sn", "-f", "rawvideo", "-pix_fmt", "rgb24", "-",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| program_error("video", &config.ffmpeg, INSTALL_HINT, &e))?;
    let (Some(stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(SourceError::Failed(
            "video: ffmpeg pipes unavailable".into(),
        ));
    };
    // Drain stderr on a thread (a full pipe would stall ffmpeg), keeping only the tail.
    let tail = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL_BYTES)));
    let sink = Arc::clone(&tail);
    std::thread::Builder::new()
        .name("ffmpeg-stderr".into())
        .spawn(move || {
            let mut buf = [0u8; 1024];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut t) = sink.lock() {
                    t.extend(&buf[..n]);
                    let excess = t.len().saturating_sub(STDERR_TAIL_BYTES);
                    t.drain(..excess);
                }
            }
        })
        .map_err(|e| SourceError::Failed(format!("video: cannot start stderr reader: {e}")))?;
    Ok(Decoder {
        child,
        stdout,
        stderr_tail: tail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_output_parsing() {
        let info =
            parse_probe("width=960\nheight=540\nr_frame_rate=30000/1001\navg_frame_rate=25/1\n")
                .unwrap();
        assert_eq!((info.width, info.height), (960, 540));
        assert_eq!(info.fps, Some(25.0));
        let info = parse_probe("width=8\nheight=6\nr_frame_rate=30000/1001\navg_frame_rate=0/0\n")
            .unwrap();
        assert!((info.fps.unwrap() - 29.97).abs() < 0.01);
        let info = parse_probe("width=8\nheight=6\nr_frame_rate=0/0\n").unwrap();
        assert_eq!(info.fps, None);
        assert!(parse_probe("").unwrap_err().contains("no video stream"));
        assert!(parse_probe("width=0\nheight=5").is_err());
        assert!(parse_probe("width=100000\nheight=5").is_err());
    }

    #[test]
    fn missing_programs_give_install_hint() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("v.mp4");
        std::fs::write(&file, b"not really a video").unwrap();
        let mut cfg = VideoConfig::new(&file);
        cfg.ffprobe = "/nonexistent/edgepose-ffprobe".into();
        let err = VideoSource::open(&cfg).err().unwrap().to_string();
        assert!(
            err.contains("not found") && err.contains("apt install ffmpeg"),
            "{err}"
        );

        let err = VideoSource::open(&VideoConfig::new(dir.path().join("missing.mp4")))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("missing.mp4") && err.contains("no such file"),
            "{err}"
        );
    }
}
