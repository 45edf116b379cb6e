//! Still images as a source: one file, a directory (sorted by name) or a glob pattern,
//! optionally looped and paced at a fixed rate (for demos and replaying recorded frames).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{convert, now_us, Frame, Source, SourceError};

/// File extensions a directory listing picks up (case-insensitive).
const IMAGE_EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];
/// Largest image file read, so a stray huge file cannot exhaust memory on a small board.
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

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
            files,
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
        if self.next >= self.files.len() {
            if !self.looping {
                return Ok(None);
            }
            self.next = 0;
        }
        let path = &self.files[self.next];
        // Advance first: a bad file is reported once and the next call moves on.
        self.next += 1;
        let path = path.clone();
        self.pace();
        // The frame is "captured" when it is due, not when its decoding ends: paced frames
        // then carry exactly the configured spacing.
        let timestamp_us = now_us();
        let image = read_image(&path)?;
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
    if is_jpeg_name(path) || data.starts_with(&[0xFF, 0xD8]) {
        return convert::decode_jpeg(&data).map_err(|e| match e {
            SourceError::BadFrame(m) | SourceError::Failed(m) => bad(m),
        });
    }
    if data.is_empty() {
        return Err(bad("empty file (0 bytes)".into()));
    }
    image::load_from_memory(&data)
        .map(|img| img.into_rgb8())
        .map_err(|e| bad(format!("cannot decode: {e}")))
}

fn is_jpeg_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("jpg") || e.eq_ignore_ascii_case("jpeg"))
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
