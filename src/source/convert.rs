//! Pixel-format conversions from camera and file buffers to RGB8.
//!
//! Pure functions over byte slices, kept apart from the V4L2 code so they are tested (and
//! benchmarkable) on machines without a camera. Every size mismatch is a
//! [`SourceError::BadFrame`]: drivers do hand out short buffers (USB hiccups), and a bad
//! frame must never take the daemon down.

use image::RgbImage;

use super::SourceError;

/// Bytes per pixel of packed YUYV (4:2:2, two pixels per 4 bytes).
const YUYV_BYTES_PER_PIXEL: usize = 2;
/// Bytes per pixel of RGB24 / BGR24.
const RGB_BYTES_PER_PIXEL: usize = 3;

/// Pixel formats the sources can turn into RGB8.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PixelFormat {
    /// Packed YUV 4:2:2 (Y0 U Y1 V), BT.601 limited range: the format every UVC camera offers.
    Yuyv,
    /// Motion JPEG: one JPEG image per frame.
    Mjpeg,
    /// Packed 8-bit R, G, B.
    Rgb24,
    /// Packed 8-bit B, G, R.
    Bgr24,
    /// 8-bit greyscale.
    Grey,
    /// Planar YUV 4:2:0 (Y plane, then U and V at half resolution), BT.601 limited range:
    /// what `rpicam-vid --codec yuv420` and GStreamer's `I420` write. `yuv420` is accepted too.
    #[serde(alias = "yuv420")]
    I420,
}

impl PixelFormat {
    /// All formats, in the order negotiation prefers them when the user did not choose:
    /// cheap-to-convert uncompressed formats first, MJPEG (decoding costs CPU) after, greyscale
    /// (loses colour the models were trained on) last.
    pub const PREFERENCE: [PixelFormat; 6] = [
        PixelFormat::Rgb24,
        PixelFormat::Bgr24,
        PixelFormat::Yuyv,
        PixelFormat::I420,
        PixelFormat::Mjpeg,
        PixelFormat::Grey,
    ];

    /// The V4L2 four-character code.
    pub const fn fourcc(self) -> [u8; 4] {
        match self {
            PixelFormat::Yuyv => *b"YUYV",
            PixelFormat::Mjpeg => *b"MJPG",
            PixelFormat::Rgb24 => *b"RGB3",
            PixelFormat::Bgr24 => *b"BGR3",
            PixelFormat::Grey => *b"GREY",
            PixelFormat::I420 => *b"YU12",
        }
    }

    /// The format of a V4L2 four-character code, `None` for formats we cannot convert.
    pub fn from_fourcc(code: [u8; 4]) -> Option<PixelFormat> {
        match &code {
            b"YUYV" => Some(PixelFormat::Yuyv),
            // Some drivers report plain JPEG for what is MJPEG in practice.
            b"MJPG" | b"JPEG" => Some(PixelFormat::Mjpeg),
            b"RGB3" => Some(PixelFormat::Rgb24),
            b"BGR3" => Some(PixelFormat::Bgr24),
            b"GREY" => Some(PixelFormat::Grey),
            b"YU12" => Some(PixelFormat::I420),
            _ => None,
        }
    }
}

impl std::fmt::Display for PixelFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let code = self.fourcc();
        f.write_str(std::str::from_utf8(&code).unwrap_or("????"))
    }
}

/// Converts one frame buffer of `format` to RGB8.
///
/// `stride` is the length of one row in bytes as the driver reports it (0 = tightly packed);
/// it is ignored for MJPEG. Trailing bytes after the last row are ignored (drivers round
/// buffer sizes up to pages).
pub fn to_rgb(
    format: PixelFormat,
    data: &[u8],
    width: u32,
    height: u32,
    stride: u32,
) -> Result<RgbImage, SourceError> {
    match format {
        PixelFormat::Yuyv => yuyv_to_rgb(data, width, height, stride),
        PixelFormat::Rgb24 => packed3_to_rgb(data, width, height, stride, false),
        PixelFormat::Bgr24 => packed3_to_rgb(data, width, height, stride, true),
        PixelFormat::Grey => grey_to_rgb(data, width, height, stride),
        PixelFormat::I420 => i420_to_rgb(data, width, height, stride),
        PixelFormat::Mjpeg => {
            let img = decode_jpeg(data)?;
            if img.width() != width || img.height() != height {
                return Err(SourceError::BadFrame(format!(
                    "MJPEG frame is {}x{}, the negotiated size is {width}x{height}",
                    img.width(),
                    img.height()
                )));
            }
            Ok(img)
        }
    }
}

/// Bytes of one tightly packed frame of an uncompressed `format`; `None` for MJPEG (its frames
/// vary in size) and for sizes that overflow.
pub fn frame_len(format: PixelFormat, width: u32, height: u32) -> Option<usize> {
    let (w, h) = (width as usize, height as usize);
    match format {
        PixelFormat::Mjpeg => None,
        PixelFormat::Rgb24 | PixelFormat::Bgr24 => w.checked_mul(h)?.checked_mul(3),
        PixelFormat::Yuyv => w.checked_mul(h)?.checked_mul(YUYV_BYTES_PER_PIXEL),
        PixelFormat::Grey => w.checked_mul(h),
        PixelFormat::I420 => {
            let chroma = w.div_ceil(2).checked_mul(h.div_ceil(2))?;
            w.checked_mul(h)?.checked_add(chroma.checked_mul(2)?)
        }
    }
}

/// Decodes a JPEG (file or MJPEG frame) to RGB8; empty, truncated or corrupt data is a
/// [`SourceError::BadFrame`].
pub fn decode_jpeg(data: &[u8]) -> Result<RgbImage, SourceError> {
    if data.is_empty() {
        return Err(SourceError::BadFrame("empty JPEG (0 bytes)".into()));
    }
    // A JPEG starts with SOI (FF D8) and ends with EOI (FF D9); decoders are lenient about a
    // missing EOI and return a partly grey image, which would feed garbage to the model.
    if !data.starts_with(&[0xFF, 0xD8]) {
        return Err(SourceError::BadFrame(
            "not a JPEG (no start-of-image marker)".into(),
        ));
    }
    if !has_eoi(data) {
        return Err(SourceError::BadFrame(format!(
            "truncated JPEG ({} bytes, no end-of-image marker)",
            data.len()
        )));
    }
    let img = image::load_from_memory_with_format(data, image::ImageFormat::Jpeg)
        .map_err(|e| SourceError::BadFrame(format!("corrupt JPEG: {e}")))?;
    Ok(img.into_rgb8())
}

/// Whether the JPEG ends with EOI, allowing the zero padding some cameras append.
fn has_eoi(data: &[u8]) -> bool {
    let end = data
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |last| last + 1);
    end >= 4 && data[..end].ends_with(&[0xFF, 0xD9])
}

/// Row length in bytes, from the driver's stride or the packed width.
fn row_bytes(
    width: u32,
    height: u32,
    stride: u32,
    bytes_per_pixel: usize,
) -> Result<(usize, usize), SourceError> {
    if width == 0 || height == 0 {
        return Err(SourceError::BadFrame(format!(
            "invalid frame size {width}x{height}"
        )));
    }
    let packed = width as usize * bytes_per_pixel;
    let stride = if stride == 0 { packed } else { stride as usize };
    if stride < packed {
        return Err(SourceError::BadFrame(format!(
            "row stride {stride} is shorter than {packed} bytes for width {width}"
        )));
    }
    Ok((packed, stride))
}

/// Checks the buffer holds `height` rows of `stride` bytes (the last row only needs `packed`).
fn check_len(
    data: &[u8],
    height: u32,
    packed: usize,
    stride: usize,
    what: &str,
) -> Result<(), SourceError> {
    let need = stride * (height as usize - 1) + packed;
    if data.len() < need {
        return Err(SourceError::BadFrame(format!(
            "short {what} buffer: {} bytes, need {need}",
            data.len()
        )));
    }
    Ok(())
}

/// YUYV (BT.601 limited range, as UVC cameras send it) to RGB8.
pub fn yuyv_to_rgb(
    data: &[u8],
    width: u32,
    height: u32,
    stride: u32,
) -> Result<RgbImage, SourceError> {
    if !width.is_multiple_of(2) {
        return Err(SourceError::BadFrame(format!(
            "YUYV needs an even width, got {width}"
        )));
    }
    let (packed, stride) = row_bytes(width, height, stride, YUYV_BYTES_PER_PIXEL)?;
    check_len(data, height, packed, stride, "YUYV")?;
    let mut out = vec![0u8; width as usize * height as usize * RGB_BYTES_PER_PIXEL];
    for (row, out_row) in out
        .chunks_exact_mut(width as usize * RGB_BYTES_PER_PIXEL)
        .enumerate()
    {
        let src = &data[row * stride..row * stride + packed];
        for (quad, px) in src.chunks_exact(4).zip(out_row.chunks_exact_mut(6)) {
            let (u, v) = (quad[1], quad[3]);
            px[..3].copy_from_slice(&yuv_to_rgb(quad[0], u, v));
            px[3..].copy_from_slice(&yuv_to_rgb(quad[2], u, v));
        }
    }
    image_from(out, width, height)
}

/// Planar I420 (YUV 4:2:0: Y plane, then U, then V, each chroma sample covering 2x2 pixels)
/// to RGB8 with the same BT.601 limited-range coefficients as YUYV.
///
/// `stride` is the Y row length (0 = `width`); the chroma rows are half of it, rounded up, as
/// V4L2's `YU12` lays them out. Odd sizes round the chroma planes up.
pub fn i420_to_rgb(
    data: &[u8],
    width: u32,
    height: u32,
    stride: u32,
) -> Result<RgbImage, SourceError> {
    let (packed, y_stride) = row_bytes(width, height, stride, 1)?;
    let (cw, ch) = (packed.div_ceil(2), (height as usize).div_ceil(2));
    let c_stride = y_stride.div_ceil(2);
    let y_len = y_stride * height as usize;
    let c_len = c_stride * (ch - 1) + cw;
    let need = y_len + c_stride * ch + c_len;
    if data.len() < need {
        return Err(SourceError::BadFrame(format!(
            "short I420 buffer: {} bytes, need {need} for {width}x{height}",
            data.len()
        )));
    }
    let (y_plane, rest) = data.split_at(y_len);
    let (u_plane, v_plane) = rest.split_at(c_stride * ch);
    let mut out = vec![0u8; packed * height as usize * RGB_BYTES_PER_PIXEL];
    for (row, out_row) in out
        .chunks_exact_mut(packed * RGB_BYTES_PER_PIXEL)
        .enumerate()
    {
        let ys = &y_plane[row * y_stride..row * y_stride + packed];
        let c0 = (row / 2) * c_stride;
        let (us, vs) = (&u_plane[c0..c0 + cw], &v_plane[c0..c0 + cw]);
        for (i, (y2, px2)) in ys
            .chunks(2)
            .zip(out_row.chunks_mut(2 * RGB_BYTES_PER_PIXEL))
            .enumerate()
        {
            let (u, v) = (us[i], vs[i]);
            for (y, px) in y2.iter().zip(px2.chunks_exact_mut(RGB_BYTES_PER_PIXEL)) {
                px.copy_from_slice(&yuv_to_rgb(*y, u, v));
            }
        }
    }
    image_from(out, width, height)
}

/// One BT.601 limited-range YCbCr pixel to RGB, fixed point (8 fractional bits).
#[inline]
fn yuv_to_rgb(y: u8, u: u8, v: u8) -> [u8; 3] {
    // Coefficients × 256: 1.164 (Y scale), 1.596 (V→R), 0.392 (U→G), 0.813 (V→G), 2.017 (U→B).
    let c = 298 * (i32::from(y) - 16);
    let d = i32::from(u) - 128;
    let e = i32::from(v) - 128;
    let clamp = |x: i32| ((x + 128) >> 8).clamp(0, 255) as u8;
    [
        clamp(c + 409 * e),
        clamp(c - 100 * d - 208 * e),
        clamp(c + 516 * d),
    ]
}

/// RGB24 or BGR24 (with `swap`) to RGB8, dropping row padding.
pub fn packed3_to_rgb(
    data: &[u8],
    width: u32,
    height: u32,
    stride: u32,
    swap: bool,
) -> Result<RgbImage, SourceError> {
    let (packed, stride) = row_bytes(width, height, stride, RGB_BYTES_PER_PIXEL)?;
    check_len(
        data,
        height,
        packed,
        stride,
        if swap { "BGR24" } else { "RGB24" },
    )?;
    let mut out = Vec::with_capacity(packed * height as usize);
    for row in 0..height as usize {
        let src = &data[row * stride..row * stride + packed];
        if swap {
            out.extend(src.chunks_exact(3).flat_map(|p| [p[2], p[1], p[0]]));
        } else {
            out.extend_from_slice(src);
        }
    }
    image_from(out, width, height)
}

/// 8-bit greyscale to RGB8 (grey replicated into the three channels).
pub fn grey_to_rgb(
    data: &[u8],
    width: u32,
    height: u32,
    stride: u32,
) -> Result<RgbImage, SourceError> {
    let (packed, stride) = row_bytes(width, height, stride, 1)?;
    check_len(data, height, packed, stride, "GREY")?;
    let mut out = Vec::with_capacity(packed * height as usize * RGB_BYTES_PER_PIXEL);
    for row in 0..height as usize {
        let src = &data[row * stride..row * stride + packed];
        out.extend(src.iter().flat_map(|&g| [g, g, g]));
    }
    image_from(out, width, height)
}

fn image_from(buf: Vec<u8>, width: u32, height: u32) -> Result<RgbImage, SourceError> {
    RgbImage::from_raw(width, height, buf).ok_or_else(|| {
        SourceError::BadFrame(format!("internal: buffer does not fit {width}x{height}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes an RGB image as JPEG with the image crate's encoder (an independent codec path).
    fn jpeg_of(img: &RgbImage) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95)
            .encode_image(img)
            .expect("encode test JPEG");
        out.into_inner()
    }

    /// Textbook BT.601 limited-range conversion in floating point, the reference.
    fn reference_yuv(y: u8, u: u8, v: u8) -> [f32; 3] {
        let (y, u, v) = (
            f32::from(y) - 16.0,
            f32::from(u) - 128.0,
            f32::from(v) - 128.0,
        );
        [
            (1.164 * y + 1.596 * v).clamp(0.0, 255.0),
            (1.164 * y - 0.392 * u - 0.813 * v).clamp(0.0, 255.0),
            (1.164 * y + 2.017 * u).clamp(0.0, 255.0),
        ]
    }

    #[test]
    fn yuyv_known_colours() {
        // Black, white (limited range), and saturated red / blue per BT.601.
        let data = [
            16, 128, 235, 128, // black, white
            81, 90, 41, 240, // (81,90,240) ≈ red, (41,90,240) darker red
        ];
        let img = yuyv_to_rgb(&data, 2, 2, 0).unwrap();
        assert_eq!(img.get_pixel(0, 0).0, [0, 0, 0]);
        assert_eq!(img.get_pixel(1, 0).0, [255, 255, 255]);
        let red = img.get_pixel(0, 1).0;
        assert!(red[0] > 240 && red[1] < 10 && red[2] < 10, "{red:?}");
    }

    #[test]
    fn yuyv_matches_float_reference_over_all_chroma() {
        let width = 256u32;
        let mut data = Vec::new();
        for u in (0..=255u8).step_by(17) {
            for i in 0..width / 2 {
                let y0 = (i * 2) as u8;
                data.extend_from_slice(&[y0, u, y0.wrapping_add(1), 255 - u]);
            }
        }
        let height = (data.len() / (width as usize * 2)) as u32;
        let img = yuyv_to_rgb(&data, width, height, 0).unwrap();
        for (row, chunk) in data.chunks_exact(width as usize * 2).enumerate() {
            for (i, q) in chunk.chunks_exact(4).enumerate() {
                for (k, y) in [(0, q[0]), (1, q[2])] {
                    let want = reference_yuv(y, q[1], q[3]);
                    let got = img.get_pixel(i as u32 * 2 + k, row as u32).0;
                    for c in 0..3 {
                        assert!(
                            (f32::from(got[c]) - want[c]).abs() <= 2.0,
                            "y{y} u{} v{}: {got:?} vs {want:?}",
                            q[1],
                            q[3]
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn yuyv_honours_stride_and_rejects_bad_sizes() {
        // 2x2 with 8-byte stride (4 padding bytes per row, padding is garbage).
        let data = [16, 128, 16, 128, 9, 9, 9, 9, 235, 128, 235, 128];
        let img = yuyv_to_rgb(&data, 2, 2, 8).unwrap();
        assert_eq!(img.get_pixel(1, 0).0, [0, 0, 0]);
        assert_eq!(img.get_pixel(0, 1).0, [255, 255, 255]);
        assert!(matches!(
            yuyv_to_rgb(&data[..10], 2, 2, 8),
            Err(SourceError::BadFrame(m)) if m.contains("short YUYV")
        ));
        assert!(matches!(
            yuyv_to_rgb(&data, 3, 1, 0),
            Err(SourceError::BadFrame(_))
        ));
        assert!(matches!(
            yuyv_to_rgb(&data, 2, 2, 3),
            Err(SourceError::BadFrame(m)) if m.contains("stride")
        ));
        assert!(matches!(
            yuyv_to_rgb(&[], 0, 0, 0),
            Err(SourceError::BadFrame(_))
        ));
    }

    #[test]
    fn bgr_rgb_and_grey() {
        let bgr = [1, 2, 3, 4, 5, 6, 0, 0, 7, 8, 9, 10, 11, 12, 0, 0];
        let img = packed3_to_rgb(&bgr, 2, 2, 8, true).unwrap();
        assert_eq!(img.get_pixel(0, 0).0, [3, 2, 1]);
        assert_eq!(img.get_pixel(1, 1).0, [12, 11, 10]);
        let img = packed3_to_rgb(&bgr, 2, 2, 8, false).unwrap();
        assert_eq!(img.get_pixel(1, 0).0, [4, 5, 6]);
        assert!(packed3_to_rgb(&bgr[..12], 2, 2, 8, true).is_err());

        let grey = [10, 20, 30, 40, 50, 60];
        let img = grey_to_rgb(&grey, 3, 2, 0).unwrap();
        assert_eq!(img.get_pixel(2, 1).0, [60, 60, 60]);
        assert_eq!(img.dimensions(), (3, 2));
        assert!(grey_to_rgb(&grey[..5], 3, 2, 0).is_err());
        let img = to_rgb(PixelFormat::Grey, &grey, 2, 2, 3).unwrap();
        assert_eq!(img.get_pixel(0, 1).0, [40, 40, 40]);
    }

    #[test]
    fn mjpeg_decodes_and_checks_size() {
        let src = RgbImage::from_fn(32, 16, |x, y| image::Rgb([x as u8 * 8, y as u8 * 16, 128]));
        let jpeg = jpeg_of(&src);
        let img = to_rgb(PixelFormat::Mjpeg, &jpeg, 32, 16, 0).unwrap();
        let err: u32 = img
            .pixels()
            .zip(src.pixels())
            .map(|(a, b)| (0..3).map(|c| a.0[c].abs_diff(b.0[c]) as u32).sum::<u32>())
            .max()
            .unwrap();
        assert!(err < 40, "max abs colour error {err}");
        assert!(matches!(
            to_rgb(PixelFormat::Mjpeg, &jpeg, 64, 16, 0),
            Err(SourceError::BadFrame(m)) if m.contains("32x16")
        ));
        // Cameras pad buffers with zeros after EOI.
        let mut padded = jpeg.clone();
        padded.extend_from_slice(&[0; 100]);
        assert!(decode_jpeg(&padded).is_ok());
    }

    #[test]
    fn mjpeg_bad_data_is_bad_frame_not_panic() {
        let src = RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let jpeg = jpeg_of(&src);
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty", vec![]),
            ("truncated", jpeg[..jpeg.len() / 2].to_vec()),
            ("header only", jpeg[..20].to_vec()),
            ("not jpeg", b"GIF89a not a jpeg at all".to_vec()),
            ("corrupt", {
                let mut c = jpeg.clone();
                // Keep SOI and EOI, destroy the headers and scan between them.
                let n = c.len();
                for b in &mut c[2..n - 2] {
                    *b = 0xA5;
                }
                c
            }),
            ("soi+eoi", vec![0xFF, 0xD8, 0xFF, 0xD9]),
        ];
        for (name, data) in cases {
            match decode_jpeg(&data) {
                Err(SourceError::BadFrame(msg)) => assert!(!msg.is_empty(), "{name}"),
                other => panic!("{name}: expected BadFrame, got {other:?}"),
            }
        }
    }

    #[test]
    fn i420_matches_float_reference_and_chroma_is_shared_by_2x2() {
        // 6x4: Y ramps, every 2x2 block has its own (u, v).
        let (w, h) = (6usize, 4usize);
        let y: Vec<u8> = (0..w * h).map(|i| 16 + (i * 9) as u8).collect();
        let u: Vec<u8> = (0..6).map(|i| 40 + i * 30).collect();
        let v: Vec<u8> = (0..6).map(|i| 230 - i * 35).collect();
        let data = [y.clone(), u.clone(), v.clone()].concat();
        assert_eq!(frame_len(PixelFormat::I420, 6, 4), Some(data.len()));
        let img = to_rgb(PixelFormat::I420, &data, 6, 4, 0).unwrap();
        for row in 0..h {
            for col in 0..w {
                let c = (row / 2) * 3 + col / 2;
                let want = reference_yuv(y[row * w + col], u[c], v[c]);
                let got = img.get_pixel(col as u32, row as u32).0;
                for k in 0..3 {
                    assert!(
                        (f32::from(got[k]) - want[k]).abs() <= 2.0,
                        "({col},{row}): {got:?} vs {want:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn i420_odd_sizes_stride_and_short_buffers() {
        // 3x3: chroma planes are 2x2 (rounded up); all grey.
        let mut data = vec![128u8; 9 + 4 + 4];
        data[..9].fill(235);
        let img = i420_to_rgb(&data, 3, 3, 0).unwrap();
        assert_eq!(img.dimensions(), (3, 3));
        assert_eq!(img.get_pixel(2, 2).0, [255, 255, 255]);
        assert_eq!(frame_len(PixelFormat::I420, 3, 3), Some(17));
        assert!(matches!(
            i420_to_rgb(&data[..16], 3, 3, 0),
            Err(SourceError::BadFrame(m)) if m.contains("short I420")
        ));
        // 2x2 with a Y stride of 4 (chroma stride 2): padding bytes are garbage.
        let data = [16, 16, 99, 99, 235, 235, 99, 99, 128, 99, 128, 99];
        let img = i420_to_rgb(&data, 2, 2, 4).unwrap();
        assert_eq!(img.get_pixel(1, 0).0, [0, 0, 0]);
        assert_eq!(img.get_pixel(0, 1).0, [255, 255, 255]);
        assert!(i420_to_rgb(&data, 2, 2, 1).is_err());
        assert!(i420_to_rgb(&[], 0, 2, 0).is_err());
    }

    #[test]
    fn frame_lengths() {
        assert_eq!(frame_len(PixelFormat::Rgb24, 640, 480), Some(921_600));
        assert_eq!(frame_len(PixelFormat::I420, 640, 480), Some(460_800));
        assert_eq!(frame_len(PixelFormat::Yuyv, 4, 2), Some(16));
        assert_eq!(frame_len(PixelFormat::Grey, 4, 2), Some(8));
        assert_eq!(frame_len(PixelFormat::Mjpeg, 640, 480), None);
        assert_eq!(frame_len(PixelFormat::Rgb24, u32::MAX, u32::MAX), None);
    }

    #[test]
    fn fourcc_round_trip() {
        for f in PixelFormat::PREFERENCE {
            assert_eq!(PixelFormat::from_fourcc(f.fourcc()), Some(f));
        }
        assert_eq!(PixelFormat::from_fourcc(*b"NV12"), None);
        assert_eq!(PixelFormat::I420.to_string(), "YU12");
        let f: PixelFormat = serde_json::from_str("\"yuv420\"").unwrap();
        assert_eq!(f, PixelFormat::I420);
        assert_eq!(PixelFormat::Mjpeg.to_string(), "MJPG");
    }
}
