//! Host display: renders exactly what a physical display would show and writes it as PNG
//! files, for development without hardware and for the golden-image tests.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use embedded_graphics::pixelcolor::{BinaryColor, Rgb565, RgbColor};

use super::{
    ColorMode, Display, DisplayError, Framebuffer, PngConfig, RenderOptions, Renderer, Status,
};
use crate::pose::FramePoses;

/// The simulated display's frame.
enum Frame {
    Mono(Framebuffer<BinaryColor>),
    Rgb565(Framebuffer<Rgb565>),
}

/// Writes every `every`-th frame as `dir/frame_<seq>.png`, keeping at most `keep` files.
pub struct PngDisplay {
    dir: PathBuf,
    every: u64,
    keep: usize,
    seen: u64,
    written: VecDeque<PathBuf>,
    frame: Frame,
    renderer: Renderer,
}

impl PngDisplay {
    /// A PNG display for `config`; the directory must exist (or be creatable).
    pub fn new(config: &PngConfig) -> Result<Self, DisplayError> {
        super::DisplayConfig::Png(config.clone()).validate()?;
        std::fs::create_dir_all(&config.dir).map_err(|source| DisplayError::Io {
            what: "creating PNG output directory",
            path: config.dir.clone(),
            source,
        })?;
        let (w, h) = config.size;
        let frame = match config.color {
            ColorMode::Mono => Frame::Mono(Framebuffer::new(w, h, BinaryColor::Off)),
            ColorMode::Rgb565 => Frame::Rgb565(Framebuffer::new(w, h, Rgb565::BLACK)),
        };
        Ok(PngDisplay {
            dir: config.dir.clone(),
            every: u64::from(config.every.max(1)),
            keep: config.keep.max(1),
            seen: 0,
            written: VecDeque::new(),
            frame,
            renderer: Renderer::new(RenderOptions {
                track_labels: config.labels,
                ..RenderOptions::default()
            }),
        })
    }

    /// The files written so far that are still on disk, oldest first.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.written.iter().map(PathBuf::as_path)
    }

    fn write(&mut self, seq: u64) -> Result<(), DisplayError> {
        let image = match &self.frame {
            Frame::Mono(fb) => fb.to_rgb_image(),
            Frame::Rgb565(fb) => fb.to_rgb_image(),
        };
        let path = self.dir.join(format!("frame_{seq:010}.png"));
        // Write then rename, so a viewer never picks up a half-written file.
        let tmp = self.dir.join(".frame.png.tmp");
        image
            .save_with_format(&tmp, image::ImageFormat::Png)
            .map_err(|source| DisplayError::Png {
                path: tmp.clone(),
                source,
            })?;
        std::fs::rename(&tmp, &path).map_err(|source| DisplayError::Io {
            what: "renaming PNG into place at",
            path: path.clone(),
            source,
        })?;
        if !self.written.contains(&path) {
            self.written.push_back(path);
        }
        while self.written.len() > self.keep {
            if let Some(old) = self.written.pop_front() {
                // Already gone (someone cleaned up) is fine; anything else is worth a log line.
                if let Err(e) = std::fs::remove_file(&old) {
                    if e.kind() != std::io::ErrorKind::NotFound {
                        tracing::warn!(path = %old.display(), error = %e, "could not delete old PNG frame");
                    }
                }
            }
        }
        Ok(())
    }
}

impl Display for PngDisplay {
    fn show(
        &mut self,
        frame: &FramePoses,
        preview: Option<&image::RgbImage>,
        status: &Status,
    ) -> Result<(), DisplayError> {
        let n = self.seen;
        self.seen += 1;
        if !n.is_multiple_of(self.every) {
            return Ok(());
        }
        match &mut self.frame {
            Frame::Mono(fb) => {
                let Ok(()) = self.renderer.render(fb, frame, preview, status);
            }
            Frame::Rgb565(fb) => {
                let Ok(()) = self.renderer.render(fb, frame, preview, status);
            }
        }
        self.write(frame.seq)
    }
}
