//! Output stage: tracks each camera's persons with the camera's own tracker, sends frames to
//! the sinks (shared by all cameras; each frame names its camera), draws the first camera on
//! the display, and keeps the sinks' own counters in the statistics.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::slot::{Latest, Take, Taken};
use super::stats::{record, FpsMeter, SinkReport, Stats};
use super::supervise::{Beat, Failure, Fault};
use super::{Decoded, POLL};
use crate::display::{Display, Status};
use crate::sink::{Sink, SinkError};
use crate::tap::Tap;
use crate::track::Tracker;
use crate::util::ratelimit::RateLimit;

/// How often the sinks' counters are copied into the statistics (for the metrics endpoint).
const SINK_STATS_REFRESH: Duration = Duration::from_millis(250);

pub(super) struct Output {
    pub results: Arc<Latest<Decoded>>,
    pub trackers: Vec<Tracker>,
    pub sinks: Vec<Box<dyn Sink>>,
    pub display: Option<Box<dyn Display>>,
    /// Finished frames for the web server and the recorder.
    pub tap: Option<Arc<Tap>>,
    pub stats: Arc<Stats>,
    pub halt: Arc<AtomicBool>,
    /// Stop after this many published frames, all cameras together (0 = no limit).
    pub max_frames: u64,
    pub model_name: String,
    pub fault: Fault,
    pub epoch: Instant,
    /// Where an output that is gone for good (broken pipe) ends the run.
    pub failure: Arc<Failure>,
}

impl Output {
    pub fn run(mut self, beat: &Beat) {
        let mut fps: Vec<FpsMeter> = self.trackers.iter().map(|_| FpsMeter::default()).collect();
        let mut send_errors = vec![0u64; self.sinks.len()];
        // One limiter per sink: a failing sink cannot hide another's first error.
        let mut error_logs: Vec<RateLimit> =
            self.sinks.iter().map(|_| RateLimit::default()).collect();
        let mut status = Status {
            fps: 0.0,
            model: self.model_name.clone(),
        };
        let mut refreshed = Instant::now();
        self.refresh_sinks(&send_errors);
        while !self.halt.load(Ordering::Relaxed) {
            let item = match self.results.take(POLL) {
                Take::Item(t) => Some(t),
                Take::Empty => None,
                Take::Closed => break,
            };
            if let Some(Taken { key, value, .. }) = item {
                self.fault.maybe_panic("output");
                beat.busy(self.epoch);
                let done = self.publish(
                    key,
                    value,
                    &mut fps[key],
                    (&mut send_errors, &mut error_logs),
                    &mut status,
                );
                beat.idle();
                if done {
                    break;
                }
            }
            if refreshed.elapsed() >= SINK_STATS_REFRESH {
                refreshed = Instant::now();
                self.refresh_sinks(&send_errors);
            }
        }
        for sink in self.sinks.iter_mut() {
            if let Err(e) = sink.close() {
                tracing::warn!("{}: closing: {e}", sink.describe());
            }
        }
        self.refresh_sinks(&send_errors);
    }

    /// Tracks, sends and draws one frame; `true` once `max_frames` frames went out.
    fn publish(
        &mut self,
        key: usize,
        Decoded {
            mut poses,
            preview,
            captured,
        }: Decoded,
        fps: &mut FpsMeter,
        (send_errors, error_logs): (&mut [u64], &mut [RateLimit]),
        status: &mut Status,
    ) -> bool {
        let stats = &self.stats.cameras[key];
        let t0 = Instant::now();
        self.trackers[key].update_frame(&mut poses);
        let mut gone = false;
        for ((sink, errors), log) in self
            .sinks
            .iter_mut()
            .zip(send_errors.iter_mut())
            .zip(error_logs.iter_mut())
        {
            match sink.send(&poses) {
                Ok(()) => {}
                Err(e @ SinkError::Gone { .. }) => {
                    // Nothing sent from now on could arrive: end the daemon, non-zero.
                    *errors += 1;
                    self.failure.set(format!("{}: {e}", sink.describe()));
                    gone = true;
                }
                Err(e) => {
                    *errors += 1;
                    if let Some(repeated) = log.hit() {
                        tracing::warn!(repeated, "{}: {e}", sink.describe());
                    }
                }
            }
        }
        if gone {
            return true;
        }
        let rate = fps.tick();
        stats
            .fps_milli
            .store((rate * 1e3) as u64, Ordering::Relaxed);
        if key == 0 {
            if let Some(d) = self.display.as_mut() {
                status.fps = rate as f32;
                if let Err(e) = d.show(&poses, preview.as_ref(), status) {
                    self.stats.display_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!("display: {e}");
                }
            }
        }
        if let Some(t) = &self.tap {
            t.publish(&poses, preview);
        }
        record(&self.stats.output, t0.elapsed());
        record(&stats.end_to_end, captured.elapsed());
        stats
            .persons
            .fetch_add(poses.persons.len() as u64, Ordering::Relaxed);
        stats.published.fetch_add(1, Ordering::Relaxed);
        self.max_frames > 0 && self.stats.total(|c| &c.published) >= self.max_frames
    }

    fn refresh_sinks(&self, send_errors: &[u64]) {
        self.stats.set_sinks(
            self.sinks
                .iter()
                .zip(send_errors)
                .map(|(s, &send_errors)| SinkReport {
                    name: s.describe(),
                    stats: s.stats(),
                    send_errors,
                })
                .collect(),
        );
    }
}
