//! Decode stage, one thread per camera: takes the camera's network outputs in capture order
//! from its reorder buffer, turns them into persons and hands them to the output thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::pool::{BufferPool, Dropped, Ordered};
use super::slot::{Latest, Take};
use super::stats::{record, Stats};
use super::supervise::{Beat, Fault};
use super::{Decoded, RawOutput, POLL};
use crate::infer::detector::DecodeStage;
use crate::pose::{CameraId, FramePoses};

pub(super) struct Decode {
    pub key: usize,
    pub name: String,
    pub camera: Option<CameraId>,
    pub stage: DecodeStage,
    pub model_id: u16,
    pub ordered: Arc<Vec<Ordered<RawOutput>>>,
    pub results: Arc<Latest<Decoded>>,
    pub pool: Arc<BufferPool>,
    pub stats: Arc<Stats>,
    pub halt: Arc<AtomicBool>,
    pub fault: Fault,
    pub epoch: Instant,
}

impl Decode {
    pub fn run(mut self, beat: &Beat) {
        let stats = &self.stats.cameras[self.key];
        let ordered = &self.ordered[self.key];
        let mut failed_log = crate::util::ratelimit::RateLimit::default();
        loop {
            let superseded = |Dropped::Superseded(r): Dropped<RawOutput>| {
                stats.stale_outputs.fetch_add(1, Ordering::Relaxed);
                self.pool.put(r.output);
            };
            // The last worker closes the reorder buffer when the pool stops.
            let item = match ordered.take(POLL, superseded) {
                Take::Item(r) => r,
                Take::Empty if self.halt.load(Ordering::Relaxed) => break,
                Take::Empty => continue,
                Take::Closed => break,
            };
            self.fault.maybe_panic(&self.name);
            beat.busy(self.epoch);
            let t = Instant::now();
            let decoded = self.stage.decode(&item.output, &item.geometry);
            record(&stats.decode, t.elapsed());
            beat.idle();
            match decoded {
                Ok((persons, dstats)) => {
                    let drops =
                        dstats.peaks_dropped + dstats.pairs_dropped + dstats.persons_dropped;
                    stats
                        .decode_drops
                        .fetch_add(drops as u64, Ordering::Relaxed);
                    let poses = FramePoses {
                        seq: item.seq,
                        timestamp_us: item.timestamp_us,
                        width: item.geometry.image_width,
                        height: item.geometry.image_height,
                        model_id: self.model_id,
                        persons,
                        stats: dstats,
                        camera: self.camera.clone(),
                    };
                    let result = Decoded {
                        poses,
                        preview: item.preview,
                        captured: item.captured,
                    };
                    if self.results.put(self.key, result).is_some() {
                        stats.stale_results.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Err(e) => {
                    stats.inference_errors.fetch_add(1, Ordering::Relaxed);
                    if let Some(repeated) = failed_log.hit() {
                        tracing::warn!(
                            repeated,
                            "{}: frame {}: decoding failed: {e}",
                            stats.name,
                            item.seq
                        );
                    }
                }
            }
            self.pool.put(item.output);
        }
        self.results.close(self.key);
    }
}
