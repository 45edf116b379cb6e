//! Capture stage: everything that produces frames implements [`Source`].
//!
//! Sources: V4L2 cameras ([`v4l2`], Linux, feature `v4l2`), still images ([`images`]), video
//! files through an `ffmpeg` subprocess ([`video`]), another program's stdout ([`command`]:
//! `rpicam-vid`, `gst-launch-1.0`), network cameras over RTSP/HTTP ([`stream`]). Each has a serde config; [`SourceConfig`] selects one and
//! [`open`] builds it.

use std::time::{SystemTime, UNIX_EPOCH};

use image::RgbImage;

pub mod command;
pub mod convert;
pub mod images;
pub mod mcap_replay;
pub mod mjpeg;
pub mod negotiate;
pub mod stream;
pub mod synthetic;
#[cfg(all(feature = "v4l2", target_os = "linux"))]
pub mod v4l2;
pub mod video;

/// One captured frame (RGB8) with its capture time.
#[derive(Clone, Debug)]
pub struct Frame {
    /// Sequence number, increasing by one per frame produced by the source.
    pub seq: u64,
    /// Capture time, microseconds since the Unix epoch.
    pub timestamp_us: u64,
    pub image: RgbImage,
}

/// Error from a source.
///
/// `BadFrame` and `Failed` are transient from the caller's point of view: calling
/// [`Source::next_frame`] again continues (with the next image, or after a paced reconnect
/// attempt). Errors that cannot get better surface from [`open`], or as `Fatal`.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// This frame is bad (corrupt JPEG, short read); the source can go on.
    #[error("bad frame: {0}")]
    BadFrame(String),
    /// The device failed; the caller may retry with backoff.
    #[error("source failed: {0}")]
    Failed(String),
    /// The source can never produce a frame (every image file is bad): retrying would only
    /// spin, so the daemon stops with this error.
    #[error("source cannot produce any frame: {0}")]
    Fatal(String),
}

/// A frame producer. `Ok(None)` = the source is finished (end of a non-looping file list).
pub trait Source: Send {
    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError>;
    /// Human-readable description for logs ("v4l2:/dev/video0 640x480 MJPEG").
    fn describe(&self) -> String;
    /// `true` for sources that produce frames on their own clock (cameras): the pipeline
    /// keeps only the newest. Others (files, simulations) are read when the model is ready.
    fn is_live(&self) -> bool {
        false
    }
}

/// Which source to open, as it appears in the daemon's config (`kind = "images"`, ...).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum SourceConfig {
    /// A V4L2 camera (Linux; feature `v4l2`).
    V4l2(v4l2_config::V4l2Config),
    /// Still images: a file, a directory or a glob.
    Images(images::ImagesConfig),
    /// A video file decoded by `ffmpeg`.
    Video(video::VideoConfig),
    /// Simulated people walking through a synthetic scene, with ground truth.
    Synthetic(synthetic::SyntheticConfig),
    /// An MCAP recording's camera images (the recorder's, or any Foxglove CompressedImage).
    Mcap(mcap_replay::McapConfig),
    /// Frames from a program's stdout (`rpicam-vid`, `gst-launch-1.0`): MJPEG or raw.
    Command(command::CommandConfig),
    /// A network camera (`rtsp://`, `http://`, `https://`) through `ffmpeg`.
    Stream(stream::StreamConfig),
}

/// The V4L2 config lives outside the feature-gated module so configs parse (and report a
/// clear error) on builds without V4L2 support.
pub mod v4l2_config {
    use std::path::PathBuf;

    use super::convert::PixelFormat;

    /// Default device node.
    pub const DEFAULT_DEVICE: &str = "/dev/video0";
    /// Default capture size: what nearly every USB camera offers uncompressed.
    pub const DEFAULT_WIDTH: u32 = 640;
    pub const DEFAULT_HEIGHT: u32 = 480;
    /// Default driver buffer count: enough to absorb jitter without adding much latency.
    pub const DEFAULT_BUFFERS: u32 = 4;
    /// First reconnect delay after the device failed.
    pub const DEFAULT_RETRY_INITIAL_MS: u64 = 250;
    /// Reconnect delay ceiling (delays double up to this).
    pub const DEFAULT_RETRY_MAX_MS: u64 = 5_000;
    /// A frame not delivered within this time counts as a device failure.
    pub const DEFAULT_FRAME_TIMEOUT_MS: u64 = 2_000;

    /// V4L2 camera settings.
    #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    #[serde(deny_unknown_fields, default)]
    pub struct V4l2Config {
        /// Device node, e.g. `/dev/video0`.
        pub device: PathBuf,
        pub width: u32,
        pub height: u32,
        /// Requested frame rate; `None` = the driver's default.
        pub fps: Option<f32>,
        /// Pixel format (`yuyv`, `mjpeg`, `rgb24`, `bgr24`, `grey`); `None` = best offered.
        pub format: Option<PixelFormat>,
        /// Number of mmap buffers.
        pub buffers: u32,
        pub retry_initial_ms: u64,
        pub retry_max_ms: u64,
        pub frame_timeout_ms: u64,
    }

    impl Default for V4l2Config {
        fn default() -> Self {
            V4l2Config {
                device: PathBuf::from(DEFAULT_DEVICE),
                width: DEFAULT_WIDTH,
                height: DEFAULT_HEIGHT,
                fps: None,
                format: None,
                buffers: DEFAULT_BUFFERS,
                retry_initial_ms: DEFAULT_RETRY_INITIAL_MS,
                retry_max_ms: DEFAULT_RETRY_MAX_MS,
                frame_timeout_ms: DEFAULT_FRAME_TIMEOUT_MS,
            }
        }
    }
}

/// Opens the configured source. Configuration errors, a missing file or program and a camera
/// that does not offer a usable format are reported here, not on the first frame.
pub fn open(config: &SourceConfig) -> Result<Box<dyn Source>, SourceError> {
    match config {
        SourceConfig::Images(c) => Ok(Box::new(images::ImageSource::open(c)?)),
        SourceConfig::Video(c) => Ok(Box::new(video::VideoSource::open(c)?)),
        SourceConfig::Synthetic(c) => Ok(Box::new(synthetic::SyntheticSource::open(c)?)),
        SourceConfig::Mcap(c) => Ok(Box::new(mcap_replay::McapSource::open(c)?)),
        SourceConfig::Command(c) => Ok(Box::new(command::CommandSource::open(c)?)),
        SourceConfig::Stream(c) => Ok(Box::new(stream::StreamSource::open(c)?)),
        #[cfg(all(feature = "v4l2", target_os = "linux"))]
        SourceConfig::V4l2(c) => Ok(Box::new(v4l2::V4l2Source::open(c)?)),
        #[cfg(not(all(feature = "v4l2", target_os = "linux")))]
        SourceConfig::V4l2(c) => Err(SourceError::Failed(format!(
            "cannot open {}: this build has no V4L2 support (needs Linux and the `v4l2` cargo feature)",
            c.device.display()
        ))),
    }
}

/// Wall-clock time in microseconds since the Unix epoch (0 if the clock is before 1970).
pub(crate) fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_parses_each_kind_and_rejects_unknown_fields() {
        let c: SourceConfig = toml::from_str(
            "kind = \"v4l2\"\ndevice = \"/dev/video2\"\nwidth = 1280\nheight = 720\nformat = \"mjpeg\"\nfps = 30.0",
        )
        .unwrap();
        let SourceConfig::V4l2(v) = &c else {
            panic!("{c:?}")
        };
        assert_eq!(v.device.to_str(), Some("/dev/video2"));
        assert_eq!(v.format, Some(convert::PixelFormat::Mjpeg));
        assert_eq!(v.buffers, v4l2_config::DEFAULT_BUFFERS);

        let c: SourceConfig =
            toml::from_str("kind = \"images\"\npath = \"a/*.jpg\"\nloop = true\nrate_hz = 5.0")
                .unwrap();
        assert!(matches!(c, SourceConfig::Images(ref i) if i.looping && i.rate_hz == Some(5.0)));

        let c: SourceConfig = toml::from_str("kind = \"video\"\npath = \"x.mp4\"").unwrap();
        assert!(matches!(c, SourceConfig::Video(_)));

        let c: SourceConfig = toml::from_str(
            "kind = \"command\"\ncommand = [\"rpicam-vid\", \"-o\", \"-\"]\nformat = \"i420\"\nwidth = 640\nheight = 480",
        )
        .unwrap();
        assert!(
            matches!(c, SourceConfig::Command(ref k) if k.format == convert::PixelFormat::I420 && k.width == Some(640))
        );

        let c: SourceConfig = toml::from_str("kind = \"synthetic\"\npeople = 2").unwrap();
        assert!(matches!(c, SourceConfig::Synthetic(ref s) if s.people == 2));

        for bad in [
            "kind = \"images\"\npath = \"a\"\nfoo = 1",
            "kind = \"v4l2\"\ndevcie = \"/dev/video0\"",
            "kind = \"video\"\npath = \"x\"\nlop = true",
            "kind = \"v4l2\"\nformat = \"nv12\"",
            "kind = \"webcam\"",
            "kind = \"command\"\ncommand = [\"a\"]\nwidht = 4",
        ] {
            let err = toml::from_str::<SourceConfig>(bad).unwrap_err().to_string();
            assert!(
                err.contains("unknown") || err.contains("variant"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn open_missing_device_is_an_error() {
        let cfg = SourceConfig::V4l2(v4l2_config::V4l2Config {
            device: "/dev/video-edgepose-does-not-exist".into(),
            ..Default::default()
        });
        let err = open(&cfg).err().expect("must fail").to_string();
        assert!(err.contains("/dev/video-edgepose-does-not-exist"), "{err}");
    }
}
