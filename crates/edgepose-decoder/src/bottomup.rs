//! The bottom-up engine shared by Simple Pose (body-part maps) and OpenPose (PAFs):
//! peaks → part candidates → greedy one-to-one matching → greedy grouping (simple-pose.md §5).

use crate::map::{Geometry, Layout, MapError, MapView};
use crate::peaks::{find_peaks, Peak, PeakList, MAX_PEAKS_PER_TYPE};
use crate::skeleton::{
    COCO17_FROM_18, NUM_KEYPOINTS_18, OPENPOSE_LIMBS, OPENPOSE_NO_START_LIMBS,
    OPENPOSE_NUM_CHANNELS, OPENPOSE_PAF_CHANNELS, OPENPOSE_PAF_OFFSET, SIMPLEPOSE_KEYPOINT_OFFSET,
    SIMPLEPOSE_MIN_CHANNELS, SIMPLEPOSE_PARTS,
};
use crate::types::{DecodeStats, Keypoint, Person, Persons, MAX_PERSONS};

/// Most accepted candidate pairs kept per part before matching; beyond it the lowest-ranked
/// are dropped and counted. Matching takes at most `MAX_PEAKS_PER_TYPE` of them.
pub const MAX_CANDIDATES_PER_PART: usize = 128;

/// Most partial persons the grouping tracks at once (more than [`MAX_PERSONS`] because
/// fragments are only filtered at the end).
pub const MAX_GROUP_PERSONS: usize = 64;

/// Most samples along one limb (the reference's `mid_num`).
pub const MAX_LIMB_SAMPLES: usize = 20;

const NO_PEAK: u8 = u8::MAX;

// Used-peak sets are `u32` bit masks and peak indices are `u8`.
const _: () = assert!(MAX_PEAKS_PER_TYPE <= 32);

/// Thresholds of the decoder. `Default` is the Simple Pose reference configuration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DecoderConfig {
    /// Minimum keypoint-map value of a peak (`thre1`).
    pub peak_threshold: f32,
    /// Minimum part response of a sample (`thre2`).
    pub sample_threshold: f32,
    /// Fraction of samples that must exceed `sample_threshold` (`connect_ration`).
    pub min_sample_ratio: f32,
    /// Limb longer than this × the person's longest limb is not attached (`len_rate`).
    pub len_rate: f32,
    /// Two persons merge only when the joining score is ≥ this × their weakest connection
    /// (`connection_tole`).
    pub merge_tolerance: f32,
    /// Persons with fewer keypoints are dropped.
    pub min_parts: u32,
    /// Persons whose total score per keypoint is below this are dropped.
    pub min_mean_score: f32,
}

impl Default for DecoderConfig {
    fn default() -> Self {
        DecoderConfig {
            peak_threshold: 0.1,
            sample_threshold: 0.1,
            min_sample_ratio: 0.8,
            len_rate: 16.0,
            merge_tolerance: 0.7,
            min_parts: 2,
            min_mean_score: 0.45,
        }
    }
}

impl DecoderConfig {
    /// OpenPose's PAF thresholds (`thre2` = 0.05 for projected vectors), same grouping.
    pub fn openpose() -> Self {
        DecoderConfig {
            sample_threshold: 0.05,
            ..Self::default()
        }
    }
}

/// Why a decode call could not run at all.
pub type DecodeError = MapError;

/// One scored candidate connection of a part.
#[derive(Clone, Copy, Debug, Default)]
struct Candidate {
    a: u8,
    b: u8,
    score: f32,
    len: f32,
    rank: f32,
    seq: u16,
}

/// A person being assembled.
#[derive(Clone, Copy, Debug)]
struct Group {
    peak: [u8; NUM_KEYPOINTS_18],
    conn: [f32; NUM_KEYPOINTS_18],
    total: f32,
    num: u32,
    max_len: f32,
}

impl Group {
    const EMPTY: Group = Group {
        peak: [NO_PEAK; NUM_KEYPOINTS_18],
        conn: [-1.0; NUM_KEYPOINTS_18],
        total: 0.0,
        num: 0,
        max_len: 0.0,
    };
}

/// All scratch memory of the bottom-up decoders, reused between calls (~30 KiB).
///
/// `Workspace::new` is `const`, so it can live in a `static` (behind a lock) or a `Box`.
pub struct Workspace {
    peaks: [PeakList; NUM_KEYPOINTS_18],
    candidates: heapless::Vec<Candidate, MAX_CANDIDATES_PER_PART>,
    groups: heapless::Vec<Group, MAX_GROUP_PERSONS>,
}

impl Default for Workspace {
    fn default() -> Self {
        Self::new()
    }
}

impl Workspace {
    pub const fn new() -> Self {
        Workspace {
            peaks: [const { heapless::Vec::new() }; NUM_KEYPOINTS_18],
            candidates: heapless::Vec::new(),
            groups: heapless::Vec::new(),
        }
    }

    /// Peaks of keypoint type `t` (18-keypoint order) found by the last decode call.
    pub fn peaks(&self, t: usize) -> &[Peak] {
        self.peaks.get(t).map(|p| p.as_slice()).unwrap_or(&[])
    }
}

/// How a family scores a part.
#[derive(Clone, Copy)]
enum Scorer {
    /// Scalar body-part map channel.
    PartMap(usize),
    /// 2-D field channels (x, y).
    Paf(usize, usize),
}

#[derive(Clone, Copy)]
struct Limb {
    a: usize,
    b: usize,
    scorer: Scorer,
    can_start: bool,
}

/// Decodes a Simple Pose output (≥ 48 channels: 30 body parts then 18 keypoints).
pub fn decode_simplepose(
    map: &MapView<'_>,
    geom: &Geometry,
    cfg: &DecoderConfig,
    ws: &mut Workspace,
) -> Result<(Persons, DecodeStats), DecodeError> {
    if map.channels() < SIMPLEPOSE_MIN_CHANNELS {
        return Err(MapError::WrongChannels {
            expected: crate::skeleton::SIMPLEPOSE_NUM_CHANNELS,
            got: map.channels(),
        });
    }
    let limbs = SIMPLEPOSE_PARTS
        .iter()
        .enumerate()
        .map(|(k, &(a, b))| Limb {
            a: a as usize,
            b: b as usize,
            scorer: Scorer::PartMap(k),
            can_start: true,
        });
    decode(map, geom, cfg, ws, SIMPLEPOSE_KEYPOINT_OFFSET, limbs)
}

/// Decodes an OpenPose / tf-pose output (57 channels: 18 heatmaps, background, 19 PAFs).
pub fn decode_paf(
    map: &MapView<'_>,
    geom: &Geometry,
    cfg: &DecoderConfig,
    ws: &mut Workspace,
) -> Result<(Persons, DecodeStats), DecodeError> {
    if map.channels() < OPENPOSE_NUM_CHANNELS {
        return Err(MapError::WrongChannels {
            expected: OPENPOSE_NUM_CHANNELS,
            got: map.channels(),
        });
    }
    let limbs = OPENPOSE_LIMBS.iter().enumerate().map(|(k, &(a, b))| {
        let (cx, cy) = OPENPOSE_PAF_CHANNELS[k];
        Limb {
            a: a as usize,
            b: b as usize,
            scorer: Scorer::Paf(
                OPENPOSE_PAF_OFFSET + cx as usize,
                OPENPOSE_PAF_OFFSET + cy as usize,
            ),
            can_start: !OPENPOSE_NO_START_LIMBS.contains(&(k as u8)),
        }
    });
    decode(map, geom, cfg, ws, 0, limbs)
}

fn decode(
    map: &MapView<'_>,
    geom: &Geometry,
    cfg: &DecoderConfig,
    ws: &mut Workspace,
    keypoint_offset: usize,
    limbs: impl Iterator<Item = Limb>,
) -> Result<(Persons, DecodeStats), DecodeError> {
    geom.validate()?;
    let mut stats = DecodeStats {
        non_finite: map.count_non_finite(),
        ..DecodeStats::default()
    };
    for (t, list) in ws.peaks.iter_mut().enumerate() {
        let d = find_peaks(map, keypoint_offset + t, cfg.peak_threshold, geom, list);
        stats.peaks_dropped = stats.peaks_dropped.saturating_add(d);
    }
    ws.groups.clear();
    for limb in limbs {
        let dropped = score_candidates(map, geom, cfg, &ws.peaks, &limb, &mut ws.candidates);
        stats.pairs_dropped = stats.pairs_dropped.saturating_add(dropped);
        rank_candidates(&mut ws.candidates);
        let max_pairs = ws.peaks[limb.a].len().min(ws.peaks[limb.b].len());
        let (mut used_a, mut used_b, mut taken) = (0u32, 0u32, 0usize);
        for i in 0..ws.candidates.len() {
            if taken >= max_pairs {
                break;
            }
            let c = ws.candidates[i];
            let (ma, mb) = (1u32 << c.a, 1u32 << c.b);
            if used_a & ma != 0 || used_b & mb != 0 {
                continue;
            }
            used_a |= ma;
            used_b |= mb;
            taken += 1;
            let lost = group_connection(&mut ws.groups, &ws.peaks, cfg, &limb, &c);
            stats.persons_dropped = stats.persons_dropped.saturating_add(lost);
        }
    }
    let persons = finish(&ws.groups, &ws.peaks, cfg, &mut stats);
    Ok((persons, stats))
}

/// Scores every (a, b) pair of one part into `out`, keeping the best-ranked on overflow.
/// Returns the number of accepted candidates that did not fit.
fn score_candidates(
    map: &MapView<'_>,
    geom: &Geometry,
    cfg: &DecoderConfig,
    peaks: &[PeakList; NUM_KEYPOINTS_18],
    limb: &Limb,
    out: &mut heapless::Vec<Candidate, MAX_CANDIDATES_PER_PART>,
) -> u32 {
    out.clear();
    let mut dropped = 0u32;
    let mut seq: u16 = 0;
    for (i, pa) in peaks[limb.a].iter().enumerate() {
        for (j, pb) in peaks[limb.b].iter().enumerate() {
            let Some((score, len)) = score_pair(map, geom, cfg, limb.scorer, pa, pb) else {
                continue;
            };
            let cand = Candidate {
                a: i as u8,
                b: j as u8,
                score,
                len,
                rank: 0.5 * score + 0.25 * pa.score + 0.25 * pb.score,
                seq,
            };
            seq = seq.wrapping_add(1);
            if let Err(cand) = out.push(cand) {
                dropped = dropped.saturating_add(1);
                // Evict the lowest-ranked (the latest of equals) if the newcomer beats it.
                let mut worst = 0;
                for (k, c) in out.iter().enumerate() {
                    if c.rank <= out[worst].rank {
                        worst = k;
                    }
                }
                if out[worst].rank < cand.rank {
                    out[worst] = cand;
                }
            }
        }
    }
    dropped
}

/// Descending rank, stable (ties keep candidate order).
fn rank_candidates(c: &mut [Candidate]) {
    c.sort_unstable_by(|x, y| {
        y.rank
            .partial_cmp(&x.rank)
            .unwrap_or(core::cmp::Ordering::Equal)
            .then(x.seq.cmp(&y.seq))
    });
}

/// Score and image-pixel length of the connection a→b, or `None` when rejected.
///
/// Samples n = min(round(L + 1), 20) evenly spaced points (endpoints included) at network
/// resolution with bilinear interpolation; score = mean + min(0.5·H/L − 1, 0) (the reference's
/// length prior); accepted when ≥ `min_sample_ratio` of the samples exceed the threshold and
/// the score is positive.
fn score_pair(
    map: &MapView<'_>,
    geom: &Geometry,
    cfg: &DecoderConfig,
    scorer: Scorer,
    pa: &Peak,
    pb: &Peak,
) -> Option<(f32, f32)> {
    let len = libm::hypotf(pb.x - pa.x, pb.y - pa.y);
    if !(len > 0.0) || !len.is_finite() {
        return None;
    }
    let n = (libm::roundf(len + 1.0) as usize).clamp(1, MAX_LIMB_SAMPLES);
    let need = cfg.min_sample_ratio * n as f32;
    let (dcx, dcy) = (pb.cx - pa.cx, pb.cy - pa.cy);
    let (ux, uy) = match scorer {
        Scorer::Paf(..) => {
            let l = libm::hypotf(dcx, dcy);
            if !(l > 0.0) {
                return None;
            }
            (dcx / l, dcy / l)
        }
        Scorer::PartMap(_) => (0.0, 0.0),
    };
    let (p0, p1) = match scorer {
        Scorer::PartMap(c) => (map.plane(c), (0, 0)),
        Scorer::Paf(cx, cy) => (map.plane(cx), map.plane(cy)),
    };
    let step = if n > 1 { 1.0 / (n - 1) as f32 } else { 0.0 };
    let (mut sum, mut above, mut below) = (0.0f32, 0usize, 0usize);
    for i in 0..n {
        // Visit samples in a scattered order starting mid-limb (7 is coprime with every
        // n ≤ 20 except 7 and 14): a wrong pair then fails the early exit after few samples.
        let stride = if n.is_multiple_of(7) { 1 } else { 7 };
        let t = (n / 2 + i * stride) % n;
        let f = t as f32 * step;
        let (x, y) = (pa.cx + dcx * f, pa.cy + dcy * f);
        let v = match scorer {
            Scorer::PartMap(_) => map.bilinear_in(p0.0, p0.1, x, y),
            Scorer::Paf(..) => {
                map.bilinear_in(p0.0, p0.1, x, y) * ux + map.bilinear_in(p1.0, p1.1, x, y) * uy
            }
        };
        sum += v;
        if v > cfg.sample_threshold {
            above += 1;
        } else {
            below += 1;
            // Not enough samples can remain above the threshold: stop early.
            if ((n - below) as f32) < need {
                return None;
            }
        }
    }
    let prior = (0.5 * geom.image_height / len - 1.0).min(0.0);
    let score = sum / n as f32 + prior;
    if (above as f32) >= need && score > 0.0 && score.is_finite() {
        Some((score, len))
    } else {
        None
    }
}

/// Adds one matched connection to the persons (simple-pose.md §5 step 4).
/// Returns 1 when a new person was needed but there was no room.
fn group_connection(
    groups: &mut heapless::Vec<Group, MAX_GROUP_PERSONS>,
    peaks: &[PeakList; NUM_KEYPOINTS_18],
    cfg: &DecoderConfig,
    limb: &Limb,
    c: &Candidate,
) -> u32 {
    let (ta, tb) = (limb.a, limb.b);
    let peak_score = |t: usize, i: u8| peaks[t].get(i as usize).map_or(0.0, |p| p.score);
    let mut found = [0usize; 2];
    let mut n_found = 0;
    for (j, g) in groups.iter().enumerate() {
        if g.peak[ta] == c.a || g.peak[tb] == c.b {
            // Each peak belongs to at most one person, so at most two can match.
            if n_found < 2 {
                found[n_found] = j;
            }
            n_found += 1;
        }
    }
    let len_ok = |g: &Group| cfg.len_rate * g.max_len > c.len;
    match n_found {
        0 => {
            if !limb.can_start {
                return 0;
            }
            let mut g = Group::EMPTY;
            g.peak[ta] = c.a;
            g.peak[tb] = c.b;
            g.conn[ta] = c.score;
            g.conn[tb] = c.score;
            g.num = 2;
            g.total = peak_score(ta, c.a) + peak_score(tb, c.b) + c.score;
            g.max_len = c.len;
            if groups.push(g).is_err() {
                return 1;
            }
        }
        1 => {
            let g = &mut groups[found[0]];
            let old = g.peak[tb];
            if old == NO_PEAK {
                if len_ok(g) {
                    g.peak[tb] = c.b;
                    g.conn[tb] = c.score;
                    g.num += 1;
                    g.total += peak_score(tb, c.b) + c.score;
                    g.max_len = g.max_len.max(c.len);
                }
            } else if old != c.b {
                if g.conn[tb] < c.score && len_ok(g) {
                    g.total -= peak_score(tb, old) + g.conn[tb];
                    g.peak[tb] = c.b;
                    g.conn[tb] = c.score;
                    g.total += peak_score(tb, c.b) + c.score;
                    g.max_len = g.max_len.max(c.len);
                }
            } else if g.conn[tb] <= c.score {
                g.total += c.score - g.conn[tb];
                g.conn[tb] = c.score;
                g.max_len = g.max_len.max(c.len);
            }
        }
        2 => {
            let (j1, j2) = (found[0], found[1]);
            let (g1, g2) = (groups[j1], groups[j2]);
            let shared =
                (0..NUM_KEYPOINTS_18).any(|t| g1.peak[t] != NO_PEAK && g2.peak[t] != NO_PEAK);
            if shared {
                return 0;
            }
            let min_conn = (0..NUM_KEYPOINTS_18)
                .flat_map(|t| [(g1.peak[t], g1.conn[t]), (g2.peak[t], g2.conn[t])])
                .filter(|&(p, _)| p != NO_PEAK)
                .map(|(_, s)| s)
                .fold(f32::INFINITY, f32::min);
            if c.score < cfg.merge_tolerance * min_conn || !len_ok(&g1) {
                return 0;
            }
            let g = &mut groups[j1];
            for t in 0..NUM_KEYPOINTS_18 {
                if g2.peak[t] != NO_PEAK {
                    g.peak[t] = g2.peak[t];
                    g.conn[t] = g2.conn[t];
                }
            }
            g.total += g2.total + c.score;
            g.num += g2.num;
            g.max_len = g.max_len.max(c.len);
            groups.remove(j2);
        }
        _ => {}
    }
    0
}

/// Filters the groups and converts them to COCO-17 persons in source pixels.
fn finish(
    groups: &[Group],
    peaks: &[PeakList; NUM_KEYPOINTS_18],
    cfg: &DecoderConfig,
    stats: &mut DecodeStats,
) -> Persons {
    let mut persons = Persons::new();
    for g in groups {
        if g.num < cfg.min_parts || g.num == 0 || g.total / (g.num as f32) < cfg.min_mean_score {
            continue;
        }
        let mut p = Person {
            score: (1.0 - 1.0 / g.total).clamp(0.0, 1.0),
            num_parts: u8::try_from(g.num).unwrap_or(u8::MAX),
            ..Person::default()
        };
        for (t, &idx) in g.peak.iter().enumerate() {
            let (Some(coco), Some(pk)) = (COCO17_FROM_18[t], peaks[t].get(idx as usize)) else {
                continue;
            };
            p.keypoints[coco as usize] = Keypoint::new(pk.x, pk.y, pk.score);
        }
        if let Err(p) = persons.push(p) {
            stats.persons_dropped = stats.persons_dropped.saturating_add(1);
            // Keep the best MAX_PERSONS: replace the weakest if the newcomer is better.
            let mut worst = 0;
            for (k, q) in persons.iter().enumerate() {
                if q.score < persons[worst].score {
                    worst = k;
                }
            }
            if persons[worst].score < p.score {
                persons[worst] = p;
            }
        }
    }
    debug_assert!(persons.len() <= MAX_PERSONS);
    persons
}

/// A convenience for callers with CHW Simple Pose output at stride 4 and no letterbox.
pub fn simplepose_view(data: &[f32], height: usize, width: usize) -> Result<MapView<'_>, MapError> {
    MapView::new(
        data,
        crate::skeleton::SIMPLEPOSE_NUM_CHANNELS,
        height,
        width,
        Layout::Chw,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Letterbox;

    fn peak(x: f32, y: f32, score: f32) -> Peak {
        Peak {
            cx: (x - 1.5) / 4.0,
            cy: (y - 1.5) / 4.0,
            x,
            y,
            score,
            pos: 0,
        }
    }

    #[test]
    fn pair_scoring_follows_samples_and_length_prior() {
        // One part channel, 1x16x16, a horizontal ridge on row 4 from x=2..=12.
        let (h, w) = (16, 16);
        let mut d = [0.0f32; 256];
        for x in 2..=12 {
            d[4 * w + x] = 0.9;
        }
        let m = MapView::new(&d, 1, h, w, Layout::Chw).unwrap();
        let g = Geometry::simplepose(Letterbox::IDENTITY, 64.0, 64.0);
        let cfg = DecoderConfig::default();
        let a = peak(4.0 * 2.0 + 1.5, 4.0 * 4.0 + 1.5, 1.0);
        let b = peak(4.0 * 12.0 + 1.5, 4.0 * 4.0 + 1.5, 1.0);
        let (s, len) = score_pair(&m, &g, &cfg, Scorer::PartMap(0), &a, &b).unwrap();
        assert!((len - 40.0).abs() < 1e-4);
        // H = 64: prior = min(32/40 - 1, 0) = -0.2.
        assert!((s - (0.9 - 0.2)).abs() < 1e-4, "{s}");
        // Off the ridge: rejected.
        let c = peak(4.0 * 12.0 + 1.5, 4.0 * 10.0 + 1.5, 1.0);
        assert!(score_pair(&m, &g, &cfg, Scorer::PartMap(0), &a, &c).is_none());
        // Zero length: rejected.
        assert!(score_pair(&m, &g, &cfg, Scorer::PartMap(0), &a, &a).is_none());
    }

    #[test]
    fn paf_scoring_projects_on_direction() {
        // Two channels (x, y) of a field pointing +x everywhere.
        let (h, w) = (8, 8);
        let mut d = [0.0f32; 128];
        d[..64].fill(1.0);
        let m = MapView::new(&d, 2, h, w, Layout::Chw).unwrap();
        let g = Geometry::tfpose(Letterbox::IDENTITY, 1000.0, 1000.0);
        let cfg = DecoderConfig::openpose();
        let a = Peak {
            cx: 1.0,
            cy: 3.0,
            x: 11.5,
            y: 27.5,
            score: 1.0,
            pos: 0,
        };
        let b = Peak {
            cx: 6.0,
            cy: 3.0,
            x: 51.5,
            y: 27.5,
            score: 1.0,
            pos: 0,
        };
        let (s, _) = score_pair(&m, &g, &cfg, Scorer::Paf(0, 1), &a, &b).unwrap();
        assert!((s - 1.0).abs() < 1e-5);
        // Against the field: rejected.
        assert!(score_pair(&m, &g, &cfg, Scorer::Paf(0, 1), &b, &a).is_none());
        // Perpendicular: projection 0, rejected.
        let c = Peak {
            cx: 1.0,
            cy: 7.0,
            x: 11.5,
            y: 59.5,
            score: 1.0,
            pos: 0,
        };
        assert!(score_pair(&m, &g, &cfg, Scorer::Paf(0, 1), &a, &c).is_none());
    }

    #[test]
    fn ranking_is_descending_and_stable() {
        let mk = |rank: f32, seq: u16| Candidate {
            rank,
            seq,
            ..Candidate::default()
        };
        let mut c = [mk(0.5, 0), mk(0.9, 1), mk(0.5, 2), mk(0.9, 3), mk(0.1, 4)];
        rank_candidates(&mut c);
        let seqs: [u16; 5] = core::array::from_fn(|i| c[i].seq);
        assert_eq!(seqs, [1, 3, 0, 2, 4]);
    }

    fn peaks_with(list: &[(usize, usize)]) -> [PeakList; NUM_KEYPOINTS_18] {
        // (type, count) pairs: `count` unit-score peaks of that type.
        let mut p: [PeakList; NUM_KEYPOINTS_18] = core::array::from_fn(|_| PeakList::new());
        for &(t, n) in list {
            for i in 0..n {
                p[t].push(peak(i as f32, 0.0, 1.0)).unwrap();
            }
        }
        p
    }

    fn conn(a: u8, b: u8, score: f32, len: f32) -> Candidate {
        Candidate {
            a,
            b,
            score,
            len,
            rank: score,
            seq: 0,
        }
    }

    fn limb(a: usize, b: usize) -> Limb {
        Limb {
            a,
            b,
            scorer: Scorer::PartMap(0),
            can_start: true,
        }
    }

    #[test]
    fn grouping_branches() {
        let peaks = peaks_with(&[(0, 2), (1, 2), (2, 2), (3, 2)]);
        let cfg = DecoderConfig::default();
        let mut g = heapless::Vec::<Group, MAX_GROUP_PERSONS>::new();
        // |M| = 0: two new persons.
        group_connection(&mut g, &peaks, &cfg, &limb(0, 1), &conn(0, 0, 0.9, 10.0));
        group_connection(&mut g, &peaks, &cfg, &limb(2, 3), &conn(0, 0, 0.8, 10.0));
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].num, 2);
        assert!((g[0].total - 2.9).abs() < 1e-6);
        // |M| = 1: attach type 2 peak 1 to person 0 via limb 1->2.
        group_connection(&mut g, &peaks, &cfg, &limb(1, 2), &conn(0, 1, 0.7, 12.0));
        assert_eq!(g[0].num, 3);
        assert_eq!(g[0].peak[2], 1);
        assert!((g[0].max_len - 12.0).abs() < 1e-6);
        // |M| = 1, different B with a better score: replaced, num unchanged.
        // (Person 1 owns type-2 peak 0, so use a limb whose B is type 3 instead.)
        group_connection(&mut g, &peaks, &cfg, &limb(1, 3), &conn(0, 1, 0.95, 12.0));
        assert_eq!(g[0].peak[3], 1);
        let before = g[0].total;
        group_connection(&mut g, &peaks, &cfg, &limb(0, 3), &conn(0, 1, 0.99, 12.0));
        assert!((g[0].total - (before + 0.04)).abs() < 1e-5, "same-b update");
        // Too long for the person: not attached.
        let mut h = heapless::Vec::<Group, MAX_GROUP_PERSONS>::new();
        group_connection(&mut h, &peaks, &cfg, &limb(0, 1), &conn(0, 0, 0.9, 1.0));
        group_connection(&mut h, &peaks, &cfg, &limb(1, 2), &conn(0, 0, 0.9, 17.0));
        assert_eq!(h[0].num, 2);
    }

    #[test]
    fn merge_rule() {
        let peaks = peaks_with(&[(0, 1), (1, 1), (2, 1), (3, 1)]);
        let cfg = DecoderConfig::default();
        let mut g = heapless::Vec::<Group, MAX_GROUP_PERSONS>::new();
        group_connection(&mut g, &peaks, &cfg, &limb(0, 1), &conn(0, 0, 0.9, 10.0));
        group_connection(&mut g, &peaks, &cfg, &limb(2, 3), &conn(0, 0, 0.8, 10.0));
        // Joining score below 0.7 × 0.8: rejected.
        group_connection(&mut g, &peaks, &cfg, &limb(1, 2), &conn(0, 0, 0.5, 10.0));
        assert_eq!(g.len(), 2);
        // Good joining score: merged into the first.
        group_connection(&mut g, &peaks, &cfg, &limb(1, 2), &conn(0, 0, 0.6, 10.0));
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].num, 4);
        assert_eq!(g[0].peak, {
            let mut p = [NO_PEAK; 18];
            p[..4].fill(0);
            p
        });
        assert!((g[0].total - (2.9 + 2.8 + 0.6)).abs() < 1e-5);
    }

    #[test]
    fn person_capacity_is_counted() {
        let peaks = peaks_with(&[(0, 32), (1, 32), (2, 32), (3, 32), (4, 32), (5, 32)]);
        let cfg = DecoderConfig::default();
        let mut g = heapless::Vec::<Group, MAX_GROUP_PERSONS>::new();
        let mut lost = 0;
        for (ta, tb) in [(0, 1), (2, 3), (4, 5)] {
            for i in 0..32u8 {
                lost +=
                    group_connection(&mut g, &peaks, &cfg, &limb(ta, tb), &conn(i, i, 0.9, 1.0));
            }
        }
        assert_eq!(g.len(), MAX_GROUP_PERSONS);
        assert_eq!(lost as usize, 96 - MAX_GROUP_PERSONS);
        let mut stats = DecodeStats::default();
        let persons = finish(&g, &peaks, &cfg, &mut stats);
        assert_eq!(persons.len(), MAX_PERSONS);
        assert_eq!(
            stats.persons_dropped as usize,
            MAX_GROUP_PERSONS - MAX_PERSONS
        );
    }
}
