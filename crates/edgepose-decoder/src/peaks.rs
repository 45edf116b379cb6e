//! Keypoint peaks at network resolution: 3x3 non-maximum suppression, threshold, sub-pixel
//! refinement, fixed capacity per keypoint type.

use crate::map::{Geometry, MapView};

/// Most peaks kept per keypoint type; the weakest are dropped (and counted) beyond it.
/// 32 also lets the matcher track used peaks in a `u32` bit set.
pub const MAX_PEAKS_PER_TYPE: usize = 32;

/// One keypoint candidate.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Peak {
    /// Refined position in output cells (for sampling the maps).
    pub cx: f32,
    pub cy: f32,
    /// Position in source-image pixels (for lengths and output).
    pub x: f32,
    pub y: f32,
    /// Map value at the peak cell.
    pub score: f32,
    /// Row-major cell index, to keep the reference's peak order.
    pub pos: u32,
}

/// Peaks of one keypoint type.
pub type PeakList = heapless::Vec<Peak, MAX_PEAKS_PER_TYPE>;

/// Sub-pixel offset in (-0.5, 0.5) of a 1-D maximum from its two neighbours.
///
/// Fits a Gaussian (a parabola through the logarithms) when all three values are positive,
/// which is exact for the Gaussian targets these networks are trained on; otherwise fits a
/// parabola through the raw values. Returns 0 when the three values are not strictly concave.
pub fn subpixel_offset(left: f32, centre: f32, right: f32) -> f32 {
    let (l, c, r) = if left > 0.0 && centre > 0.0 && right > 0.0 {
        (libm::logf(left), libm::logf(centre), libm::logf(right))
    } else {
        (left, centre, right)
    };
    let denom = l - 2.0 * c + r;
    if !(denom < 0.0) {
        return 0.0;
    }
    let d = 0.5 * (l - r) / denom;
    if d.is_finite() {
        d.clamp(-0.5, 0.5)
    } else {
        0.0
    }
}

/// Finds the peaks of channel `channel` into `out`; returns how many were dropped for lack
/// of capacity (the strongest are kept, in row-major order).
///
/// A cell is a peak when it is ≥ `threshold`, ≥ all its 8 neighbours, and strictly greater
/// than the 4 neighbours that precede it in row-major order: a plateau of equal maxima then
/// yields its first cell only instead of one peak per cell.
pub fn find_peaks(
    map: &MapView<'_>,
    channel: usize,
    threshold: f32,
    geom: &Geometry,
    out: &mut PeakList,
) -> u32 {
    out.clear();
    let (h, w) = (map.height(), map.width());
    let (base, step) = map.plane(channel);
    let plane = map.data().get(base..).unwrap_or(&[]);
    // Non-finite values read as 0; out-of-range reads (impossible for a checked view) too.
    let at = |y: usize, x: usize| -> f32 {
        match plane.get((y * w + x) * step) {
            Some(v) if v.is_finite() => *v,
            _ => 0.0,
        }
    };
    let mut dropped = 0u32;
    let mut sorted = true;
    for y in 0..h {
        let mut x = 0;
        while x < w {
            // Fast skip over a run of contiguous sub-threshold cells (the common case).
            if step == 1 && x + 8 <= w {
                let row = &plane[y * w + x..y * w + x + 8];
                if row.iter().all(|v| !(*v >= threshold)) && threshold > 0.0 {
                    x += 8;
                    continue;
                }
            }
            let v = at(y, x);
            if v >= threshold && is_peak(&at, h, w, y, x, v) {
                let left = if x > 0 { at(y, x - 1) } else { v };
                let right = if x + 1 < w { at(y, x + 1) } else { v };
                let up = if y > 0 { at(y - 1, x) } else { v };
                let down = if y + 1 < h { at(y + 1, x) } else { v };
                let cx = x as f32 + subpixel_offset(left, v, right);
                let cy = y as f32 + subpixel_offset(up, v, down);
                let (sx, sy) = geom.cell_to_source(cx, cy);
                let peak = Peak {
                    cx,
                    cy,
                    x: sx,
                    y: sy,
                    score: v,
                    pos: (y * w + x) as u32,
                };
                if out.push(peak).is_err() {
                    dropped = dropped.saturating_add(1);
                    // Replace the weakest (the latest of equals) when the new one is stronger.
                    let mut weakest = 0;
                    for (i, p) in out.iter().enumerate() {
                        if p.score <= out[weakest].score {
                            weakest = i;
                        }
                    }
                    if out[weakest].score < v {
                        out[weakest] = peak;
                        sorted = false;
                    }
                }
            }
            x += 1;
        }
    }
    if !sorted {
        out.sort_unstable_by_key(|p| p.pos);
    }
    dropped
}

/// `v` at (`y`, `x`) is ≥ all 8 neighbours and > those before it in row-major order.
#[inline]
fn is_peak(
    at: &impl Fn(usize, usize) -> f32,
    h: usize,
    w: usize,
    y: usize,
    x: usize,
    v: f32,
) -> bool {
    // Same-row neighbours first: they reject most cells of a slope cheaply.
    if (x > 0 && at(y, x - 1) >= v) || (x + 1 < w && at(y, x + 1) > v) {
        return false;
    }
    let x0 = x.saturating_sub(1);
    let x1 = (x + 1).min(w - 1);
    if y > 0 && (x0..=x1).any(|nx| at(y - 1, nx) >= v) {
        return false;
    }
    if y + 1 < h && (x0..=x1).any(|nx| at(y + 1, nx) > v) {
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map::Layout;
    use crate::types::Letterbox;

    fn geom() -> Geometry {
        Geometry::simplepose(Letterbox::IDENTITY, 64.0, 64.0)
    }

    fn gaussian(w: usize, h: usize, mx: f32, my: f32, sigma: f32) -> impl Fn(usize, usize) -> f32 {
        let _ = (w, h);
        move |x, y| {
            let dx = x as f32 - mx;
            let dy = y as f32 - my;
            libm::expf(-(dx * dx + dy * dy) / (2.0 * sigma * sigma))
        }
    }

    #[test]
    fn subpixel_is_exact_on_gaussians() {
        for &mu in &[-0.4f32, -0.1, 0.0, 0.25, 0.45] {
            let g = |x: f32| libm::expf(-(x - mu) * (x - mu) / (2.0 * 1.75 * 1.75));
            let d = subpixel_offset(g(-1.0), g(0.0), g(1.0));
            assert!((d - mu).abs() < 1e-4, "mu {mu} got {d}");
        }
        assert_eq!(subpixel_offset(1.0, 1.0, 1.0), 0.0);
        assert_eq!(subpixel_offset(0.0, 0.0, 0.0), 0.0);
        assert_eq!(subpixel_offset(f32::NAN, 1.0, 0.5), 0.0);
        let d = subpixel_offset(-1.0, 0.5, 0.0);
        assert!(d > 0.0 && d <= 0.5);
    }

    #[test]
    fn finds_two_gaussians_with_subpixel_positions() {
        let (w, h) = (16, 12);
        let g1 = gaussian(w, h, 4.3, 3.8, 1.75);
        let g2 = gaussian(w, h, 11.6, 8.2, 1.75);
        let mut d = [0.0f32; 16 * 12];
        for y in 0..h {
            for x in 0..w {
                d[y * w + x] = g1(x, y).max(g2(x, y));
            }
        }
        let m = MapView::new(&d, 1, h, w, Layout::Chw).unwrap();
        let mut out = PeakList::new();
        assert_eq!(find_peaks(&m, 0, 0.1, &geom(), &mut out), 0);
        assert_eq!(out.len(), 2);
        assert!((out[0].cx - 4.3).abs() < 0.02 && (out[0].cy - 3.8).abs() < 0.02);
        assert!((out[1].cx - 11.6).abs() < 0.02 && (out[1].cy - 8.2).abs() < 0.02);
        // Source pixels: 4c + 1.5.
        assert!((out[0].x - (4.0 * out[0].cx + 1.5)).abs() < 1e-4);
        assert!(out[0].score > 0.9);
    }

    #[test]
    fn plateau_gives_one_peak() {
        let (w, h) = (8, 8);
        let mut d = [0.0f32; 64];
        for y in 2..5 {
            for x in 3..7 {
                d[y * w + x] = 0.5;
            }
        }
        let m = MapView::new(&d, 1, h, w, Layout::Chw).unwrap();
        let mut out = PeakList::new();
        find_peaks(&m, 0, 0.1, &geom(), &mut out);
        assert_eq!(out.len(), 1);
        let c = [0.7f32; 64];
        let m = MapView::new(&c, 1, h, w, Layout::Chw).unwrap();
        find_peaks(&m, 0, 0.1, &geom(), &mut out);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn threshold_and_border_peaks() {
        let mut d = [0.0f32; 9];
        d[0] = 0.05; // below threshold
        d[8] = 0.3; // corner peak
        let m = MapView::new(&d, 1, 3, 3, Layout::Chw).unwrap();
        let mut out = PeakList::new();
        find_peaks(&m, 0, 0.1, &geom(), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].pos, 8);
        assert!(out[0].cx.is_finite() && out[0].cy.is_finite());
    }

    #[test]
    fn overflow_keeps_strongest_in_row_major_order() {
        // Checkerboard of isolated maxima: every other cell on every other row.
        let (w, h) = (20, 20);
        let mut d = [0.0f32; 400];
        let mut n = 0;
        for y in (0..h).step_by(2) {
            for x in (0..w).step_by(2) {
                d[y * w + x] = 0.2 + 0.001 * n as f32;
                n += 1;
            }
        }
        let m = MapView::new(&d, 1, h, w, Layout::Chw).unwrap();
        let mut out = PeakList::new();
        let dropped = find_peaks(&m, 0, 0.1, &geom(), &mut out);
        assert_eq!(out.len(), MAX_PEAKS_PER_TYPE);
        assert_eq!(dropped as usize, n - MAX_PEAKS_PER_TYPE);
        let weakest_kept = out.iter().map(|p| p.score).fold(f32::MAX, f32::min);
        assert!((weakest_kept - (0.2 + 0.001 * (n - MAX_PEAKS_PER_TYPE) as f32)).abs() < 1e-5);
        assert!(out.windows(2).all(|p| p[0].pos < p[1].pos));
    }
}
