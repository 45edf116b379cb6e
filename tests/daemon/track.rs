//! Acceptance test of the tracker: three people walking (and crossing) in the synthetic
//! source for 300 frames; the detector is simulated by the ground truth with position noise,
//! random keypoint dropouts, occasional missed detections and shuffled order. An id switch is
//! counted whenever the track id given to a ground-truth identity changes; the issue asks for
//! at most 1 % of person-frames.

use std::collections::HashMap;

use edgepose::decoder::{Keypoint, Persons};
use edgepose::source::synthetic::{SyntheticConfig, SyntheticSource};
use edgepose::source::Source;
use edgepose::track::{OneEuroConfig, Tracker, TrackerConfig};

const FRAMES: usize = 300;
/// Position noise: uniform in ±NOISE_PX on each axis (std ≈ 2.3 px).
const NOISE_PX: f32 = 4.0;
/// Probability that a keypoint the ground truth has is dropped by the "detector".
const KEYPOINT_DROPOUT: f64 = 0.2;
/// Probability that a whole person is missed in a frame.
const PERSON_DROPOUT: f64 = 0.02;
/// The limit: id switches ≤ 1 % of person-frames.
const MAX_SWITCH_RATE: f64 = 0.01;

/// Deterministic xorshift64 generator (no test-only dependency needed).
struct Rng(u64);
impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn sym(&mut self, amp: f32) -> f32 {
        ((self.unit() * 2.0 - 1.0) as f32) * amp
    }
}

struct Outcome {
    person_frames: usize,
    /// Person-frames whose box overlaps another person's box (crossings, occlusions).
    overlapping: usize,
    switches: usize,
    untracked: usize,
}

fn run(seed: u64, tracker_cfg: TrackerConfig) -> Outcome {
    let mut src = SyntheticSource::open(&SyntheticConfig {
        people: 3,
        width: 320,
        height: 240,
        fps: 30.0,
        seed,
        realtime: false,
    })
    .expect("synthetic source");
    let mut tracker = Tracker::new(tracker_cfg).expect("tracker config");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed);
    let mut last_track: HashMap<u32, u32> = HashMap::new();
    let mut out = Outcome {
        person_frames: 0,
        overlapping: 0,
        switches: 0,
        untracked: 0,
    };
    for _ in 0..FRAMES {
        let frame = src.next_frame().expect("frame").expect("endless source");
        let truth = src.ground_truth();
        for (i, a) in truth.iter().enumerate() {
            let overlaps = truth.iter().enumerate().any(|(j, b)| {
                i != j
                    && a.bbox[0] < b.bbox[0] + b.bbox[2]
                    && b.bbox[0] < a.bbox[0] + a.bbox[2]
                    && a.bbox[1] < b.bbox[1] + b.bbox[3]
                    && b.bbox[1] < a.bbox[1] + a.bbox[3]
            });
            out.overlapping += usize::from(overlaps);
        }
        let mut detections = Persons::new();
        let mut identities = Vec::new();
        for truth in src.ground_truth() {
            let mut p = truth.to_person();
            p.track_id = 0; // the tracker must not see the answer
            if p.num_present() == 0 {
                continue;
            }
            out.person_frames += 1;
            if rng.unit() < PERSON_DROPOUT {
                continue;
            }
            for k in p.keypoints.iter_mut() {
                if !k.present {
                    continue;
                }
                if rng.unit() < KEYPOINT_DROPOUT {
                    *k = Keypoint::ABSENT;
                } else {
                    k.x += rng.sym(NOISE_PX);
                    k.y += rng.sym(NOISE_PX);
                }
            }
            detections.push(p).expect("capacity");
            identities.push(truth.id);
        }
        // Detectors report persons in no particular order.
        for i in (1..detections.len()).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            detections.swap(i, j);
            identities.swap(i, j);
        }
        tracker.update(frame.timestamp_us, &mut detections);
        for (p, id) in detections.iter().zip(&identities) {
            if p.track_id == 0 {
                out.untracked += 1;
                continue;
            }
            if let Some(prev) = last_track.insert(*id, p.track_id) {
                if prev != p.track_id {
                    out.switches += 1;
                }
            }
        }
        // Track ids are unique within a frame.
        let mut ids: Vec<u32> = detections
            .iter()
            .map(|p| p.track_id)
            .filter(|&t| t != 0)
            .collect();
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate track id in one frame");
    }
    out
}

fn check(seed: u64, cfg: TrackerConfig) {
    let o = run(seed, cfg);
    let rate = o.switches as f64 / o.person_frames as f64;
    eprintln!(
        "seed {seed}: {} person-frames ({} overlapping another person), {} id switches ({:.2} %), {} untracked detections",
        o.person_frames,
        o.overlapping,
        o.switches,
        rate * 100.0,
        o.untracked
    );
    assert!(
        o.person_frames >= FRAMES * 3 * 9 / 10,
        "people left the scene: {}",
        o.person_frames
    );
    assert!(
        rate <= MAX_SWITCH_RATE,
        "seed {seed}: {} switches in {} person-frames",
        o.switches,
        o.person_frames
    );
}

#[test]
fn three_walkers_300_frames_id_switches_within_one_percent() {
    check(1, TrackerConfig::default());
}

#[test]
fn another_seed_with_smoothing_on() {
    let smoothing = TrackerConfig {
        smoothing: Some(OneEuroConfig::default()),
        ..TrackerConfig::default()
    };
    check(2, smoothing);
}
