//! Test-time augmentation for the heatmap families: extra inference passes (mirrored input,
//! other input scales) whose outputs are averaged on the base pass's output grid before the
//! one decode.
//!
//! Design (exactness): every scale runs at its *own* input size (`scale ×` the base size,
//! rounded up to the card's `multiple_of`) through its own backend, so the picture is never
//! cropped and the network sees exactly what a single-scale run at that size would see. Its
//! output is then resampled bilinearly onto the base grid through the exact affine map
//! base cell → base input pixel → source pixel → pass input pixel → pass cell (see
//! [`edgepose_decoder::tta::AxisMap`]); the letterbox of the *base* pass is the one the
//! decoder uses, so the source mapping stays exactly that of a single pass. A mirrored pass
//! mirrors the pre-processed input tensor in place (pixel `x ↔ W − 1 − x`), so it shares the
//! pass's letterbox; for inputs that are a multiple of the stride with
//! `offset = (stride − 1) / 2` (tf-pose, Simple Pose) its cells land exactly on base cells.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use image::RgbImage;

use crate::decoder::tta::{Accumulator, AxisMap, FlipFamily};
use crate::decoder::{Letterbox, MapView};
use crate::infer::backend::{self, Backend, BackendConfig, InputBuffer};
use crate::infer::decode::MapDims;
use crate::infer::model::{validate_scales, Family, ModelCard, TensorLayout};
use crate::infer::preprocess::Preprocessor;

/// Which passes to run; the card's `[tta]` table, optionally overridden.
#[derive(Clone, Debug, PartialEq)]
pub struct TtaSettings {
    pub flip: bool,
    pub scales: Vec<f32>,
}

impl TtaSettings {
    /// The card's `[tta]` table (off when absent).
    pub fn from_card(card: &ModelCard) -> TtaSettings {
        TtaSettings {
            flip: card.tta.flip,
            scales: card.tta.scales.clone(),
        }
    }

    /// Replaces the parts given (configuration keys or command-line flags).
    pub fn with_overrides(mut self, flip: Option<bool>, scales: Option<&[f32]>) -> TtaSettings {
        if let Some(f) = flip {
            self.flip = f;
        }
        if let Some(s) = scales {
            self.scales = s.to_vec();
        }
        self
    }

    /// Whether any pass beyond the plain one is asked for.
    pub fn is_active(&self) -> bool {
        self.flip || self.scales.iter().any(|&s| s != 1.0)
    }
}

/// Parses a comma-separated scale list ("1,1.5") for command-line flags.
pub fn parse_scales(text: &str) -> Result<Vec<f32>, String> {
    let scales = text
        .split(',')
        .map(|s| {
            s.trim()
                .parse::<f32>()
                .map_err(|e| format!("invalid scale '{}': {e}", s.trim()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    validate_scales(&scales)?;
    Ok(scales)
}

/// One extra input scale: its own backend and pre-processor.
struct ScalePass {
    backend: Box<dyn Backend>,
    preprocessor: Preprocessor,
    grid: Grid,
}

/// An output tensor's map dimensions ([`MapDims`], with TTA's error messages).
type Grid = MapDims;

fn grid_of(shape: &[usize], layout: TensorLayout) -> anyhow::Result<Grid> {
    MapDims::of(layout, shape).ok_or_else(|| {
        anyhow::anyhow!("TTA: output shape {shape:?} is not a rank 3/4 map with batch 1")
    })
}

fn grid_view<'a>(grid: &Grid, data: &'a [f32]) -> anyhow::Result<MapView<'a>> {
    grid.view(data)
        .map_err(|e| anyhow::anyhow!("TTA: output does not match its shape: {e}"))
}

/// The extra passes of one model and the buffers they are averaged in (allocated once).
pub struct Tta {
    flip: Option<FlipFamily>,
    extra: Vec<ScalePass>,
    base: Grid,
    input_nchw: bool,
    stride: f32,
    offset: f32,
    sum: Vec<f32>,
    weight: Vec<f32>,
}

impl Tta {
    /// Sets up `settings` for `card` whose base pass runs at `base_size` and produces
    /// `base_shape`; `None` when the settings ask for nothing beyond the base pass.
    pub fn new(
        card: &ModelCard,
        config: &BackendConfig,
        base_size: (u32, u32),
        base_shape: &[usize],
        settings: &TtaSettings,
    ) -> anyhow::Result<Option<Tta>> {
        if !settings.is_active() {
            return Ok(None);
        }
        validate_scales(&settings.scales).map_err(anyhow::Error::msg)?;
        let family = match card.family {
            Family::Simplepose => FlipFamily::SimplePose,
            Family::Paf => FlipFamily::OpenPose,
            f => anyhow::bail!(
                "model {}: test-time augmentation needs a heatmap family, not {f:?}",
                card.id
            ),
        };
        let base = grid_of(base_shape, card.output.layout)?;
        let mut extra = Vec::new();
        for &s in settings.scales.iter().filter(|&&s| s != 1.0) {
            let want = (
                (base_size.0 as f32 * s).round().max(1.0) as u32,
                (base_size.1 as f32 * s).round().max(1.0) as u32,
            );
            let (w, h) = card
                .input_size(Some(want.into()))
                .map_err(|e| anyhow::anyhow!("TTA scale {s}: {e}"))?;
            let backend = backend::open(card, config, w, h).with_context(|| {
                format!("loading model '{}' at {w}x{h} for TTA scale {s}", card.id)
            })?;
            let grid = grid_of(backend.output_shape(), card.output.layout)?;
            if grid.channels != base.channels {
                anyhow::bail!(
                    "TTA scale {s}: output has {} channels, the base pass {}",
                    grid.channels,
                    base.channels
                );
            }
            extra.push(ScalePass {
                backend,
                preprocessor: Preprocessor::new(card, w, h),
                grid,
            });
        }
        let cells = base.height * base.width;
        Ok(Some(Tta {
            flip: settings.flip.then_some(family),
            extra,
            base,
            input_nchw: card.input.layout == TensorLayout::Nchw,
            stride: card.output.stride as f32,
            offset: card.output.offset,
            sum: vec![0.0; cells * base.channels],
            weight: vec![0.0; cells],
        }))
    }

    /// The same passes for another worker thread: the extra scales' weights are shared where
    /// the backend allows it, the averaging buffers are new.
    pub fn fork(&self, card: &ModelCard, config: &BackendConfig) -> anyhow::Result<Tta> {
        let mut extra = Vec::with_capacity(self.extra.len());
        for pass in &self.extra {
            let (w, h) = pass.preprocessor.input_size();
            extra.push(ScalePass {
                backend: backend::fork_or_open(&*pass.backend, card, config, w, h).with_context(
                    || format!("loading model '{}' at {w}x{h} for another worker", card.id),
                )?,
                preprocessor: Preprocessor::new(card, w, h),
                grid: pass.grid,
            });
        }
        Ok(Tta {
            flip: self.flip,
            extra,
            base: self.base,
            input_nchw: self.input_nchw,
            stride: self.stride,
            offset: self.offset,
            sum: vec![0.0; self.sum.len()],
            weight: vec![0.0; self.weight.len()],
        })
    }

    /// Passes per frame (inferences).
    pub fn passes(&self) -> usize {
        (1 + self.extra.len()) * if self.flip.is_some() { 2 } else { 1 }
    }

    /// Runs every pass over `image` (the base one through `backend`/`preprocessor`) and
    /// returns the base letterbox, the averaged map in the base output's layout and shape, and
    /// the time spent pre-processing.
    pub fn run(
        &mut self,
        image: &RgbImage,
        backend: &mut dyn Backend,
        preprocessor: &mut Preprocessor,
    ) -> anyhow::Result<(Letterbox, &[f32], Duration)> {
        let mut pre_time = Duration::ZERO;
        let t = Instant::now();
        let base_lb = preprocessor.run(image, backend.input())?;
        pre_time += t.elapsed();
        let mut acc = Accumulator {
            sum: &mut self.sum,
            weight: &mut self.weight,
            channels: self.base.channels,
            height: self.base.height,
            width: self.base.width,
            layout: self.base.layout,
        };
        acc.clear();
        let geo = PassGeometry {
            input_nchw: self.input_nchw,
            stride: self.stride,
            offset: self.offset,
            flip: self.flip,
        };
        geo.add_pass(
            &mut acc,
            backend,
            self.base,
            preprocessor.input_size(),
            AxisMap::IDENTITY,
            AxisMap::IDENTITY,
        )?;
        for pass in &mut self.extra {
            let t = Instant::now();
            let lb = pass.preprocessor.run(image, pass.backend.input())?;
            pre_time += t.elapsed();
            let xmap = AxisMap::between_letterboxes(
                base_lb.scale,
                base_lb.pad_x,
                lb.scale,
                lb.pad_x,
                geo.stride,
                geo.offset,
            );
            let ymap = AxisMap::between_letterboxes(
                base_lb.scale,
                base_lb.pad_y,
                lb.scale,
                lb.pad_y,
                geo.stride,
                geo.offset,
            );
            geo.add_pass(
                &mut acc,
                &mut *pass.backend,
                pass.grid,
                pass.preprocessor.input_size(),
                xmap,
                ymap,
            )?;
        }
        acc.finish()
            .map_err(|e| anyhow::anyhow!("TTA: averaging: {e}"))?;
        Ok((base_lb, &self.sum, pre_time))
    }
}

struct PassGeometry {
    input_nchw: bool,
    stride: f32,
    offset: f32,
    flip: Option<FlipFamily>,
}

impl PassGeometry {
    /// Runs `backend` on its current (pre-processed) input, adds the output, and with flip
    /// mirrors the input in place, runs again and adds the mirrored-back output.
    fn add_pass(
        &self,
        acc: &mut Accumulator<'_>,
        backend: &mut dyn Backend,
        grid: Grid,
        input_size: (u32, u32),
        xmap: AxisMap,
        ymap: AxisMap,
    ) -> anyhow::Result<()> {
        let out = backend.run()?;
        acc.add(&grid_view(&grid, out)?, xmap, ymap, None)
            .map_err(|e| anyhow::anyhow!("TTA: {e}"))?;
        if let Some(family) = self.flip {
            let (w, h) = input_size;
            mirror_input(backend.input(), w as usize, h as usize, self.input_nchw)?;
            let out = backend.run()?;
            let mirrored = xmap.mirrored(w as f32, self.stride, self.offset);
            acc.add(&grid_view(&grid, out)?, mirrored, ymap, Some(family))
                .map_err(|e| anyhow::anyhow!("TTA: {e}"))?;
        }
        Ok(())
    }
}

/// Mirrors a 3-channel `w` x `h` input tensor horizontally in place.
pub fn mirror_input(buf: InputBuffer<'_>, w: usize, h: usize, nchw: bool) -> anyhow::Result<()> {
    fn mirror<T>(buf: &mut [T], w: usize, h: usize, nchw: bool) -> anyhow::Result<()> {
        if buf.len() != w * h * 3 {
            anyhow::bail!(
                "TTA: input buffer holds {} values, expected {w}x{h}x3",
                buf.len()
            );
        }
        if w == 0 {
            return Ok(());
        }
        if nchw {
            buf.chunks_exact_mut(w).for_each(<[T]>::reverse);
        } else {
            for row in buf.chunks_exact_mut(w * 3) {
                // Reversing the row reverses each pixel's channels too; undo that per pixel.
                row.reverse();
                row.chunks_exact_mut(3).for_each(<[T]>::reverse);
            }
        }
        Ok(())
    }
    match buf {
        InputBuffer::F32(b) => mirror(b, w, h, nchw),
        InputBuffer::I32(b) => mirror(b, w, h, nchw),
        InputBuffer::U8(b) => mirror(b, w, h, nchw),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_are_validated() {
        assert!(validate_scales(&[1.0]).is_ok());
        assert!(validate_scales(&[1.0, 1.5, 0.75]).is_ok());
        assert!(validate_scales(&[1.5]).unwrap_err().contains("1.0"));
        assert!(validate_scales(&[1.0, 1.0]).unwrap_err().contains("twice"));
        assert!(validate_scales(&[1.0, f32::NAN]).is_err());
        assert!(validate_scales(&[1.0, 10.0]).is_err());
        assert!(validate_scales(&[1.0, 0.5, 0.75, 1.25, 1.5]).is_err());
        assert_eq!(parse_scales("1, 1.5").unwrap(), vec![1.0, 1.5]);
        assert!(parse_scales("1,x").unwrap_err().contains("'x'"));
    }

    #[test]
    fn mirror_input_both_layouts() {
        // 2x... NHWC: 3 pixels in one row.
        let mut hwc: Vec<u8> = (0..9).collect();
        mirror_input(InputBuffer::U8(&mut hwc), 3, 1, false).unwrap();
        assert_eq!(hwc, vec![6, 7, 8, 3, 4, 5, 0, 1, 2]);
        let mut chw: Vec<f32> = (0..12).map(|v| v as f32).collect();
        mirror_input(InputBuffer::F32(&mut chw), 2, 2, true).unwrap();
        let want: Vec<f32> = [1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10]
            .iter()
            .map(|&v| v as f32)
            .collect();
        assert_eq!(chw, want);
        let mut short = vec![0i32; 5];
        assert!(mirror_input(InputBuffer::I32(&mut short), 2, 2, true).is_err());
    }

    #[test]
    fn overrides_replace_card_settings() {
        let s = TtaSettings {
            flip: false,
            scales: vec![1.0],
        };
        assert!(!s.is_active());
        let s = s.with_overrides(Some(true), None);
        assert!(s.flip && s.is_active());
        let s = s.with_overrides(Some(false), Some(&[1.0, 1.5]));
        assert!(!s.flip && s.is_active() && s.scales == vec![1.0, 1.5]);
    }
}
