//! Single-stage models (MoveNet MultiPose): their graph already decodes persons, so what
//! remains is thresholding, mapping through the letterbox, and pose NMS by OKS.

use crate::map::MapError;
use crate::skeleton::COCO_OKS_SIGMAS;
use crate::types::{DecodeStats, Keypoint, Letterbox, Person, Persons, NUM_COCO_KEYPOINTS};

/// Values per MoveNet MultiPose row: 17 × (y, x, score), then (ymin, xmin, ymax, xmax, score).
pub const MOVENET_ROW: usize = NUM_COCO_KEYPOINTS * 3 + 5;

/// Thresholds of the single-stage decoder.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SingleStageConfig {
    /// Persons with a lower score are dropped. 0.2: MoveNet MultiPose's own examples use it
    /// and it keeps AP on the sample images while removing the empty slots (scores ≈ 0.0x).
    pub person_threshold: f32,
    /// Keypoints with a lower score are marked absent (their coordinates are kept).
    pub keypoint_threshold: f32,
    /// A pose whose OKS with a kept higher-scoring pose exceeds this is suppressed.
    pub nms_oks_threshold: f32,
}

impl Default for SingleStageConfig {
    fn default() -> Self {
        SingleStageConfig {
            person_threshold: 0.2,
            keypoint_threshold: 0.2,
            nms_oks_threshold: 0.5,
        }
    }
}

/// Area (pixels²) of the bounding box of `p`'s present keypoints, the object scale OKS uses
/// when no segmentation area is known. 0 when fewer than one keypoint is present.
pub fn pose_area(p: &Person) -> f32 {
    p.bbox()
        .map_or(0.0, |(x0, y0, x1, y1)| (x1 - x0) * (y1 - y0))
}

/// COCO object keypoint similarity of `b` to `a` at object area `area` (pixels²), over the
/// keypoints present in both; 0 when they share none. Formula and sigmas as in pycocotools:
/// mean over keypoints of exp(−d² / (2 · area · (2σ)²)).
pub fn oks(a: &Person, b: &Person, area: f32) -> f32 {
    let area = if area.is_finite() && area > 0.0 {
        area
    } else {
        0.0
    };
    let (mut sum, mut n) = (0.0f32, 0u32);
    for ((ka, kb), sigma) in a
        .keypoints
        .iter()
        .zip(b.keypoints.iter())
        .zip(COCO_OKS_SIGMAS.iter())
    {
        if !(ka.present && kb.present) {
            continue;
        }
        let var = (2.0 * sigma) * (2.0 * sigma);
        let d2 = (ka.x - kb.x) * (ka.x - kb.x) + (ka.y - kb.y) * (ka.y - kb.y);
        // f32::EPSILON keeps a zero area finite, like pycocotools' np.spacing(1).
        let e = d2 / var / (area + f32::EPSILON) / 2.0;
        let v = libm::expf(-e);
        if v.is_finite() {
            sum += v;
        }
        n += 1;
    }
    if n == 0 {
        0.0
    } else {
        sum / n as f32
    }
}

/// Decodes MoveNet MultiPose output `[N, 56]` (N = 6 for the released model) for an input
/// of `input_w` × `input_h` pixels made from the source image through `letterbox`.
///
/// Persons come out by descending score after pose NMS; non-finite values count as 0.
pub fn decode_movenet(
    output: &[f32],
    input_w: f32,
    input_h: f32,
    letterbox: &Letterbox,
    cfg: &SingleStageConfig,
) -> Result<(Persons, DecodeStats), MapError> {
    if output.is_empty() || !output.len().is_multiple_of(MOVENET_ROW) {
        return Err(MapError::WrongLength {
            expected: MOVENET_ROW * (output.len() / MOVENET_ROW).max(1),
            got: output.len(),
        });
    }
    let pos = |v: f32| v.is_finite() && v > 0.0;
    if !pos(input_w) || !pos(input_h) {
        return Err(MapError::BadGeometry("input size must be finite and > 0"));
    }
    if !pos(letterbox.scale) || !letterbox.pad_x.is_finite() || !letterbox.pad_y.is_finite() {
        return Err(MapError::BadGeometry("invalid letterbox"));
    }
    let mut stats = DecodeStats::default();
    let mut clean = |v: f32| {
        if v.is_finite() {
            v
        } else {
            stats.non_finite = stats.non_finite.saturating_add(1);
            0.0
        }
    };
    let mut candidates = Persons::new();
    for row in output.chunks_exact(MOVENET_ROW) {
        let score = clean(row[MOVENET_ROW - 1]);
        let mut p = Person {
            score: score.clamp(0.0, 1.0),
            ..Person::default()
        };
        for (k, kp) in p.keypoints.iter_mut().enumerate() {
            let (y, x, s) = (
                clean(row[3 * k]),
                clean(row[3 * k + 1]),
                clean(row[3 * k + 2]),
            );
            let (sx, sy) = letterbox.to_source(x * input_w, y * input_h);
            *kp = Keypoint {
                x: sx,
                y: sy,
                score: s,
                present: s >= cfg.keypoint_threshold,
            };
        }
        // Box values are read only to count non-finite ones consistently.
        for &v in &row[NUM_COCO_KEYPOINTS * 3..MOVENET_ROW - 1] {
            clean(v);
        }
        if !(score >= cfg.person_threshold) {
            continue;
        }
        if let Err(p) = candidates.push(p) {
            stats.persons_dropped = stats.persons_dropped.saturating_add(1);
            let mut worst = 0;
            for (i, q) in candidates.iter().enumerate() {
                if q.score < candidates[worst].score {
                    worst = i;
                }
            }
            if candidates[worst].score < p.score {
                candidates[worst] = p;
            }
        }
    }
    let removed = oks_nms(&mut candidates, cfg.nms_oks_threshold);
    stats.persons_dropped = stats.persons_dropped.saturating_add(removed);
    Ok((candidates, stats))
}

/// Pose NMS by OKS: sorts `persons` by score (highest first) and removes every pose whose
/// OKS with a kept, higher-scoring pose exceeds `threshold` (at the kept pose's area).
/// In place, no allocation; returns how many poses were removed.
pub fn oks_nms(persons: &mut Persons, threshold: f32) -> u32 {
    persons.sort_unstable_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept = 0usize;
    let mut removed = 0u32;
    for i in 0..persons.len() {
        let p = persons[i];
        let suppressed = persons[..kept]
            .iter()
            .any(|k| oks(k, &p, pose_area(k)) > threshold);
        if suppressed {
            removed = removed.saturating_add(1);
        } else {
            persons[kept] = p;
            kept += 1;
        }
    }
    persons.truncate(kept);
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One MoveNet row: keypoints on a vertical line at normalised x, all with `kscore`.
    fn row(x: f32, score: f32, kscore: f32) -> [f32; MOVENET_ROW] {
        let mut r = [0.0f32; MOVENET_ROW];
        for k in 0..NUM_COCO_KEYPOINTS {
            r[3 * k] = 0.1 + 0.04 * k as f32; // y
            r[3 * k + 1] = x + 0.005 * (k % 3) as f32; // x
            r[3 * k + 2] = kscore;
        }
        r[MOVENET_ROW - 1] = score;
        r
    }

    fn concat(rows: &[[f32; MOVENET_ROW]]) -> [f32; 6 * MOVENET_ROW] {
        let mut out = [0.0f32; 6 * MOVENET_ROW];
        for (i, r) in rows.iter().enumerate() {
            out[i * MOVENET_ROW..(i + 1) * MOVENET_ROW].copy_from_slice(r);
        }
        out
    }

    #[test]
    fn oks_is_one_for_identical_and_falls_with_distance() {
        let out = concat(&[row(0.3, 0.9, 0.9)]);
        let (p, _) = decode_movenet(
            &out,
            256.0,
            256.0,
            &Letterbox::IDENTITY,
            &Default::default(),
        )
        .unwrap();
        let a = p[0];
        let area = pose_area(&a);
        assert!(area > 0.0);
        assert!((oks(&a, &a, area) - 1.0).abs() < 1e-6);
        let mut b = a;
        for k in b.keypoints.iter_mut() {
            k.x += 5.0;
        }
        let near = oks(&a, &b, area);
        for k in b.keypoints.iter_mut() {
            k.x += 20.0;
        }
        let far = oks(&a, &b, area);
        assert!(near < 1.0 && far < near && far >= 0.0);
        // Nothing in common: 0.
        assert_eq!(oks(&a, &Person::default(), area), 0.0);
        // Zero area stays finite.
        assert!(oks(&a, &b, 0.0).is_finite());
    }

    #[test]
    fn thresholds_letterbox_and_nms() {
        let rows = [
            row(0.30, 0.8, 0.9),
            row(0.301, 0.7, 0.9), // duplicate of the first: suppressed
            row(0.70, 0.6, 0.1),  // separate, but keypoints below threshold
            row(0.50, 0.1, 0.9),  // below person threshold
        ];
        let out = concat(&rows);
        let lb = Letterbox {
            scale: 0.5,
            pad_x: 0.0,
            pad_y: 16.0,
        };
        let (p, s) = decode_movenet(&out, 256.0, 192.0, &lb, &Default::default()).unwrap();
        assert_eq!(p.len(), 2, "{p:#?}");
        assert_eq!(s.persons_dropped, 1);
        assert!((p[0].score - 0.8).abs() < 1e-6 && (p[1].score - 0.6).abs() < 1e-6);
        // Keypoint 0 of the first: y = 0.1 * 192 = 19.2 → (19.2 - 16) / 0.5; x = 0.3 * 256 / 0.5.
        let k = p[0].keypoints[0];
        assert!(k.present);
        assert!(
            (k.x - 153.6).abs() < 1e-3 && (k.y - 6.4).abs() < 1e-3,
            "{k:?}"
        );
        // Low-score keypoints: absent but coordinates kept.
        assert!(p[1].keypoints.iter().all(|k| !k.present && k.x > 0.0));
    }

    #[test]
    fn bad_input_is_an_error_and_non_finite_is_counted() {
        let cfg = SingleStageConfig::default();
        assert!(decode_movenet(&[0.0; 55], 256.0, 256.0, &Letterbox::IDENTITY, &cfg).is_err());
        assert!(decode_movenet(&[], 256.0, 256.0, &Letterbox::IDENTITY, &cfg).is_err());
        assert!(decode_movenet(&[0.0; 56], 0.0, 256.0, &Letterbox::IDENTITY, &cfg).is_err());
        let mut r = row(0.3, 0.9, 0.9);
        r[0] = f32::NAN;
        r[1] = f32::INFINITY;
        let (p, s) = decode_movenet(&r, 256.0, 256.0, &Letterbox::IDENTITY, &cfg).unwrap();
        assert_eq!(s.non_finite, 2);
        assert!(p[0]
            .keypoints
            .iter()
            .all(|k| k.x.is_finite() && k.y.is_finite()));
        let nan = [f32::NAN; MOVENET_ROW];
        let (p, s) = decode_movenet(&nan, 256.0, 256.0, &Letterbox::IDENTITY, &cfg).unwrap();
        assert!(p.is_empty());
        assert_eq!(s.non_finite as usize, MOVENET_ROW);
    }

    /// A pose with all 17 keypoints on a vertical line at `x` (pixels).
    fn pose_at(x: f32, score: f32) -> Person {
        let mut p = Person {
            score,
            ..Person::default()
        };
        for (k, kp) in p.keypoints.iter_mut().enumerate() {
            *kp = Keypoint::new(x + (k % 3) as f32, 20.0 + 8.0 * k as f32, 0.9);
        }
        p
    }

    #[test]
    fn oks_nms_keeps_the_best_of_each_overlapping_group() {
        let mut persons = Persons::new();
        for p in [
            pose_at(100.0, 0.5),
            pose_at(101.5, 0.9), // same person as above, stronger
            pose_at(300.0, 0.7),
            pose_at(100.5, 0.6),
        ] {
            assert!(persons.push(p).is_ok());
        }
        let removed = oks_nms(&mut persons, 0.5);
        assert_eq!(removed, 2);
        let scores: heapless::Vec<f32, 4> = persons.iter().map(|p| p.score).collect();
        assert_eq!(scores.as_slice(), &[0.9, 0.7]);
        // A threshold above every OKS keeps everything.
        let mut all = Persons::new();
        let _ = all.push(pose_at(100.0, 0.5));
        let _ = all.push(pose_at(100.0, 0.4));
        assert_eq!(oks_nms(&mut all, 1.0), 0);
        assert_eq!(all.len(), 2);
    }
}
