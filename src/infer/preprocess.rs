//! Pre-processing: resize + letterbox (aspect kept) into the backend's input buffer, with the
//! colour order and normalisation of the model card, and the exact inverse mapping back to
//! the source image ([`Letterbox`]).
//!
//! The resized picture covers a source crop whose size is exactly `resized / scale`, so the
//! inverse mapping `(x − pad) / scale` is exact, not off by a rounding of the resized size.

use fast_image_resize as fir;
use image::RgbImage;

use crate::decoder::Letterbox;
use crate::infer::backend::InputBuffer;
use crate::infer::model::{ColorOrder, ModelCard, TensorLayout};

#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    #[error("empty source image ({0}x{1})")]
    EmptyImage(u32, u32),
    #[error("input buffer holds {actual} values, expected {expected}")]
    BufferSize { expected: usize, actual: usize },
    #[error("resize failed: {0}")]
    Resize(String),
}

/// Where a `src_w` x `src_h` image lands in a `dst_w` x `dst_h` input, centred.
/// Returns the mapping and the resized size.
pub fn letterbox(src_w: u32, src_h: u32, dst_w: u32, dst_h: u32) -> (Letterbox, u32, u32) {
    let scale = (dst_w as f64 / src_w as f64).min(dst_h as f64 / src_h as f64);
    // floor (with a little slack for exact products) so the source crop never exceeds the image.
    let new_w = ((src_w as f64 * scale + 1e-6).floor() as u32).clamp(1, dst_w);
    let new_h = ((src_h as f64 * scale + 1e-6).floor() as u32).clamp(1, dst_h);
    let pad_x = (dst_w - new_w) / 2;
    let pad_y = (dst_h - new_h) / 2;
    (
        Letterbox {
            scale: scale as f32,
            pad_x: pad_x as f32,
            pad_y: pad_y as f32,
        },
        new_w,
        new_h,
    )
}

/// Turns RGB8 frames into network input for one model at one input size. Holds its scratch
/// buffers, so steady-state frames of a constant size allocate nothing.
pub struct Preprocessor {
    width: u32,
    height: u32,
    layout: TensorLayout,
    color: ColorOrder,
    scale: f32,
    mean: [f32; 3],
    pad: u8,
    resizer: fir::Resizer,
    resized: fir::images::Image<'static>,
}

impl Preprocessor {
    /// A pre-processor for `card`'s input at `width` x `height`.
    pub fn new(card: &ModelCard, width: u32, height: u32) -> Self {
        Preprocessor {
            width,
            height,
            layout: card.input.layout,
            color: card.input.color,
            scale: card.input.scale,
            mean: card.input.mean,
            pad: card.input.pad_value,
            resizer: fir::Resizer::new(),
            resized: fir::images::Image::new(1, 1, fir::PixelType::U8x3),
        }
    }

    /// Input size this pre-processor writes.
    pub fn input_size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Letterboxes `image` into `out` and returns the mapping from input to source pixels.
    pub fn run(
        &mut self,
        image: &RgbImage,
        out: InputBuffer<'_>,
    ) -> Result<Letterbox, PreprocessError> {
        let (src_w, src_h) = image.dimensions();
        if src_w == 0 || src_h == 0 {
            return Err(PreprocessError::EmptyImage(src_w, src_h));
        }
        let expected = (self.width * self.height * 3) as usize;
        if out.len() != expected {
            return Err(PreprocessError::BufferSize {
                expected,
                actual: out.len(),
            });
        }
        let (lb, new_w, new_h) = letterbox(src_w, src_h, self.width, self.height);
        if self.resized.width() != new_w || self.resized.height() != new_h {
            self.resized = fir::images::Image::new(new_w, new_h, fir::PixelType::U8x3);
        }
        let src = fir::images::ImageRef::new(src_w, src_h, image.as_raw(), fir::PixelType::U8x3)
            .map_err(|e| PreprocessError::Resize(e.to_string()))?;
        let scale = lb.scale as f64;
        // Clamp: the f32 scale can put the crop a hair outside the image.
        let crop_w = (new_w as f64 / scale).min(src_w as f64);
        let crop_h = (new_h as f64 / scale).min(src_h as f64);
        let options = fir::ResizeOptions::new()
            .resize_alg(fir::ResizeAlg::Convolution(fir::FilterType::Bilinear))
            .crop(0.0, 0.0, crop_w, crop_h);
        self.resizer
            .resize(&src, &mut self.resized, &options)
            .map_err(|e| PreprocessError::Resize(e.to_string()))?;
        self.write(out, &lb, new_w, new_h);
        Ok(lb)
    }

    /// Copies the resized picture into the tensor with padding, colour order and normalisation.
    fn write(&self, out: InputBuffer<'_>, lb: &Letterbox, new_w: u32, new_h: u32) {
        let lut = self.lut();
        let pad = [self.pad; 3];
        let (w, h) = (self.width as usize, self.height as usize);
        let (px, py) = (lb.pad_x as usize, lb.pad_y as usize);
        let (nw, nh) = (new_w as usize, new_h as usize);
        let pixels = self.resized.buffer();
        let order: [usize; 3] = match self.color {
            ColorOrder::Rgb => [0, 1, 2],
            ColorOrder::Bgr => [2, 1, 0],
        };
        let pixel_at = |x: usize, y: usize| -> [u8; 3] {
            if x >= px && x < px + nw && y >= py && y < py + nh {
                let i = ((y - py) * nw + (x - px)) * 3;
                [pixels[i], pixels[i + 1], pixels[i + 2]]
            } else {
                pad
            }
        };
        macro_rules! fill {
            ($buf:expr, $conv:expr) => {{
                let buf = $buf;
                for y in 0..h {
                    for x in 0..w {
                        let p = pixel_at(x, y);
                        for (c, &src_c) in order.iter().enumerate() {
                            let v = $conv(c, p[src_c]);
                            match self.layout {
                                TensorLayout::Nchw => buf[(c * h + y) * w + x] = v,
                                _ => buf[(y * w + x) * 3 + c] = v,
                            }
                        }
                    }
                }
            }};
        }
        match out {
            InputBuffer::F32(buf) => fill!(buf, |c: usize, v: u8| lut[c][v as usize]),
            InputBuffer::I32(buf) => fill!(buf, |_c: usize, v: u8| v as i32),
            InputBuffer::U8(buf) => fill!(buf, |_c: usize, v: u8| v),
        }
    }

    /// Per-channel lookup table pixel → normalised value (channel index in model order).
    fn lut(&self) -> [[f32; 256]; 3] {
        let mut lut = [[0.0f32; 256]; 3];
        for (c, table) in lut.iter_mut().enumerate() {
            for (v, slot) in table.iter_mut().enumerate() {
                *slot = (v as f32 - self.mean[c]) * self.scale;
            }
        }
        lut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letterbox_is_centred_and_invertible() {
        let (lb, w, h) = letterbox(640, 480, 256, 256);
        assert_eq!((w, h), (256, 192));
        assert_eq!((lb.pad_x, lb.pad_y), (0.0, 32.0));
        let (x, y) = lb.to_source(128.0, 128.0);
        assert!((x - 320.0).abs() < 1e-3 && (y - 240.0).abs() < 1e-3);
        let (ix, iy) = lb.to_input(639.0, 479.0);
        let (sx, sy) = lb.to_source(ix, iy);
        assert!((sx - 639.0).abs() < 1e-3 && (sy - 479.0).abs() < 1e-3);
    }

    #[test]
    fn every_size_resizes_without_a_crop_error() {
        let card =
            crate::infer::model::ModelCard::load("movenet-multipose-lightning").expect("card");
        for (sw, sh) in [
            (640, 425),
            (500, 333),
            (640, 429),
            (1, 1),
            (3, 1000),
            (1920, 1080),
        ] {
            for (dw, dh) in [(288, 288), (320, 320), (224, 224), (256, 192), (256, 256)] {
                let img = RgbImage::new(sw, sh);
                let mut buf = vec![0i32; (dw * dh * 3) as usize];
                let mut pre = Preprocessor::new(&card, dw, dh);
                pre.run(&img, InputBuffer::I32(&mut buf))
                    .unwrap_or_else(|e| panic!("{sw}x{sh} -> {dw}x{dh}: {e}"));
            }
        }
    }

    #[test]
    fn letterbox_handles_tall_and_tiny_images() {
        let (lb, w, h) = letterbox(100, 1000, 432, 368);
        assert!(w >= 1 && h == 368 && w <= 432);
        assert!(lb.pad_x > 0.0 && lb.pad_y == 0.0);
        let (_, w, h) = letterbox(1, 1, 64, 32);
        assert_eq!((w, h), (32, 32));
    }
}
