//! Still images as a source: one file, a directory (sorted by name) or a glob pattern,
//! optionally looped and paced at a fixed rate (for demos and replaying recorded frames).
//!
//! Files are decoded by content, whatever their extension. A file that cannot be decoded is
//! reported once and left out of later passes; when no file can be decoded at all the source
//! ends with [`SourceError::Fatal`] instead of spinning over bad files forever.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{convert, now_us, Frame, Source, SourceError};

/// File extensions a directory listing picks up (case-insensitive).
const IMAGE_EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];
/// Largest image file read, so a stray huge file cannot exhaust memory on a small board.
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// Largest image decoded (pixels): 40 MP is 120 MB as RGB, already a lot for a small board.
pub const MAX_IMAGE_PIXELS: u64 = 40_000_000;

/// Settings of the image-file source.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImagesConfig {
    /// A file, a directory (its jpg/jpeg/png files, sorted by name) or a glob (`frames/*.jpg`).
    pub path: String,
    /// Start again from the first image after the last one.
    #[serde(default, rename = "loop")]
    pub looping: bool,
    /// Produce at most this many frames per second; `None` = as fast as they are read.
    #[serde(default)]
    pub rate_hz: Option<f32>,
}

/// Frames from image files.
pub struct ImageSource {
    files: Vec<PathBuf>,
    /// Files that failed to decode: skipped on later passes (reported once).
    bad: Vec<bool>,
    /// Frames produced so far (0 after a whole pass = nothing can ever be produced).
    good: u64,
    /// The first decoding error, quoted when no file can be decoded.
    first_error: Option<String>,
    next: usize,
    looping: bool,
    period: Option<Duration>,
    next_due: Option<Instant>,
    seq: u64,
    describe: String,
}

impl ImageSource {
    /// Resolves the file list; an empty match, a bad pattern or a bad rate is an error.
    pub fn open(config: &ImagesConfig) -> Result<Self, SourceError> {
        let period = match config.rate_hz {
            None => None,
            Some(r) if r.is_finite() && r > 0.0 => {
                Some(Duration::from_secs_f64(1.0 / f64::from(r)))
            }
            Some(r) => {
                return Err(SourceError::Failed(format!(
                    "images: rate_hz must be a positive number, got {r}"
                )))
            }
        };
        let files = list_files(&config.path)?;
        let describe = format!(
            "images:{} ({} file{}{})",
            config.path,
            files.len(),
            if files.len() == 1 { "" } else { "s" },
            if config.looping { ", looped" } else { "" }
        );
        Ok(ImageSource {
            bad: vec![false; files.len()],
            files,
            good: 0,
            first_error: None,
            next: 0,
            looping: config.looping,
            period,
            next_due: None,
            seq: 0,
            describe,
        })
    }

    /// The resolved files, in the order they are produced.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Sleeps until the next frame is due at the configured rate.
    fn pace(&mut self) {
        let Some(period) = self.period else { return };
        let now = Instant::now();
        let due = match self.next_due {
            Some(due) if due > now => {
                std::thread::sleep(due - now);
                due
            }
            // First frame, or we fell behind (slow decode, slow consumer): restart the grid
            // instead of bursting to catch up.
            _ => now,
        };
        self.next_due = Some(due + period);
    }
}

impl Source for ImageSource {
    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        // Skip files already known to be bad (they were reported on the first pass).
        while self.next < self.files.len() && self.bad[self.next] {
            self.next += 1;
        }
        if self.next >= self.files.len() {
            if self.good == 0 && self.bad.iter().all(|&b| b) {
                return Err(self.nothing_decodes());
            }
            if !self.looping {
                return Ok(None);
            }
            self.next = 0;
            while self.bad[self.next] {
                self.next += 1;
            }
        }
        let index = self.next;
        // Advance first: a bad file is reported once and the next call moves on.
        self.next += 1;
        let path = self.files[index].clone();
        self.pace();
        // The frame is "captured" when it is due, not when its decoding ends: paced frames
        // then carry exactly the configured spacing.
        let timestamp_us = now_us();
        let image = match read_image(&path) {
            Ok(image) => image,
            Err(e) => {
                self.bad[index] = true;
                let e = match e {
                    SourceError::BadFrame(m) => {
                        SourceError::BadFrame(format!("{m} (left out of later passes)"))
                    }
                    other => other,
                };
                self.first_error.get_or_insert_with(|| e.to_string());
                return Err(e);
            }
        };
        self.good += 1;
        let frame = Frame {
            seq: self.seq,
            timestamp_us,
            image,
        };
        self.seq += 1;
        Ok(Some(frame))
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}

impl ImageSource {
    fn nothing_decodes(&self) -> SourceError {
        SourceError::Fatal(format!(
            "images: none of the {} file{} could be decoded (first error: {})",
            self.files.len(),
            if self.files.len() == 1 { "" } else { "s" },
            self.first_error.as_deref().unwrap_or("unknown")
        ))
    }
}

/// Reads and decodes one image file; every failure names the file.
pub fn read_image(path: &Path) -> Result<image::RgbImage, SourceError> {
    let bad = |msg: String| SourceError::BadFrame(format!("{}: {msg}", path.display()));
    let len = std::fs::metadata(path)
        .map_err(|e| bad(format!("cannot read: {e}")))?
        .len();
    if len > MAX_FILE_BYTES {
        return Err(bad(format!(
            "file is {len} bytes, more than the {MAX_FILE_BYTES}-byte limit"
        )));
    }
    let data = std::fs::read(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    decode_image(&data).map_err(|e| match e {
        SourceError::BadFrame(m) | SourceError::Failed(m) | SourceError::Fatal(m) => bad(m),
    })
}

/// Decodes JPEG or PNG data, telling them apart by content (a PNG named `.jpg` is a PNG).
/// Images over [`MAX_IMAGE_PIXELS`] are refused with their size before any pixel is
/// allocated.
pub fn decode_image(data: &[u8]) -> Result<image::RgbImage, SourceError> {
    let bad = SourceError::BadFrame;
    if data.is_empty() {
        return Err(bad("empty file (0 bytes)".into()));
    }
    let format = image::guess_format(data).map_err(|_| {
        bad(format!(
            "not a JPEG or PNG image (unrecognised content, starts with {})",
            hex_prefix(data)
        ))
    })?;
    let reader = image::ImageReader::with_format(std::io::Cursor::new(data), format);
    if let Ok((w, h)) = reader.into_dimensions() {
        if u64::from(w) * u64::from(h) > MAX_IMAGE_PIXELS {
            return Err(bad(format!(
                "{format:?} image is {w}x{h} pixels, more than the {MAX_IMAGE_PIXELS}-pixel limit"
            )));
        }
    }
    match format {
        // The JPEG path also catches truncated files (no end-of-image marker).
        image::ImageFormat::Jpeg => convert::decode_jpeg(data),
        image::ImageFormat::Png => image::load_from_memory_with_format(data, format)
            .map(|img| img.into_rgb8())
            .map_err(|e| bad(format!("corrupt PNG: {e}"))),
        other => Err(bad(format!(
            "{other:?} images are not supported (JPEG or PNG)"
        ))),
    }
}

/// The first bytes of `data` in hex, for "what is this file" messages.
fn hex_prefix(data: &[u8]) -> String {
    data.iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// File, directory or glob → sorted file list.
fn list_files(spec: &str) -> Result<Vec<PathBuf>, SourceError> {
    let fail = |msg: String| SourceError::Failed(format!("images: {msg}"));
    let path = Path::new(spec);
    let mut files = if path.is_dir() {
        let entries =
            std::fs::read_dir(path).map_err(|e| fail(format!("cannot list {spec}: {e}")))?;
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| fail(format!("cannot list {spec}: {e}")))?;
            let p = entry.path();
            if p.is_file() && has_image_extension(&p) {
                files.push(p);
            }
        }
        files
    } else if path.is_file() {
        vec![path.to_path_buf()]
    } else if spec.contains(['*', '?', '[']) {
        let paths =
            glob::glob(spec).map_err(|e| fail(format!("bad glob pattern {spec:?}: {e}")))?;
        let mut files = Vec::new();
        for p in paths {
            let p = p.map_err(|e| fail(format!("glob {spec:?}: {e}")))?;
            if p.is_file() {
                files.push(p);
            }
        }
        files
    } else {
        return Err(fail(format!("{spec}: no such file or directory")));
    };
    files.sort();
    if files.is_empty() {
        return Err(fail(format!("no image files match {spec}")));
    }
    Ok(files)
}
