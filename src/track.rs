//! Tracking: stable person ids across frames, and optional One Euro smoothing of keypoints.
//!
//! Each frame's persons are matched to the existing tracks by OKS (object keypoint
//! similarity, the COCO metric) against the tracks' *predicted* keypoints (last position
//! plus a constant-velocity estimate), greedily from the best pair down, gated by a minimum
//! OKS. Unmatched persons start new tracks with new ids (monotonically increasing, never 0);
//! a track that goes unmatched for `max_missed` consecutive frames is retired.
//!
//! Memory is fixed: at most [`MAX_TRACKS`] tracks, all in `heapless` storage, so a long
//! run or a crowded scene cannot grow the daemon.

use edgepose_decoder::{
    oks, pose_area, Keypoint, Person, Persons, MAX_PERSONS, NUM_COCO_KEYPOINTS,
};

use crate::pose::FramePoses;

/// Most tracks kept: every person of a full frame plus as many recently lost ones.
pub const MAX_TRACKS: usize = 2 * MAX_PERSONS;
/// Most (person, track) pairs considered in one frame.
const MAX_CANDIDATES: usize = MAX_PERSONS * MAX_TRACKS;

/// Default minimum OKS for a person to continue a track. Consecutive frames of one walking
/// person score well above 0.7; different people only score high when they overlap.
pub const DEFAULT_OKS_THRESHOLD: f32 = 0.3;
/// Default number of consecutive missed frames after which a track is retired (1 s at 30 fps).
pub const DEFAULT_MAX_MISSED: u32 = 30;
/// Default minimum number of present keypoints for a person to be tracked at all.
pub const DEFAULT_MIN_KEYPOINTS: u8 = 3;
/// Weight of a new velocity measurement (alpha-beta filter's beta): averages out keypoint
/// noise over a few frames while following a person who changes pace.
const VELOCITY_GAIN: f32 = 0.5;
/// Smallest box area (px²) used as OKS scale, so a collapsed box (one keypoint) does not make
/// every match impossible.
const MIN_OKS_AREA: f32 = 64.0;
/// Microseconds per second.
const US_PER_S: f32 = 1e6;

/// One Euro filter parameters (Casiez et al. 2012), shared by every keypoint coordinate.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OneEuroConfig {
    /// Cutoff frequency (Hz) at rest: lower = less jitter, more lag when still.
    pub min_cutoff: f32,
    /// Cutoff increase per unit speed (1/px): higher = less lag during fast motion.
    pub beta: f32,
    /// Cutoff (Hz) for the speed estimate itself.
    pub d_cutoff: f32,
}

impl Default for OneEuroConfig {
    fn default() -> Self {
        OneEuroConfig {
            min_cutoff: 1.0,
            beta: 0.01,
            d_cutoff: 1.0,
        }
    }
}

/// Tracker settings (the daemon config's `[track]` table).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrackerConfig {
    /// Minimum OKS between a person and a track's prediction to continue the track.
    pub oks_threshold: f32,
    /// A track unmatched in this many consecutive frames is retired.
    pub max_missed: u32,
    /// Persons with fewer present keypoints are not tracked (their `track_id` stays 0).
    pub min_keypoints: u8,
    /// Keypoint smoothing; absent = off.
    pub smoothing: Option<OneEuroConfig>,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            oks_threshold: DEFAULT_OKS_THRESHOLD,
            max_missed: DEFAULT_MAX_MISSED,
            min_keypoints: DEFAULT_MIN_KEYPOINTS,
            smoothing: None,
        }
    }
}

/// An invalid tracker setting.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("invalid tracker config: {0}")]
pub struct TrackerConfigError(String);

impl TrackerConfig {
    /// Checks ranges; the tracker refuses settings that would silently never match or never
    /// retire.
    pub fn validate(&self) -> Result<(), TrackerConfigError> {
        let err = |m: String| Err(TrackerConfigError(m));
        if !(self.oks_threshold > 0.0 && self.oks_threshold <= 1.0) {
            return err(format!(
                "oks_threshold must be in (0, 1], got {}",
                self.oks_threshold
            ));
        }
        if self.max_missed == 0 {
            return err("max_missed must be at least 1".into());
        }
        if usize::from(self.min_keypoints) > NUM_COCO_KEYPOINTS {
            return err(format!(
                "min_keypoints must be at most {NUM_COCO_KEYPOINTS}, got {}",
                self.min_keypoints
            ));
        }
        if let Some(s) = self.smoothing {
            let positive = |v: f32| v.is_finite() && v > 0.0;
            if !(positive(s.min_cutoff)
                && positive(s.d_cutoff)
                && s.beta.is_finite()
                && s.beta >= 0.0)
            {
                return err(format!(
                    "smoothing needs min_cutoff > 0, d_cutoff > 0, beta >= 0; got {s:?}"
                ));
            }
        }
        Ok(())
    }
}

/// OKS of a person to a track's prediction, at the larger of their box areas (floored), so
/// a partly seen person is not judged at a tiny scale.
fn match_score(person: &Person, predicted: &Person) -> f32 {
    let area = pose_area(person)
        .max(pose_area(predicted))
        .max(MIN_OKS_AREA);
    oks(person, predicted, area)
}

/// One Euro filter state for one coordinate.
#[derive(Clone, Copy, Debug, Default)]
struct OneEuro {
    x: f32,
    dx: f32,
    t_us: u64,
    init: bool,
}

impl OneEuro {
    fn alpha(dt: f32, cutoff: f32) -> f32 {
        let tau = 1.0 / (2.0 * core::f32::consts::PI * cutoff);
        1.0 / (1.0 + tau / dt)
    }

    fn filter(&mut self, cfg: &OneEuroConfig, x: f32, t_us: u64) -> f32 {
        if !self.init {
            *self = OneEuro {
                x,
                dx: 0.0,
                t_us,
                init: true,
            };
            return x;
        }
        if t_us <= self.t_us {
            // Same or older timestamp: nothing to learn about speed; keep the estimate.
            return self.x;
        }
        let dt = (t_us - self.t_us) as f32 / US_PER_S;
        let dx = (x - self.x) / dt;
        let a_d = Self::alpha(dt, cfg.d_cutoff);
        let edx = a_d * dx + (1.0 - a_d) * self.dx;
        let cutoff = cfg.min_cutoff + cfg.beta * edx.abs();
        let a = Self::alpha(dt, cutoff);
        self.x = a * x + (1.0 - a) * self.x;
        self.dx = edx;
        self.t_us = t_us;
        self.x
    }
}

/// Last known position of one keypoint of a track.
#[derive(Clone, Copy, Debug, Default)]
struct TrackedPoint {
    x: f32,
    y: f32,
    /// When it was last observed.
    t_us: u64,
    known: bool,
}

#[derive(Clone, Debug)]
struct Track {
    id: u32,
    points: [TrackedPoint; NUM_COCO_KEYPOINTS],
    /// Whole-person velocity, px/s.
    vx: f32,
    vy: f32,
    /// Time of the last match.
    t_us: u64,
    missed: u32,
    /// One Euro state per keypoint per coordinate (x, y).
    filters: [[OneEuro; 2]; NUM_COCO_KEYPOINTS],
}

impl Track {
    fn new(id: u32, person: &Person, t_us: u64) -> Self {
        let mut t = Track {
            id,
            points: [TrackedPoint::default(); NUM_COCO_KEYPOINTS],
            vx: 0.0,
            vy: 0.0,
            t_us,
            missed: 0,
            filters: [[OneEuro::default(); 2]; NUM_COCO_KEYPOINTS],
        };
        t.observe(person, t_us);
        t
    }

    /// Keypoints where the track expects the person at `t_us`.
    fn predict(&self, t_us: u64) -> Person {
        let mut out = Person {
            track_id: self.id,
            ..Person::default()
        };
        for (o, p) in out.keypoints.iter_mut().zip(&self.points) {
            if p.known {
                let dt = t_us.saturating_sub(p.t_us) as f32 / US_PER_S;
                *o = Keypoint::new(p.x + self.vx * dt, p.y + self.vy * dt, 1.0);
            }
        }
        out
    }

    /// Updates velocity from the prediction error, then takes the person's keypoints.
    fn update(&mut self, person: &Person, t_us: u64) {
        let predicted = self.predict(t_us);
        let dt = t_us.saturating_sub(self.t_us) as f32 / US_PER_S;
        let (mut rx, mut ry, mut n) = (0.0, 0.0, 0u32);
        for (k, p) in person.keypoints.iter().zip(&predicted.keypoints) {
            if k.present && p.present {
                rx += k.x - p.x;
                ry += k.y - p.y;
                n += 1;
            }
        }
        if n > 0 && dt > 0.0 {
            let scale = VELOCITY_GAIN / (n as f32 * dt);
            self.vx += rx * scale;
            self.vy += ry * scale;
        }
        self.observe(person, t_us);
        self.missed = 0;
    }

    fn observe(&mut self, person: &Person, t_us: u64) {
        for (p, k) in self.points.iter_mut().zip(&person.keypoints) {
            if k.present {
                *p = TrackedPoint {
                    x: k.x,
                    y: k.y,
                    t_us,
                    known: true,
                };
            }
        }
        self.t_us = t_us;
    }

    /// Smooths the person's present keypoints in place.
    fn smooth(&mut self, cfg: &OneEuroConfig, person: &mut Person, t_us: u64) {
        for (k, f) in person.keypoints.iter_mut().zip(&mut self.filters) {
            if k.present {
                k.x = f[0].filter(cfg, k.x, t_us);
                k.y = f[1].filter(cfg, k.y, t_us);
            }
        }
    }
}

/// Candidate match: (OKS, person index, track index).
type Candidate = (f32, u8, u8);

/// Multi-person tracker with fixed memory.
#[derive(Clone, Debug)]
pub struct Tracker {
    config: TrackerConfig,
    tracks: heapless::Vec<Track, MAX_TRACKS>,
    next_id: u32,
}

impl Tracker {
    pub fn new(config: TrackerConfig) -> Result<Self, TrackerConfigError> {
        config.validate()?;
        Ok(Tracker {
            config,
            tracks: heapless::Vec::new(),
            next_id: 1,
        })
    }

    pub fn config(&self) -> &TrackerConfig {
        &self.config
    }

    /// Number of live tracks (matched recently enough not to be retired).
    pub fn num_tracks(&self) -> usize {
        self.tracks.len()
    }

    /// Forgets every track (ids keep increasing).
    pub fn reset(&mut self) {
        self.tracks.clear();
    }

    /// Tracks one frame's poses in place (ids, and smoothing when configured).
    pub fn update_frame(&mut self, poses: &mut FramePoses) {
        self.update(poses.timestamp_us, &mut poses.persons);
    }

    /// Assigns `track_id` to every person (0 for persons with too few keypoints) and, when
    /// smoothing is on, replaces their keypoints by the smoothed ones. `timestamp_us` is the
    /// frame's capture time.
    pub fn update(&mut self, timestamp_us: u64, persons: &mut Persons) {
        let min_kp = usize::from(self.config.min_keypoints).max(1);
        let trackable = |p: &Person| p.num_present() >= min_kp;

        // 1. Score every (person, track) pair that passes the gate.
        let predictions: heapless::Vec<Person, MAX_TRACKS> = self
            .tracks
            .iter()
            .map(|t| t.predict(timestamp_us))
            .collect();
        let mut candidates: heapless::Vec<Candidate, MAX_CANDIDATES> = heapless::Vec::new();
        for (pi, person) in persons.iter().enumerate() {
            if !trackable(person) {
                continue;
            }
            for (ti, pred) in predictions.iter().enumerate() {
                let s = match_score(person, pred);
                if s >= self.config.oks_threshold {
                    // Capacity is persons × tracks, so this cannot fail; ignore rather than panic.
                    let _ = candidates.push((s, pi as u8, ti as u8));
                }
            }
        }
        // Best pairs first; ties to the older track (lower id) for stability.
        candidates.sort_unstable_by(|a, b| {
            b.0.total_cmp(&a.0).then_with(|| {
                self.tracks[usize::from(a.2)]
                    .id
                    .cmp(&self.tracks[usize::from(b.2)].id)
            })
        });

        // 2. Greedy assignment.
        let mut person_track = [None::<usize>; MAX_PERSONS];
        let mut track_taken = [false; MAX_TRACKS];
        for &(_, pi, ti) in &candidates {
            let (pi, ti) = (usize::from(pi), usize::from(ti));
            if person_track[pi].is_none() && !track_taken[ti] {
                person_track[pi] = Some(ti);
                track_taken[ti] = true;
            }
        }

        // 3. Update matched tracks; age the others.
        for (pi, person) in persons.iter_mut().enumerate() {
            person.track_id = 0;
            if let Some(ti) = person_track[pi] {
                let track = &mut self.tracks[ti];
                track.update(person, timestamp_us);
                person.track_id = track.id;
                if let Some(cfg) = self.config.smoothing {
                    track.smooth(&cfg, person, timestamp_us);
                }
            }
        }
        for (ti, track) in self.tracks.iter_mut().enumerate() {
            if !track_taken[ti] {
                track.missed = track.missed.saturating_add(1);
            }
        }
        self.tracks.retain(|t| t.missed < self.config.max_missed);

        // 4. New tracks for unmatched trackable persons.
        for (pi, person) in persons.iter_mut().enumerate() {
            if person_track[pi].is_some() || !trackable(person) {
                continue;
            }
            if self.tracks.is_full() && !self.evict_lost_track() {
                continue;
            }
            let id = self.allocate_id();
            let mut track = Track::new(id, person, timestamp_us);
            person.track_id = id;
            if let Some(cfg) = self.config.smoothing {
                track.smooth(&cfg, person, timestamp_us);
            }
            // Room was made above.
            let _ = self.tracks.push(track);
        }
    }

    /// Drops the longest-lost unmatched track to make room; `false` if every track is live.
    fn evict_lost_track(&mut self) -> bool {
        let victim = self
            .tracks
            .iter()
            .enumerate()
            .filter(|(_, t)| t.missed > 0)
            .max_by_key(|(_, t)| (t.missed, core::cmp::Reverse(t.id)))
            .map(|(i, _)| i);
        match victim {
            Some(i) => {
                self.tracks.swap_remove(i);
                true
            }
            None => false,
        }
    }

    /// Next id: increasing, never 0 (after 2³² − 1 ids it wraps to 1, centuries at 30 fps).
    fn allocate_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id = self.next_id.checked_add(1).unwrap_or(1);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Standing-person keypoint offsets (COCO order) for a person ~170 px tall, centred at 0.
    const SKELETON: [(f32, f32); NUM_COCO_KEYPOINTS] = [
        (0.0, -75.0),
        (-4.0, -79.0),
        (4.0, -79.0),
        (-9.0, -76.0),
        (9.0, -76.0),
        (-20.0, -55.0),
        (20.0, -55.0),
        (-26.0, -25.0),
        (26.0, -25.0),
        (-28.0, 2.0),
        (28.0, 2.0),
        (-12.0, 5.0),
        (12.0, 5.0),
        (-13.0, 48.0),
        (13.0, 48.0),
        (-14.0, 90.0),
        (14.0, 90.0),
    ];

    /// Deterministic xorshift noise in [-1, 1).
    struct Noise(u64);
    impl Noise {
        fn next(&mut self) -> f32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        }
    }

    fn person_at(cx: f32, cy: f32, noise: &mut Noise, amp: f32) -> Person {
        let mut p = Person {
            score: 0.9,
            ..Default::default()
        };
        for (k, (dx, dy)) in p.keypoints.iter_mut().zip(SKELETON) {
            *k = Keypoint::new(
                cx + dx + amp * noise.next(),
                cy + dy + amp * noise.next(),
                0.8,
            );
        }
        p
    }

    fn persons(list: &[Person]) -> Persons {
        list.iter().copied().collect()
    }

    const FRAME_US: u64 = 33_333;

    fn tracker(max_missed: u32) -> Tracker {
        Tracker::new(TrackerConfig {
            max_missed,
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn oks_is_one_for_identical_and_falls_with_distance() {
        let mut n = Noise(1);
        let a = person_at(100.0, 100.0, &mut n, 0.0);
        assert!((match_score(&a, &a) - 1.0).abs() < 1e-6);
        let near = person_at(103.0, 100.0, &mut n, 0.0);
        let far = person_at(160.0, 100.0, &mut n, 0.0);
        let s_near = match_score(&a, &near);
        let s_far = match_score(&a, &far);
        assert!(
            s_near > 0.9 && s_far < DEFAULT_OKS_THRESHOLD,
            "{s_near} {s_far}"
        );
        assert_eq!(match_score(&a, &Person::default()), 0.0);
    }

    #[test]
    fn ids_persist_under_small_motion_and_noise() {
        let mut t = tracker(10);
        let mut n = Noise(7);
        let mut first: Option<[u32; 3]> = None;
        for f in 0..200u64 {
            let x = f as f32 * 2.0;
            let mut ps = persons(&[
                person_at(100.0 + x, 200.0, &mut n, 3.0),
                person_at(400.0 - x * 0.5, 220.0, &mut n, 3.0),
                person_at(700.0, 240.0 + x * 0.3, &mut n, 3.0),
            ]);
            t.update(f * FRAME_US, &mut ps);
            let ids = [ps[0].track_id, ps[1].track_id, ps[2].track_id];
            assert!(ids.iter().all(|&i| i != 0), "frame {f}: {ids:?}");
            match first {
                None => {
                    assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
                    first = Some(ids);
                }
                Some(want) => assert_eq!(ids, want, "frame {f}"),
            }
        }
        assert_eq!(t.num_tracks(), 3);
    }

    #[test]
    fn new_person_gets_new_increasing_id() {
        let mut t = tracker(10);
        let mut n = Noise(3);
        let mut ps = persons(&[person_at(100.0, 200.0, &mut n, 1.0)]);
        t.update(0, &mut ps);
        let a = ps[0].track_id;
        assert!(a >= 1);
        let mut ps = persons(&[
            person_at(101.0, 200.0, &mut n, 1.0),
            person_at(500.0, 200.0, &mut n, 1.0),
        ]);
        t.update(FRAME_US, &mut ps);
        assert_eq!(ps[0].track_id, a);
        assert!(ps[1].track_id > a);
    }

    #[test]
    fn short_absence_keeps_id_and_long_absence_retires() {
        const N: u32 = 5;
        let mut t = tracker(N);
        let mut n = Noise(11);
        let mut frame = 0u64;
        let mut step = |t: &mut Tracker, x: Option<f32>| -> Option<u32> {
            let mut ps = match x {
                Some(x) => persons(&[person_at(x, 200.0, &mut n, 1.0)]),
                None => Persons::new(),
            };
            t.update(frame * FRAME_US, &mut ps);
            frame += 1;
            ps.first().map(|p| p.track_id)
        };
        // Walk right at 3 px/frame; vanish for N-1 frames (still walking); reappear.
        let mut x = 100.0;
        let id = step(&mut t, Some(x)).unwrap();
        for _ in 0..10 {
            x += 3.0;
            assert_eq!(step(&mut t, Some(x)), Some(id));
        }
        for _ in 0..N - 1 {
            x += 3.0;
            step(&mut t, None);
        }
        assert_eq!(t.num_tracks(), 1);
        x += 3.0;
        assert_eq!(
            step(&mut t, Some(x)),
            Some(id),
            "absent for N-1 frames keeps its id"
        );
        // Now vanish for N frames: retired, and the return is a new person.
        for _ in 0..N {
            x += 3.0;
            step(&mut t, None);
        }
        assert_eq!(t.num_tracks(), 0, "retired after N missed frames");
        x += 3.0;
        let new_id = step(&mut t, Some(x)).unwrap();
        assert!(new_id > id);
    }

    #[test]
    fn crossing_people_keep_ids_thanks_to_velocity() {
        let mut t = tracker(10);
        let mut n = Noise(5);
        let mut ids = None;
        for f in 0..120u64 {
            let d = f as f32 * 4.0;
            let mut ps = persons(&[
                person_at(100.0 + d, 200.0, &mut n, 1.5),
                person_at(580.0 - d, 206.0, &mut n, 1.5),
            ]);
            // Detection order must not matter: swap it every other frame.
            if f % 2 == 1 {
                ps.swap(0, 1);
            }
            t.update(f * FRAME_US, &mut ps);
            if f % 2 == 1 {
                ps.swap(0, 1);
            }
            let now = (ps[0].track_id, ps[1].track_id);
            match ids {
                None => ids = Some(now),
                Some(want) => assert_eq!(now, want, "frame {f}"),
            }
        }
    }

    #[test]
    fn persons_with_too_few_keypoints_are_not_tracked() {
        let mut t = tracker(10);
        let mut p = Person::default();
        p.keypoints[0] = Keypoint::new(10.0, 10.0, 0.9);
        p.keypoints[1] = Keypoint::new(12.0, 10.0, 0.9);
        let mut ps = persons(&[p]);
        t.update(0, &mut ps);
        assert_eq!(ps[0].track_id, 0);
        assert_eq!(t.num_tracks(), 0);
    }

    #[test]
    fn memory_stays_bounded_with_crowds_of_new_people() {
        let mut t = tracker(1000);
        let mut n = Noise(9);
        let mut last_max = 0;
        for f in 0..50u64 {
            // A full frame of persons, all far from everyone seen before.
            let list: heapless::Vec<Person, MAX_PERSONS> = (0..MAX_PERSONS)
                .map(|i| person_at(i as f32 * 400.0, f as f32 * 1000.0, &mut n, 0.0))
                .collect();
            let mut ps: Persons = list;
            t.update(f * FRAME_US, &mut ps);
            assert!(t.num_tracks() <= MAX_TRACKS);
            for p in &ps {
                assert!(p.track_id > last_max, "ids increase");
            }
            last_max = ps.iter().map(|p| p.track_id).max().unwrap();
        }
        assert_eq!(last_max, 50 * MAX_PERSONS as u32);
    }

    #[test]
    fn one_euro_reduces_jitter_and_follows_motion() {
        let cfg = OneEuroConfig::default();
        let mut n = Noise(42);
        let mut f = OneEuro::default();
        let (mut in_var, mut out_var) = (0.0, 0.0);
        for i in 0..300u64 {
            let raw = 100.0 + 4.0 * n.next();
            let out = f.filter(&cfg, raw, i * FRAME_US);
            if i > 30 {
                in_var += (raw - 100.0) * (raw - 100.0);
                out_var += (out - 100.0) * (out - 100.0);
            }
        }
        assert!(out_var < in_var / 4.0, "in {in_var} out {out_var}");

        // A fast ramp (300 px/s) is followed with small lag thanks to beta.
        let mut f = OneEuro::default();
        let mut lag = 0.0;
        for i in 0..60u64 {
            let raw = i as f32 * 10.0;
            lag = raw - f.filter(&cfg, raw, i * FRAME_US);
        }
        assert!(lag > 0.0 && lag < 20.0, "lag {lag}");
        // Repeated timestamp: no division by zero, value held.
        let held = f.filter(&cfg, 1e6, 59 * FRAME_US);
        assert!(held.is_finite() && held < 1000.0);
    }

    #[test]
    fn smoothing_is_applied_to_tracked_persons() {
        let mut t = Tracker::new(TrackerConfig {
            smoothing: Some(OneEuroConfig::default()),
            ..Default::default()
        })
        .unwrap();
        let mut n = Noise(77);
        let mut raw_err = 0.0;
        let mut out_err = 0.0;
        for f in 0..200u64 {
            let p = person_at(300.0, 300.0, &mut n, 4.0);
            let mut ps = persons(&[p]);
            t.update(f * FRAME_US, &mut ps);
            if f > 30 {
                for (k, (dx, _)) in ps[0].keypoints.iter().zip(SKELETON) {
                    out_err += (k.x - 300.0 - dx).abs();
                }
                for (k, (dx, _)) in p.keypoints.iter().zip(SKELETON) {
                    raw_err += (k.x - 300.0 - dx).abs();
                }
            }
        }
        assert!(out_err < raw_err / 2.0, "raw {raw_err} smoothed {out_err}");
    }

    #[test]
    fn config_validation_and_serde() {
        assert!(TrackerConfig::default().validate().is_ok());
        for bad in [
            TrackerConfig {
                oks_threshold: 0.0,
                ..Default::default()
            },
            TrackerConfig {
                oks_threshold: f32::NAN,
                ..Default::default()
            },
            TrackerConfig {
                max_missed: 0,
                ..Default::default()
            },
            TrackerConfig {
                min_keypoints: 18,
                ..Default::default()
            },
            TrackerConfig {
                smoothing: Some(OneEuroConfig {
                    min_cutoff: 0.0,
                    ..Default::default()
                }),
                ..Default::default()
            },
        ] {
            assert!(Tracker::new(bad).is_err(), "{bad:?}");
        }
        let c: TrackerConfig = toml::from_str("max_missed = 7\n[smoothing]\nbeta = 0.5").unwrap();
        assert_eq!(c.max_missed, 7);
        assert_eq!(c.oks_threshold, DEFAULT_OKS_THRESHOLD);
        assert_eq!(
            c.smoothing.map(|s| (s.beta, s.min_cutoff)),
            Some((0.5, 1.0))
        );
        assert!(toml::from_str::<TrackerConfig>("max_mised = 7").is_err());
        assert!(toml::from_str::<TrackerConfig>("[smoothing]\nbetta = 1").is_err());
    }
}
