//! Software rasteriser for the synthetic scenes: anti-aliased signed-distance shapes with
//! cylindrical shading and outlines, procedural backgrounds, blur and sensor noise.
//!
//! Coordinates use the pixel-index convention: the centre of pixel (i, j) is at (i, j),
//! the same convention the keypoint annotations use.

use image::RgbImage;
use rand::RngExt;

/// A colour as linear-ish RGB in 0..=255 (f32 so shading and blending do not band).
pub type Rgb = [f32; 3];

/// A point in image pixels.
pub type P2 = [f32; 2];

/// Floating-point RGB canvas.
#[derive(Clone, Debug)]
pub struct Canvas {
    pub width: u32,
    pub height: u32,
    pub px: Vec<Rgb>,
}

impl Canvas {
    pub fn new(width: u32, height: u32, fill: Rgb) -> Self {
        Canvas {
            width,
            height,
            px: vec![fill; width as usize * height as usize],
        }
    }

    /// Quantise to 8-bit RGB.
    pub fn to_image(&self) -> RgbImage {
        let mut raw = Vec::with_capacity(self.px.len() * 3);
        for p in &self.px {
            for c in p {
                raw.push(c.round().clamp(0.0, 255.0) as u8);
            }
        }
        // The buffer length is exactly width*height*3 by construction.
        RgbImage::from_raw(self.width, self.height, raw)
            .unwrap_or_else(|| RgbImage::new(self.width, self.height))
    }
}

/// Directional light shared by everything in a scene.
#[derive(Clone, Copy, Debug)]
pub struct Light {
    /// Unit vector towards the light: image x (right), image y (down), towards the viewer.
    pub dir: [f32; 3],
    /// Fraction of the base colour lit regardless of orientation.
    pub ambient: f32,
}

impl Light {
    pub fn sample(rng: &mut impl RngExt) -> Self {
        let lx: f32 = rng.random_range(-0.8..0.8);
        let ly: f32 = rng.random_range(-0.9..0.3);
        let lz: f32 = rng.random_range(0.4..1.0);
        let n = (lx * lx + ly * ly + lz * lz).sqrt();
        Light {
            dir: [lx / n, ly / n, lz / n],
            ambient: rng.random_range(0.35..0.6),
        }
    }

    /// Brightness factor of a surface point whose normal is (`nx`, `ny`, `nz`).
    #[inline]
    fn shade(&self, nx: f32, ny: f32, nz: f32) -> f32 {
        let d = (nx * self.dir[0] + ny * self.dir[1] + nz * self.dir[2]).max(0.0);
        self.ambient + (1.0 - self.ambient) * d * 1.15
    }
}

/// Geometry of a filled shape.
#[derive(Clone, Copy, Debug)]
pub enum Geom {
    /// Tapered capsule from `a` (radius `ra`) to `b` (radius `rb`): limbs, neck.
    Capsule { a: P2, b: P2, ra: f32, rb: f32 },
    /// Disc: heads, hands, eyes.
    Disc { c: P2, r: f32 },
    /// Ellipse with semi-axes `rx`, `ry` rotated by `angle`: ears, background blobs.
    Ellipse { c: P2, rx: f32, ry: f32, angle: f32 },
    /// Convex quadrilateral (corners in order) inflated by `round`; shaded across the axis
    /// `a`→`b` whose half-widths are `wa`, `wb`: the torso, background boxes.
    Quad {
        p: [P2; 4],
        round: f32,
        a: P2,
        b: P2,
        wa: f32,
        wb: f32,
    },
}

#[inline]
fn dot(a: P2, b: P2) -> f32 {
    a[0] * b[0] + a[1] * b[1]
}

#[inline]
fn sub(a: P2, b: P2) -> P2 {
    [a[0] - b[0], a[1] - b[1]]
}

/// Closest-point parameter of `p` on segment `a`→`b`, clamped to [0, 1].
#[inline]
fn seg_t(p: P2, a: P2, b: P2) -> f32 {
    let ab = sub(b, a);
    let l2 = dot(ab, ab);
    if l2 <= 1e-12 {
        0.0
    } else {
        (dot(sub(p, a), ab) / l2).clamp(0.0, 1.0)
    }
}

impl Geom {
    /// Signed distance (pixels, negative inside) from `p` to the shape's boundary.
    pub fn sdf(&self, p: P2) -> f32 {
        match *self {
            Geom::Capsule { a, b, ra, rb } => {
                let t = seg_t(p, a, b);
                let q = [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t];
                let d = sub(p, q);
                dot(d, d).sqrt() - (ra + (rb - ra) * t)
            }
            Geom::Disc { c, r } => {
                let d = sub(p, c);
                dot(d, d).sqrt() - r
            }
            Geom::Ellipse { c, rx, ry, angle } => {
                let (s, co) = angle.sin_cos();
                let d = sub(p, c);
                let u = (d[0] * co + d[1] * s) / rx;
                let v = (-d[0] * s + d[1] * co) / ry;
                // First-order distance estimate; exact enough for anti-aliasing.
                let k = (u * u + v * v).sqrt();
                (k - 1.0) * rx.min(ry)
            }
            Geom::Quad { p: q, round, .. } => quad_sdf(p, &q) - round,
        }
    }

    /// Pixel bounding box (x0, y0, x1, y1), inclusive-exclusive, before clipping.
    fn bounds(&self) -> (f32, f32, f32, f32) {
        match *self {
            Geom::Capsule { a, b, ra, rb } => {
                let r = ra.max(rb);
                (
                    a[0].min(b[0]) - r,
                    a[1].min(b[1]) - r,
                    a[0].max(b[0]) + r,
                    a[1].max(b[1]) + r,
                )
            }
            Geom::Disc { c, r } => (c[0] - r, c[1] - r, c[0] + r, c[1] + r),
            Geom::Ellipse { c, rx, ry, .. } => {
                let r = rx.max(ry);
                (c[0] - r, c[1] - r, c[0] + r, c[1] + r)
            }
            Geom::Quad { p, round, .. } => {
                let mut b = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
                for q in p {
                    b = (b.0.min(q[0]), b.1.min(q[1]), b.2.max(q[0]), b.3.max(q[1]));
                }
                (b.0 - round, b.1 - round, b.2 + round, b.3 + round)
            }
        }
    }

    /// Surface normal (image x, image y, towards viewer) at `p` for shading, treating
    /// capsules and quads as cylinders around their axis and discs as spheres.
    #[inline]
    fn normal(&self, p: P2) -> [f32; 3] {
        let (u, perp) = match *self {
            Geom::Capsule { a, b, ra, rb } => axis_offset(p, a, b, ra, rb),
            Geom::Quad { a, b, wa, wb, .. } => axis_offset(p, a, b, wa, wb),
            Geom::Disc { c, r } => {
                let dx = ((p[0] - c[0]) / r).clamp(-1.0, 1.0);
                let dy = ((p[1] - c[1]) / r).clamp(-1.0, 1.0);
                let nz = (1.0 - dx * dx - dy * dy).max(0.0).sqrt();
                return [dx, dy, nz];
            }
            Geom::Ellipse { c, rx, ry, angle } => {
                let (s, co) = angle.sin_cos();
                let d = sub(p, c);
                let u = ((d[0] * co + d[1] * s) / rx).clamp(-1.0, 1.0);
                let v = ((-d[0] * s + d[1] * co) / ry).clamp(-1.0, 1.0);
                let nz = (1.0 - u * u - v * v).max(0.0).sqrt();
                return [u * co - v * s, u * s + v * co, nz];
            }
        };
        let nz = (1.0 - u * u).max(0.0).sqrt();
        [u * perp[0], u * perp[1], nz]
    }
}

/// Signed lateral offset of `p` from axis `a`→`b` in units of the local half-width, and the
/// unit perpendicular of the axis.
#[inline]
fn axis_offset(p: P2, a: P2, b: P2, ra: f32, rb: f32) -> (f32, P2) {
    let ab = sub(b, a);
    let len = dot(ab, ab).sqrt().max(1e-6);
    let perp = [-ab[1] / len, ab[0] / len];
    let t = seg_t(p, a, b);
    let r = (ra + (rb - ra) * t).max(1e-3);
    let u = (dot(sub(p, a), perp) / r).clamp(-1.0, 1.0);
    (u, perp)
}

/// Exact signed distance to a convex polygon (any winding).
fn quad_sdf(p: P2, q: &[P2; 4]) -> f32 {
    let mut d2 = f32::MAX;
    let mut inside_pos = true;
    let mut inside_neg = true;
    for i in 0..4 {
        let a = q[i];
        let b = q[(i + 1) % 4];
        let t = seg_t(p, a, b);
        let c = [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t];
        let d = sub(p, c);
        d2 = d2.min(dot(d, d));
        let e = sub(b, a);
        let w = sub(p, a);
        let cross = e[0] * w[1] - e[1] * w[0];
        inside_pos &= cross >= 0.0;
        inside_neg &= cross <= 0.0;
    }
    let d = d2.sqrt();
    if inside_pos || inside_neg {
        -d
    } else {
        d
    }
}

/// How a shape is filled.
#[derive(Clone, Copy, Debug)]
pub struct Paint {
    pub color: Rgb,
    /// Shade with the scene light (cylinder/sphere normals); flat when false.
    pub shaded: bool,
    /// Outline width in pixels (0 = none); the outline is a darker rim of the fill.
    pub outline: f32,
}

/// Coverage at or above which a pixel counts as belonging to a shape (masks, areas).
pub const MASK_COVERAGE: f32 = 0.5;

/// Fill `geom` onto `canvas`. When `mask` is given, pixels covered at least
/// [`MASK_COVERAGE`] get `mask_id` there (topmost shape wins), and the covered pixel bounds
/// are merged into `extent`.
pub fn fill(
    canvas: &mut Canvas,
    geom: &Geom,
    paint: &Paint,
    light: &Light,
    mut mask: Option<(&mut [u8], u8)>,
    extent: &mut Option<(u32, u32, u32, u32)>,
) {
    let (bx0, by0, bx1, by1) = geom.bounds();
    let w = canvas.width as i64;
    let h = canvas.height as i64;
    let x0 = ((bx0 - 1.0).floor() as i64).clamp(0, w);
    let y0 = ((by0 - 1.0).floor() as i64).clamp(0, h);
    let x1 = ((bx1 + 2.0).ceil() as i64).clamp(0, w);
    let y1 = ((by1 + 2.0).ceil() as i64).clamp(0, h);
    let outline_col = [
        paint.color[0] * 0.35,
        paint.color[1] * 0.35,
        paint.color[2] * 0.35,
    ];
    for y in y0..y1 {
        let row = (y * w) as usize;
        for x in x0..x1 {
            let p = [x as f32, y as f32];
            let d = geom.sdf(p);
            let cov = (0.5 - d).clamp(0.0, 1.0);
            if cov <= 0.0 {
                continue;
            }
            let mut col = paint.color;
            if paint.shaded {
                let n = geom.normal(p);
                let s = light.shade(n[0], n[1], n[2]);
                col = [col[0] * s, col[1] * s, col[2] * s];
            }
            if paint.outline > 0.0 {
                // 1 on the rim, fading to 0 at `outline` pixels inside.
                let rim = ((d + paint.outline + 0.5) / 1.0).clamp(0.0, 1.0);
                for c in 0..3 {
                    col[c] += (outline_col[c] - col[c]) * rim;
                }
            }
            let i = row + x as usize;
            let dst = &mut canvas.px[i];
            for c in 0..3 {
                dst[c] += (col[c] - dst[c]) * cov;
            }
            if cov >= MASK_COVERAGE {
                if let Some((m, id)) = mask.as_mut() {
                    m[i] = *id;
                    let (ux, uy) = (x as u32, y as u32);
                    *extent = Some(match *extent {
                        None => (ux, uy, ux, uy),
                        Some((a, b, c, e)) => (a.min(ux), b.min(uy), c.max(ux), e.max(uy)),
                    });
                }
            }
        }
    }
}

fn lerp3(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

/// A random colour, from muted to saturated.
pub fn random_color(rng: &mut impl RngExt) -> Rgb {
    let base: f32 = rng.random_range(20.0..235.0);
    let sat: f32 = rng.random_range(0.0..1.0f32).powi(2) * 110.0;
    [
        (base + rng.random_range(-sat..=sat)).clamp(0.0, 255.0),
        (base + rng.random_range(-sat..=sat)).clamp(0.0, 255.0),
        (base + rng.random_range(-sat..=sat)).clamp(0.0, 255.0),
    ]
}

/// Smooth value noise: a `cells`×`cells` lattice of random values, interpolated smoothly.
fn value_noise(rng: &mut impl RngExt, canvas: &mut Canvas, cells: usize, amp: f32, tint: Rgb) {
    let n = cells + 2;
    let lattice: Vec<f32> = (0..n * n).map(|_| rng.random_range(-1.0..1.0)).collect();
    let sx = cells as f32 / canvas.width.max(1) as f32;
    let sy = cells as f32 / canvas.height.max(1) as f32;
    let w = canvas.width as usize;
    for (i, px) in canvas.px.iter_mut().enumerate() {
        let fx = (i % w) as f32 * sx;
        let fy = (i / w) as f32 * sy;
        let (ix, iy) = (fx as usize, fy as usize);
        let (tx, ty) = (fx - ix as f32, fy - iy as f32);
        let (tx, ty) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
        let v00 = lattice[iy * n + ix];
        let v10 = lattice[iy * n + ix + 1];
        let v01 = lattice[(iy + 1) * n + ix];
        let v11 = lattice[(iy + 1) * n + ix + 1];
        let v =
            (v00 + (v10 - v00) * tx) + ((v01 + (v11 - v01) * tx) - (v00 + (v10 - v00) * tx)) * ty;
        for c in 0..3 {
            px[c] += v * amp * tint[c];
        }
    }
}

/// Paint a textured, cluttered background: gradient sky/wall, optional floor with
/// perspective stripes, smooth noise, boxes, blobs, stripe patches and stick-like
/// distractors that look a little like limbs.
pub fn background(rng: &mut impl RngExt, width: u32, height: u32, light: &Light) -> Canvas {
    let mut cv = Canvas::new(width, height, [0.0; 3]);
    let (wf, hf) = (width as f32, height as f32);
    let c1 = random_color(rng);
    let c2 = random_color(rng);
    let ang: f32 = rng.random_range(0.0..std::f32::consts::TAU);
    let (gs, gc) = ang.sin_cos();
    let diag = (wf * wf + hf * hf).sqrt().max(1.0);
    let horizon = if rng.random_bool(0.6) {
        Some(rng.random_range(0.2..0.75) * hf)
    } else {
        None
    };
    let floor1 = random_color(rng);
    let floor2 = random_color(rng);
    let floor_stripes = rng.random_bool(0.35);
    let stripe_freq: f32 = rng.random_range(0.5..3.0);
    let w = width as usize;
    for (i, px) in cv.px.iter_mut().enumerate() {
        let x = (i % w) as f32;
        let y = (i / w) as f32;
        match horizon {
            Some(hy) if y >= hy => {
                let t = ((y - hy) / (hf - hy).max(1.0)).clamp(0.0, 1.0);
                let mut c = lerp3(floor1, floor2, t);
                if floor_stripes {
                    // Boards/tiles that get wider towards the viewer.
                    let k = ((y - hy + 2.0).ln() * 6.0 * stripe_freq).sin();
                    let f = if k > 0.0 { 1.0 } else { 0.82 };
                    c = [c[0] * f, c[1] * f, c[2] * f];
                }
                *px = c;
            }
            _ => {
                let t = ((x - wf / 2.0) * gc + (y - hf / 2.0) * gs) / diag + 0.5;
                *px = lerp3(c1, c2, t.clamp(0.0, 1.0));
            }
        }
    }
    let cells = rng.random_range(3..12);
    let amp: f32 = rng.random_range(5.0..35.0);
    let tint = [
        rng.random_range(0.7..1.0),
        rng.random_range(0.7..1.0),
        rng.random_range(0.7..1.0),
    ];
    value_noise(rng, &mut cv, cells, amp, tint);

    let n_objects = rng.random_range(3..22);
    let scale = wf.min(hf);
    for _ in 0..n_objects {
        let c = [
            rng.random_range(-0.1..1.1) * wf,
            rng.random_range(-0.1..1.1) * hf,
        ];
        let size = scale * rng.random_range(0.03f32..0.45).powf(1.3) * 1.6;
        let paint = Paint {
            color: random_color(rng),
            shaded: rng.random_bool(0.5),
            outline: if rng.random_bool(0.3) { 1.0 } else { 0.0 },
        };
        let kind = rng.random_range(0..10);
        let geom = match kind {
            0..=3 => {
                let a = if rng.random_bool(0.6) {
                    0.0
                } else {
                    rng.random_range(-0.6..0.6)
                };
                let hw = size * rng.random_range(0.3..1.0);
                let hh = size * rng.random_range(0.3..1.0);
                let (s, co) = f32::sin_cos(a);
                let corner = |u: f32, v: f32| [c[0] + u * co - v * s, c[1] + u * s + v * co];
                let p = [
                    corner(-hw, -hh),
                    corner(hw, -hh),
                    corner(hw, hh),
                    corner(-hw, hh),
                ];
                Geom::Quad {
                    p,
                    round: rng.random_range(0.0..3.0),
                    a: corner(0.0, -hh),
                    b: corner(0.0, hh),
                    wa: hw,
                    wb: hw,
                }
            }
            4..=6 => Geom::Ellipse {
                c,
                rx: size * rng.random_range(0.3..1.0),
                ry: size * rng.random_range(0.3..1.0),
                angle: rng.random_range(0.0..std::f32::consts::PI),
            },
            7 => {
                // Stripe patch: several parallel bars.
                let bars = rng.random_range(3..9);
                let a: f32 = rng.random_range(0.0..std::f32::consts::PI);
                let (s, co) = a.sin_cos();
                let gap = size * rng.random_range(0.15..0.4);
                let len = size * rng.random_range(0.8..2.0);
                let bar_paint = paint;
                let thick = gap * rng.random_range(0.25..0.5);
                for k in 0..bars {
                    let off = (k as f32 - bars as f32 / 2.0) * gap;
                    let m = [c[0] - s * off, c[1] + co * off];
                    let g = Geom::Capsule {
                        a: [m[0] - co * len / 2.0, m[1] - s * len / 2.0],
                        b: [m[0] + co * len / 2.0, m[1] + s * len / 2.0],
                        ra: thick,
                        rb: thick,
                    };
                    fill(&mut cv, &g, &bar_paint, light, None, &mut None);
                }
                continue;
            }
            _ => {
                // Limb-like stick: a hard negative for the keypoint detector.
                let a: f32 = rng.random_range(0.0..std::f32::consts::TAU);
                let len = size * rng.random_range(0.5..1.5);
                let r = scale * rng.random_range(0.008..0.04);
                Geom::Capsule {
                    a: c,
                    b: [c[0] + a.cos() * len, c[1] + a.sin() * len],
                    ra: r,
                    rb: r * rng.random_range(0.6..1.0),
                }
            }
        };
        fill(&mut cv, &geom, &paint, light, None, &mut None);
    }
    cv
}

/// Separable Gaussian blur with standard deviation `sigma` pixels (edges clamp).
pub fn gaussian_blur(cv: &mut Canvas, sigma: f32) {
    if sigma <= 0.05 {
        return;
    }
    let radius = (sigma * 2.5).ceil() as i64;
    let kernel: Vec<f32> = (-radius..=radius)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let ksum: f32 = kernel.iter().sum();
    let kernel: Vec<f32> = kernel.iter().map(|k| k / ksum).collect();
    let (w, h) = (cv.width as i64, cv.height as i64);
    let mut tmp = vec![[0.0f32; 3]; cv.px.len()];
    for y in 0..h {
        for x in 0..w {
            let mut acc = [0.0f32; 3];
            for (k, kv) in kernel.iter().enumerate() {
                let sx = (x + k as i64 - radius).clamp(0, w - 1);
                let s = cv.px[(y * w + sx) as usize];
                for c in 0..3 {
                    acc[c] += s[c] * kv;
                }
            }
            tmp[(y * w + x) as usize] = acc;
        }
    }
    for y in 0..h {
        for x in 0..w {
            let mut acc = [0.0f32; 3];
            for (k, kv) in kernel.iter().enumerate() {
                let sy = (y + k as i64 - radius).clamp(0, h - 1);
                let s = tmp[(sy * w + x) as usize];
                for c in 0..3 {
                    acc[c] += s[c] * kv;
                }
            }
            cv.px[(y * w + x) as usize] = acc;
        }
    }
}

/// Camera effects applied to the finished scene.
#[derive(Clone, Copy, Debug)]
pub struct PostFx {
    /// Per-channel gain (white balance and exposure).
    pub gain: Rgb,
    /// Contrast around mid-grey.
    pub contrast: f32,
    /// Gaussian blur sigma in pixels (0 = sharp).
    pub blur: f32,
    /// Standard deviation of per-pixel sensor noise in grey levels.
    pub noise: f32,
}

impl PostFx {
    pub fn sample(rng: &mut impl RngExt) -> Self {
        let exposure: f32 = rng.random_range(0.75..1.2);
        PostFx {
            gain: [
                exposure * rng.random_range(0.9..1.1),
                exposure * rng.random_range(0.9..1.1),
                exposure * rng.random_range(0.9..1.1),
            ],
            contrast: rng.random_range(0.75..1.2),
            blur: if rng.random_bool(0.35) {
                rng.random_range(0.4..1.3)
            } else {
                0.0
            },
            noise: rng.random_range(0.0f32..1.0).powi(2) * 9.0,
        }
    }

    /// Apply to `cv`; `rng` drives the noise.
    pub fn apply(&self, cv: &mut Canvas, rng: &mut impl RngExt) {
        gaussian_blur(cv, self.blur);
        for px in cv.px.iter_mut() {
            for (v, g) in px.iter_mut().zip(self.gain) {
                *v = (*v * g - 128.0) * self.contrast + 128.0;
            }
        }
        if self.noise > 0.0 {
            for px in cv.px.iter_mut() {
                // Sum of uniforms: cheap, bell-shaped, unit variance after scaling.
                let u = rng.random::<u32>();
                let v = rng.random::<u32>();
                let l = |s: u32| (s & 0xff) as f32 + ((s >> 8) & 0xff) as f32 - 255.0;
                let luma = (l(u) + l(u >> 16)) / 148.0;
                let chroma = [l(v), l(v >> 8), l(v >> 16)];
                for c in 0..3 {
                    px[c] += self.noise * (luma + chroma[c] / 416.0);
                }
            }
        }
    }
}
