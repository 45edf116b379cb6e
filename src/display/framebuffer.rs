//! An in-memory frame that implements embedded-graphics' `DrawTarget`, so the renderer, the
//! PNG display, the golden tests and the bench all run without hardware.

use embedded_graphics::pixelcolor::raw::ToBytes;
use embedded_graphics::pixelcolor::{BinaryColor, PixelColor, Rgb565, Rgb888};
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::Rectangle;

/// A width × height frame of `C` pixels, row-major, origin top-left.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Framebuffer<C> {
    width: u32,
    height: u32,
    pixels: Vec<C>,
}

impl<C: PixelColor> Framebuffer<C> {
    /// A frame filled with `fill`. Sizes are bounded by the caller's display configuration.
    pub fn new(width: u32, height: u32, fill: C) -> Self {
        let len = width as usize * height as usize;
        Framebuffer {
            width,
            height,
            pixels: vec![fill; len],
        }
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// The pixels, row-major.
    pub fn pixels(&self) -> &[C] {
        &self.pixels
    }

    /// The pixel at (x, y), `None` outside the frame.
    pub fn pixel(&self, x: u32, y: u32) -> Option<C> {
        (x < self.width && y < self.height)
            .then(|| self.pixels[y as usize * self.width as usize + x as usize])
    }

    /// Mutable row `y` (for bulk writers such as the camera preview); `None` outside the frame.
    pub fn row_mut(&mut self, y: u32) -> Option<&mut [C]> {
        if y >= self.height {
            return None;
        }
        let w = self.width as usize;
        let start = y as usize * w;
        Some(&mut self.pixels[start..start + w])
    }

    /// The frame as 8-bit RGB (the PNG display and the golden tests store this).
    pub fn to_rgb_image(&self) -> image::RgbImage
    where
        C: Into<Rgb888>,
    {
        let mut raw = Vec::with_capacity(self.pixels.len() * 3);
        for &p in &self.pixels {
            let c: Rgb888 = p.into();
            raw.extend_from_slice(&[c.r(), c.g(), c.b()]);
        }
        // The length matches by construction (3 bytes per pixel).
        image::RgbImage::from_raw(self.width, self.height, raw)
            .unwrap_or_else(|| image::RgbImage::new(self.width, self.height))
    }
}

impl Framebuffer<Rgb565> {
    /// Encode the frame as the byte stream an ST7789 expects after RAMWR: RGB565, big-endian,
    /// row-major. `out` is cleared and reused so the per-frame path does not allocate.
    pub fn encode_rgb565_be(&self, out: &mut Vec<u8>) {
        out.clear();
        out.reserve(self.pixels.len() * 2);
        out.extend(self.pixels.iter().flat_map(|p| p.to_be_bytes()));
    }
}

impl Framebuffer<BinaryColor> {
    /// Number of lit pixels (handy for tests and for blank-frame checks).
    pub fn count_on(&self) -> usize {
        self.pixels.iter().filter(|p| p.is_on()).count()
    }
}

impl<C: PixelColor> OriginDimensions for Framebuffer<C> {
    fn size(&self) -> Size {
        Size::new(self.width, self.height)
    }
}

impl<C: PixelColor> DrawTarget for Framebuffer<C> {
    type Color = C;
    type Error = core::convert::Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<Self::Color>>,
    {
        let (w, h) = (self.width as i32, self.height as i32);
        for Pixel(p, c) in pixels {
            if p.x >= 0 && p.y >= 0 && p.x < w && p.y < h {
                self.pixels[p.y as usize * w as usize + p.x as usize] = c;
            }
        }
        Ok(())
    }

    fn fill_solid(&mut self, area: &Rectangle, color: Self::Color) -> Result<(), Self::Error> {
        let area = area.intersection(&self.bounding_box());
        let Some(br) = area.bottom_right() else {
            return Ok(());
        };
        let w = self.width as usize;
        let (x0, x1) = (area.top_left.x as usize, br.x as usize);
        for y in area.top_left.y as usize..=br.y as usize {
            self.pixels[y * w + x0..=y * w + x1].fill(color);
        }
        Ok(())
    }

    fn clear(&mut self, color: Self::Color) -> Result<(), Self::Error> {
        self.pixels.fill(color);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_clip_and_encode_big_endian() {
        let mut fb = Framebuffer::new(4, 3, Rgb565::BLACK);
        fb.draw_iter([
            Pixel(Point::new(1, 2), Rgb565::new(0x1f, 0, 0)),
            Pixel(Point::new(-1, 0), Rgb565::WHITE),
            Pixel(Point::new(4, 0), Rgb565::WHITE),
        ])
        .unwrap();
        assert_eq!(fb.pixel(1, 2), Some(Rgb565::RED));
        assert_eq!(
            fb.pixels().iter().filter(|&&p| p == Rgb565::WHITE).count(),
            0
        );
        let mut out = Vec::new();
        fb.encode_rgb565_be(&mut out);
        assert_eq!(out.len(), 4 * 3 * 2);
        let i = (2 * 4 + 1) * 2;
        // Red is 0b11111_000000_00000 = 0xF800: high byte first.
        assert_eq!(&out[i..i + 2], &[0xF8, 0x00]);
    }

    #[test]
    fn fill_solid_clips_to_frame() {
        let mut fb = Framebuffer::new(5, 5, BinaryColor::Off);
        fb.fill_solid(
            &Rectangle::new(Point::new(3, 3), Size::new(10, 10)),
            BinaryColor::On,
        )
        .unwrap();
        assert_eq!(fb.count_on(), 4);
        fb.fill_solid(
            &Rectangle::new(Point::new(-10, -10), Size::new(3, 3)),
            BinaryColor::On,
        )
        .unwrap();
        assert_eq!(fb.count_on(), 4);
    }
}
