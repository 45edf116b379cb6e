//! A line-by-line port of pycocotools' `COCOeval` for `iouType='keypoints'` (evaluate,
//! accumulate, summarize). Every ordering (stable sorts, ignore-last ground truths, image
//! order) and every constant (`np.spacing(1)`, `1 - 1e-10`, numpy's `linspace` thresholds)
//! follows the reference, because AP is sensitive to ties and to matches at a threshold.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use super::coco::{CocoGroundTruth, CocoResult, KEYPOINTS_LEN, VALUES_PER_KEYPOINT};
use super::{EvalError, Metrics};
use edgepose_decoder::NUM_COCO_KEYPOINTS;

/// The COCO per-keypoint OKS sigmas (pycocotools `kpt_oks_sigmas`), written as the reference
/// computes them (`array([...]) / 10.0`) so they are bit-identical.
pub const KPT_OKS_SIGMAS: [f64; NUM_COCO_KEYPOINTS] = [
    0.26 / 10.0,
    0.25 / 10.0,
    0.25 / 10.0,
    0.35 / 10.0,
    0.35 / 10.0,
    0.79 / 10.0,
    0.79 / 10.0,
    0.72 / 10.0,
    0.72 / 10.0,
    0.62 / 10.0,
    0.62 / 10.0,
    1.07 / 10.0,
    1.07 / 10.0,
    0.87 / 10.0,
    0.87 / 10.0,
    0.89 / 10.0,
    0.89 / 10.0,
];

/// Detections kept per image (highest score first): COCO keypoints use `maxDets = [20]`.
pub const MAX_DETS: usize = 20;

/// Number of OKS thresholds, 0.50:0.05:0.95.
pub const NUM_OKS_THRESHOLDS: usize = 10;

/// Number of recall points of the interpolated precision, 0:0.01:1.
pub const NUM_RECALL_THRESHOLDS: usize = 101;

/// `np.spacing(1)`: keeps the OKS and precision divisions finite.
const EPS: f64 = f64::EPSILON;

/// A match must reach the threshold, capped just below 1 so a perfect match always qualifies.
const MAX_MATCH_THRESHOLD: f64 = 1.0 - 1e-10;

/// An object-area range, inclusive at both ends (as pycocotools compares).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AreaRange {
    pub label: &'static str,
    pub min: f64,
    pub max: f64,
}

impl AreaRange {
    fn contains(&self, area: f64) -> bool {
        !(area < self.min || area > self.max)
    }
}

/// COCO keypoint area ranges, in the reference's order: all, medium (32²..96²), large (96²..).
pub const AREA_RANGES: [AreaRange; 3] = [
    AreaRange {
        label: "all",
        min: 0.0,
        max: 1e10,
    },
    AreaRange {
        label: "medium",
        min: 1024.0,
        max: 9216.0,
    },
    AreaRange {
        label: "large",
        min: 9216.0,
        max: 1e10,
    },
];
const AREA_ALL: usize = 0;
const AREA_MEDIUM: usize = 1;
const AREA_LARGE: usize = 2;

/// Indices of OKS 0.50 and 0.75 in [`oks_thresholds`].
const OKS_50: usize = 0;
const OKS_75: usize = 5;

/// `np.linspace(.5, 0.95, 10)`, bit-identical (start + i·step, last = stop).
pub fn oks_thresholds() -> [f64; NUM_OKS_THRESHOLDS] {
    let (start, stop) = (0.5, 0.95);
    let step = (stop - start) / (NUM_OKS_THRESHOLDS - 1) as f64;
    let mut t = [0.0; NUM_OKS_THRESHOLDS];
    for (i, v) in t.iter_mut().enumerate() {
        *v = i as f64 * step + start;
    }
    t[NUM_OKS_THRESHOLDS - 1] = stop;
    t
}

/// `np.linspace(.0, 1.00, 101)`, bit-identical.
pub fn recall_thresholds() -> [f64; NUM_RECALL_THRESHOLDS] {
    let step = 1.0 / (NUM_RECALL_THRESHOLDS - 1) as f64;
    let mut r = [0.0; NUM_RECALL_THRESHOLDS];
    for (i, v) in r.iter_mut().enumerate() {
        *v = i as f64 * step;
    }
    r[NUM_RECALL_THRESHOLDS - 1] = 1.0;
    r
}

/// Object keypoint similarity of one detection to one ground truth, as pycocotools'
/// `computeOks`: the mean of `exp(-d²/(2·s²·(2σ)²))` over the ground truth's labelled
/// keypoints (v > 0), with `s² = area`. A ground truth with no labelled keypoint (crowds,
/// unlabelled people) is scored by how far each detected keypoint lies outside its box
/// enlarged by one box size on every side, averaged over all 17.
pub fn oks(
    gt_keypoints: &[f64; KEYPOINTS_LEN],
    gt_bbox: [f64; 4],
    gt_area: f64,
    dt_keypoints: &[f64; KEYPOINTS_LEN],
) -> f64 {
    let labelled = (0..NUM_COCO_KEYPOINTS)
        .filter(|&k| gt_keypoints[k * VALUES_PER_KEYPOINT + 2] > 0.0)
        .count();
    let [bx, by, bw, bh] = gt_bbox;
    let (x0, x1) = (bx - bw, bx + bw * 2.0);
    let (y0, y1) = (by - bh, by + bh * 2.0);
    let mut terms = [0.0; NUM_COCO_KEYPOINTS];
    let mut n = 0;
    for (k, sigma) in KPT_OKS_SIGMAS.iter().enumerate() {
        let i = k * VALUES_PER_KEYPOINT;
        let (xd, yd) = (dt_keypoints[i], dt_keypoints[i + 1]);
        let (dx, dy) = if labelled > 0 {
            if gt_keypoints[i + 2] <= 0.0 {
                continue;
            }
            (xd - gt_keypoints[i], yd - gt_keypoints[i + 1])
        } else {
            (
                (x0 - xd).max(0.0) + (xd - x1).max(0.0),
                (y0 - yd).max(0.0) + (yd - y1).max(0.0),
            )
        };
        let var = (sigma * 2.0) * (sigma * 2.0);
        let e = (dx * dx + dy * dy) / var / (gt_area + EPS) / 2.0;
        terms[n] = (-e).exp();
        n += 1;
    }
    numpy_sum(&terms[..n]) / n as f64
}

/// `np.sum` of a short contiguous f64 array: numpy's pairwise summation, which for fewer than
/// 128 values is a plain loop below 8 values and eight interleaved accumulators from 8 on.
fn numpy_sum(v: &[f64]) -> f64 {
    const LANES: usize = 8;
    if v.len() < LANES {
        return v.iter().fold(0.0, |s, x| s + x);
    }
    let mut r = [0.0; LANES];
    r.copy_from_slice(&v[..LANES]);
    let whole = v.len() - v.len() % LANES;
    for chunk in v[LANES..whole].chunks_exact(LANES) {
        for (acc, x) in r.iter_mut().zip(chunk) {
            *acc += x;
        }
    }
    let mut s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for x in &v[whole..] {
        s += x;
    }
    s
}

/// A ground truth as the evaluation sees it.
struct Gt {
    id: u64,
    area: f64,
    bbox: [f64; 4],
    keypoints: [f64; KEYPOINTS_LEN],
    iscrowd: bool,
    /// Crowd, or no labelled keypoint (`num_keypoints == 0`).
    ignore: bool,
}

/// A detection as the evaluation sees it.
struct Dt {
    /// 1-based position in the results list, as `loadRes` numbers them.
    id: u64,
    score: f64,
    area: f64,
    keypoints: [f64; KEYPOINTS_LEN],
}

/// One image and category under one area range (`evaluateImg`'s result).
struct ImageEval {
    /// Scores of the kept detections, highest first.
    dt_scores: Vec<f64>,
    /// Per detection and threshold: matched to a ground truth (whose id is non-zero).
    dt_matched: Vec<[bool; NUM_OKS_THRESHOLDS]>,
    /// Per detection and threshold: matched to an ignored ground truth, or unmatched and
    /// outside the area range.
    dt_ignore: Vec<[bool; NUM_OKS_THRESHOLDS]>,
    /// Ground truths that count (not ignored, inside the area range).
    num_gt_counted: usize,
}

/// Precision over recall points and final recall for one category and area range.
struct Accumulated {
    precision: [[f64; NUM_RECALL_THRESHOLDS]; NUM_OKS_THRESHOLDS],
    recall: [f64; NUM_OKS_THRESHOLDS],
}

fn keypoints_array(
    values: &[f64],
    what: impl Fn() -> String,
) -> Result<[f64; KEYPOINTS_LEN], EvalError> {
    let arr: [f64; KEYPOINTS_LEN] = values.try_into().map_err(|_| EvalError::KeypointsLength {
        what: what(),
        len: values.len(),
    })?;
    if arr.iter().any(|v| !v.is_finite()) {
        return Err(EvalError::NonFinite {
            what: what(),
            field: "keypoints",
        });
    }
    Ok(arr)
}

type Key = (u64, u64);

/// Ground truths and detections grouped per (image, category), validated.
struct Prepared {
    img_ids: Vec<u64>,
    cat_ids: Vec<u64>,
    gts: HashMap<Key, Vec<Gt>>,
    dts: HashMap<Key, Vec<Dt>>,
}

impl Prepared {
    fn new(gt: &CocoGroundTruth, dets: &[CocoResult]) -> Result<Self, EvalError> {
        let mut img_ids = Vec::with_capacity(gt.images.len());
        let mut seen = HashSet::new();
        for img in &gt.images {
            if !seen.insert(img.id) {
                return Err(EvalError::DuplicateImage(img.id));
            }
            img_ids.push(img.id);
        }
        img_ids.sort_unstable();
        let mut cat_ids: Vec<u64> = gt.categories.iter().map(|c| c.id).collect();
        cat_ids.sort_unstable();
        cat_ids.dedup();
        let images: HashSet<u64> = img_ids.iter().copied().collect();
        let cats: HashSet<u64> = cat_ids.iter().copied().collect();

        let mut gts: HashMap<Key, Vec<Gt>> = HashMap::new();
        let mut ann_ids = HashSet::new();
        for a in &gt.annotations {
            let what = || format!("ground-truth annotation {}", a.id);
            if !ann_ids.insert(a.id) {
                return Err(EvalError::DuplicateAnnotation(a.id));
            }
            if !images.contains(&a.image_id) {
                return Err(EvalError::UnknownGtImage {
                    id: a.id,
                    image_id: a.image_id,
                });
            }
            if !cats.contains(&a.category_id) {
                return Err(EvalError::UnknownGtCategory {
                    id: a.id,
                    category_id: a.category_id,
                });
            }
            let keypoints = keypoints_array(&a.keypoints, what)?;
            if !a.area.is_finite() {
                return Err(EvalError::NonFinite {
                    what: what(),
                    field: "area",
                });
            }
            if a.bbox.iter().any(|v| !v.is_finite()) {
                return Err(EvalError::NonFinite {
                    what: what(),
                    field: "bbox",
                });
            }
            let iscrowd = a.iscrowd != 0;
            gts.entry((a.image_id, a.category_id))
                .or_default()
                .push(Gt {
                    id: a.id,
                    area: a.area,
                    bbox: a.bbox,
                    keypoints,
                    iscrowd,
                    ignore: iscrowd || a.num_keypoints == 0,
                });
        }

        // loadRes: the first result decides where every detection's area comes from.
        let area_from_bbox = dets
            .first()
            .and_then(|d| d.bbox.as_ref())
            .is_some_and(|b| !b.is_empty());
        let mut dts: HashMap<Key, Vec<Dt>> = HashMap::new();
        for (index, d) in dets.iter().enumerate() {
            let what = || format!("result {index} (image {})", d.image_id);
            if !images.contains(&d.image_id) {
                return Err(EvalError::UnknownResultImage {
                    index,
                    image_id: d.image_id,
                });
            }
            let keypoints = keypoints_array(&d.keypoints, what)?;
            if !d.score.is_finite() {
                return Err(EvalError::NonFinite {
                    what: what(),
                    field: "score",
                });
            }
            let area = if area_from_bbox {
                match d.bbox.as_deref() {
                    Some([_, _, w, h]) if w.is_finite() && h.is_finite() => w * h,
                    _ => return Err(EvalError::ResultBbox { index }),
                }
            } else {
                keypoint_extent_area(&keypoints)
            };
            // Results of categories the ground truth does not have are not evaluated.
            if !cats.contains(&d.category_id) {
                continue;
            }
            dts.entry((d.image_id, d.category_id))
                .or_default()
                .push(Dt {
                    id: index as u64 + 1,
                    score: d.score,
                    area,
                    keypoints,
                });
        }
        Ok(Prepared {
            img_ids,
            cat_ids,
            gts,
            dts,
        })
    }
}

/// `loadRes`: a keypoint detection's area is the extent of all 17 keypoints, absent ones at
/// (0, 0) included.
fn keypoint_extent_area(kp: &[f64; KEYPOINTS_LEN]) -> f64 {
    let xs = kp.iter().step_by(VALUES_PER_KEYPOINT);
    let ys = kp.iter().skip(1).step_by(VALUES_PER_KEYPOINT);
    let (x0, x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
        (lo.min(x), hi.max(x))
    });
    let (y0, y1) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &y| {
        (lo.min(y), hi.max(y))
    });
    (x1 - x0) * (y1 - y0)
}

/// Indices of `s`, highest score first, ties in input order (numpy's stable mergesort).
fn score_order(s: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..s.len()).collect();
    idx.sort_by(|&a, &b| s[b].partial_cmp(&s[a]).unwrap_or(Ordering::Equal));
    idx
}

/// `evaluateImg` for every area range of one image and category.
fn evaluate_image(
    gts: &[Gt],
    dts: &[Dt],
    thresholds: &[f64; NUM_OKS_THRESHOLDS],
) -> [Option<ImageEval>; AREA_RANGES.len()] {
    if gts.is_empty() && dts.is_empty() {
        return [None, None, None];
    }
    let scores: Vec<f64> = dts.iter().map(|d| d.score).collect();
    let order = score_order(&scores);
    let dts: Vec<&Dt> = order.iter().take(MAX_DETS).map(|&i| &dts[i]).collect();
    // oks[d][g] in input gt order, computed once for all area ranges.
    let oks_matrix: Vec<Vec<f64>> = dts
        .iter()
        .map(|d| {
            gts.iter()
                .map(|g| oks(&g.keypoints, g.bbox, g.area, &d.keypoints))
                .collect()
        })
        .collect();

    AREA_RANGES.map(|range| {
        let gt_ignore_of = |g: &Gt| g.ignore || !range.contains(g.area);
        // Ignored ground truths last, stable.
        let mut gt_order: Vec<usize> = (0..gts.len()).collect();
        gt_order.sort_by_key(|&g| gt_ignore_of(&gts[g]));
        let gt_ignore: Vec<bool> = gt_order.iter().map(|&g| gt_ignore_of(&gts[g])).collect();

        let mut gt_matched_by = vec![[0u64; NUM_OKS_THRESHOLDS]; gt_order.len()];
        let mut dt_match_id = vec![[0u64; NUM_OKS_THRESHOLDS]; dts.len()];
        let mut dt_ignore = vec![[false; NUM_OKS_THRESHOLDS]; dts.len()];
        if !gts.is_empty() {
            for (t, &thr) in thresholds.iter().enumerate() {
                for (di, d) in dts.iter().enumerate() {
                    let mut best = thr.min(MAX_MATCH_THRESHOLD);
                    let mut m: Option<usize> = None;
                    for (gi, &g) in gt_order.iter().enumerate() {
                        if gt_matched_by[gi][t] > 0 && !gts[g].iscrowd {
                            continue;
                        }
                        if let Some(mi) = m {
                            if !gt_ignore[mi] && gt_ignore[gi] {
                                break;
                            }
                        }
                        let o = oks_matrix[di][g];
                        if o < best {
                            continue;
                        }
                        best = o;
                        m = Some(gi);
                    }
                    if let Some(mi) = m {
                        dt_ignore[di][t] = gt_ignore[mi];
                        dt_match_id[di][t] = gts[gt_order[mi]].id;
                        gt_matched_by[mi][t] = d.id;
                    }
                }
            }
        }
        // Unmatched detections outside the area range are ignored. A match to a ground truth
        // with id 0 reads as unmatched, as in the reference.
        for (di, d) in dts.iter().enumerate() {
            let outside = !range.contains(d.area);
            for t in 0..NUM_OKS_THRESHOLDS {
                dt_ignore[di][t] |= dt_match_id[di][t] == 0 && outside;
            }
        }
        Some(ImageEval {
            dt_scores: dts.iter().map(|d| d.score).collect(),
            dt_matched: dt_match_id
                .iter()
                .map(|row| row.map(|id| id != 0))
                .collect(),
            dt_ignore,
            num_gt_counted: gt_ignore.iter().filter(|&&ig| !ig).count(),
        })
    })
}

/// `accumulate` for one category and area range; `None` when no ground truth counts.
fn accumulate(
    evals: &[&ImageEval],
    rec_thrs: &[f64; NUM_RECALL_THRESHOLDS],
) -> Option<Accumulated> {
    if evals.is_empty() {
        return None;
    }
    let npig: usize = evals.iter().map(|e| e.num_gt_counted).sum();
    if npig == 0 {
        return None;
    }
    let matched: Vec<&[bool; NUM_OKS_THRESHOLDS]> =
        evals.iter().flat_map(|e| e.dt_matched.iter()).collect();
    let ignored: Vec<&[bool; NUM_OKS_THRESHOLDS]> =
        evals.iter().flat_map(|e| e.dt_ignore.iter()).collect();
    let scores: Vec<f64> = evals
        .iter()
        .flat_map(|e| e.dt_scores.iter().copied())
        .collect();
    let order = score_order(&scores);
    let nd = order.len();

    let mut acc = Accumulated {
        precision: [[0.0; NUM_RECALL_THRESHOLDS]; NUM_OKS_THRESHOLDS],
        recall: [0.0; NUM_OKS_THRESHOLDS],
    };
    let mut rc = vec![0.0; nd];
    let mut pr = vec![0.0; nd];
    for t in 0..NUM_OKS_THRESHOLDS {
        let (mut tp, mut fp) = (0usize, 0usize);
        for (j, &i) in order.iter().enumerate() {
            if !ignored[i][t] {
                if matched[i][t] {
                    tp += 1;
                } else {
                    fp += 1;
                }
            }
            let (tpf, fpf) = (tp as f64, fp as f64);
            rc[j] = tpf / npig as f64;
            pr[j] = tpf / (fpf + tpf + EPS);
        }
        acc.recall[t] = rc.last().copied().unwrap_or(0.0);
        // Precision envelope: non-increasing from the right.
        for i in (1..nd).rev() {
            if pr[i] > pr[i - 1] {
                pr[i - 1] = pr[i];
            }
        }
        for (q, &r) in acc.precision[t].iter_mut().zip(rec_thrs) {
            // np.searchsorted(rc, r, side='left'); recall points beyond the last stay 0.
            let pi = rc.partition_point(|&x| x < r);
            match pr.get(pi) {
                Some(&p) => *q = p,
                None => break,
            }
        }
    }
    Some(acc)
}

/// Mean over the defined entries, -1 when none is (pycocotools' `_summarize`).
fn mean_defined(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values
        .filter(|&v| v > -1.0)
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 {
        -1.0
    } else {
        sum / n as f64
    }
}

pub(super) fn evaluate(gt: &CocoGroundTruth, dets: &[CocoResult]) -> Result<Metrics, EvalError> {
    let p = Prepared::new(gt, dets)?;
    let thresholds = oks_thresholds();
    let rec_thrs = recall_thresholds();

    // accumulated[area][category]
    let mut accumulated: Vec<Vec<Option<Accumulated>>> =
        (0..AREA_RANGES.len()).map(|_| Vec::new()).collect();
    for &cat in &p.cat_ids {
        let mut per_area: [Vec<ImageEval>; AREA_RANGES.len()] = Default::default();
        for &img in &p.img_ids {
            let key = (img, cat);
            let gts = p.gts.get(&key).map_or(&[][..], Vec::as_slice);
            let dts = p.dts.get(&key).map_or(&[][..], Vec::as_slice);
            let evals = evaluate_image(gts, dts, &thresholds);
            for (a, e) in evals.into_iter().enumerate() {
                if let Some(e) = e {
                    per_area[a].push(e);
                }
            }
        }
        for (a, evals) in per_area.iter().enumerate() {
            let refs: Vec<&ImageEval> = evals.iter().collect();
            accumulated[a].push(accumulate(&refs, &rec_thrs));
        }
    }

    let ap = |area: usize, t: Option<usize>| {
        mean_defined(accumulated[area].iter().flat_map(|k| {
            match k {
                None => vec![-1.0],
                Some(acc) => (0..NUM_OKS_THRESHOLDS)
                    .filter(|&ti| t.is_none_or(|t| ti == t))
                    .flat_map(|ti| acc.precision[ti])
                    .collect(),
            }
        }))
    };
    let ar = |area: usize, t: Option<usize>| {
        mean_defined(accumulated[area].iter().flat_map(|k| {
            match k {
                None => vec![-1.0],
                Some(acc) => (0..NUM_OKS_THRESHOLDS)
                    .filter(|&ti| t.is_none_or(|t| ti == t))
                    .map(|ti| acc.recall[ti])
                    .collect(),
            }
        }))
    };
    let (t50, t75) = (Some(OKS_50), Some(OKS_75));
    Ok(Metrics {
        ap: ap(AREA_ALL, None),
        ap50: ap(AREA_ALL, t50),
        ap75: ap(AREA_ALL, t75),
        ap_medium: ap(AREA_MEDIUM, None),
        ap_large: ap(AREA_LARGE, None),
        ar: ar(AREA_ALL, None),
        ar50: ar(AREA_ALL, t50),
        ar75: ar(AREA_ALL, t75),
        ar_medium: ar(AREA_MEDIUM, None),
        ar_large: ar(AREA_LARGE, None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{CocoAnnotation, CocoCategory, CocoImage};

    /// A standing person inside the box (x, y, w, h), every keypoint visible.
    fn pose(x: f64, y: f64, w: f64, h: f64) -> Vec<f64> {
        (0..NUM_COCO_KEYPOINTS)
            .flat_map(|k| {
                let u = (k % 4) as f64 / 3.0;
                let v = k as f64 / (NUM_COCO_KEYPOINTS - 1) as f64;
                [x + u * w, y + v * h, 2.0]
            })
            .collect()
    }

    fn shifted(kp: &[f64], dx: f64) -> Vec<f64> {
        kp.chunks(3).flat_map(|c| [c[0] + dx, c[1], 1.0]).collect()
    }

    fn arr(v: &[f64]) -> [f64; KEYPOINTS_LEN] {
        let mut a = [0.0; KEYPOINTS_LEN];
        a.copy_from_slice(v);
        a
    }

    fn ann(id: u64, image_id: u64, area: f64, bbox: [f64; 4], kp: Vec<f64>) -> CocoAnnotation {
        let num_keypoints = kp.chunks(3).filter(|c| c[2] > 0.0).count() as u32;
        CocoAnnotation {
            id,
            image_id,
            category_id: 1,
            iscrowd: 0,
            area,
            bbox,
            keypoints: kp,
            num_keypoints,
        }
    }

    fn ground_truth(annotations: Vec<CocoAnnotation>) -> CocoGroundTruth {
        CocoGroundTruth {
            images: vec![CocoImage {
                id: 1,
                ..Default::default()
            }],
            annotations,
            categories: vec![CocoCategory {
                id: 1,
                name: "person".into(),
            }],
        }
    }

    fn det(kp: Vec<f64>, score: f64) -> CocoResult {
        CocoResult {
            image_id: 1,
            category_id: 1,
            keypoints: kp,
            score,
            bbox: None,
        }
    }

    #[test]
    fn thresholds_match_numpy_linspace() {
        let t = oks_thresholds();
        assert_eq!(t[OKS_50], 0.5);
        assert_eq!(t[OKS_75], 0.75);
        // np.linspace(.5, .95, 10)[8] is 0.8999999999999999, not 0.9.
        assert_eq!(t[8], 0.8999999999999999);
        assert_eq!(t[9], 0.95);
        let r = recall_thresholds();
        assert_eq!(r[0], 0.0);
        assert_eq!(r[29], 29.0 * 0.01);
        assert_eq!(r[100], 1.0);
    }

    #[test]
    fn numpy_sum_uses_pairwise_lanes() {
        let v: Vec<f64> = (0..17).map(|i| 1.0 / (i as f64 + 3.0)).collect();
        let mut r = [0.0; 8];
        for (i, x) in v[..16].iter().enumerate() {
            r[i % 8] += x;
        }
        let expected = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7])) + v[16];
        assert_eq!(numpy_sum(&v), expected);
        assert_eq!(numpy_sum(&v[..3]), v[0] + v[1] + v[2]);
    }

    #[test]
    fn oks_of_identical_poses_is_one() {
        let kp = arr(&pose(100.0, 50.0, 80.0, 200.0));
        let o = oks(&kp, [100.0, 50.0, 80.0, 200.0], 9000.0, &kp);
        assert!((o - 1.0).abs() < 1e-12, "oks {o}");
    }

    #[test]
    fn oks_decreases_with_distance() {
        let gt = arr(&pose(100.0, 50.0, 80.0, 200.0));
        let mut last = 1.0 + 1e-12;
        for step in 1..=20 {
            let dt = arr(&shifted(&gt, step as f64 * 1.5));
            let o = oks(&gt, [100.0, 50.0, 80.0, 200.0], 9000.0, &dt);
            assert!(o < last, "step {step}: {o} !< {last}");
            assert!(o > 0.0);
            last = o;
        }
        // Larger people tolerate the same pixel error better.
        let dt = arr(&shifted(&gt, 6.0));
        let small = oks(&gt, [0.0; 4], 2000.0, &dt);
        let large = oks(&gt, [0.0; 4], 20000.0, &dt);
        assert!(small < large);
    }

    #[test]
    fn oks_uses_only_labelled_keypoints() {
        let mut gt = pose(100.0, 50.0, 80.0, 200.0);
        let mut dt = gt.clone();
        // Keypoint 0 unlabelled in the ground truth: its detected position must not matter.
        gt[2] = 0.0;
        dt[0] += 500.0;
        let o = oks(&arr(&gt), [0.0; 4], 9000.0, &arr(&dt));
        assert!((o - 1.0).abs() < 1e-12);
    }

    #[test]
    fn oks_without_labelled_keypoints_uses_enlarged_box() {
        let gt = [0.0; KEYPOINTS_LEN];
        let bbox = [100.0, 100.0, 20.0, 40.0]; // enlarged box: x 80..140, y 60..180
        let inside = arr(&pose(85.0, 65.0, 50.0, 110.0));
        assert!((oks(&gt, bbox, 560.0, &inside) - 1.0).abs() < 1e-12);
        let partly = arr(&pose(120.0, 65.0, 50.0, 110.0));
        let o = oks(&gt, bbox, 560.0, &partly);
        assert!(o < 1.0 && o > 0.0, "oks {o}");
        let far = arr(&pose(400.0, 400.0, 50.0, 110.0));
        assert!(oks(&gt, bbox, 560.0, &far) < o);
    }

    #[test]
    fn perfect_detections_score_one() {
        let a = pose(100.0, 50.0, 80.0, 200.0);
        let b = pose(300.0, 60.0, 40.0, 100.0);
        let gt = ground_truth(vec![
            ann(1, 1, 12000.0, [100.0, 50.0, 80.0, 200.0], a.clone()),
            ann(2, 1, 3000.0, [300.0, 60.0, 40.0, 100.0], b.clone()),
        ]);
        let m = evaluate(&gt, &[det(a, 0.9), det(b, 0.8)]).expect("valid input");
        for (name, v) in Metrics::NAMES.iter().zip(m.to_array()) {
            assert!((v - 1.0).abs() < 1e-9, "{name} = {v}");
        }
    }

    #[test]
    fn crowd_regions_ignore_matches() {
        let person = pose(100.0, 50.0, 80.0, 200.0);
        let mut crowd = ann(2, 1, 30000.0, [300.0, 0.0, 200.0, 300.0], vec![0.0; 51]);
        crowd.iscrowd = 1;
        let gt = ground_truth(vec![
            ann(1, 1, 12000.0, [100.0, 50.0, 80.0, 200.0], person.clone()),
            crowd,
        ]);
        let in_crowd = |dx: f64| det(pose(320.0 + dx, 20.0, 60.0, 200.0), 0.95);
        // Two detections on the crowd, ranked above the true one: neither is a false positive.
        let dets = [in_crowd(0.0), in_crowd(30.0), det(person.clone(), 0.5)];
        let m = evaluate(&gt, &dets).expect("valid input");
        assert!((m.ap - 1.0).abs() < 1e-9, "AP {}", m.ap);
        // The same detections without the crowd annotation are false positives.
        let mut no_crowd = gt.clone();
        no_crowd.annotations.truncate(1);
        let m = evaluate(&no_crowd, &dets).expect("valid input");
        assert!(m.ap < 0.5, "AP {}", m.ap);
        assert!((m.ar - 1.0).abs() < 1e-9);
    }

    #[test]
    fn person_without_keypoints_is_ignored() {
        let person = pose(100.0, 50.0, 80.0, 200.0);
        let gt = ground_truth(vec![
            ann(1, 1, 12000.0, [100.0, 50.0, 80.0, 200.0], person.clone()),
            ann(2, 1, 500.0, [400.0, 100.0, 20.0, 40.0], vec![0.0; 51]),
        ]);
        // Missing the unlabelled person costs nothing; a detection on it costs nothing either.
        let only_true = evaluate(&gt, &[det(person.clone(), 0.5)]).expect("valid input");
        assert!((only_true.ar - 1.0).abs() < 1e-9);
        let on_unlabelled = det(pose(395.0, 95.0, 25.0, 45.0), 0.9);
        let m = evaluate(&gt, &[on_unlabelled, det(person, 0.5)]).expect("valid input");
        assert!((m.ap - 1.0).abs() < 1e-9, "AP {}", m.ap);
    }

    #[test]
    fn area_ranges_split_persons() {
        let large = pose(100.0, 50.0, 80.0, 200.0);
        let medium = pose(300.0, 60.0, 40.0, 100.0);
        let gt = ground_truth(vec![
            ann(1, 1, 12000.0, [100.0, 50.0, 80.0, 200.0], large.clone()),
            ann(2, 1, 3000.0, [300.0, 60.0, 40.0, 100.0], medium),
        ]);
        // Only the large person is found.
        let m = evaluate(&gt, &[det(large, 0.9)]).expect("valid input");
        assert!((m.ar_large - 1.0).abs() < 1e-9);
        assert!((m.ap_large - 1.0).abs() < 1e-9);
        assert_eq!(m.ar_medium, 0.0);
        assert_eq!(m.ap_medium, 0.0);
        assert!((m.ar - 0.5).abs() < 1e-9);

        // No medium person at all: the medium metrics are undefined (-1).
        let only_large = ground_truth(vec![ann(
            1,
            1,
            12000.0,
            [100.0, 50.0, 80.0, 200.0],
            pose(100.0, 50.0, 80.0, 200.0),
        )]);
        let m = evaluate(&only_large, &[]).expect("valid input");
        assert_eq!(m.ap_medium, -1.0);
        assert_eq!(m.ar_medium, -1.0);
        assert_eq!(m.ap, 0.0);

        // Bounds are inclusive: area 96² is both medium and large.
        assert!(AREA_RANGES[AREA_MEDIUM].contains(9216.0));
        assert!(AREA_RANGES[AREA_LARGE].contains(9216.0));
        assert!(!AREA_RANGES[AREA_MEDIUM].contains(1023.9));
    }

    #[test]
    fn duplicates_are_false_positives_and_max_dets_truncates() {
        let person = pose(100.0, 50.0, 80.0, 200.0);
        let gt = ground_truth(vec![ann(
            1,
            1,
            12000.0,
            [100.0, 50.0, 80.0, 200.0],
            person.clone(),
        )]);
        // A duplicate ranked above the true detection halves the precision at full recall.
        let dup = det(shifted(&person, 40.0), 0.9);
        let m = evaluate(&gt, &[dup, det(person.clone(), 0.5)]).expect("valid input");
        assert!((m.ap - 0.5).abs() < 0.01, "AP {}", m.ap);
        // The true detection ranked 21st is cut by maxDets = 20.
        let mut dets: Vec<CocoResult> = (0..MAX_DETS)
            .map(|i| det(pose(400.0 + i as f64, 300.0, 30.0, 60.0), 0.9))
            .collect();
        dets.push(det(person, 0.1));
        let m = evaluate(&gt, &dets).expect("valid input");
        assert_eq!(m.ar, 0.0);
    }

    #[test]
    fn bad_input_is_reported() {
        let person = pose(100.0, 50.0, 80.0, 200.0);
        let gt = ground_truth(vec![ann(
            1,
            1,
            12000.0,
            [100.0, 50.0, 80.0, 200.0],
            person.clone(),
        )]);
        let mut short = det(person.clone(), 0.9);
        short.keypoints.truncate(50);
        let err = evaluate(&gt, &[short]).expect_err("short keypoints");
        assert!(err.to_string().contains("50 keypoint values"), "{err}");

        let mut elsewhere = det(person.clone(), 0.9);
        elsewhere.image_id = 7;
        let err = evaluate(&gt, &[elsewhere]).expect_err("unknown image");
        assert!(err.to_string().contains("image 7"), "{err}");

        let err = evaluate(&gt, &[det(person.clone(), f64::NAN)]).expect_err("NaN score");
        assert!(err.to_string().contains("non-finite score"), "{err}");

        let mut twice = gt.clone();
        twice.annotations.push(twice.annotations[0].clone());
        let err = evaluate(&twice, &[]).expect_err("duplicate id");
        assert!(err.to_string().contains("annotation id 1"), "{err}");
    }

    #[test]
    fn first_result_bbox_decides_detection_areas() {
        // A tiny detection far from the medium person, unmatched: with keypoint-extent areas
        // it is a small-area detection and ignored for "medium"; with a medium-sized box it
        // counts as a medium false positive.
        let medium = pose(300.0, 60.0, 40.0, 100.0);
        let gt = ground_truth(vec![ann(
            2,
            1,
            3000.0,
            [300.0, 60.0, 40.0, 100.0],
            medium.clone(),
        )]);
        let fp = det(pose(10.0, 10.0, 3.0, 6.0), 0.9);
        let m = evaluate(&gt, &[fp.clone(), det(medium.clone(), 0.5)]).expect("valid");
        assert!((m.ap_medium - 1.0).abs() < 1e-9, "APM {}", m.ap_medium);
        let mut boxed = fp;
        boxed.bbox = Some(vec![10.0, 10.0, 40.0, 100.0]);
        let mut tp = det(medium, 0.5);
        tp.bbox = Some(vec![300.0, 60.0, 40.0, 100.0]);
        let m = evaluate(&gt, &[boxed.clone(), tp.clone()]).expect("valid");
        assert!(m.ap_medium < 0.6, "APM {}", m.ap_medium);
        tp.bbox = None;
        let err = evaluate(&gt, &[boxed, tp]).expect_err("missing bbox");
        assert!(matches!(err, EvalError::ResultBbox { index: 1 }), "{err}");
    }
}
