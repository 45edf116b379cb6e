//! Skeletons on a small display: a renderer generic over embedded-graphics' `DrawTarget`, an
//! in-memory framebuffer, a PNG-writing host display, and SSD1306 / ST7789 drivers (feature
//! `hw-display`, Linux).
//!
//! The daemon builds the configured display once with [`open`] and calls [`Display::show`]
//! once per frame. Displays built by [`open`] never return an error from `show`: a failing
//! display is logged, counted and reopened with backoff ([`Resilient`]), so a loose cable
//! never stops the pose stream.
//!
//! Rendering is pinned by golden images (tests/golden/, `cargo test --test display golden`);
//! after an intended change regenerate them with `EDGEPOSE_BLESS=1 cargo test --test
//! display golden` and look at them before committing. Try a display without a camera:
//! `cargo run --example display_demo -- png:target/display-demo`.

mod config;
pub mod demo;
mod framebuffer;
#[cfg(all(feature = "hw-display", target_os = "linux"))]
pub mod hw;
mod png;
mod render;
mod resilient;

pub use config::{
    ColorMode, DisplayConfig, GpioBackend, PngConfig, Rotation, Ssd1306Config, Ssd1306Size,
    St7789Config,
};
pub use framebuffer::Framebuffer;
pub use png::PngDisplay;
pub use render::{
    keypoint_side, limb_side, Palette, RenderOptions, Renderer, Side, SkeletonColor, Viewport,
};
pub use resilient::{default_backoff, Connect, DisplayStats, Resilient};

use std::path::PathBuf;

use crate::pose::FramePoses;

/// What the status line shows besides the person count (which comes from the frame).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Status {
    /// Pipeline frames per second.
    pub fps: f32,
    /// Model name as shown to the user (cut to the display's width).
    pub model: String,
}

/// Errors of a display; [`Resilient`] turns them into log lines and counters.
#[derive(Debug, thiserror::Error)]
pub enum DisplayError {
    #[error("invalid display configuration: {0}")]
    Config(String),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing PNG {path}: {source}")]
    Png {
        path: PathBuf,
        #[source]
        source: image::ImageError,
    },
    /// A driver-level failure (bus transfer, GPIO, controller init).
    #[error("{device}: {detail}")]
    Device { device: String, detail: String },
}

/// A display the daemon draws each frame on.
pub trait Display: Send {
    /// Draw `frame`'s persons (and the optional camera `preview` behind them on colour
    /// displays) with `status` in the status line.
    fn show(
        &mut self,
        frame: &FramePoses,
        preview: Option<&image::RgbImage>,
        status: &Status,
    ) -> Result<(), DisplayError>;

    /// Error / reconnect counters, for displays that keep them.
    fn stats(&self) -> Option<DisplayStats> {
        None
    }
}

/// Build the configured display: `Ok(None)` for [`DisplayConfig::None`]. Configuration
/// mistakes are errors here (fail at start-up); device failures are not: the returned display
/// keeps retrying in the background of `show` calls.
pub fn open(config: &DisplayConfig) -> Result<Option<Box<dyn Display>>, DisplayError> {
    config.validate()?;
    match config {
        DisplayConfig::None => Ok(None),
        DisplayConfig::Png(c) => {
            // A directory that cannot be created is a configuration problem: report it now.
            std::fs::create_dir_all(&c.dir).map_err(|source| DisplayError::Io {
                what: "creating PNG output directory",
                path: c.dir.clone(),
                source,
            })?;
            let c = c.clone();
            let connect = move || PngDisplay::new(&c);
            Ok(Some(Box::new(Resilient::new(
                "png",
                connect,
                default_backoff(),
            ))))
        }
        #[cfg(all(feature = "hw-display", target_os = "linux"))]
        DisplayConfig::Ssd1306(c) => {
            let c = c.clone();
            let connect = move || hw::Ssd1306Display::open(&c);
            Ok(Some(Box::new(Resilient::new(
                "ssd1306",
                connect,
                default_backoff(),
            ))))
        }
        #[cfg(all(feature = "hw-display", target_os = "linux"))]
        DisplayConfig::St7789(c) => {
            let c = c.clone();
            let connect = move || hw::St7789Display::open(&c);
            Ok(Some(Box::new(Resilient::new(
                "st7789",
                connect,
                default_backoff(),
            ))))
        }
        #[cfg(not(all(feature = "hw-display", target_os = "linux")))]
        DisplayConfig::Ssd1306(_) | DisplayConfig::St7789(_) => Err(DisplayError::Config(
            "hardware displays need Linux and the `hw-display` cargo feature".into(),
        )),
    }
}
