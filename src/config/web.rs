//! `[http]` (the web server, `crate::http`) and `[recorder]` (MCAP recordings,
//! `crate::recorder`): their settings live here, below the modules that use them.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// `[http]` in the configuration.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    pub enabled: bool,
    /// `IP:port`; `0.0.0.0:8080` exposes the camera image to the network.
    pub bind: String,
    /// "" = no authentication; otherwise `Authorization: Bearer <token>` or basic auth with
    /// the token as password (any user name).
    pub token: String,
    /// Frames per second of `/stream.mjpg` and `/snapshot.jpg` at most.
    pub stream_max_fps: f64,
    /// Streamed image size at most (the camera image is scaled down to fit).
    pub stream_max_width: u32,
    pub stream_max_height: u32,
    /// JPEG quality, 1..=100.
    pub jpeg_quality: u8,
    /// Open `/stream.mjpg` and `/events` connections at most; more get 503.
    pub max_streams: usize,
    /// `/healthz` answers 503 when no frame was published for this long.
    pub stall_s: f64,
}

impl HttpConfig {
    /// Checks values; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.enabled {
            self.bind
                .parse::<SocketAddr>()
                .map_err(|_| format!("bind: '{}' is not IP:port", self.bind))?;
        }
        if !(self.stream_max_fps.is_finite() && self.stream_max_fps > 0.0) {
            return Err("stream_max_fps: must be > 0".into());
        }
        if self.stream_max_width == 0 || self.stream_max_height == 0 {
            return Err("stream_max_width/height: must be > 0".into());
        }
        if !(1..=100).contains(&self.jpeg_quality) {
            return Err("jpeg_quality: must be in 1..=100".into());
        }
        if self.max_streams == 0 {
            return Err("max_streams: must be at least 1".into());
        }
        if !(self.stall_s.is_finite() && self.stall_s > 0.0) {
            return Err("stall_s: must be > 0".into());
        }
        Ok(())
    }
}

/// Image format of the recorded camera frames.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    /// Small files; a replay sees slightly different pixels.
    Jpeg,
    /// Lossless: a replay gives exactly the live run's poses.
    Png,
}

/// `[recorder]` in the configuration.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RecorderConfig {
    pub enabled: bool,
    /// The recording; with rotation `<stem>-000.mcap`, `<stem>-001.mcap`, ...
    pub path: PathBuf,
    /// Rotate after this many megabytes (0 = no size limit).
    pub max_mb: u64,
    /// Rotate after this many seconds (0 = no duration limit).
    pub max_duration_s: f64,
    /// Rotated files kept at most; the oldest are deleted (0 = keep all).
    pub max_files: usize,
    pub images: bool,
    pub annotations: bool,
    pub poses: bool,
    pub stats: bool,
    /// Camera images per second at most (0 = every frame).
    pub image_max_fps: f64,
    pub image_format: ImageFormat,
    pub jpeg_quality: u8,
}

impl RecorderConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.enabled && self.path.as_os_str().is_empty() {
            return Err("path: must name a file".into());
        }
        if !(self.max_duration_s.is_finite() && self.max_duration_s >= 0.0) {
            return Err("max_duration_s: must be ≥ 0".into());
        }
        if !(self.image_max_fps.is_finite() && self.image_max_fps >= 0.0) {
            return Err("image_max_fps: must be ≥ 0".into());
        }
        if !(1..=100).contains(&self.jpeg_quality) {
            return Err("jpeg_quality: must be in 1..=100".into());
        }
        Ok(())
    }

    /// Whether files rotate (a size or duration limit is set).
    pub fn rotates(&self) -> bool {
        self.max_mb > 0 || self.max_duration_s > 0.0
    }

    /// File `n` of a rotating recording, or `path` itself without rotation.
    pub fn file_name(&self, n: usize) -> PathBuf {
        if !self.rotates() {
            return self.path.clone();
        }
        let stem = self
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "edgepose".into());
        let ext = self
            .path
            .extension()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "mcap".into());
        self.path.with_file_name(format!("{stem}-{n:03}.{ext}"))
    }
}
