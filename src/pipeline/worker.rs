//! Inference stage: the pool of workers. Each worker owns a [`Detector`] that shares the
//! loaded model's weights with the others ([`Detector::fork`]) and takes frames from every
//! camera in turn; results go to the camera's reorder buffer under the frame's ticket.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::pool::{BufferPool, Ordered};
use super::slot::{Latest, Take, Taken};
use super::stats::{record, Stats};
use super::supervise::{Beat, Fault};
use super::{Captured, RawOutput, POLL};
use crate::infer::detector::Detector;
use crate::tap::Tap;

pub(super) struct Worker {
    pub name: String,
    pub detector: Detector,
    pub frames: Arc<Latest<Captured>>,
    pub ordered: Arc<Vec<Ordered<RawOutput>>>,
    pub pool: Arc<BufferPool>,
    pub stats: Arc<Stats>,
    pub halt: Arc<AtomicBool>,
    /// Keep the frame for the display (camera 0 only, when a display is configured).
    pub want_preview: bool,
    /// Also keep it (camera 0) while a reader of the tap wants images.
    pub tap: Option<Arc<Tap>>,
    pub fault: Fault,
    pub epoch: Instant,
    /// Workers still running; the last one to stop closes the reorder buffers.
    pub running: Arc<AtomicUsize>,
}

/// Closes the reorder buffers when the last worker stops, panic or not.
struct LastOneCloses<'a> {
    running: &'a AtomicUsize,
    ordered: &'a [Ordered<RawOutput>],
}

impl Drop for LastOneCloses<'_> {
    fn drop(&mut self) {
        if self.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            for o in self.ordered {
                o.close();
            }
        }
    }
}

impl Worker {
    pub fn run(mut self, beat: &Beat) {
        let _closer = LastOneCloses {
            running: &self.running,
            ordered: &self.ordered,
        };
        let mut failed_log = crate::util::ratelimit::RateLimit::default();
        loop {
            let Taken { key, ticket, value } = match self.frames.take(POLL) {
                Take::Item(t) => t,
                Take::Empty if self.halt.load(Ordering::Relaxed) => break,
                Take::Empty => continue,
                Take::Closed => break,
            };
            self.fault.maybe_panic(&self.name);
            let Captured { frame, at } = value;
            let stats = &self.stats.cameras[key];
            beat.busy(self.epoch);
            let mut buf = self.pool.get();
            let result = self.detector.infer_into(&frame.image, &mut buf);
            beat.idle();
            match result {
                Ok((geometry, times)) => {
                    stats.inferred.fetch_add(1, Ordering::Relaxed);
                    record(&stats.preprocess, times.preprocess);
                    record(&stats.inference, times.inference);
                    let item = RawOutput {
                        output: buf,
                        geometry,
                        seq: frame.seq,
                        timestamp_us: frame.timestamp_us,
                        preview: ((self.want_preview
                            || self.tap.as_ref().is_some_and(|t| t.wants_images()))
                            && key == 0)
                            .then_some(frame.image),
                        captured: at,
                    };
                    if let Err(late) = self.ordered[key].put(ticket, item) {
                        stats.late_frames.fetch_add(1, Ordering::Relaxed);
                        self.pool.put(late.output);
                    }
                }
                Err(e) => {
                    self.pool.put(buf);
                    self.ordered[key].abandon(ticket);
                    stats.inference_errors.fetch_add(1, Ordering::Relaxed);
                    if let Some(repeated) = failed_log.hit() {
                        tracing::warn!(
                            repeated,
                            "{}: frame {} failed: {e:#}",
                            stats.name,
                            frame.seq
                        );
                    }
                }
            }
            self.stats
                .output_buffers
                .store(self.pool.allocated(), Ordering::Relaxed);
        }
    }
}
