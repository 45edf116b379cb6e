//! SMPR (single-stage multi-person pose regression) decoding: per-location person scores
//! and keypoint offsets on FPN levels, then soft-NMS or OKS pose NMS (spec smpr.md).

use crate::map::{MapError, MapView};
use crate::single::{oks, pose_area};
use crate::types::{DecodeStats, Keypoint, Letterbox, Person, Persons, NUM_COCO_KEYPOINTS};

/// Most candidates kept over all levels (highest confidence first); the rest are counted
/// as dropped. Bounded so that the quadratic NMS stays cheap.
pub const MAX_SMPR_CANDIDATES: usize = 256;

/// Offset channels: (dx, dy) per COCO-17 keypoint.
pub const SMPR_OFFSET_CHANNELS: usize = 2 * NUM_COCO_KEYPOINTS;

/// One FPN level's inference outputs, each a 1-batch map at that level's resolution.
#[derive(Clone, Copy, Debug)]
pub struct SmprLevel<'a> {
    /// Person logit, 1 channel.
    pub cls: MapView<'a>,
    /// Refined offsets (already × stride), 34 channels dx0, dy0, dx1, dy1, …
    pub offsets: MapView<'a>,
    /// Predicted-OKS logit, 1 channel.
    pub rescore: MapView<'a>,
    /// Stride of the level in input pixels (8, 16, 32, 64, 128).
    pub stride: u32,
}

/// Pose-level suppression.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SmprNms {
    /// Linear soft-NMS on the keypoints' bounding boxes (the reference): above `iou`, scores
    /// decay by (1 − IoU); poses whose score falls below `min_score` are dropped.
    SoftLinear { iou: f32, min_score: f32 },
    /// Hard NMS by OKS: a pose whose OKS with a kept higher-scoring pose exceeds the
    /// threshold is dropped.
    Oks(f32),
}

/// Thresholds of the SMPR decoder; `Default` is the reference configuration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SmprConfig {
    /// Minimum sigmoid(cls) of a candidate.
    pub score_threshold: f32,
    pub nms: SmprNms,
    /// Most poses reported.
    pub max_poses: usize,
}

impl Default for SmprConfig {
    fn default() -> Self {
        SmprConfig {
            score_threshold: 0.05,
            nms: SmprNms::SoftLinear {
                iou: 0.3,
                min_score: 1e-3,
            },
            max_poses: 20,
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Candidate {
    /// Keypoints in model-input pixels.
    kps: [(f32, f32); NUM_COCO_KEYPOINTS],
    score: f32,
    bbox: (f32, f32, f32, f32),
}

/// Scratch memory of [`decode_smpr`] (~40 KiB); `const`-constructible, reuse it.
pub struct SmprWorkspace {
    cands: heapless::Vec<Candidate, MAX_SMPR_CANDIDATES>,
}

impl Default for SmprWorkspace {
    fn default() -> Self {
        Self::new()
    }
}

impl SmprWorkspace {
    pub const fn new() -> Self {
        SmprWorkspace {
            cands: heapless::Vec::new(),
        }
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + libm::expf(-x))
}

fn iou(a: (f32, f32, f32, f32), b: (f32, f32, f32, f32)) -> f32 {
    let w = (a.2.min(b.2) - a.0.max(b.0)).max(0.0);
    let h = (a.3.min(b.3) - a.1.max(b.1)).max(0.0);
    let inter = w * h;
    let area = |r: (f32, f32, f32, f32)| (r.2 - r.0).max(0.0) * (r.3 - r.1).max(0.0);
    let union = area(a) + area(b) - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

/// Decodes the SMPR outputs of an `input_w` × `input_h` input made from the source image
/// through `letterbox`. Persons are sorted by (decayed) score; keypoint scores are the
/// person score (SMPR has no per-keypoint confidence).
pub fn decode_smpr(
    levels: &[SmprLevel<'_>],
    input_w: f32,
    input_h: f32,
    letterbox: &Letterbox,
    cfg: &SmprConfig,
    ws: &mut SmprWorkspace,
) -> Result<(Persons, DecodeStats), MapError> {
    let pos = |v: f32| v.is_finite() && v > 0.0;
    if !pos(input_w) || !pos(input_h) {
        return Err(MapError::BadGeometry("input size must be finite and > 0"));
    }
    if !pos(letterbox.scale) || !letterbox.pad_x.is_finite() || !letterbox.pad_y.is_finite() {
        return Err(MapError::BadGeometry("invalid letterbox"));
    }
    for l in levels {
        if l.cls.channels() != 1 || l.rescore.channels() != 1 {
            return Err(MapError::WrongChannels {
                expected: 1,
                got: l.cls.channels().max(l.rescore.channels()),
            });
        }
        if l.offsets.channels() != SMPR_OFFSET_CHANNELS {
            return Err(MapError::WrongChannels {
                expected: SMPR_OFFSET_CHANNELS,
                got: l.offsets.channels(),
            });
        }
        let (h, w) = (l.cls.height(), l.cls.width());
        if (l.offsets.height(), l.offsets.width()) != (h, w)
            || (l.rescore.height(), l.rescore.width()) != (h, w)
        {
            return Err(MapError::BadGeometry("level maps differ in size"));
        }
        if l.stride == 0 {
            return Err(MapError::BadGeometry("stride must be > 0"));
        }
    }
    let mut stats = DecodeStats::default();
    ws.cands.clear();
    for l in levels {
        stats.non_finite = stats
            .non_finite
            .saturating_add(l.cls.count_non_finite())
            .saturating_add(l.rescore.count_non_finite())
            .saturating_add(l.offsets.count_non_finite());
        let s = l.stride;
        for y in 0..l.cls.height() {
            for x in 0..l.cls.width() {
                let score = sigmoid(l.cls.get(0, y, x));
                if !(score > cfg.score_threshold) {
                    continue;
                }
                let conf = score * sigmoid(l.rescore.get(0, y, x));
                // Anchor: x·s + s/2 with integer division, as the reference.
                let ax = (x as u32 * s + s / 2) as f32;
                let ay = (y as u32 * s + s / 2) as f32;
                let mut c = Candidate {
                    score: conf,
                    ..Candidate::default()
                };
                let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
                for (k, kp) in c.kps.iter_mut().enumerate() {
                    let kx = (ax + l.offsets.get(2 * k, y, x)).clamp(0.0, input_w);
                    let ky = (ay + l.offsets.get(2 * k + 1, y, x)).clamp(0.0, input_h);
                    *kp = (kx, ky);
                    x0 = x0.min(kx);
                    y0 = y0.min(ky);
                    x1 = x1.max(kx);
                    y1 = y1.max(ky);
                }
                c.bbox = (x0, y0, x1, y1);
                if let Err(c) = ws.cands.push(c) {
                    stats.persons_dropped = stats.persons_dropped.saturating_add(1);
                    let mut worst = 0;
                    for (i, q) in ws.cands.iter().enumerate() {
                        if q.score < ws.cands[worst].score {
                            worst = i;
                        }
                    }
                    if ws.cands[worst].score < c.score {
                        ws.cands[worst] = c;
                    }
                }
            }
        }
    }
    let to_person = |c: &Candidate, score: f32| {
        let mut p = Person {
            score: score.clamp(0.0, 1.0),
            ..Person::default()
        };
        for (kp, &(x, y)) in p.keypoints.iter_mut().zip(c.kps.iter()) {
            let (sx, sy) = letterbox.to_source(x, y);
            *kp = Keypoint::new(sx, sy, p.score);
        }
        p
    };
    let max_out = cfg.max_poses.min(crate::types::MAX_PERSONS);
    let mut out = Persons::new();
    let cands = &mut ws.cands;
    match cfg.nms {
        SmprNms::SoftLinear {
            iou: thr,
            min_score,
        } => {
            // Repeatedly take the best remaining pose and decay the others' scores.
            let mut n = cands.len();
            while n > 0 && out.len() < max_out {
                let mut best = 0;
                for i in 1..n {
                    if cands[i].score > cands[best].score {
                        best = i;
                    }
                }
                cands.swap(best, n - 1);
                let top = cands[n - 1];
                n -= 1;
                let _ = out.push(to_person(&top, top.score));
                let mut i = 0;
                while i < n {
                    let o = iou(top.bbox, cands[i].bbox);
                    if o > thr {
                        cands[i].score *= 1.0 - o;
                    }
                    if cands[i].score < min_score {
                        cands.swap(i, n - 1);
                        n -= 1;
                        stats.persons_dropped = stats.persons_dropped.saturating_add(1);
                    } else {
                        i += 1;
                    }
                }
            }
        }
        SmprNms::Oks(thr) => {
            cands.sort_unstable_by(|a, b| b.score.total_cmp(&a.score));
            for c in cands.iter() {
                if out.len() >= max_out {
                    break;
                }
                let p = to_person(c, c.score);
                if out.iter().any(|k| oks(k, &p, pose_area(k)) > thr) {
                    stats.persons_dropped = stats.persons_dropped.saturating_add(1);
                } else {
                    let _ = out.push(p);
                }
            }
        }
    }
    Ok((out, stats))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map::Layout;

    const H: usize = 8;
    const W: usize = 8;

    /// One stride-8 level (64x64 input) with persons at the given cells: (x, y, cls, rescore, dx).
    struct Level {
        cls: [f32; H * W],
        re: [f32; H * W],
        off: [f32; SMPR_OFFSET_CHANNELS * H * W],
    }

    fn level(people: &[(usize, usize, f32, f32, f32)]) -> Level {
        let mut l = Level {
            cls: [-10.0; H * W],
            re: [0.0; H * W],
            off: [0.0; SMPR_OFFSET_CHANNELS * H * W],
        };
        for &(x, y, c, r, dx) in people {
            l.cls[y * W + x] = c;
            l.re[y * W + x] = r;
            for k in 0..NUM_COCO_KEYPOINTS {
                // A small vertical figure around the anchor, shifted by dx.
                l.off[(2 * k * H + y) * W + x] = dx + (k % 3) as f32 * 2.0 - 2.0;
                l.off[((2 * k + 1) * H + y) * W + x] = k as f32 - 8.0;
            }
        }
        l
    }

    fn run(l: &Level, cfg: &SmprConfig) -> (Persons, DecodeStats) {
        let lv = SmprLevel {
            cls: MapView::new(&l.cls, 1, H, W, Layout::Chw).unwrap(),
            offsets: MapView::new(&l.off, SMPR_OFFSET_CHANNELS, H, W, Layout::Chw).unwrap(),
            rescore: MapView::new(&l.re, 1, H, W, Layout::Chw).unwrap(),
            stride: 8,
        };
        let mut ws = SmprWorkspace::new();
        decode_smpr(&[lv], 64.0, 64.0, &Letterbox::IDENTITY, cfg, &mut ws).unwrap()
    }

    #[test]
    fn decodes_anchor_plus_offsets() {
        let l = level(&[(2, 3, 3.0, 2.0, 0.5)]);
        let (p, _) = run(&l, &SmprConfig::default());
        assert_eq!(p.len(), 1);
        let want = sigmoid(3.0) * sigmoid(2.0);
        assert!((p[0].score - want).abs() < 1e-6);
        // Keypoint 0: anchor (2*8+4, 3*8+4) = (20, 28) + (0.5 - 2, -8).
        let k = p[0].keypoints[0];
        assert!(
            (k.x - 18.5).abs() < 1e-5 && (k.y - 20.0).abs() < 1e-5,
            "{k:?}"
        );
    }

    #[test]
    fn soft_nms_decays_overlapping_poses() {
        // A pose, a near duplicate (cell (3,3) shifted back by 7 px onto the first), and
        // one apart.
        let l2 = level(&[
            (2, 3, 3.0, 3.0, 0.0),
            (3, 3, 2.5, 3.0, -7.0),
            (6, 3, 2.0, 2.0, 0.0),
        ]);
        let (p2, _) = run(&l2, &SmprConfig::default());
        assert_eq!(p2.len(), 3);
        let raw = sigmoid(2.5) * sigmoid(3.0);
        let top = sigmoid(3.0) * sigmoid(3.0);
        let apart = sigmoid(2.0) * sigmoid(2.0);
        assert!((p2[0].score - top).abs() < 1e-6);
        // The apart pose keeps its score; the duplicate is decayed below it.
        assert!((p2[1].score - apart).abs() < 1e-6, "{p2:#?}");
        assert!(p2[2].score < 0.5 * raw && p2[2].score > 0.0, "{p2:#?}");
        // OKS NMS removes the duplicate instead.
        let (p3, s3) = run(
            &l2,
            &SmprConfig {
                nms: SmprNms::Oks(0.5),
                ..SmprConfig::default()
            },
        );
        assert_eq!(p3.len(), 2);
        assert_eq!(s3.persons_dropped, 1);
    }

    #[test]
    fn threshold_nan_and_errors() {
        let mut l = level(&[(1, 1, -4.0, 5.0, 0.0)]); // sigmoid(-4) = 0.018 < 0.05
        l.cls[0] = f32::NAN; // reads as 0 -> sigmoid 0.5: a candidate
        let (p, s) = run(&l, &SmprConfig::default());
        assert_eq!(s.non_finite, 1);
        assert_eq!(p.len(), 1);
        assert!(p[0]
            .keypoints
            .iter()
            .all(|k| k.x.is_finite() && k.y.is_finite()));
        let bad = MapView::new(&l.cls, 1, H, W, Layout::Chw).unwrap();
        let lv = SmprLevel {
            cls: bad,
            offsets: bad,
            rescore: bad,
            stride: 8,
        };
        let mut ws = SmprWorkspace::new();
        let cfg = SmprConfig::default();
        assert!(decode_smpr(&[lv], 64.0, 64.0, &Letterbox::IDENTITY, &cfg, &mut ws).is_err());
    }
}
