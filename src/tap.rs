//! The pipeline's tap: the output thread publishes each finished frame (poses + the camera
//! image when someone wants images) here, and readers that are not part of the pipeline (the
//! web server, the MCAP recorder) follow it at their own pace.
//!
//! Publishing never waits for a reader: frames go into a fixed ring of [`TAP_RING`] entries
//! and a reader that falls further behind than the ring skips ahead, counting what it missed.
//! Memory is bounded by the ring (images are shared, not copied).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::pose::FramePoses;

/// Frames kept for readers. Small: each may hold a camera image (a VGA RGB frame is 0.9 MB).
pub const TAP_RING: usize = 16;

/// One published frame.
#[derive(Debug)]
pub struct TapFrame {
    /// Position in the tap (1, 2, ...), independent of the source's `seq`.
    pub index: u64,
    pub poses: FramePoses,
    /// The camera image, present while some reader asked for images.
    pub image: Option<Arc<image::RgbImage>>,
    pub published: Instant,
}

/// What [`Tap::next`] found.
#[derive(Debug)]
pub enum TapNext {
    Frame(Arc<TapFrame>),
    Timeout,
    /// The pipeline stopped and the reader has seen every frame.
    Closed,
}

/// Where a reader is in the tap.
#[derive(Debug, Default)]
pub struct Cursor {
    /// Index of the last frame this reader took (0: none yet).
    last: u64,
    /// Frames that left the ring before this reader took them.
    pub missed: u64,
}

#[derive(Default)]
struct Ring {
    frames: VecDeque<Arc<TapFrame>>,
    next_index: u64,
    closed: bool,
    last_publish: Option<Instant>,
}

/// See the module documentation.
#[derive(Default)]
pub struct Tap {
    ring: Mutex<Ring>,
    ready: Condvar,
    /// Readers that need camera images (the pipeline keeps frames' images only then).
    image_readers: AtomicU64,
    published: AtomicU64,
}

impl Tap {
    pub fn new() -> Arc<Tap> {
        Arc::new(Tap::default())
    }

    /// A reader that needs images registers here for as long as it runs.
    pub fn want_images(&self, yes: bool) {
        if yes {
            self.image_readers.fetch_add(1, Ordering::Relaxed);
        } else {
            let _ = self
                .image_readers
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        }
    }

    /// Whether the pipeline should keep camera images for the tap.
    pub fn wants_images(&self) -> bool {
        self.image_readers.load(Ordering::Relaxed) > 0
    }

    /// Publishes a finished frame (the pipeline's output thread). Never blocks on readers.
    pub fn publish(&self, poses: &FramePoses, image: Option<image::RgbImage>) {
        let image = image.filter(|_| self.wants_images()).map(Arc::new);
        let mut r = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        r.next_index += 1;
        let now = Instant::now();
        let frame = Arc::new(TapFrame {
            index: r.next_index,
            poses: poses.clone(),
            image,
            published: now,
        });
        if r.frames.len() == TAP_RING {
            r.frames.pop_front();
        }
        r.frames.push_back(frame);
        r.last_publish = Some(now);
        drop(r);
        self.published.fetch_add(1, Ordering::Relaxed);
        self.ready.notify_all();
    }

    /// No more frames will come (the pipeline stopped).
    pub fn close(&self) {
        self.ring.lock().unwrap_or_else(|p| p.into_inner()).closed = true;
        self.ready.notify_all();
    }

    pub fn is_closed(&self) -> bool {
        self.ring.lock().unwrap_or_else(|p| p.into_inner()).closed
    }

    /// Frames published so far.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    /// Time since the last frame, `None` before the first one.
    pub fn since_last(&self) -> Option<Duration> {
        self.ring
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .last_publish
            .map(|t| t.elapsed())
    }

    /// Frames per second over the frames in the ring (0 with fewer than two).
    pub fn rate_hz(&self) -> f64 {
        let r = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        match (r.frames.front(), r.frames.back()) {
            (Some(a), Some(b)) if b.index > a.index => {
                let dt = (b.published - a.published).as_secs_f64();
                if dt > 0.0 {
                    (b.index - a.index) as f64 / dt
                } else {
                    0.0
                }
            }
            _ => 0.0,
        }
    }

    /// The newest frame.
    pub fn latest(&self) -> Option<Arc<TapFrame>> {
        self.ring
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .frames
            .back()
            .cloned()
    }

    /// A cursor that starts after the newest frame (a new viewer sees frames from now on).
    pub fn cursor_at_end(&self) -> Cursor {
        let r = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        Cursor {
            last: r.next_index,
            missed: 0,
        }
    }

    /// The next frame after `cursor`, waiting up to `timeout`. A reader that fell out of the
    /// ring gets the oldest frame still there; the skipped ones are added to `cursor.missed`.
    pub fn next(&self, cursor: &mut Cursor, timeout: Duration) -> TapNext {
        let r = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        let (r, _) = self
            .ready
            .wait_timeout_while(r, timeout, |r| r.next_index <= cursor.last && !r.closed)
            .unwrap_or_else(|p| p.into_inner());
        if r.next_index <= cursor.last {
            return if r.closed {
                TapNext::Closed
            } else {
                TapNext::Timeout
            };
        }
        let Some(oldest) = r.frames.front().map(|f| f.index) else {
            return TapNext::Timeout;
        };
        let want = (cursor.last + 1).max(oldest);
        cursor.missed += want - (cursor.last + 1);
        let frame = r.frames[(want - oldest) as usize].clone();
        cursor.last = want;
        TapNext::Frame(frame)
    }

    /// The newest frame after `cursor`, skipping (and counting) older unread ones: for readers
    /// that only show the present (video streams).
    pub fn next_newest(&self, cursor: &mut Cursor, timeout: Duration) -> TapNext {
        match self.next(cursor, timeout) {
            TapNext::Frame(f) => {
                let newest = self.latest().unwrap_or(f);
                cursor.missed += newest.index - cursor.last;
                cursor.last = newest.index;
                TapNext::Frame(newest)
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poses(seq: u64) -> FramePoses {
        FramePoses {
            seq,
            timestamp_us: seq,
            width: 4,
            height: 4,
            model_id: 1,
            ..FramePoses::default()
        }
    }

    #[test]
    fn a_reader_sees_every_frame_or_counts_the_ones_it_missed() {
        let tap = Tap::default();
        let mut c = tap.cursor_at_end();
        assert!(matches!(tap.next(&mut c, Duration::ZERO), TapNext::Timeout));
        for s in 0..3 {
            tap.publish(&poses(s), None);
        }
        for s in 0..3 {
            match tap.next(&mut c, Duration::ZERO) {
                TapNext::Frame(f) => assert_eq!(f.poses.seq, s),
                other => panic!("{other:?}"),
            }
        }
        // A slow reader: the ring overflows, it skips ahead and counts.
        for s in 3..(3 + TAP_RING as u64 + 5) {
            tap.publish(&poses(s), None);
        }
        match tap.next(&mut c, Duration::ZERO) {
            TapNext::Frame(f) => assert_eq!(f.poses.seq, 8),
            other => panic!("{other:?}"),
        }
        assert_eq!(c.missed, 5);
        match tap.next_newest(&mut c, Duration::ZERO) {
            TapNext::Frame(f) => assert_eq!(f.poses.seq, 3 + TAP_RING as u64 + 4),
            other => panic!("{other:?}"),
        }
        assert_eq!(c.missed, 5 + TAP_RING as u64 - 2);
        tap.close();
        assert!(matches!(tap.next(&mut c, Duration::ZERO), TapNext::Closed));
    }

    #[test]
    fn images_are_kept_only_while_a_reader_wants_them() {
        let tap = Tap::default();
        tap.publish(&poses(0), Some(image::RgbImage::new(2, 2)));
        assert!(tap.latest().is_some_and(|f| f.image.is_none()));
        tap.want_images(true);
        tap.publish(&poses(1), Some(image::RgbImage::new(2, 2)));
        assert!(tap.latest().is_some_and(|f| f.image.is_some()));
        tap.want_images(false);
        assert!(!tap.wants_images());
    }
}
