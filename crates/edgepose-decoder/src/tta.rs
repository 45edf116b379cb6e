//! Test-time augmentation (TTA) map operations for the heatmap families: bring the outputs of
//! a flipped and/or rescaled pass onto the base pass's output grid and average them there,
//! before decoding.
//!
//! Every pass is described by an affine map from a *base* grid cell to a (fractional) cell of
//! the pass's own output ([`AxisMap`], one per axis). A horizontal flip is the map
//! `u = axis − c`; a pass at another input size is `u = a·c + b` with `a`, `b` from the two
//! letterboxes. Values are read bilinearly, so when the map hits cell centres exactly (the
//! identity, or a flip of an input whose width is a multiple of the stride with the
//! conventional `offset = (stride − 1) / 2`) the result is an exact copy, not a blur.
//!
//! Flipped passes also permute channels (left ↔ right keypoints, body parts, limbs) and, for
//! part affinity fields, negate the x component (the vector field is mirrored). All
//! functions work on caller-provided buffers and allocate nothing.

use crate::map::{Layout, MapError, MapView};
use crate::skeleton::{
    NUM_KEYPOINTS_18, OPENPOSE_LIMBS, OPENPOSE_NUM_CHANNELS, OPENPOSE_NUM_LIMBS,
    OPENPOSE_PAF_CHANNELS, OPENPOSE_PAF_OFFSET, SIMPLEPOSE_FLIP_KEYPOINTS, SIMPLEPOSE_FLIP_PARTS,
    SIMPLEPOSE_KEYPOINT_OFFSET, SIMPLEPOSE_NUM_PARTS,
};

/// How far (in source cells) outside a pass's grid a sample may fall and still be read (clamped
/// to the border): half a cell, the area the border cell itself covers. Farther samples carry
/// no information from that pass and are left out of the average for that cell.
pub const EDGE_MARGIN_CELLS: f32 = 0.5;

/// Which channel table a flipped pass is permuted with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlipFamily {
    /// Simple Pose: 30 body-part maps, then 18 keypoints + 2 extra channels.
    SimplePose,
    /// OpenPose / tf-pose: 18 keypoint heatmaps + background, then 19 (x, y) PAF pairs.
    OpenPose,
}

/// Where channel `dst` of the un-flipped map comes from in a flipped pass's output, and the
/// sign to apply (−1 for the x component of a mirrored PAF). Channels beyond the family's
/// tables map to themselves.
pub fn flip_source(family: FlipFamily, dst: usize) -> (usize, f32) {
    match family {
        FlipFamily::SimplePose => {
            if dst < SIMPLEPOSE_NUM_PARTS {
                (SIMPLEPOSE_FLIP_PARTS[dst] as usize, 1.0)
            } else if let Some(&k) = SIMPLEPOSE_FLIP_KEYPOINTS.get(dst - SIMPLEPOSE_KEYPOINT_OFFSET)
            {
                (SIMPLEPOSE_KEYPOINT_OFFSET + k as usize, 1.0)
            } else {
                (dst, 1.0)
            }
        }
        FlipFamily::OpenPose => {
            if dst < NUM_KEYPOINTS_18 {
                (SIMPLEPOSE_FLIP_KEYPOINTS[dst] as usize, 1.0)
            } else if (OPENPOSE_PAF_OFFSET..OPENPOSE_NUM_CHANNELS).contains(&dst) {
                openpose_paf_source(dst - OPENPOSE_PAF_OFFSET).unwrap_or((dst, 1.0))
            } else {
                (dst, 1.0)
            }
        }
    }
}

/// The mirrored limb of OpenPose limb `limb`, and whether it runs the other way round
/// (then the whole vector reverses).
fn openpose_flipped_limb(limb: usize) -> Option<(usize, bool)> {
    let &(a, b) = OPENPOSE_LIMBS.get(limb)?;
    let fa = SIMPLEPOSE_FLIP_KEYPOINTS[a as usize];
    let fb = SIMPLEPOSE_FLIP_KEYPOINTS[b as usize];
    OPENPOSE_LIMBS.iter().enumerate().find_map(|(j, &(x, y))| {
        if (x, y) == (fa, fb) {
            Some((j, false))
        } else if (x, y) == (fb, fa) {
            Some((j, true))
        } else {
            None
        }
    })
}

/// Source channel and sign of PAF-block channel `rel` (relative to the PAF offset).
fn openpose_paf_source(rel: usize) -> Option<(usize, f32)> {
    let (limb, is_x) = (0..OPENPOSE_NUM_LIMBS).find_map(|l| {
        let (x, y) = OPENPOSE_PAF_CHANNELS[l];
        if x as usize == rel {
            Some((l, true))
        } else if y as usize == rel {
            Some((l, false))
        } else {
            None
        }
    })?;
    let (src_limb, reversed) = openpose_flipped_limb(limb)?;
    let (sx, sy) = OPENPOSE_PAF_CHANNELS[src_limb];
    // Mirroring negates x; a reversed limb additionally negates the whole vector.
    let flip_sign = if reversed { -1.0 } else { 1.0 };
    Some(if is_x {
        (OPENPOSE_PAF_OFFSET + sx as usize, -flip_sign)
    } else {
        (OPENPOSE_PAF_OFFSET + sy as usize, flip_sign)
    })
}

/// One axis of the base-grid → pass-grid map: base cell `c` reads the pass's output at
/// fractional cell `scale · c + offset`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AxisMap {
    pub scale: f32,
    pub offset: f32,
}

impl AxisMap {
    /// Same grid.
    pub const IDENTITY: AxisMap = AxisMap {
        scale: 1.0,
        offset: 0.0,
    };

    /// The map of a pass whose input was letterboxed with (`pass_scale`, `pass_pad`) while the
    /// base pass used (`base_scale`, `base_pad`); both outputs have cell `c` at input pixel
    /// `stride · c + cell_offset`. Exact: base cell → base input → source → pass input → cell.
    pub fn between_letterboxes(
        base_scale: f32,
        base_pad: f32,
        pass_scale: f32,
        pass_pad: f32,
        stride: f32,
        cell_offset: f32,
    ) -> AxisMap {
        let r = pass_scale / base_scale;
        AxisMap {
            scale: r,
            offset: ((cell_offset - base_pad) * r + pass_pad - cell_offset) / stride,
        }
    }

    /// This map followed by a horizontal mirror of the pass's *input* of width `input_size`
    /// pixels (pixel `x` ↔ `input_size − 1 − x`): its output cell `u` ↔ `axis − u` with
    /// `axis = (input_size − 1 − 2·cell_offset) / stride`.
    pub fn mirrored(self, input_size: f32, stride: f32, cell_offset: f32) -> AxisMap {
        let axis = (input_size - 1.0 - 2.0 * cell_offset) / stride;
        AxisMap {
            scale: -self.scale,
            offset: axis - self.offset,
        }
    }

    fn is_valid(&self) -> bool {
        self.scale.is_finite() && self.offset.is_finite()
    }
}

/// The base grid the passes are averaged on: `sum` holds channel × cell values in `layout`,
/// `weight` one count per cell (how many passes covered it).
pub struct Accumulator<'a> {
    pub sum: &'a mut [f32],
    pub weight: &'a mut [f32],
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub layout: Layout,
}

impl Accumulator<'_> {
    fn check(&self) -> Result<(), MapError> {
        if self.channels == 0 || self.height == 0 || self.width == 0 {
            return Err(MapError::EmptyDimension);
        }
        let cells = self
            .height
            .checked_mul(self.width)
            .ok_or(MapError::TooLarge)?;
        let expected = cells.checked_mul(self.channels).ok_or(MapError::TooLarge)?;
        if self.sum.len() != expected {
            return Err(MapError::WrongLength {
                expected,
                got: self.sum.len(),
            });
        }
        if self.weight.len() != cells {
            return Err(MapError::WrongLength {
                expected: cells,
                got: self.weight.len(),
            });
        }
        Ok(())
    }

    #[inline]
    fn index(&self, c: usize, y: usize, x: usize) -> usize {
        match self.layout {
            Layout::Chw => (c * self.height + y) * self.width + x,
            Layout::Hwc => (y * self.width + x) * self.channels + c,
        }
    }

    /// Zeroes sums and weights (start of a frame).
    pub fn clear(&mut self) {
        self.sum.fill(0.0);
        self.weight.fill(0.0);
    }

    /// Adds one pass: base cell (y, x) receives `src` read bilinearly at
    /// (`ymap(y)`, `xmap(x)`); with `flip`, channel `c` reads channel [`flip_source`]`(c)`
    /// with its sign. `src` must have the accumulator's channel count.
    pub fn add(
        &mut self,
        src: &MapView<'_>,
        xmap: AxisMap,
        ymap: AxisMap,
        flip: Option<FlipFamily>,
    ) -> Result<(), MapError> {
        self.check()?;
        if src.channels() != self.channels {
            return Err(MapError::WrongChannels {
                expected: self.channels,
                got: src.channels(),
            });
        }
        if !xmap.is_valid() || !ymap.is_valid() {
            return Err(MapError::BadGeometry("TTA axis map must be finite"));
        }
        for y in 0..self.height {
            let Some(sy) = Sample::at(ymap.scale * y as f32 + ymap.offset, src.height()) else {
                continue;
            };
            for x in 0..self.width {
                let Some(sx) = Sample::at(xmap.scale * x as f32 + xmap.offset, src.width()) else {
                    continue;
                };
                for c in 0..self.channels {
                    let (sc, sign) = match flip {
                        Some(f) => flip_source(f, c),
                        None => (c, 1.0),
                    };
                    let v = sign * bilinear(src, sc, &sy, &sx);
                    let i = self.index(c, y, x);
                    self.sum[i] += v;
                }
                self.weight[y * self.width + x] += 1.0;
            }
        }
        Ok(())
    }

    /// Turns sums into means in place (cells no pass covered become 0).
    pub fn finish(&mut self) -> Result<(), MapError> {
        self.check()?;
        for y in 0..self.height {
            for x in 0..self.width {
                let w = self.weight[y * self.width + x];
                let inv = if w > 0.0 { 1.0 / w } else { 0.0 };
                for c in 0..self.channels {
                    let i = self.index(c, y, x);
                    self.sum[i] *= inv;
                }
            }
        }
        Ok(())
    }
}

/// Two neighbouring cells along one axis and the weight of the second.
struct Sample {
    i0: usize,
    i1: usize,
    t: f32,
}

impl Sample {
    fn at(u: f32, n: usize) -> Option<Sample> {
        let last = n.checked_sub(1)? as f32;
        if !(u >= -EDGE_MARGIN_CELLS && u <= last + EDGE_MARGIN_CELLS) {
            return None;
        }
        let u = u.clamp(0.0, last);
        let f = libm::floorf(u);
        let i0 = f as usize;
        Some(Sample {
            i0,
            i1: (i0 + 1).min(n - 1),
            t: u - f,
        })
    }
}

#[inline]
fn bilinear(src: &MapView<'_>, c: usize, sy: &Sample, sx: &Sample) -> f32 {
    let row = |yy: usize| {
        let a = src.get(c, yy, sx.i0);
        if sx.t == 0.0 {
            a
        } else {
            a + (src.get(c, yy, sx.i1) - a) * sx.t
        }
    };
    let top = row(sy.i0);
    if sy.t == 0.0 {
        top
    } else {
        top + (row(sy.i1) - top) * sy.t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: usize = 5;
    const W: usize = 6;

    fn ramp(c: usize) -> [f32; 57 * H * W] {
        let mut d = [0.0f32; 57 * H * W];
        for (i, v) in d.iter_mut().enumerate().take(c * H * W) {
            *v = (i % 97) as f32 * 0.25 - 3.0;
        }
        d
    }

    #[test]
    fn flip_tables_are_involutions_with_consistent_signs() {
        for fam in [FlipFamily::SimplePose, FlipFamily::OpenPose] {
            for c in 0..57 {
                let (s, sign) = flip_source(fam, c);
                let (back, sign2) = flip_source(fam, s);
                assert_eq!(back, c, "{fam:?} channel {c}");
                assert_eq!(sign * sign2, 1.0, "{fam:?} channel {c}");
            }
        }
    }

    #[test]
    fn openpose_paf_x_is_negated_y_kept() {
        // Limb 0 is neck→right shoulder; its mirror is limb 1 neck→left shoulder.
        let (x0, y0) = OPENPOSE_PAF_CHANNELS[0];
        let (x1, y1) = OPENPOSE_PAF_CHANNELS[1];
        let off = OPENPOSE_PAF_OFFSET;
        assert_eq!(
            flip_source(FlipFamily::OpenPose, off + x0 as usize),
            (off + x1 as usize, -1.0)
        );
        assert_eq!(
            flip_source(FlipFamily::OpenPose, off + y0 as usize),
            (off + y1 as usize, 1.0)
        );
        // Heatmaps: right shoulder (2) ↔ left shoulder (5); background (18) stays.
        assert_eq!(flip_source(FlipFamily::OpenPose, 2), (5, 1.0));
        assert_eq!(flip_source(FlipFamily::OpenPose, 18), (18, 1.0));
    }

    #[test]
    fn identity_pass_is_an_exact_copy() {
        let data = ramp(3);
        let n = 3 * H * W;
        let src = MapView::new(&data[..n], 3, H, W, Layout::Hwc).unwrap();
        let mut sum = [0.0f32; 3 * H * W];
        let mut weight = [0.0f32; H * W];
        let mut acc = Accumulator {
            sum: &mut sum,
            weight: &mut weight,
            channels: 3,
            height: H,
            width: W,
            layout: Layout::Hwc,
        };
        acc.add(&src, AxisMap::IDENTITY, AxisMap::IDENTITY, None)
            .unwrap();
        acc.add(&src, AxisMap::IDENTITY, AxisMap::IDENTITY, None)
            .unwrap();
        acc.finish().unwrap();
        assert_eq!(&sum[..], &data[..n]);
    }

    #[test]
    fn mirror_reads_reversed_columns_with_permutation() {
        // stride 8, offset 3.5, input width 8·W: the mirror axis is W − 1 exactly.
        let data = ramp(57);
        let src = MapView::new(&data, 57, H, W, Layout::Chw).unwrap();
        let xmap = AxisMap::IDENTITY.mirrored((8 * W) as f32, 8.0, 3.5);
        assert_eq!(
            xmap,
            AxisMap {
                scale: -1.0,
                offset: (W - 1) as f32
            }
        );
        let mut sum = [0.0f32; 57 * H * W];
        let mut weight = [0.0f32; H * W];
        let mut acc = Accumulator {
            sum: &mut sum,
            weight: &mut weight,
            channels: 57,
            height: H,
            width: W,
            layout: Layout::Chw,
        };
        acc.add(&src, xmap, AxisMap::IDENTITY, Some(FlipFamily::OpenPose))
            .unwrap();
        acc.finish().unwrap();
        for c in 0..57 {
            let (sc, sign) = flip_source(FlipFamily::OpenPose, c);
            for y in 0..H {
                for x in 0..W {
                    let got = sum[(c * H + y) * W + x];
                    assert_eq!(got, sign * src.get(sc, y, W - 1 - x), "c{c} y{y} x{x}");
                }
            }
        }
    }

    #[test]
    fn resampling_a_linear_map_is_exact_and_edges_are_left_out() {
        // A map linear in x and y is reproduced exactly by bilinear reads at any position.
        const SH: usize = 8;
        const SW: usize = 10;
        let mut data = [0.0f32; SH * SW];
        for y in 0..SH {
            for x in 0..SW {
                data[y * SW + x] = 2.0 * x as f32 + 0.5 * y as f32;
            }
        }
        let src = MapView::new(&data, 1, SH, SW, Layout::Chw).unwrap();
        // Base 4x4 grid at half the resolution, shifted by 0.25 cells; plus cells off the edge.
        let xmap = AxisMap {
            scale: 2.0,
            offset: 0.25,
        };
        let ymap = AxisMap {
            scale: 2.5,
            offset: 0.0,
        };
        let mut sum = [0.0f32; 16];
        let mut weight = [0.0f32; 16];
        let mut acc = Accumulator {
            sum: &mut sum,
            weight: &mut weight,
            channels: 1,
            height: 4,
            width: 4,
            layout: Layout::Chw,
        };
        acc.add(&src, xmap, ymap, None).unwrap();
        acc.finish().unwrap();
        for y in 0..4 {
            for x in 0..4 {
                let (u, v) = (2.0 * x as f32 + 0.25, 2.5 * y as f32);
                let i = y * 4 + x;
                if v > (SH - 1) as f32 + EDGE_MARGIN_CELLS {
                    assert_eq!(weight[i], 0.0);
                    assert_eq!(sum[i], 0.0);
                } else {
                    let expect = 2.0 * u + 0.5 * v.min((SH - 1) as f32);
                    assert!((sum[i] - expect).abs() < 1e-4, "{y},{x}: {}", sum[i]);
                }
            }
        }
    }

    #[test]
    fn between_letterboxes_maps_cells_through_the_source() {
        // Base: scale 0.5, pad 10; pass: scale 1.0, pad 4; stride 8, offset 3.5.
        let m = AxisMap::between_letterboxes(0.5, 10.0, 1.0, 4.0, 8.0, 3.5);
        for c in 0..10 {
            let base_in = 8.0 * c as f32 + 3.5;
            let src = (base_in - 10.0) / 0.5;
            let pass_in = src * 1.0 + 4.0;
            let u = (pass_in - 3.5) / 8.0;
            assert!((m.scale * c as f32 + m.offset - u).abs() < 1e-4);
        }
    }

    #[test]
    fn rejects_mismatched_buffers() {
        let data = ramp(2);
        let src = MapView::new(&data[..2 * H * W], 2, H, W, Layout::Chw).unwrap();
        let mut sum = [0.0f32; 3 * H * W];
        let mut weight = [0.0f32; H * W];
        let mut acc = Accumulator {
            sum: &mut sum,
            weight: &mut weight,
            channels: 3,
            height: H,
            width: W,
            layout: Layout::Chw,
        };
        assert!(matches!(
            acc.add(&src, AxisMap::IDENTITY, AxisMap::IDENTITY, None),
            Err(MapError::WrongChannels { .. })
        ));
        let mut short = [0.0f32; 3];
        let mut acc = Accumulator {
            sum: &mut short,
            weight: &mut weight,
            channels: 3,
            height: H,
            width: W,
            layout: Layout::Chw,
        };
        assert!(matches!(acc.finish(), Err(MapError::WrongLength { .. })));
        let mut acc = Accumulator {
            sum: &mut sum,
            weight: &mut weight,
            channels: 3,
            height: H,
            width: W,
            layout: Layout::Chw,
        };
        let nan = AxisMap {
            scale: f32::NAN,
            offset: 0.0,
        };
        assert!(acc.add(&src, nan, AxisMap::IDENTITY, None).is_err());
    }
}
