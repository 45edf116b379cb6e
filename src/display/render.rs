//! Skeleton renderer generic over embedded-graphics' `DrawTarget`: the same code draws on a
//! 128x64 monochrome OLED, a 240x240 / 320x240 RGB565 TFT, an in-memory framebuffer and PNG files.
//!
//! Layout: a status line at the top (FPS, persons, model); below it the source image's area,
//! scaled to fit with its aspect ratio kept (letterbox), where the persons are drawn.

use core::fmt::Write as _;

use embedded_graphics::mono_font::ascii::{FONT_4X6, FONT_5X8, FONT_6X10, FONT_7X13};
use embedded_graphics::mono_font::{MonoFont, MonoTextStyle, MonoTextStyleBuilder};
use embedded_graphics::pixelcolor::{BinaryColor, PixelColor, Rgb565};
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{
    Circle, Line, PrimitiveStyle, PrimitiveStyleBuilder, Rectangle, StrokeAlignment,
};
use embedded_graphics::text::{Baseline, Text};

use crate::decoder::skeleton::COCO17_SKELETON;
use crate::decoder::{Person, NUM_COCO_KEYPOINTS};
use crate::pose::FramePoses;

use super::Status;

/// Which side of the body a limb or keypoint belongs to; each side gets its own colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Left,
    Right,
    Centre,
}

/// Side of COCO keypoint `k`: odd indices are the person's left, even (but the nose) the right.
pub fn keypoint_side(k: usize) -> Side {
    match k {
        0 => Side::Centre,
        k if k % 2 == 1 => Side::Left,
        _ => Side::Right,
    }
}

/// Side of a limb: left or right when both ends are, centre when it crosses the body.
pub fn limb_side(a: usize, b: usize) -> Side {
    match (keypoint_side(a), keypoint_side(b)) {
        (Side::Left, Side::Left) => Side::Left,
        (Side::Right, Side::Right) => Side::Right,
        _ => Side::Centre,
    }
}

/// Colours of one pixel format. On monochrome displays the sides cannot differ in colour, so
/// right-side limbs are drawn dotted instead (`dotted_right`).
#[derive(Clone, Copy, Debug)]
pub struct Palette<C> {
    pub background: C,
    /// Fill of the source image's area when there is no camera preview.
    pub image_area: C,
    /// `true`: outline the image area (monochrome, where it cannot be filled).
    pub outline_image_area: bool,
    pub left: C,
    pub right: C,
    pub centre: C,
    pub label: C,
    /// Box behind track-id labels, where text alone would merge with nearby lines.
    pub label_background: Option<C>,
    pub status_text: C,
    pub status_background: C,
    pub dotted_right: bool,
}

impl<C: Copy> Palette<C> {
    fn side(&self, side: Side) -> C {
        match side {
            Side::Left => self.left,
            Side::Right => self.right,
            Side::Centre => self.centre,
        }
    }
}

/// A pixel format the renderer can draw in.
pub trait SkeletonColor: PixelColor {
    const PALETTE: Palette<Self>;
    /// This format's pixel for an 8-bit RGB preview pixel, `None` when the format cannot show
    /// a camera preview (monochrome).
    fn from_preview_rgb(rgb: [u8; 3]) -> Option<Self>;
}

impl SkeletonColor for Rgb565 {
    // Left blue, right orange, centre near-white: distinguishable also for red-green colour
    // blindness, and all bright enough to stand out over a dimmed camera preview.
    const PALETTE: Palette<Rgb565> = Palette {
        background: Rgb565::BLACK,
        image_area: Rgb565::new(3, 6, 4),
        outline_image_area: false,
        left: Rgb565::new(8, 40, 31),
        right: Rgb565::new(31, 32, 0),
        centre: Rgb565::new(28, 57, 28),
        label: Rgb565::new(31, 63, 0),
        label_background: None,
        status_text: Rgb565::WHITE,
        status_background: Rgb565::new(0, 10, 12),
        dotted_right: false,
    };

    fn from_preview_rgb([r, g, b]: [u8; 3]) -> Option<Self> {
        // Halve the brightness (PREVIEW_DIM_SHIFT) so the skeleton stays the brightest thing.
        let (r, g, b) = (
            r >> PREVIEW_DIM_SHIFT,
            g >> PREVIEW_DIM_SHIFT,
            b >> PREVIEW_DIM_SHIFT,
        );
        Some(Rgb565::new(r >> 3, g >> 2, b >> 3))
    }
}

impl SkeletonColor for BinaryColor {
    const PALETTE: Palette<BinaryColor> = Palette {
        background: BinaryColor::Off,
        image_area: BinaryColor::Off,
        outline_image_area: true,
        left: BinaryColor::On,
        right: BinaryColor::On,
        centre: BinaryColor::On,
        label: BinaryColor::On,
        label_background: Some(BinaryColor::Off),
        status_text: BinaryColor::On,
        status_background: BinaryColor::Off,
        dotted_right: true,
    };

    fn from_preview_rgb(_: [u8; 3]) -> Option<Self> {
        None
    }
}

/// Preview pixels are shifted right by this many bits (dimmed) behind the skeletons.
const PREVIEW_DIM_SHIFT: u8 = 1;
/// Displays at least this many pixels high get the large layout (thicker limbs, larger text).
const LARGE_LAYOUT_MIN_HEIGHT: u32 = 128;
/// Gap between the status text and the image area (it holds the separator line).
const STATUS_GAP: u32 = 2;

/// Sizes that depend on the display's resolution.
#[derive(Clone, Copy, Debug)]
struct Layout {
    status_font: &'static MonoFont<'static>,
    label_font: &'static MonoFont<'static>,
    limb_width: u32,
    keypoint_diameter: u32,
}

impl Layout {
    fn for_size(size: Size) -> Layout {
        if size.height >= LARGE_LAYOUT_MIN_HEIGHT {
            Layout {
                status_font: &FONT_7X13,
                label_font: &FONT_6X10,
                limb_width: 3,
                keypoint_diameter: 5,
            }
        } else {
            Layout {
                status_font: &FONT_5X8,
                label_font: &FONT_4X6,
                limb_width: 1,
                keypoint_diameter: 3,
            }
        }
    }

    fn status_height(&self) -> u32 {
        self.status_font.character_size.height + STATUS_GAP
    }
}

/// What to draw besides the skeletons.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RenderOptions {
    /// Draw "#id" next to tracked persons (track_id != 0).
    pub track_labels: bool,
    /// Draw the status line.
    pub status_line: bool,
    /// Keypoints below this score are not drawn (0 draws every present keypoint).
    pub min_keypoint_score: f32,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            track_labels: true,
            status_line: true,
            min_keypoint_score: 0.0,
        }
    }
}

/// Placement of the source image on the display: display = top_left + source * scale.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Viewport {
    /// The image area on the display, in display pixels.
    pub area: Rectangle,
    pub scale: f32,
}

impl Viewport {
    /// Fit a `src_w` × `src_h` image into `bounds`, aspect ratio kept, centred.
    /// `None` when the image or the bounds are empty.
    pub fn fit(bounds: Rectangle, src_w: u32, src_h: u32) -> Option<Viewport> {
        if src_w == 0 || src_h == 0 || bounds.size.width == 0 || bounds.size.height == 0 {
            return None;
        }
        let scale =
            (bounds.size.width as f32 / src_w as f32).min(bounds.size.height as f32 / src_h as f32);
        let w = ((src_w as f32 * scale).round() as u32).clamp(1, bounds.size.width);
        let h = ((src_h as f32 * scale).round() as u32).clamp(1, bounds.size.height);
        let top_left = bounds.top_left
            + Point::new(
                ((bounds.size.width - w) / 2) as i32,
                ((bounds.size.height - h) / 2) as i32,
            );
        Some(Viewport {
            area: Rectangle::new(top_left, Size::new(w, h)),
            scale,
        })
    }

    /// Display position (sub-pixel) of a source-image point; `None` for non-finite input.
    pub fn map_f(&self, x: f32, y: f32) -> Option<(f32, f32)> {
        if !x.is_finite() || !y.is_finite() {
            return None;
        }
        let dx = self.area.top_left.x as f32 + x * self.scale;
        let dy = self.area.top_left.y as f32 + y * self.scale;
        (dx.is_finite() && dy.is_finite()).then_some((dx, dy))
    }

    /// Display pixel of a source-image point inside the image area (keypoints just outside the
    /// source image, which decoders do report, are kept within `margin` pixels); `None` when
    /// non-finite or farther out.
    pub fn map(&self, x: f32, y: f32, margin: u32) -> Option<Point> {
        let (dx, dy) = self.map_f(x, y)?;
        let (x0, y0, x1, y1) = self.clip_box(margin);
        ((x0..=x1).contains(&dx) && (y0..=y1).contains(&dy))
            .then(|| Point::new(dx.floor() as i32, dy.floor() as i32))
    }

    /// The segment a–b (display coordinates) clipped to the image area grown by `margin`
    /// (Liang–Barsky), so arbitrarily distant keypoints still draw the visible part of a limb
    /// and never reach the integer-overflow range of the line rasteriser.
    pub fn clip_segment(
        &self,
        a: (f32, f32),
        b: (f32, f32),
        margin: u32,
    ) -> Option<(Point, Point)> {
        let (x0, y0, x1, y1) = self.clip_box(margin);
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let (mut t0, mut t1) = (0.0f32, 1.0f32);
        for (p, q) in [
            (-dx, a.0 - x0),
            (dx, x1 - a.0),
            (-dy, a.1 - y0),
            (dy, y1 - a.1),
        ] {
            if p == 0.0 {
                if q < 0.0 {
                    return None;
                }
            } else {
                let r = q / p;
                if p < 0.0 {
                    t0 = t0.max(r);
                } else {
                    t1 = t1.min(r);
                }
            }
        }
        if t0 > t1 || !t0.is_finite() || !t1.is_finite() {
            return None;
        }
        let at = |t: f32| Point::new((a.0 + t * dx).floor() as i32, (a.1 + t * dy).floor() as i32);
        Some((at(t0), at(t1)))
    }

    fn clip_box(&self, margin: u32) -> (f32, f32, f32, f32) {
        let m = margin as f32;
        let tl = self.area.top_left;
        (
            tl.x as f32 - m,
            tl.y as f32 - m,
            (tl.x + self.area.size.width as i32) as f32 - 1.0 + m,
            (tl.y + self.area.size.height as i32) as f32 - 1.0 + m,
        )
    }
}

/// Draws frames; keeps its scratch buffers between frames so rendering does not allocate.
#[derive(Debug, Default)]
pub struct Renderer {
    options: RenderOptions,
    text: String,
    /// Source column for each preview column (nearest neighbour), rebuilt when sizes change.
    preview_cols: Vec<u32>,
}

impl Renderer {
    pub fn new(options: RenderOptions) -> Self {
        Renderer {
            options,
            ..Renderer::default()
        }
    }

    pub fn options(&self) -> &RenderOptions {
        &self.options
    }

    /// Draw one frame over the whole target. A `preview` (the camera image, any size) is drawn
    /// dimmed behind the skeletons on colour targets and ignored on monochrome ones.
    pub fn render<D>(
        &mut self,
        target: &mut D,
        frame: &FramePoses,
        preview: Option<&image::RgbImage>,
        status: &Status,
    ) -> Result<(), D::Error>
    where
        D: DrawTarget,
        D::Color: SkeletonColor,
    {
        let palette = D::Color::PALETTE;
        let bounds = target.bounding_box();
        let layout = Layout::for_size(bounds.size);
        target.clear(palette.background)?;

        let mut image_bounds = bounds;
        if self.options.status_line {
            let h = layout.status_height().min(bounds.size.height);
            image_bounds = Rectangle::new(
                bounds.top_left + Point::new(0, h as i32),
                Size::new(bounds.size.width, bounds.size.height - h),
            );
            self.draw_status(target, bounds, &layout, &palette, frame, status)?;
        }

        let Some(view) = Viewport::fit(image_bounds, frame.width, frame.height) else {
            return Ok(());
        };
        let preview_drawn = match preview {
            Some(img) => self.draw_preview(target, &view, img)?,
            None => false,
        };
        if !preview_drawn {
            if palette.outline_image_area {
                // Dotted outline: visible frame without competing with the limbs.
                let dots = view
                    .area
                    .points()
                    .filter(|p| on_border(&view.area, *p) && (p.x + p.y) % 3 == 0)
                    .map(|p| Pixel(p, palette.centre));
                target.draw_iter(dots)?;
            } else {
                target.fill_solid(&view.area, palette.image_area)?;
            }
        }

        for person in &frame.persons {
            self.draw_person(target, &view, &layout, &palette, person)?;
        }
        Ok(())
    }

    fn draw_status<D>(
        &mut self,
        target: &mut D,
        bounds: Rectangle,
        layout: &Layout,
        palette: &Palette<D::Color>,
        frame: &FramePoses,
        status: &Status,
    ) -> Result<(), D::Error>
    where
        D: DrawTarget,
        D::Color: SkeletonColor,
    {
        let font = layout.status_font;
        let bar = Rectangle::new(
            bounds.top_left,
            Size::new(bounds.size.width, layout.status_height()),
        );
        target.fill_solid(&bar, palette.status_background)?;
        if palette.status_background == palette.background {
            // No bar colour to set it apart (monochrome): a separator line instead.
            let y = bounds.top_left.y + layout.status_height() as i32 - 1;
            Line::new(
                Point::new(bounds.top_left.x, y),
                Point::new(bounds.top_left.x + bounds.size.width as i32 - 1, y),
            )
            .into_styled(PrimitiveStyle::with_stroke(palette.status_text, 1))
            .draw(target)?;
        }

        self.text.clear();
        let fps = if status.fps.is_finite() {
            status.fps.max(0.0)
        } else {
            0.0
        };
        // Writing into a String cannot fail.
        let _ = write!(
            self.text,
            "{fps:.1}fps {}p {}",
            frame.persons.len(),
            status.model
        );
        let max_chars = (bounds.size.width / font.character_size.width.max(1)) as usize;
        let shown = truncate_chars(&self.text, max_chars);
        Text::with_baseline(
            shown,
            bounds.top_left + Point::new(1, 0),
            MonoTextStyle::new(font, palette.status_text),
            Baseline::Top,
        )
        .draw(target)?;
        Ok(())
    }

    /// Nearest-neighbour downscale of `img` into the viewport; `Ok(false)` on monochrome.
    fn draw_preview<D>(
        &mut self,
        target: &mut D,
        view: &Viewport,
        img: &image::RgbImage,
    ) -> Result<bool, D::Error>
    where
        D: DrawTarget,
        D::Color: SkeletonColor,
    {
        if D::Color::from_preview_rgb([0, 0, 0]).is_none() || img.width() == 0 || img.height() == 0
        {
            return Ok(false);
        }
        let (w, h) = (view.area.size.width, view.area.size.height);
        self.preview_cols.clear();
        self.preview_cols
            .extend((0..w).map(|x| ((x as u64 * img.width() as u64) / w as u64) as u32));
        for y in 0..h {
            let sy = ((y as u64 * img.height() as u64) / h as u64) as u32;
            let row_start = view.area.top_left + Point::new(0, y as i32);
            let colours = self.preview_cols.iter().map(|&sx| {
                let p = img.get_pixel(sx, sy).0;
                // Checked non-None above.
                D::Color::from_preview_rgb(p).unwrap_or(D::Color::PALETTE.image_area)
            });
            target.fill_contiguous(&Rectangle::new(row_start, Size::new(w, 1)), colours)?;
        }
        Ok(true)
    }

    fn draw_person<D>(
        &mut self,
        target: &mut D,
        view: &Viewport,
        layout: &Layout,
        palette: &Palette<D::Color>,
        person: &Person,
    ) -> Result<(), D::Error>
    where
        D: DrawTarget,
        D::Color: SkeletonColor,
    {
        let min_score = self.options.min_keypoint_score;
        // Drawing may spill this far outside the image area (keypoints slightly off-image).
        let margin = layout.keypoint_diameter;
        let mut exact: [Option<(f32, f32)>; NUM_COCO_KEYPOINTS] = [None; NUM_COCO_KEYPOINTS];
        let mut pts: [Option<Point>; NUM_COCO_KEYPOINTS] = [None; NUM_COCO_KEYPOINTS];
        for (k, kp) in person.keypoints.iter().enumerate() {
            if kp.present && kp.score >= min_score {
                exact[k] = view.map_f(kp.x, kp.y);
                pts[k] = view.map(kp.x, kp.y, margin);
            }
        }

        for &(a, b) in COCO17_SKELETON.iter() {
            let (a, b) = (usize::from(a), usize::from(b));
            let (Some(ea), Some(eb)) = (exact[a], exact[b]) else {
                continue;
            };
            let Some((pa, pb)) = view.clip_segment(ea, eb, margin) else {
                continue;
            };
            let side = limb_side(a, b);
            let colour = palette.side(side);
            let line = Line::new(pa, pb);
            if side == Side::Right && palette.dotted_right {
                // Every other pixel: the monochrome stand-in for a second colour.
                let dots = line
                    .points()
                    .enumerate()
                    .filter(|(i, _)| i % 2 == 0)
                    .map(|(_, p)| Pixel(p, colour));
                target.draw_iter(dots)?;
            } else {
                line.into_styled(PrimitiveStyle::with_stroke(colour, layout.limb_width))
                    .draw(target)?;
            }
        }

        let d = layout.keypoint_diameter;
        for (k, p) in pts.iter().enumerate() {
            let Some(p) = p else { continue };
            let style = PrimitiveStyleBuilder::new()
                .fill_color(palette.side(keypoint_side(k)))
                .stroke_color(palette.background)
                .stroke_width(if d > 3 { 1 } else { 0 })
                .stroke_alignment(StrokeAlignment::Outside)
                .build();
            Circle::with_center(*p, d).into_styled(style).draw(target)?;
        }

        if self.options.track_labels && person.track_id != 0 {
            self.draw_label(target, view, layout, palette, &pts, person.track_id)?;
        }
        Ok(())
    }

    /// "#id" just above the person's topmost drawn keypoint, kept inside the image area.
    fn draw_label<D>(
        &mut self,
        target: &mut D,
        view: &Viewport,
        layout: &Layout,
        palette: &Palette<D::Color>,
        pts: &[Option<Point>; NUM_COCO_KEYPOINTS],
        track_id: u32,
    ) -> Result<(), D::Error>
    where
        D: DrawTarget,
        D::Color: SkeletonColor,
    {
        let Some(top) = pts.iter().flatten().min_by_key(|p| p.y) else {
            return Ok(());
        };
        self.text.clear();
        let _ = write!(self.text, "#{track_id}");
        let font = layout.label_font;
        let cw = font.character_size.width as i32;
        let ch = font.character_size.height as i32;
        let text_w = cw * self.text.len() as i32;
        let area = view.area;
        let gap = layout.keypoint_diameter as i32;
        let max_x = (area.top_left.x + area.size.width as i32 - text_w).max(area.top_left.x);
        let max_y = (area.top_left.y + area.size.height as i32 - ch).max(area.top_left.y);
        let x = (top.x - text_w / 2).clamp(area.top_left.x, max_x);
        let y = (top.y - gap - ch).clamp(area.top_left.y, max_y);
        let mut style = MonoTextStyleBuilder::new()
            .font(font)
            .text_color(palette.label);
        if let Some(bg) = palette.label_background {
            style = style.background_color(bg);
        }
        Text::with_baseline(&self.text, Point::new(x, y), style.build(), Baseline::Top)
            .draw(target)?;
        Ok(())
    }
}

fn on_border(r: &Rectangle, p: Point) -> bool {
    let Some(br) = r.bottom_right() else {
        return false;
    };
    p.x == r.top_left.x || p.y == r.top_left.y || p.x == br.x || p.y == br.y
}

/// The first `max` characters of `s` (status text is ASCII, but the model name may not be).
fn truncate_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
