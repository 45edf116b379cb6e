//! MoveNet MultiPose from its raw heads: the CenterNet post-processing that the released graph
//! runs after its six head convolutions, done here so that the graph can be cut after the
//! heads (`models/tools/movenet_heads.py`). In tract that post-processing was about a quarter
//! of MoveNet's run time, mostly spent on [H, W, 6, 17] tensors of which only each person's
//! box matters.
//!
//! [`movenet_heads_rows`] reproduces the graph's `output_0` rows (checked against the graph
//! in onnxruntime and tract); [`decode_movenet_heads`] feeds them to [`decode_movenet`]. The
//! steps, for a head grid of H × W cells (input / 4):
//!
//! 1. centre NMS: a centre cell is kept when it is within [`CENTRE_NMS_TOLERANCE`] of the
//!    5 × 5 max-pool around it (else 0); the 6 largest kept values (ties: lower row-major
//!    index first) are the instances, at cells (cy, cx) with score s;
//! 2. per instance, keypoint k is regressed to (cy + dy_k, cx + dx_k) and the person box is
//!    (cy + oy, cx + ox) ± max(size, 0) / 2, clipped to [0, H] × [0, W];
//! 3. for every cell in the box, v = heatmap_k · exp(−d² / ([`GAUSSIAN_SCALE`] · min(H, W)))
//!    with d the distance to the regressed keypoint (0 outside the box); the keypoint is the
//!    first cell of largest v (cell 0 when all are 0), refined by the offset head;
//! 4. its score is the largest v of *any* instance at that cell; the instance score is s times
//!    the mean of its keypoint scores above [`KEYPOINT_SCORE_FLOOR`].
//!
//! The Gaussian is evaluated separably, exp(−dy²/σ) · exp(−dx²/σ): one exp per box row and
//! column instead of one per cell (the graph's 6 · 17 · H · W), with a rounding difference of
//! a few ulp. Cells outside the box are never visited.

use crate::map::{MapError, MapView};
use crate::single::{decode_movenet, SingleStageConfig, MOVENET_ROW};
use crate::types::{DecodeStats, Letterbox, Persons, NUM_COCO_KEYPOINTS};

/// Instances (centre peaks) the graph decodes: its TopK(6).
pub const MOVENET_INSTANCES: usize = 6;

/// Values of the rows [`movenet_heads_rows`] writes: the graph's `output_0` `[1, 6, 56]`.
pub const MOVENET_HEADS_OUTPUT: usize = MOVENET_INSTANCES * MOVENET_ROW;

/// First channel of each head in the concatenated heads map (see the heads script).
pub const CENTRE_CHANNEL: usize = 0;
/// 17 keypoint heatmaps (after the sigmoid).
pub const HEATMAP_CHANNEL: usize = CENTRE_CHANNEL + 1;
/// 17 × (dy, dx): keypoint positions relative to the instance centre, in cells.
pub const REGRESS_CHANNEL: usize = HEATMAP_CHANNEL + NUM_COCO_KEYPOINTS;
/// 17 × (dy, dx): sub-cell refinement of the chosen keypoint cell.
pub const OFFSET_CHANNEL: usize = REGRESS_CHANNEL + 2 * NUM_COCO_KEYPOINTS;
/// (height, width) of the person box, in cells.
pub const BOX_SCALE_CHANNEL: usize = OFFSET_CHANNEL + 2 * NUM_COCO_KEYPOINTS;
/// (dy, dx) of the box centre from the instance centre, in cells.
pub const BOX_OFFSET_CHANNEL: usize = BOX_SCALE_CHANNEL + 2;
/// Channels of the heads map: 1 + 17 + 34 + 34 + 2 + 2.
pub const MOVENET_HEADS_CHANNELS: usize = BOX_OFFSET_CHANNEL + 2;

/// Longest side of the head grid (cells): 1024-pixel inputs. Bounds the stack table of
/// per-column Gaussian factors (1 KiB).
pub const MAX_MOVENET_GRID: usize = 256;

/// Centre NMS: a cell survives when |c − maxpool(c)| is below this. The graph's constant: the
/// TF.js model stores 1e-6 as float16, i.e. 17 · 2⁻²⁴ (1.0132789611816406e-6).
pub const CENTRE_NMS_TOLERANCE: f32 = 17.0 / 16_777_216.0;

/// Centre NMS window side (cells); the graph's MaxPool 5 × 5, stride 1, SAME padding.
pub const CENTRE_NMS_KERNEL: usize = 5;

/// Keypoint Gaussian width factor: the graph divides d² by this times min(H, W). 0.3 stored
/// as float16: 1229 / 4096 (0.300048828125).
pub const GAUSSIAN_SCALE: f32 = 1229.0 / 4096.0;

/// Keypoint scores above this count towards the instance score. The graph's 0.127 as
/// float16: 65 / 512 (0.126953125).
pub const KEYPOINT_SCORE_FLOOR: f32 = 65.0 / 512.0;

/// The graph's input-pixels-per-cell factor: it normalises positions as v · 4 / (4 · H).
const GRAPH_STRIDE: f32 = 4.0;

/// One centre instance and what step 2 derives from it.
#[derive(Clone, Copy, Debug, Default)]
struct Instance {
    score: f32,
    /// Centre cell.
    cy: usize,
    cx: usize,
    /// Regressed keypoint positions (cells).
    ry: [f32; NUM_COCO_KEYPOINTS],
    rx: [f32; NUM_COCO_KEYPOINTS],
    /// Box in cells: ymin, xmin, ymax, xmax.
    bbox: [f32; 4],
    /// Cells inside the box: rows `y0..y1`, columns `x0..x1`.
    y0: usize,
    y1: usize,
    x0: usize,
    x1: usize,
}

impl Instance {
    /// The graph's box mask: gy ≥ ymin, gy < ymax, gx ≥ xmin, gx < xmax.
    #[inline]
    fn contains(&self, y: usize, x: usize) -> bool {
        (self.y0..self.y1).contains(&y) && (self.x0..self.x1).contains(&x)
    }
}

/// Reads of one map with non-finite values as 0 (as [`MapView::get`], without re-resolving the
/// layout in hot loops).
struct Planes<'a> {
    data: &'a [f32],
    width: usize,
    /// Flat index of (c, 0, 0) is `c * chan_step`; horizontally adjacent cells are `step` apart.
    chan_step: usize,
    step: usize,
}

impl<'a> Planes<'a> {
    /// Flat indexing into `heads`, whatever its layout (CHW or HWC).
    fn of(heads: &MapView<'a>) -> Self {
        let (chan_step, step) = heads.plane(1);
        Planes {
            data: heads.data(),
            width: heads.width(),
            chan_step,
            step,
        }
    }

    #[inline]
    fn get(&self, c: usize, y: usize, x: usize) -> f32 {
        match self
            .data
            .get(c * self.chan_step + (y * self.width + x) * self.step)
        {
            Some(v) if v.is_finite() => *v,
            _ => 0.0,
        }
    }
}

/// Writes the graph's 6 output rows (17 × (y, x, score) normalised to the input, then
/// ymin, xmin, ymax, xmax, score) decoded from a MoveNet heads map (90 channels, any layout)
/// into `rows`. Returns the number of non-finite map values, which are read as 0.
///
/// Errors (never panics) when the map does not have 90 channels, has fewer than 6 cells or a
/// side longer than [`MAX_MOVENET_GRID`].
pub fn movenet_heads_rows(
    heads: &MapView<'_>,
    rows: &mut [f32; MOVENET_HEADS_OUTPUT],
) -> Result<u32, MapError> {
    if heads.channels() != MOVENET_HEADS_CHANNELS {
        return Err(MapError::WrongChannels {
            expected: MOVENET_HEADS_CHANNELS,
            got: heads.channels(),
        });
    }
    let (h, w) = (heads.height(), heads.width());
    if h.saturating_mul(w) < MOVENET_INSTANCES {
        return Err(MapError::BadGeometry("MoveNet heads need at least 6 cells"));
    }
    if h > MAX_MOVENET_GRID || w > MAX_MOVENET_GRID {
        return Err(MapError::BadGeometry(
            "MoveNet head grid is larger than MAX_MOVENET_GRID",
        ));
    }
    let maps = Planes::of(heads);
    let instances = centre_instances(&maps, h, w);
    let denom = h.min(w) as f32 * GAUSSIAN_SCALE;
    // Per-instance regressed keypoints and boxes (step 2).
    let mut inst = [Instance::default(); MOVENET_INSTANCES];
    for (d, &(score, idx)) in inst.iter_mut().zip(instances.iter()) {
        let (cy, cx) = (idx / w, idx % w);
        let (fy, fx) = (cy as f32, cx as f32);
        d.score = score;
        d.cy = cy;
        d.cx = cx;
        for k in 0..NUM_COCO_KEYPOINTS {
            d.ry[k] = fy + maps.get(REGRESS_CHANNEL + 2 * k, cy, cx);
            d.rx[k] = fx + maps.get(REGRESS_CHANNEL + 2 * k + 1, cy, cx);
        }
        let half_h = maps.get(BOX_SCALE_CHANNEL, cy, cx).max(0.0) * 0.5;
        let half_w = maps.get(BOX_SCALE_CHANNEL + 1, cy, cx).max(0.0) * 0.5;
        let by = fy + maps.get(BOX_OFFSET_CHANNEL, cy, cx);
        let bx = fx + maps.get(BOX_OFFSET_CHANNEL + 1, cy, cx);
        // The graph's clip_by_value: min with the grid size, then max with 0.
        let clip = |v: f32, hi: usize| v.min(hi as f32).max(0.0);
        d.bbox = [
            clip(by - half_h, h),
            clip(bx - half_w, w),
            clip(by + half_h, h),
            clip(bx + half_w, w),
        ];
        (d.y0, d.y1) = cell_range(d.bbox[0], d.bbox[2], h);
        (d.x0, d.x1) = cell_range(d.bbox[1], d.bbox[3], w);
    }
    // The Gaussian factor of instance `i`, keypoint `k` at cell (y, x), 0 outside its box.
    let gauss_1d = |d: f32| libm::expf(-(d * d) / denom);
    let value = |i: &Instance, k: usize, y: usize, x: usize| {
        if i.contains(y, x) {
            maps.get(HEATMAP_CHANNEL + k, y, x)
                * (gauss_1d(y as f32 - i.ry[k]) * gauss_1d(x as f32 - i.rx[k]))
        } else {
            0.0
        }
    };
    let scale_y = GRAPH_STRIDE / (GRAPH_STRIDE * h as f32);
    let scale_x = GRAPH_STRIDE / (GRAPH_STRIDE * w as f32);
    let mut column = [0.0f32; MAX_MOVENET_GRID];
    for (d, row) in inst.iter().zip(rows.chunks_exact_mut(MOVENET_ROW)) {
        let (mut sum, mut count) = (0.0f32, 0u32);
        for k in 0..NUM_COCO_KEYPOINTS {
            // Step 3: the first cell of largest value, cell 0 when nothing beats 0 (the
            // graph's ArgMax over a column that is 0 outside the box).
            for (x, g) in (d.x0..d.x1).zip(column.iter_mut()) {
                *g = gauss_1d(x as f32 - d.rx[k]);
            }
            let (mut best, mut best_cell) = (0.0f32, 0usize);
            for y in d.y0..d.y1 {
                let gy = gauss_1d(y as f32 - d.ry[k]);
                for (x, g) in (d.x0..d.x1).zip(column.iter()) {
                    let v = maps.get(HEATMAP_CHANNEL + k, y, x) * (gy * g);
                    if v > best {
                        best = v;
                        best_cell = y * w + x;
                    }
                }
            }
            let (ky, kx) = (best_cell / w, best_cell % w);
            // Step 4: the graph reduces over instances before gathering at the cell.
            let score = inst
                .iter()
                .map(|o| value(o, k, ky, kx))
                .fold(0.0f32, f32::max);
            row[3 * k] = (ky as f32 + maps.get(OFFSET_CHANNEL + 2 * k, ky, kx)) * scale_y;
            row[3 * k + 1] = (kx as f32 + maps.get(OFFSET_CHANNEL + 2 * k + 1, ky, kx)) * scale_x;
            row[3 * k + 2] = score;
            if score > KEYPOINT_SCORE_FLOOR {
                sum += d.score * score;
                count += 1;
            }
        }
        let sizes = [h, w, h, w];
        for (j, (&v, size)) in d.bbox.iter().zip(sizes).enumerate() {
            row[3 * NUM_COCO_KEYPOINTS + j] =
                (v * GRAPH_STRIDE / (GRAPH_STRIDE * size as f32)).clamp(0.0, 1.0);
        }
        row[MOVENET_ROW - 1] = sum * (1.0 / (count.max(1) as f32));
    }
    Ok(heads.count_non_finite())
}

/// The cells `lo..hi` of one axis whose index i satisfies `min <= i < max` (the graph's
/// mask), for `min`, `max` already clipped to `[0, n]`.
fn cell_range(min: f32, max: f32, n: usize) -> (usize, usize) {
    let lo = (0..n).find(|&i| i as f32 >= min).unwrap_or(n);
    let hi = (lo..n).find(|&i| !((i as f32) < max)).unwrap_or(n);
    (lo, hi)
}

/// Step 1: the 6 largest centre values after NMS as (value, row-major cell), largest first,
/// ties in cell order (TopK). A cell's NMS value is only computed when it could still enter
/// the list, so the 5 × 5 window is evaluated for a few cells only.
fn centre_instances(maps: &Planes<'_>, h: usize, w: usize) -> [(f32, usize); MOVENET_INSTANCES] {
    let mut top = [(0.0f32, 0usize); MOVENET_INSTANCES];
    let mut len = 0usize;
    let r = CENTRE_NMS_KERNEL / 2;
    for y in 0..h {
        for x in 0..w {
            let c = maps.get(CENTRE_CHANNEL, y, x);
            let worst = top[MOVENET_INSTANCES - 1].0;
            // The NMS value is c or 0, so at most max(c, 0); equal values lose to earlier ones.
            if len == MOVENET_INSTANCES && !(c.max(0.0) > worst) {
                continue;
            }
            let mut pooled = c;
            for yy in y.saturating_sub(r)..(y + r + 1).min(h) {
                for xx in x.saturating_sub(r)..(x + r + 1).min(w) {
                    pooled = pooled.max(maps.get(CENTRE_CHANNEL, yy, xx));
                }
            }
            let v = if libm::fabsf(c - pooled) < CENTRE_NMS_TOLERANCE {
                c
            } else {
                0.0
            };
            if len == MOVENET_INSTANCES && !(v > worst) {
                continue;
            }
            // Insert after every entry with a value >= v (those came first).
            let at = top[..len].iter().position(|e| e.0 < v).unwrap_or(len);
            let end = len.min(MOVENET_INSTANCES - 1);
            top.copy_within(at..end, at + 1);
            if let Some(slot) = top.get_mut(at) {
                *slot = (v, y * w + x);
            }
            len = (len + 1).min(MOVENET_INSTANCES);
        }
    }
    top
}

/// Decodes a MoveNet heads map of an `input_w` × `input_h` input (4 input pixels per cell)
/// made from the source image through `letterbox`: [`movenet_heads_rows`], then
/// [`decode_movenet`] (thresholds, letterbox inverse, OKS pose NMS).
pub fn decode_movenet_heads(
    heads: &MapView<'_>,
    input_w: f32,
    input_h: f32,
    letterbox: &Letterbox,
    cfg: &SingleStageConfig,
) -> Result<(Persons, DecodeStats), MapError> {
    let mut rows = [0.0f32; MOVENET_HEADS_OUTPUT];
    let non_finite = movenet_heads_rows(heads, &mut rows)?;
    let (persons, mut stats) = decode_movenet(&rows, input_w, input_h, letterbox, cfg)?;
    stats.non_finite = stats.non_finite.saturating_add(non_finite);
    Ok((persons, stats))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map::Layout;

    const H: usize = 12;
    const W: usize = 12;
    const N: usize = MOVENET_HEADS_CHANNELS * H * W;

    /// A 12 × 12 CHW heads map (a 48 × 48 input).
    struct Heads {
        data: [f32; N],
    }

    impl Heads {
        fn new() -> Self {
            Heads { data: [0.0; N] }
        }
        fn set(&mut self, c: usize, y: usize, x: usize, v: f32) {
            self.data[(c * H + y) * W + x] = v;
        }
        /// Instance at (cy, cx): centre value, every keypoint regressed to `kp(k)`, box of
        /// size (bh, bw) centred on the centre.
        fn instance(
            &mut self,
            (cy, cx): (usize, usize),
            centre: f32,
            kp: impl Fn(usize) -> (usize, usize),
            (bh, bw): (f32, f32),
        ) {
            self.set(CENTRE_CHANNEL, cy, cx, centre);
            for k in 0..NUM_COCO_KEYPOINTS {
                let (ky, kx) = kp(k);
                self.set(REGRESS_CHANNEL + 2 * k, cy, cx, ky as f32 - cy as f32);
                self.set(REGRESS_CHANNEL + 2 * k + 1, cy, cx, kx as f32 - cx as f32);
            }
            self.set(BOX_SCALE_CHANNEL, cy, cx, bh);
            self.set(BOX_SCALE_CHANNEL + 1, cy, cx, bw);
        }
        fn view(&self) -> MapView<'_> {
            MapView::new(&self.data, MOVENET_HEADS_CHANNELS, H, W, Layout::Chw).unwrap()
        }
        fn rows(&self) -> ([f32; MOVENET_HEADS_OUTPUT], u32) {
            let mut rows = [f32::NAN; MOVENET_HEADS_OUTPUT];
            let n = movenet_heads_rows(&self.view(), &mut rows).unwrap();
            (rows, n)
        }
    }

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() < 1e-6
    }

    /// Keypoint k of the test figure: a 4 × 5 block of cells.
    fn figure(k: usize) -> (usize, usize) {
        (3 + k % 4, 3 + k / 4)
    }

    #[test]
    fn one_person_decodes_to_the_graph_row() {
        let mut m = Heads::new();
        m.instance((4, 5), 0.8, figure, (10.0, 10.0));
        for k in 0..NUM_COCO_KEYPOINTS {
            let (ky, kx) = figure(k);
            m.set(HEATMAP_CHANNEL + k, ky, kx, 0.9);
        }
        for y in 0..H {
            for x in 0..W {
                for k in 0..NUM_COCO_KEYPOINTS {
                    m.set(OFFSET_CHANNEL + 2 * k, y, x, 0.25);
                    m.set(OFFSET_CHANNEL + 2 * k + 1, y, x, -0.25);
                }
            }
        }
        let (rows, non_finite) = m.rows();
        assert_eq!(non_finite, 0);
        assert!(rows.iter().all(|v| v.is_finite()));
        let r = &rows[..MOVENET_ROW];
        for k in 0..NUM_COCO_KEYPOINTS {
            let (ky, kx) = figure(k);
            assert!(close(r[3 * k], (ky as f32 + 0.25) / H as f32), "{k}: {r:?}");
            assert!(close(r[3 * k + 1], (kx as f32 - 0.25) / W as f32), "{k}");
            // On the regressed cell the Gaussian is 1.
            assert!(close(r[3 * k + 2], 0.9), "{k}: {}", r[3 * k + 2]);
        }
        // Box (cells): rows 4 ± 5 → [0, 9], columns 5 ± 5 → [0, 10]; normalised by 12.
        let b = &r[3 * NUM_COCO_KEYPOINTS..MOVENET_ROW - 1];
        assert!(close(b[0], 0.0) && close(b[1], 0.0));
        assert!(close(b[2], 9.0 / 12.0) && close(b[3], 10.0 / 12.0), "{b:?}");
        // Centre 0.8 × mean keypoint score 0.9.
        assert!(close(r[MOVENET_ROW - 1], 0.72), "{}", r[MOVENET_ROW - 1]);
        // The other five slots are empty centres (0 everywhere, kept by the NMS with score
        // 0): their keypoints fall back to cell 0 and they score 0.
        for row in rows.chunks_exact(MOVENET_ROW).skip(1) {
            assert_eq!(row[MOVENET_ROW - 1], 0.0);
            assert!(close(row[0], 0.25 / H as f32) && close(row[1], -0.25 / W as f32));
        }
    }

    #[test]
    fn centre_nms_keeps_local_maxima_and_orders_ties_by_cell() {
        let mut m = Heads::new();
        for (y, x, v) in [
            (2, 2, 0.9),
            (3, 3, 0.85), // inside the 5 × 5 window of (2, 2): suppressed
            (8, 8, 0.7),
            (8, 11, 0.7), // 3 cells from (8, 8): kept, after it (higher index)
            (11, 0, 0.5),
            (5, 8, 0.6),
            (5, 9, 0.600_000_5), // within the NMS tolerance of the window max: both kept
        ] {
            m.set(CENTRE_CHANNEL, y, x, v);
        }
        let view = m.view();
        let maps = Planes::of(&view);
        let top = centre_instances(&maps, H, W);
        let cells: [(usize, usize); MOVENET_INSTANCES] = top.map(|(_, i)| (i / W, i % W));
        assert_eq!(cells, [(2, 2), (8, 8), (8, 11), (5, 9), (5, 8), (11, 0)]);
        assert!(close(top[0].0, 0.9) && close(top[5].0, 0.5));
        // Fewer than 6 maxima: the rest are 0-valued cells in row-major order; (0, 0) is in
        // the window of (2, 2), so its NMS value is 0 too.
        let mut few = Heads::new();
        few.set(CENTRE_CHANNEL, 2, 2, 0.9);
        let view = few.view();
        let maps = Planes::of(&view);
        let top = centre_instances(&maps, H, W);
        assert_eq!(top.map(|(_, i)| i), [2 * W + 2, 0, 1, 2, 3, 4]);
        assert_eq!(top.map(|(v, _)| v), [0.9, 0.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn box_mask_limits_the_keypoint_search() {
        let mut m = Heads::new();
        // Box rows [2, 6), columns [2, 6); every keypoint regressed to (6, 4).
        m.instance((4, 4), 0.9, |_| (6, 4), (4.0, 4.0));
        m.set(HEATMAP_CHANNEL, 4, 4, 0.3);
        // Stronger and closer to the regressed point, but outside the box (y < ymax fails).
        m.set(HEATMAP_CHANNEL, 6, 4, 1.0);
        m.set(HEATMAP_CHANNEL, 7, 4, 1.0);
        let (rows, _) = m.rows();
        let denom = W as f32 * GAUSSIAN_SCALE;
        let want = 0.3 * libm::expf(-4.0 / denom);
        assert!(close(rows[0], 4.0 / H as f32) && close(rows[1], 4.0 / W as f32));
        assert!(close(rows[2], want), "{} vs {want}", rows[2]);
        // One keypoint above the floor? 0.3 · e^(−4/3.6) ≈ 0.099 is not: instance score 0.
        assert_eq!(rows[MOVENET_ROW - 1], 0.0);
    }

    #[test]
    fn empty_box_falls_back_to_cell_zero_scored_by_other_instances() {
        let mut m = Heads::new();
        // A: strongest centre, zero-size box, so its mask is empty.
        m.instance((6, 6), 0.9, |_| (6, 6), (0.0, 0.0));
        // B: covers cell (0, 0), where every keypoint heatmap is 0.4, regressed there.
        m.instance((1, 1), 0.5, |_| (0, 0), (4.0, 4.0));
        for k in 0..NUM_COCO_KEYPOINTS {
            m.set(HEATMAP_CHANNEL + k, 0, 0, 0.4);
            m.set(HEATMAP_CHANNEL + k, 6, 6, 1.0); // A's own point: masked out
        }
        let (rows, _) = m.rows();
        let (a, b) = (&rows[..MOVENET_ROW], &rows[MOVENET_ROW..2 * MOVENET_ROW]);
        for k in 0..NUM_COCO_KEYPOINTS {
            // A: ArgMax of an all-zero column is cell 0; its score is B's value there.
            assert_eq!((a[3 * k], a[3 * k + 1]), (0.0, 0.0));
            assert!(close(a[3 * k + 2], 0.4), "{}", a[3 * k + 2]);
            assert!(close(b[3 * k + 2], 0.4));
        }
        assert!(
            close(a[MOVENET_ROW - 1], 0.9 * 0.4),
            "{}",
            a[MOVENET_ROW - 1]
        );
        assert!(close(b[MOVENET_ROW - 1], 0.5 * 0.4));
        // A's box is a point at its centre: (6/12, 6/12) twice.
        assert!(a[51..55].iter().all(|&v| close(v, 0.5)), "{:?}", &a[51..55]);
    }

    #[test]
    fn layouts_give_the_same_rows() {
        let mut m = Heads::new();
        m.instance((4, 5), 0.8, figure, (10.0, 8.0));
        for k in 0..NUM_COCO_KEYPOINTS {
            let (ky, kx) = figure(k);
            m.set(HEATMAP_CHANNEL + k, ky, kx + 1, 0.7);
            m.set(OFFSET_CHANNEL + 2 * k, ky, kx + 1, 0.1 * k as f32);
        }
        let (chw_rows, _) = m.rows();
        let mut hwc = [0.0f32; N];
        for c in 0..MOVENET_HEADS_CHANNELS {
            for y in 0..H {
                for x in 0..W {
                    hwc[(y * W + x) * MOVENET_HEADS_CHANNELS + c] = m.data[(c * H + y) * W + x];
                }
            }
        }
        let view = MapView::new(&hwc, MOVENET_HEADS_CHANNELS, H, W, Layout::Hwc).unwrap();
        let mut hwc_rows = [0.0f32; MOVENET_HEADS_OUTPUT];
        movenet_heads_rows(&view, &mut hwc_rows).unwrap();
        assert_eq!(chw_rows, hwc_rows);
        assert!(chw_rows[MOVENET_ROW - 1] > 0.2);
    }

    #[test]
    fn bad_maps_are_errors_and_non_finite_values_are_counted() {
        let mut rows = [0.0f32; MOVENET_HEADS_OUTPUT];
        let d = [0.0f32; 89 * 4];
        let v = MapView::new(&d, 89, 2, 2, Layout::Chw).unwrap();
        assert_eq!(
            movenet_heads_rows(&v, &mut rows),
            Err(MapError::WrongChannels {
                expected: MOVENET_HEADS_CHANNELS,
                got: 89
            })
        );
        let d = [0.0f32; MOVENET_HEADS_CHANNELS * 4];
        let v = MapView::new(&d, MOVENET_HEADS_CHANNELS, 2, 2, Layout::Chw).unwrap();
        assert!(matches!(
            movenet_heads_rows(&v, &mut rows),
            Err(MapError::BadGeometry(_))
        ));
        let d = [0.0f32; MOVENET_HEADS_CHANNELS * (MAX_MOVENET_GRID + 1)];
        let v = MapView::new(
            &d,
            MOVENET_HEADS_CHANNELS,
            1,
            MAX_MOVENET_GRID + 1,
            Layout::Chw,
        )
        .unwrap();
        assert!(matches!(
            movenet_heads_rows(&v, &mut rows),
            Err(MapError::BadGeometry(_))
        ));
        // NaN / Inf anywhere read as 0 and are counted; the rows stay finite.
        let mut m = Heads::new();
        m.instance((4, 5), 0.8, figure, (10.0, 10.0));
        m.set(CENTRE_CHANNEL, 0, 0, f32::NAN);
        m.set(HEATMAP_CHANNEL + 3, 4, 4, f32::INFINITY);
        m.set(BOX_SCALE_CHANNEL, 4, 5, f32::NAN);
        let (rows, non_finite) = m.rows();
        assert_eq!(non_finite, 3);
        assert!(rows.iter().all(|v| v.is_finite()));
        let (p, s) = decode_movenet_heads(
            &m.view(),
            48.0,
            48.0,
            &Letterbox::IDENTITY,
            &SingleStageConfig::default(),
        )
        .unwrap();
        assert_eq!(s.non_finite, 3);
        assert!(p.is_empty(), "no keypoint scores: {p:?}");
    }
}
