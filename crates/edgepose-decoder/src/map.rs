//! Borrowed views over network output and the geometry that maps output cells to image pixels.

use crate::types::Letterbox;

/// Memory layout of a 3-D network output (no batch dimension).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Channel-major `(C, H, W)`, as PyTorch / ONNX-from-PyTorch models produce.
    Chw,
    /// Channel-minor `(H, W, C)`, as TensorFlow models (tf-pose) produce.
    Hwc,
}

/// Why a map view or a geometry was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// A dimension is zero.
    EmptyDimension,
    /// `channels * height * width` overflows `usize`.
    TooLarge,
    /// The slice length does not match `channels * height * width`.
    WrongLength { expected: usize, got: usize },
    /// The model family needs a different number of channels.
    WrongChannels { expected: usize, got: usize },
    /// A geometry parameter is not finite or not positive.
    BadGeometry(&'static str),
}

impl core::fmt::Display for MapError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            MapError::EmptyDimension => write!(f, "map has a zero dimension"),
            MapError::TooLarge => write!(f, "map dimensions overflow"),
            MapError::WrongLength { expected, got } => {
                write!(f, "map data has {got} values, expected {expected}")
            }
            MapError::WrongChannels { expected, got } => {
                write!(f, "map has {got} channels, expected {expected}")
            }
            MapError::BadGeometry(what) => write!(f, "invalid geometry: {what}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for MapError {}

/// A borrowed, zero-copy view of one network output at network resolution.
///
/// Reads through [`MapView::get`] turn NaN/Inf into 0, so downstream arithmetic never sees a
/// non-finite value.
#[derive(Clone, Copy, Debug)]
pub struct MapView<'a> {
    data: &'a [f32],
    channels: usize,
    height: usize,
    width: usize,
    layout: Layout,
}

impl<'a> MapView<'a> {
    /// Checked constructor: the slice must hold exactly `channels * height * width` values.
    pub fn new(
        data: &'a [f32],
        channels: usize,
        height: usize,
        width: usize,
        layout: Layout,
    ) -> Result<Self, MapError> {
        if channels == 0 || height == 0 || width == 0 {
            return Err(MapError::EmptyDimension);
        }
        let expected = channels
            .checked_mul(height)
            .and_then(|v| v.checked_mul(width))
            .ok_or(MapError::TooLarge)?;
        // Cell indices are stored in u32 in the workspace.
        if height.saturating_mul(width) > u32::MAX as usize {
            return Err(MapError::TooLarge);
        }
        if data.len() != expected {
            return Err(MapError::WrongLength {
                expected,
                got: data.len(),
            });
        }
        Ok(MapView {
            data,
            channels,
            height,
            width,
            layout,
        })
    }

    pub fn channels(&self) -> usize {
        self.channels
    }
    pub fn height(&self) -> usize {
        self.height
    }
    pub fn width(&self) -> usize {
        self.width
    }
    pub fn layout(&self) -> Layout {
        self.layout
    }
    pub fn data(&self) -> &'a [f32] {
        self.data
    }

    /// Value at channel `c`, row `y`, column `x`; non-finite values and out-of-range indices
    /// read as 0 (never a panic).
    #[inline]
    pub fn get(&self, c: usize, y: usize, x: usize) -> f32 {
        let idx = match self.layout {
            Layout::Chw => (c * self.height + y) * self.width + x,
            Layout::Hwc => (y * self.width + x) * self.channels + c,
        };
        match self.data.get(idx) {
            Some(v) if v.is_finite() => *v,
            _ => 0.0,
        }
    }

    /// Bilinear sample of channel `c` at fractional cell position (`x`, `y`), clamped to the
    /// map: body parts are scored at network resolution instead of on upsampled maps.
    #[inline]
    pub fn bilinear(&self, c: usize, x: f32, y: f32) -> f32 {
        let (base, step) = self.plane(c);
        self.bilinear_in(base, step, x, y)
    }

    /// [`MapView::bilinear`] with the channel's plane already resolved (hot loops).
    #[inline]
    pub(crate) fn bilinear_in(&self, base: usize, step: usize, x: f32, y: f32) -> f32 {
        let at = |yy: usize, xx: usize| match self.data.get(base + (yy * self.width + xx) * step) {
            Some(v) if v.is_finite() => *v,
            _ => 0.0,
        };
        let max_x = (self.width - 1) as f32;
        let max_y = (self.height - 1) as f32;
        // `clamp` would propagate NaN; `max`/`min` map NaN to the bound.
        let x = x.max(0.0).min(max_x);
        let y = y.max(0.0).min(max_y);
        let x0 = x as usize; // floor for non-negative values
        let y0 = y as usize;
        let x1 = (x0 + 1).min(self.width - 1);
        let y1 = (y0 + 1).min(self.height - 1);
        let fx = x - x0 as f32;
        let fy = y - y0 as f32;
        let top = at(y0, x0) * (1.0 - fx) + at(y0, x1) * fx;
        let bottom = at(y1, x0) * (1.0 - fx) + at(y1, x1) * fx;
        top * (1.0 - fy) + bottom * fy
    }

    /// Number of NaN/Inf values in the whole view.
    pub fn count_non_finite(&self) -> u32 {
        // Exponent bits all ones = NaN or ±Inf; a branch-free sum vectorises well.
        const EXP: u32 = 0x7f80_0000;
        let n: u64 = self
            .data
            .chunks(1024)
            .map(|c| {
                c.iter()
                    .map(|v| u32::from(v.to_bits() & EXP == EXP))
                    .sum::<u32>() as u64
            })
            .sum();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Flat index of (`c`, 0, 0) and the distance between horizontally adjacent cells.
    #[inline]
    pub(crate) fn plane(&self, c: usize) -> (usize, usize) {
        match self.layout {
            Layout::Chw => (c * self.height * self.width, 1),
            Layout::Hwc => (c, self.channels),
        }
    }
}

/// Where output cells lie in the source image.
///
/// Output cell `c` is centred on model-input pixel `stride * c + offset`; the letterbox then
/// maps model-input pixels to source-image pixels. Both supported families were trained with
/// targets evaluated at `stride / 2 - 0.5` (Simple Pose: 4c + 1.5, its §3 target generator;
/// OpenPose/tf-pose: 8c + 3.5, the Caffe data transformer's grid), which is also where an
/// align-corners=false upsampling puts the cell centre.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Geometry {
    pub stride: f32,
    pub offset: f32,
    pub letterbox: Letterbox,
    /// Source-image width in pixels.
    pub image_width: f32,
    /// Source-image height in pixels (the reference's length prior is relative to it).
    pub image_height: f32,
}

impl Geometry {
    /// Stride-4 Simple Pose output.
    pub fn simplepose(letterbox: Letterbox, image_width: f32, image_height: f32) -> Self {
        Self::with_stride(4.0, letterbox, image_width, image_height)
    }

    /// Stride-8 OpenPose / tf-pose output.
    pub fn tfpose(letterbox: Letterbox, image_width: f32, image_height: f32) -> Self {
        Self::with_stride(8.0, letterbox, image_width, image_height)
    }

    /// Any stride, with the cell-centre offset `stride / 2 - 0.5`.
    pub fn with_stride(
        stride: f32,
        letterbox: Letterbox,
        image_width: f32,
        image_height: f32,
    ) -> Self {
        Geometry {
            stride,
            offset: stride / 2.0 - 0.5,
            letterbox,
            image_width,
            image_height,
        }
    }

    /// Rejects parameters that would produce non-finite coordinates.
    pub fn validate(&self) -> Result<(), MapError> {
        let pos = |v: f32| v.is_finite() && v > 0.0;
        if !pos(self.stride) {
            return Err(MapError::BadGeometry("stride must be finite and > 0"));
        }
        if !self.offset.is_finite() {
            return Err(MapError::BadGeometry("offset must be finite"));
        }
        if !pos(self.letterbox.scale) {
            return Err(MapError::BadGeometry(
                "letterbox scale must be finite and > 0",
            ));
        }
        if !self.letterbox.pad_x.is_finite() || !self.letterbox.pad_y.is_finite() {
            return Err(MapError::BadGeometry("letterbox padding must be finite"));
        }
        if !pos(self.image_width) || !pos(self.image_height) {
            return Err(MapError::BadGeometry("image size must be finite and > 0"));
        }
        Ok(())
    }

    /// Source-image pixel of fractional output cell (`cx`, `cy`).
    #[inline]
    pub fn cell_to_source(&self, cx: f32, cy: f32) -> (f32, f32) {
        self.letterbox.to_source(
            self.stride * cx + self.offset,
            self.stride * cy + self.offset,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructor_checks_length() {
        let d = [0.0f32; 12];
        assert!(MapView::new(&d, 3, 2, 2, Layout::Chw).is_ok());
        assert_eq!(
            MapView::new(&d, 3, 2, 3, Layout::Chw).err(),
            Some(MapError::WrongLength {
                expected: 18,
                got: 12
            })
        );
        assert_eq!(
            MapView::new(&d, 0, 2, 3, Layout::Chw).err(),
            Some(MapError::EmptyDimension)
        );
        assert_eq!(
            MapView::new(&d, usize::MAX, 2, 3, Layout::Chw).err(),
            Some(MapError::TooLarge)
        );
    }

    #[test]
    fn layouts_address_the_same_element() {
        // value = 100c + 10y + x
        let (c, h, w) = (3, 2, 4);
        let mut chw = [0.0f32; 24];
        let mut hwc = [0.0f32; 24];
        for ci in 0..c {
            for y in 0..h {
                for x in 0..w {
                    let v = (100 * ci + 10 * y + x) as f32;
                    chw[(ci * h + y) * w + x] = v;
                    hwc[(y * w + x) * c + ci] = v;
                }
            }
        }
        let a = MapView::new(&chw, c, h, w, Layout::Chw).unwrap();
        let b = MapView::new(&hwc, c, h, w, Layout::Hwc).unwrap();
        for ci in 0..c {
            for y in 0..h {
                for x in 0..w {
                    assert_eq!(a.get(ci, y, x), b.get(ci, y, x));
                    assert_eq!(a.get(ci, y, x), (100 * ci + 10 * y + x) as f32);
                }
            }
        }
    }

    #[test]
    fn bilinear_interpolates_and_clamps() {
        let d = [0.0f32, 1.0, 2.0, 3.0]; // 1x2x2: row0 = 0 1, row1 = 2 3
        let m = MapView::new(&d, 1, 2, 2, Layout::Chw).unwrap();
        assert!((m.bilinear(0, 0.5, 0.5) - 1.5).abs() < 1e-6);
        assert!((m.bilinear(0, 0.25, 0.0) - 0.25).abs() < 1e-6);
        assert_eq!(m.bilinear(0, -5.0, -5.0), 0.0);
        assert_eq!(m.bilinear(0, 9.0, 9.0), 3.0);
        assert_eq!(m.bilinear(0, f32::NAN, f32::NAN), 0.0);
    }

    #[test]
    fn non_finite_reads_as_zero() {
        let d = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1.0];
        let m = MapView::new(&d, 1, 2, 2, Layout::Chw).unwrap();
        assert_eq!(m.get(0, 0, 0), 0.0);
        assert_eq!(m.get(0, 0, 1), 0.0);
        assert_eq!(m.count_non_finite(), 3);
        assert!(m.bilinear(0, 0.5, 0.5).is_finite());
    }

    #[test]
    fn geometry_maps_cells_and_validates() {
        let g = Geometry::simplepose(Letterbox::IDENTITY, 512.0, 512.0);
        assert_eq!(g.cell_to_source(0.0, 10.0), (1.5, 41.5));
        let t = Geometry::tfpose(
            Letterbox {
                scale: 0.5,
                pad_x: 4.0,
                pad_y: 0.0,
            },
            100.0,
            100.0,
        );
        assert_eq!(t.cell_to_source(1.0, 0.0), ((11.5 - 4.0) / 0.5, 3.5 / 0.5));
        assert!(g.validate().is_ok());
        let mut bad = g;
        bad.letterbox.scale = 0.0;
        assert!(bad.validate().is_err());
        bad = g;
        bad.image_height = f32::NAN;
        assert!(bad.validate().is_err());
    }
}
