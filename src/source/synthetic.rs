//! The simulation camera: people walking through a fixed synthetic scene, drawn by the same
//! renderer as `edgepose synth`, with exact ground truth for every frame.
//!
//! Each walker keeps its identity for the whole stream, moves smoothly (velocity eases towards
//! occasional new targets, turning is rate-limited), animates a walking gait whose cadence
//! follows its speed, and turns back at the image borders, so people regularly cross and
//! occlude each other. Frames are deterministic for a given config (the seed drives the scene,
//! the people and the sensor noise); with `realtime` the source sleeps to hold `fps`.

use super::{Frame, Source, SourceError};
use crate::synth::figure::{Appearance, Figure, Placement, Proportions, NUM_KEYPOINTS};
use crate::synth::image_rng;
use crate::synth::pose_prior::walking_pose;
use crate::synth::render::{self, Canvas, Light, PostFx};
use crate::synth::scene::{self, V_VISIBLE};
use edgepose_decoder::{Keypoint, Person};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use std::f32::consts::{PI, TAU};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Most walkers a source can hold (the decoder's per-frame person capacity).
pub const MAX_PEOPLE: usize = edgepose_decoder::MAX_PERSONS;
/// Smallest and largest frame side the source renders.
const MIN_SIDE: u32 = 32;
const MAX_SIDE: u32 = 4096;
/// Highest frame rate accepted (simulated time per frame must stay meaningful).
const MAX_FPS: f32 = 1000.0;
/// Walker heights as a fraction of the frame height.
const HEIGHT_FRAC: (f32, f32) = (0.3, 0.6);
/// Walking speeds in body heights per second (a leisurely to a brisk walk).
const SPEED: (f32, f32) = (0.3, 0.8);
/// One gait cycle (two steps) covers this many body heights.
const CYCLE_LENGTH: f32 = 0.8;
/// Rate (1/s) at which velocity eases towards its target: smooth starts, stops and turns.
const EASE_RATE: f32 = 2.5;
/// Mean rate (1/s) of spontaneous changes of walking target.
const RETARGET_RATE: f32 = 0.12;
/// Fastest body turn, rad/s.
const MAX_TURN_RATE: f32 = 5.0;
/// Seed offset so the per-frame noise stream differs from the scene stream.
const NOISE_STREAM_BASE: u64 = 1 << 40;

/// Settings of the simulation camera.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyntheticConfig {
    /// Number of walking people (0 = an empty scene).
    pub people: usize,
    pub width: u32,
    pub height: u32,
    /// Frames per second of simulated time.
    pub fps: f32,
    pub seed: u64,
    /// Sleep so frames come at `fps` in wall-clock time; otherwise as fast as rendered.
    pub realtime: bool,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        SyntheticConfig {
            people: 3,
            width: 640,
            height: 480,
            fps: 30.0,
            seed: 1,
            realtime: false,
        }
    }
}

/// Ground truth of one person in the latest frame.
#[derive(Clone, Debug, PartialEq)]
pub struct TruePerson {
    /// Identity, stable for the life of the source (1-based).
    pub id: u32,
    /// (x, y, v) per COCO keypoint in frame pixels; v as in COCO (0 outside the frame,
    /// 1 hidden, 2 visible); x = y = 0 when v = 0.
    pub keypoints: [[f32; 3]; NUM_KEYPOINTS],
    /// Box (x, y, w, h) of the whole figure, clipped to the frame.
    pub bbox: [f32; 4],
    /// Visible silhouette area in pixels.
    pub area: u32,
}

impl TruePerson {
    /// As a decoder [`Person`]: labelled keypoints present (score 1 visible, 0.5 hidden),
    /// `track_id` = the identity.
    pub fn to_person(&self) -> Person {
        let mut p = Person {
            score: 1.0,
            track_id: self.id,
            ..Person::default()
        };
        for (dst, k) in p.keypoints.iter_mut().zip(&self.keypoints) {
            if k[2] > 0.0 {
                let score = if k[2] >= f32::from(V_VISIBLE) {
                    1.0
                } else {
                    0.5
                };
                *dst = Keypoint::new(k[0], k[1], score);
            }
        }
        p
    }
}

struct Walker {
    id: u32,
    props: Proportions,
    look: Appearance,
    height_px: f32,
    x: f32,
    ground_y: f32,
    vel: [f32; 2],
    target: [f32; 2],
    yaw: f32,
    phase: f32,
    cam_pitch: f32,
    head_freq: f32,
    head_phase: f32,
}

/// People walking through a synthetic scene.
pub struct SyntheticSource {
    cfg: SyntheticConfig,
    walkers: Vec<Walker>,
    background: Canvas,
    light: Light,
    post: PostFx,
    rng: ChaCha8Rng,
    seq: u64,
    start_us: u64,
    start: Instant,
    truth: Vec<TruePerson>,
}

fn angle_diff(a: f32, b: f32) -> f32 {
    (a - b + PI).rem_euclid(TAU) - PI
}

impl SyntheticSource {
    /// Builds the scene; a bad config is an error naming the field.
    pub fn open(cfg: &SyntheticConfig) -> Result<Self, SourceError> {
        let bad = |m: String| Err(SourceError::Failed(format!("synthetic source: {m}")));
        if cfg.people > MAX_PEOPLE {
            return bad(format!("people = {} exceeds {MAX_PEOPLE}", cfg.people));
        }
        for (name, v) in [("width", cfg.width), ("height", cfg.height)] {
            if !(MIN_SIDE..=MAX_SIDE).contains(&v) {
                return bad(format!("{name} = {v} is outside {MIN_SIDE}..={MAX_SIDE}"));
            }
        }
        if !(cfg.fps.is_finite() && cfg.fps > 0.0 && cfg.fps <= MAX_FPS) {
            return bad(format!("fps = {} must be in (0, {MAX_FPS}]", cfg.fps));
        }
        let mut rng = image_rng(cfg.seed, 0);
        let light = Light::sample(&mut rng);
        let background = render::background(&mut rng, cfg.width, cfg.height, &light);
        // A fixed camera: mild, constant exposure and noise; no blur.
        let mut post = PostFx::sample(&mut rng);
        post.blur = 0.0;
        post.noise = post.noise.min(4.0);
        let (wf, hf) = (cfg.width as f32, cfg.height as f32);
        let walkers = (0..cfg.people)
            .map(|i| {
                let height_px = hf * rng.random_range(HEIGHT_FRAC.0..HEIGHT_FRAC.1);
                let x = rng.random_range(0.1..0.9) * wf;
                let ground_y = rng.random_range(height_px * 1.02..=hf.max(height_px * 1.03));
                let speed = rng.random_range(SPEED.0..SPEED.1) * height_px;
                let dir = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
                let vel = [dir * speed, rng.random_range(-0.15..0.15) * speed];
                Walker {
                    id: i as u32 + 1,
                    props: Proportions::sample(&mut rng),
                    look: Appearance::sample(&mut rng),
                    height_px,
                    x,
                    ground_y,
                    vel,
                    target: vel,
                    yaw: dir * PI / 2.0,
                    phase: rng.random_range(0.0..TAU),
                    cam_pitch: rng.random_range(-0.05..0.2),
                    head_freq: rng.random_range(0.1..0.4),
                    head_phase: rng.random_range(0.0..TAU),
                }
            })
            .collect();
        let start_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        Ok(SyntheticSource {
            cfg: cfg.clone(),
            walkers,
            background,
            light,
            post,
            rng,
            seq: 0,
            start_us,
            start: Instant::now(),
            truth: Vec::new(),
        })
    }

    /// Ground truth of the frame last returned by [`Source::next_frame`], sorted by id.
    pub fn ground_truth(&self) -> &[TruePerson] {
        &self.truth
    }

    /// The configuration this source runs with.
    pub fn config(&self) -> &SyntheticConfig {
        &self.cfg
    }

    /// Advance the simulation by one frame period.
    fn step(&mut self) {
        let dt = 1.0 / self.cfg.fps;
        let (wf, hf) = (self.cfg.width as f32, self.cfg.height as f32);
        let retarget_p = (RETARGET_RATE * dt).min(1.0);
        for w in &mut self.walkers {
            let h = w.height_px;
            if self.rng.random_bool(f64::from(retarget_p)) {
                let speed = self.rng.random_range(SPEED.0..SPEED.1) * h;
                let keep = if w.target[0] >= 0.0 { 1.0 } else { -1.0 };
                // Mostly keep going the same way; sometimes turn around.
                let dir = if self.rng.random_bool(0.2) {
                    -keep
                } else {
                    keep
                };
                w.target = [dir * speed, self.rng.random_range(-0.2..0.2) * speed];
            }
            // Turn back at the borders: x keeps the body on screen, feet stay in a band that
            // keeps the head in the frame.
            let margin = 0.12 * h;
            if w.x < margin && w.target[0] < 0.0 || w.x > wf - margin && w.target[0] > 0.0 {
                w.target[0] = -w.target[0];
            }
            let (y_lo, y_hi) = (h * 1.02, hf.max(h * 1.03));
            if w.ground_y < y_lo && w.target[1] < 0.0 || w.ground_y > y_hi && w.target[1] > 0.0 {
                w.target[1] = -w.target[1];
            }
            let ease = (EASE_RATE * dt).min(1.0);
            for c in 0..2 {
                w.vel[c] += (w.target[c] - w.vel[c]) * ease;
            }
            w.x += w.vel[0] * dt;
            w.ground_y += w.vel[1] * dt;
            let speed = (w.vel[0] * w.vel[0] + w.vel[1] * w.vel[1]).sqrt();
            // Face the walking direction: image right is yaw +π/2, moving down the image is
            // walking towards the camera (yaw 0).
            if speed > 0.05 * h {
                let want = w.vel[0].atan2(w.vel[1] * 2.0);
                let d = angle_diff(want, w.yaw);
                let max_turn = MAX_TURN_RATE * dt;
                w.yaw = (w.yaw + d.clamp(-max_turn, max_turn)).rem_euclid(TAU);
            }
            w.phase = (w.phase + TAU * speed / h / CYCLE_LENGTH * dt).rem_euclid(TAU);
        }
    }

    fn figures(&self) -> (Vec<Figure>, Vec<u32>) {
        let t = self.seq as f32 / self.cfg.fps;
        let mut order: Vec<&Walker> = self.walkers.iter().collect();
        // Back to front; ties keep identity order so the draw order is stable.
        order.sort_by(|a, b| a.ground_y.total_cmp(&b.ground_y).then(a.id.cmp(&b.id)));
        let figures = order
            .iter()
            .map(|w| {
                let speed = (w.vel[0] * w.vel[0] + w.vel[1] * w.vel[1]).sqrt() / w.height_px;
                let mut pose = walking_pose(w.phase, (speed / 0.6).clamp(0.2, 1.2));
                pose.head_yaw = 0.5 * (TAU * w.head_freq * t + w.head_phase).sin();
                Figure {
                    pose,
                    props: w.props,
                    look: w.look,
                    place: Placement {
                        cx: w.x,
                        ground_y: w.ground_y,
                        height_px: w.height_px,
                        yaw: w.yaw,
                        cam_pitch: w.cam_pitch,
                    },
                    seat: false,
                }
            })
            .collect();
        (figures, order.iter().map(|w| w.id).collect())
    }
}

impl Source for SyntheticSource {
    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        if self.seq > 0 {
            self.step();
        }
        let period_us = 1e6 / f64::from(self.cfg.fps);
        if self.cfg.realtime {
            let due = self.start + Duration::from_secs_f64(self.seq as f64 * period_us / 1e6);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        let (figures, ids) = self.figures();
        let mut noise = image_rng(self.cfg.seed, NOISE_STREAM_BASE + self.seq);
        let r = scene::render(
            &figures,
            &self.background,
            &self.light,
            &self.post,
            &mut noise,
        );
        let mut truth: Vec<TruePerson> = r
            .persons
            .into_iter()
            .zip(ids)
            .map(|(p, id)| TruePerson {
                id,
                keypoints: p.keypoints,
                bbox: p.bbox,
                area: p.area,
            })
            .collect();
        truth.sort_by_key(|p| p.id);
        self.truth = truth;
        let frame = Frame {
            seq: self.seq,
            timestamp_us: self.start_us + (self.seq as f64 * period_us) as u64,
            image: r.image,
        };
        self.seq += 1;
        Ok(Some(frame))
    }

    fn describe(&self) -> String {
        format!(
            "synthetic:{} people {}x{} @ {} fps seed {}{}",
            self.cfg.people,
            self.cfg.width,
            self.cfg.height,
            self.cfg.fps,
            self.cfg.seed,
            if self.cfg.realtime { " realtime" } else { "" }
        )
    }
}
