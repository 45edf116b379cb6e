//! Network cameras: RTSP and HTTP(S) (MJPEG, HLS, anything ffmpeg reads) through an `ffmpeg`
//! subprocess with low-latency options.
//!
//! The stream is probed once at open (size and rate are logged and shown by
//! [`Source::describe`]); ffmpeg then decodes it to raw RGB at that size (a camera that changes
//! resolution mid-stream is scaled back, so frames keep their size) and the
//! [`command`](super::command) machinery does the rest: only the newest frame is kept, a
//! dropped or silent stream is restarted with back-off, and ffmpeg's stderr goes to the log.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::time::Duration;

use super::command::{CommandSource, CommandStats, Spec};
use super::convert::PixelFormat;
use super::video::{probe_input, VideoInfo};
use super::{Frame, Source, SourceError};

/// A stream that does not answer the probe within this is reported at open.
pub const DEFAULT_PROBE_TIMEOUT_MS: u64 = 10_000;
/// First reconnect delay after the stream dropped.
pub const DEFAULT_RECONNECT_INITIAL_MS: u64 = 500;
/// Reconnect delay ceiling (doubling up to it; a frame resets it).
pub const DEFAULT_RECONNECT_MAX_MS: u64 = 10_000;
/// No frame for this long counts as a dropped stream (ffmpeg is killed and restarted).
pub const DEFAULT_STALL_TIMEOUT_MS: u64 = 5_000;
/// URL schemes handed to ffmpeg.
const SCHEMES: [&str; 4] = ["rtsp://", "rtsps://", "http://", "https://"];

fn default_ffmpeg() -> PathBuf {
    PathBuf::from("ffmpeg")
}
fn default_ffprobe() -> PathBuf {
    PathBuf::from("ffprobe")
}
fn default_transport() -> RtspTransport {
    RtspTransport::Tcp
}
fn default_probe_timeout_ms() -> u64 {
    DEFAULT_PROBE_TIMEOUT_MS
}
fn default_reconnect_initial_ms() -> u64 {
    DEFAULT_RECONNECT_INITIAL_MS
}
fn default_reconnect_max_ms() -> u64 {
    DEFAULT_RECONNECT_MAX_MS
}
fn default_stall_timeout_ms() -> u64 {
    DEFAULT_STALL_TIMEOUT_MS
}

/// How RTSP carries the media.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RtspTransport {
    /// Interleaved in the RTSP connection: no lost packets (no torn frames), passes NAT.
    Tcp,
    /// RTP over UDP: a little less latency on a clean LAN, torn frames on a lossy one.
    Udp,
}

impl RtspTransport {
    fn as_str(self) -> &'static str {
        match self {
            RtspTransport::Tcp => "tcp",
            RtspTransport::Udp => "udp",
        }
    }
}

/// Settings of the network stream source (`kind = "stream"`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamConfig {
    /// `rtsp://`, `rtsps://`, `http://` or `https://` URL of the camera's stream.
    pub url: String,
    /// RTSP only: `tcp` or `udp`.
    #[serde(default = "default_transport")]
    pub transport: RtspTransport,
    #[serde(default = "default_ffmpeg")]
    pub ffmpeg: PathBuf,
    #[serde(default = "default_ffprobe")]
    pub ffprobe: PathBuf,
    #[serde(default = "default_probe_timeout_ms")]
    pub probe_timeout_ms: u64,
    #[serde(default = "default_reconnect_initial_ms")]
    pub reconnect_initial_ms: u64,
    #[serde(default = "default_reconnect_max_ms")]
    pub reconnect_max_ms: u64,
    #[serde(default = "default_stall_timeout_ms")]
    pub stall_timeout_ms: u64,
}

impl StreamConfig {
    /// Config for `url` with defaults for everything else.
    pub fn new(url: impl Into<String>) -> Self {
        StreamConfig {
            url: url.into(),
            transport: default_transport(),
            ffmpeg: default_ffmpeg(),
            ffprobe: default_ffprobe(),
            probe_timeout_ms: DEFAULT_PROBE_TIMEOUT_MS,
            reconnect_initial_ms: DEFAULT_RECONNECT_INITIAL_MS,
            reconnect_max_ms: DEFAULT_RECONNECT_MAX_MS,
            stall_timeout_ms: DEFAULT_STALL_TIMEOUT_MS,
        }
    }

    /// Checks the URL scheme.
    pub fn validate(&self) -> Result<(), String> {
        if SCHEMES.iter().any(|s| self.url.starts_with(s)) {
            Ok(())
        } else {
            Err(format!(
                "url '{}' is not a network stream (expected one of {})",
                self.url,
                SCHEMES.join(", ")
            ))
        }
    }

    fn is_rtsp(&self) -> bool {
        self.url.starts_with("rtsp")
    }

    /// Protocol and low-latency input options, before `-i`.
    fn input_options(&self) -> Vec<String> {
        let mut o: Vec<String> = Vec::new();
        if self.is_rtsp() {
            o.extend(["-rtsp_transport".into(), self.transport.as_str().into()]);
        }
        o
    }
}

/// A network camera; see the module documentation.
pub struct StreamSource {
    inner: CommandSource,
    info: VideoInfo,
    url: String,
}

impl StreamSource {
    /// Probes the stream (size, rate) and starts ffmpeg. A bad URL, a missing ffmpeg and a
    /// stream that cannot be read are errors here.
    pub fn open(config: &StreamConfig) -> Result<Self, SourceError> {
        config
            .validate()
            .map_err(|m| SourceError::Failed(format!("stream: {m}")))?;
        let what = format!("stream {}", config.url);
        let info = probe_input(
            &what,
            &config.ffprobe,
            &config.input_options(),
            OsStr::new(&config.url),
            Some(Duration::from_millis(config.probe_timeout_ms.max(1))),
        )?;
        tracing::info!(
            url = %config.url,
            width = info.width,
            height = info.height,
            fps = info.fps.unwrap_or(0.0),
            "network stream open"
        );
        let mut argv: Vec<String> = vec![
            config.ffmpeg.to_string_lossy().into_owned(),
            "-hide_banner".into(),
            "-nostdin".into(),
            "-loglevel".into(),
            "error".into(),
            // Low latency: no input buffering, no decoder frame delay, no probing of a
            // stream already probed.
            "-fflags".into(),
            "nobuffer".into(),
            "-flags".into(),
            "low_delay".into(),
        ];
        argv.extend(config.input_options());
        argv.extend([
            "-i".into(),
            config.url.clone(),
            "-map".into(),
            "0:v:0".into(),
            "-an".into(),
            "-sn".into(),
            // Every decoded frame once, as it comes (no duplication to a constant rate).
            "-vsync".into(),
            "passthrough".into(),
            "-vf".into(),
            format!("scale={}:{}", info.width, info.height),
            "-f".into(),
            "rawvideo".into(),
            "-pix_fmt".into(),
            "rgb24".into(),
            "-".into(),
        ]);
        let inner = CommandSource::start(Spec {
            what,
            argv,
            format: PixelFormat::Rgb24,
            size: Some((info.width, info.height)),
            restart_initial: Duration::from_millis(config.reconnect_initial_ms),
            restart_max: Duration::from_millis(config.reconnect_max_ms),
            stall_timeout: Duration::from_millis(config.stall_timeout_ms.max(1)),
        })?;
        Ok(StreamSource {
            inner,
            info,
            url: config.url.clone(),
        })
    }

    /// Size and rate reported by the stream at open.
    pub fn info(&self) -> VideoInfo {
        self.info
    }

    /// Counters (ffmpeg starts = connections, frames, replaced frames, stalls).
    pub fn stats(&self) -> CommandStats {
        self.inner.stats()
    }
}

impl Source for StreamSource {
    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        self.inner.next_frame()
    }

    fn describe(&self) -> String {
        format!(
            "stream:{} {}x{}{}",
            self.url,
            self.info.width,
            self.info.height,
            self.info
                .fps
                .map_or(String::new(), |f| format!(" @{f:.2}fps"))
        )
    }

    fn is_live(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_parses_and_checks_the_scheme() {
        let c: StreamConfig =
            toml::from_str("url = \"rtsp://cam.local:554/stream1\"\ntransport = \"udp\"").unwrap();
        assert_eq!(c.transport, RtspTransport::Udp);
        assert!(c.validate().is_ok());
        assert_eq!(c.input_options(), vec!["-rtsp_transport", "udp"]);
        let c = StreamConfig::new("http://10.0.0.2/mjpg/video.mjpg");
        assert!(c.validate().is_ok());
        assert!(c.input_options().is_empty());
        let err = StreamConfig::new("/dev/video0").validate().unwrap_err();
        assert!(err.contains("not a network stream"), "{err}");
        let err = StreamSource::open(&StreamConfig::new("file:///etc/passwd"))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("not a network stream"), "{err}");
        assert!(toml::from_str::<StreamConfig>("url = \"rtsp://x\"\npath = \"y\"").is_err());
    }

    #[test]
    fn missing_ffprobe_gives_the_install_hint() {
        let mut c = StreamConfig::new("rtsp://127.0.0.1:9/x");
        c.ffprobe = "/nonexistent/ffprobe".into();
        let err = StreamSource::open(&c).err().unwrap().to_string();
        assert!(
            err.contains("not found") && err.contains("apt install ffmpeg"),
            "{err}"
        );
    }
}
