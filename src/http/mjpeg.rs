//! The one JPEG encoder behind `/stream.mjpg` and `/snapshot.jpg`: while someone watches, it
//! takes the newest frame at most `stream_max_fps` times a second, draws the skeletons with
//! the display renderer, encodes once and hands the same bytes to every viewer. Nobody
//! watching: it sleeps, and the pipeline stops keeping camera images for it.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use embedded_graphics::pixelcolor::{Rgb565, RgbColor};

use super::HttpConfig;
use crate::display::{Framebuffer, RenderOptions, Renderer, Status};
use crate::tap::{Tap, TapNext};

/// After a snapshot request the encoder keeps running this long (a page polls snapshots).
const DEMAND_LINGER: Duration = Duration::from_secs(3);
/// How long the encoder sleeps between checks while nobody watches.
const IDLE_POLL: Duration = Duration::from_millis(100);

/// One encoded image.
#[derive(Debug)]
pub struct Part {
    /// 1, 2, ... in encoding order (a viewer that sees a gap missed parts).
    pub index: u64,
    /// The source frame's sequence number.
    pub seq: u64,
    pub jpeg: Vec<u8>,
    pub encoded_at: Instant,
}

/// See the module documentation.
pub struct Mjpeg {
    tap: Arc<Tap>,
    period: Duration,
    max_size: (u32, u32),
    quality: u8,
    latest: Mutex<Option<Arc<Part>>>,
    ready: Condvar,
    viewers: AtomicUsize,
    demand: Mutex<Option<Instant>>,
    encoded: AtomicU64,
}

/// A `/stream.mjpg` viewer, counted while it lives.
pub struct Viewer<'a>(&'a Mjpeg);

impl Drop for Viewer<'_> {
    fn drop(&mut self) {
        self.0.viewers.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Mjpeg {
    pub fn new(config: &HttpConfig, tap: Arc<Tap>) -> Arc<Mjpeg> {
        Arc::new(Mjpeg {
            tap,
            period: Duration::from_secs_f64(1.0 / config.stream_max_fps),
            max_size: (config.stream_max_width, config.stream_max_height),
            quality: config.jpeg_quality,
            latest: Mutex::new(None),
            ready: Condvar::new(),
            viewers: AtomicUsize::new(0),
            demand: Mutex::new(None),
            encoded: AtomicU64::new(0),
        })
    }

    /// Images encoded so far.
    pub fn encoded(&self) -> u64 {
        self.encoded.load(Ordering::Relaxed)
    }

    /// Open `/stream.mjpg` viewers.
    pub fn viewers(&self) -> usize {
        self.viewers.load(Ordering::Relaxed)
    }

    pub fn viewer(&self) -> Viewer<'_> {
        self.viewers.fetch_add(1, Ordering::Relaxed);
        self.ready.notify_all();
        Viewer(self)
    }

    fn watched(&self) -> bool {
        self.viewers() > 0
            || self
                .demand
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_some_and(|t| t.elapsed() < DEMAND_LINGER)
    }

    /// The first part after `after` (a part index), waiting up to `timeout`.
    pub fn wait_part(&self, after: u64, timeout: Duration) -> Option<Arc<Part>> {
        let g = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        let (g, _) = self
            .ready
            .wait_timeout_while(g, timeout, |p| p.as_ref().is_none_or(|p| p.index <= after))
            .unwrap_or_else(|p| p.into_inner());
        g.as_ref().filter(|p| p.index > after).cloned()
    }

    /// A recent image: the current part if it is younger than one period, else the next one.
    pub fn snapshot(&self, timeout: Duration, stop: &AtomicBool) -> Option<Arc<Part>> {
        *self.demand.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        self.ready.notify_all();
        let current = self
            .latest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(p) = &current {
            if p.encoded_at.elapsed() < self.period {
                return current;
            }
        }
        let after = current.map_or(0, |p| p.index);
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
            if let Some(p) = self.wait_part(after, super::POLL) {
                return Some(p);
            }
        }
        None
    }

    /// The encoder loop (its own thread) until `stop`.
    pub fn run(&self, stop: &AtomicBool) {
        let mut renderer = Renderer::new(RenderOptions {
            track_labels: true,
            status_line: false,
            min_keypoint_score: 0.0,
        });
        let mut fb: Option<Framebuffer<Rgb565>> = None;
        let status = Status::default();
        let mut cursor = self.tap.cursor_at_end();
        let mut wants_images = false;
        let mut index = 0u64;
        let mut next_due = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let watched = self.watched();
            if watched != wants_images {
                self.tap.want_images(watched);
                wants_images = watched;
            }
            if !watched {
                let g = self.latest.lock().unwrap_or_else(|p| p.into_inner());
                let _ = self.ready.wait_timeout(g, IDLE_POLL);
                continue;
            }
            let now = Instant::now();
            if next_due > now {
                std::thread::sleep((next_due - now).min(IDLE_POLL));
                continue;
            }
            let frame = match self.tap.next_newest(&mut cursor, IDLE_POLL) {
                TapNext::Frame(f) => f,
                TapNext::Timeout => continue,
                TapNext::Closed => break,
            };
            // Frames published before the pipeline kept images for us carry none: wait.
            let Some(image) = frame.image.as_deref() else {
                continue;
            };
            let (w, h) = fit(image.width(), image.height(), self.max_size);
            let target = match &mut fb {
                Some(f) if f.width() == w && f.height() == h => f,
                slot => slot.insert(Framebuffer::new(w, h, Rgb565::BLACK)),
            };
            let Ok(()) = renderer.render(target, &frame.poses, Some(image), &status);
            let rgb = target.to_rgb_image();
            let mut jpeg = Vec::with_capacity(rgb.len() / 8);
            let encoder =
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, self.quality);
            if let Err(e) = rgb.write_with_encoder(encoder) {
                tracing::warn!("web server: JPEG encoding failed: {e}");
                continue;
            }
            index += 1;
            self.encoded.fetch_add(1, Ordering::Relaxed);
            let part = Arc::new(Part {
                index,
                seq: frame.poses.seq,
                jpeg,
                encoded_at: Instant::now(),
            });
            *self.latest.lock().unwrap_or_else(|p| p.into_inner()) = Some(part);
            self.ready.notify_all();
            next_due = now + self.period;
        }
        if wants_images {
            self.tap.want_images(false);
        }
        self.ready.notify_all();
    }
}

/// The image size that fits `max` with the aspect ratio kept (never enlarged).
fn fit(w: u32, h: u32, (max_w, max_h): (u32, u32)) -> (u32, u32) {
    let scale = (max_w as f64 / w.max(1) as f64)
        .min(max_h as f64 / h.max(1) as f64)
        .min(1.0);
    (
        ((w as f64 * scale).round() as u32).max(1),
        ((h as f64 * scale).round() as u32).max(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_scaled_down_to_fit_never_up() {
        assert_eq!(fit(640, 480, (320, 320)), (320, 240));
        assert_eq!(fit(640, 480, (1280, 720)), (640, 480));
        assert_eq!(fit(480, 640, (640, 320)), (240, 320));
    }
}
