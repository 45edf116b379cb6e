//! Capture stage, one thread per camera: reads the source and puts each frame into the
//! camera's newest-value slot for the inference workers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::pool::Ordered;
use super::slot::Latest;
use super::stats::{record, FpsMeter, Stats};
use super::supervise::{Beat, Failure, Fault};
use super::{Captured, RawOutput, POLL};
use crate::source::{Source, SourceError};
use crate::util::ratelimit::{RateLimit, WARN_INTERVAL};

/// Back-off after a source failure before asking it again (sources reconnect themselves).
const SOURCE_RETRY_DELAY: Duration = Duration::from_millis(200);
/// Bad-frame warnings logged per interval before they are only counted (a directory of bad
/// files names each of the first ones; a camera sending garbage cannot flood the log).
const BAD_FRAME_BURST: u32 = 8;

pub(super) struct Capture {
    pub key: usize,
    pub name: String,
    pub source: Box<dyn Source>,
    pub frames: Arc<Latest<Captured>>,
    pub ordered: Arc<Vec<Ordered<RawOutput>>>,
    pub stats: Arc<Stats>,
    pub halt: Arc<AtomicBool>,
    pub fault: Fault,
    pub epoch: Instant,
    /// Where a source that can never produce a frame ends the run.
    pub failure: Arc<Failure>,
}

impl Capture {
    pub fn run(mut self, beat: &Beat) {
        let stats = &self.stats.cameras[self.key];
        // Files and simulations wait for the model; cameras never wait.
        let live = self.source.is_live();
        let mut rate = FpsMeter::default();
        let mut delivered = 0u64;
        // Busy (for the supervisor's stall check) from the first request after a delivered
        // frame until the next one: errors and bad frames in between do not count as frames.
        let mut asking = false;
        let mut bad_log = RateLimit::with_burst(WARN_INTERVAL, BAD_FRAME_BURST);
        let mut failed_log = RateLimit::default();
        while !self.halt.load(Ordering::Relaxed) {
            if !live && !self.frames.wait_empty(self.key, POLL) {
                continue;
            }
            if !asking {
                beat.busy(self.epoch);
                asking = true;
            }
            if self.key == 0 {
                injected_stall(&mut self.fault, &self.halt, delivered);
            }
            let t = Instant::now();
            match self.source.next_frame() {
                Ok(Some(frame)) => {
                    beat.idle();
                    asking = false;
                    if delivered == 0 {
                        self.fault.maybe_panic(&self.name);
                    }
                    delivered += 1;
                    let now = Instant::now();
                    record(&stats.capture, now - t);
                    stats.captured.fetch_add(1, Ordering::Relaxed);
                    rate.tick();
                    if let Some(period) = rate.interval() {
                        // How long a result may wait behind a slower, older one.
                        self.ordered[self.key].set_period(period);
                    }
                    if self
                        .frames
                        .put(self.key, Captured { frame, at: now })
                        .is_some()
                    {
                        stats.stale_frames.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Ok(None) => break,
                Err(SourceError::BadFrame(m)) => {
                    stats.bad_frames.fetch_add(1, Ordering::Relaxed);
                    if let Some(repeated) = bad_log.hit() {
                        tracing::warn!(repeated, "{}: skipping bad frame: {m}", self.name);
                    }
                }
                Err(SourceError::Failed(m)) => {
                    stats.source_errors.fetch_add(1, Ordering::Relaxed);
                    if let Some(repeated) = failed_log.hit() {
                        tracing::warn!(repeated, "{}: source failed, retrying: {m}", self.name);
                    }
                    std::thread::sleep(SOURCE_RETRY_DELAY);
                }
                Err(SourceError::Fatal(m)) => {
                    // Retrying could only spin: the daemon stops, non-zero, saying why.
                    stats.source_errors.fetch_add(1, Ordering::Relaxed);
                    self.failure.set(format!("{}: {m}", self.name));
                    break;
                }
            }
        }
        beat.idle();
        self.frames.close(self.key);
    }
}

/// The test-only stall fault: the source hangs before delivering frame `after`.
fn injected_stall(fault: &mut Fault, halt: &AtomicBool, delivered: u64) {
    let Some((after, hang)) = fault.stall else {
        return;
    };
    if delivered != after {
        return;
    }
    fault.stall = None;
    let until = Instant::now() + hang;
    while Instant::now() < until && !halt.load(Ordering::Relaxed) {
        std::thread::sleep(POLL);
    }
}
