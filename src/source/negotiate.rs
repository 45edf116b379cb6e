//! Capture-format negotiation: what the user asked for versus what the camera offers.
//!
//! Pure functions over the enumerated offer so the logic is tested without a device; the
//! V4L2 source only enumerates ([`OfferedFormat`]) and applies the [`Negotiated`] result.

use std::fmt::{self, Write as _};

use super::convert::PixelFormat;

/// Frame sizes a camera offers for one pixel format.
#[derive(Clone, Debug, PartialEq)]
pub enum OfferedSizes {
    /// A list of sizes, each with its discrete frame rates (empty when the driver did not say).
    Discrete(Vec<OfferedSize>),
    /// Any size in a range on a step grid (continuous = step 1).
    Stepwise {
        min: (u32, u32),
        max: (u32, u32),
        step: (u32, u32),
    },
}

/// One discrete frame size and its frame rates.
#[derive(Clone, Debug, PartialEq)]
pub struct OfferedSize {
    pub width: u32,
    pub height: u32,
    /// Frames per second the driver lists for this size.
    pub fps: Vec<f32>,
}

/// One pixel format as the camera enumerates it.
#[derive(Clone, Debug, PartialEq)]
pub struct OfferedFormat {
    pub fourcc: [u8; 4],
    pub sizes: OfferedSizes,
}

/// What the user asked for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Request {
    /// `None` = the best convertible format (see [`PixelFormat::PREFERENCE`]).
    pub format: Option<PixelFormat>,
    pub width: u32,
    pub height: u32,
    /// `None` = the driver's default rate.
    pub fps: Option<f32>,
}

/// The format to set on the device.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Negotiated {
    pub format: PixelFormat,
    pub width: u32,
    pub height: u32,
    /// Rate to request; `None` = leave the driver's default.
    pub fps: Option<f32>,
    /// `true` when the size is exactly the requested one.
    pub exact_size: bool,
}

/// Negotiation failed; the message lists the whole offer so the user can fix the config.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{reason}; the camera offers: {offer}")]
pub struct NegotiationError {
    pub reason: String,
    /// Human-readable summary of every offered format.
    pub offer: String,
}

/// Picks format, size and rate.
///
/// Rules, in order: a requested format must be offered (else error); otherwise the first
/// format in [`PixelFormat::PREFERENCE`] that offers the exact size wins, and failing that the
/// size closest to the request over all convertible formats (ties by preference). The rate is
/// the listed one nearest to the request.
pub fn negotiate(offered: &[OfferedFormat], req: &Request) -> Result<Negotiated, NegotiationError> {
    let fail = |reason: String| NegotiationError {
        reason,
        offer: describe_offer(offered),
    };
    if req.width == 0 || req.height == 0 {
        return Err(fail(format!(
            "requested size {}x{} is invalid",
            req.width, req.height
        )));
    }
    if let Some(fps) = req.fps {
        if !(fps.is_finite() && fps > 0.0) {
            return Err(fail(format!("requested frame rate {fps} is invalid")));
        }
    }
    let candidates: Vec<(PixelFormat, &OfferedFormat)> = match req.format {
        Some(want) => {
            let found: Vec<_> = offered
                .iter()
                .filter(|o| PixelFormat::from_fourcc(o.fourcc) == Some(want))
                .map(|o| (want, o))
                .collect();
            if found.is_empty() {
                return Err(fail(format!("pixel format {want} is not offered")));
            }
            found
        }
        None => {
            let mut c: Vec<_> = offered
                .iter()
                .filter_map(|o| PixelFormat::from_fourcc(o.fourcc).map(|f| (f, o)))
                .collect();
            c.sort_by_key(|(f, _)| PixelFormat::PREFERENCE.iter().position(|p| p == f));
            if c.is_empty() {
                return Err(fail(
                    "none of the offered pixel formats can be converted (supported: YUYV, MJPG, RGB3, BGR3, GREY)"
                        .into(),
                ));
            }
            c
        }
    };

    let mut best: Option<Choice> = None;
    for (rank, (format, o)) in candidates.iter().enumerate() {
        for (size, fps) in nearest_sizes(&o.sizes, req.width, req.height) {
            let dist = size_distance(size, (req.width, req.height));
            if best.as_ref().is_none_or(|b| (dist, rank) < (b.0, b.1)) {
                best = Some((dist, rank, *format, size, fps));
            }
        }
    }
    let Some((dist, _, format, (width, height), rates)) = best else {
        return Err(fail(format!(
            "no frame size is offered for {}",
            req.format
                .map_or("any convertible format".to_string(), |f| f.to_string())
        )));
    };
    let fps = match (req.fps, rates.is_empty()) {
        (Some(want), false) => rates
            .iter()
            .copied()
            .min_by(|a, b| (a - want).abs().total_cmp(&(b - want).abs())),
        (want, _) => want,
    };
    Ok(Negotiated {
        format,
        width,
        height,
        fps,
        exact_size: dist == 0,
    })
}

/// A candidate during negotiation: (size distance, preference rank, format, size, rates).
type Choice = (u64, usize, PixelFormat, (u32, u32), Vec<f32>);

/// Squared Euclidean distance between sizes: penalises one badly wrong side more than two
/// slightly wrong ones.
fn size_distance(a: (u32, u32), b: (u32, u32)) -> u64 {
    let dw = u64::from(a.0.abs_diff(b.0));
    let dh = u64::from(a.1.abs_diff(b.1));
    dw * dw + dh * dh
}

/// Candidate sizes of one format: every discrete size, or the grid point nearest the request.
fn nearest_sizes(sizes: &OfferedSizes, w: u32, h: u32) -> Vec<((u32, u32), Vec<f32>)> {
    match sizes {
        OfferedSizes::Discrete(list) => list
            .iter()
            .filter(|s| s.width > 0 && s.height > 0)
            .map(|s| ((s.width, s.height), s.fps.clone()))
            .collect(),
        OfferedSizes::Stepwise { min, max, step } => {
            if min.0 == 0 || min.1 == 0 || max.0 < min.0 || max.1 < min.1 {
                return Vec::new();
            }
            let snap = |v: u32, lo: u32, hi: u32, step: u32| -> u32 {
                let step = step.max(1);
                let v = v.clamp(lo, hi);
                let k = (v - lo + step / 2) / step;
                (lo + k * step).min(hi - (hi - lo) % step)
            };
            vec![(
                (snap(w, min.0, max.0, step.0), snap(h, min.1, max.1, step.1)),
                Vec::new(),
            )]
        }
    }
}

/// One line summarising the offer: `YUYV [640x480@30/15, 1280x720@10], NV12 (not supported)`.
pub fn describe_offer(offered: &[OfferedFormat]) -> String {
    if offered.is_empty() {
        return "nothing (no capture formats enumerated)".into();
    }
    let mut s = String::new();
    for (i, o) in offered.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "{}", FourCc(o.fourcc));
        if PixelFormat::from_fourcc(o.fourcc).is_none() {
            s.push_str(" (not supported)");
            continue;
        }
        match &o.sizes {
            OfferedSizes::Discrete(list) => {
                s.push_str(" [");
                for (j, sz) in list.iter().enumerate() {
                    if j > 0 {
                        s.push_str(", ");
                    }
                    let _ = write!(s, "{}x{}", sz.width, sz.height);
                    if !sz.fps.is_empty() {
                        s.push('@');
                        for (k, f) in sz.fps.iter().enumerate() {
                            if k > 0 {
                                s.push('/');
                            }
                            let _ = write!(s, "{f}");
                        }
                    }
                }
                s.push(']');
            }
            OfferedSizes::Stepwise { min, max, step } => {
                let _ = write!(
                    s,
                    " [{}x{}..{}x{} step {}x{}]",
                    min.0, min.1, max.0, max.1, step.0, step.1
                );
            }
        }
    }
    s
}

/// Displays a four-character code, escaping non-printable bytes.
struct FourCc([u8; 4]);

impl fmt::Display for FourCc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            if b.is_ascii_graphic() || b == b' ' {
                f.write_char(char::from(b))?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disc(fourcc: &[u8; 4], sizes: &[(u32, u32, &[f32])]) -> OfferedFormat {
        OfferedFormat {
            fourcc: *fourcc,
            sizes: OfferedSizes::Discrete(
                sizes
                    .iter()
                    .map(|&(width, height, fps)| OfferedSize {
                        width,
                        height,
                        fps: fps.to_vec(),
                    })
                    .collect(),
            ),
        }
    }

    /// A typical UVC webcam: YUYV small sizes, MJPEG up to 720p, and a format we cannot read.
    fn webcam() -> Vec<OfferedFormat> {
        vec![
            disc(
                b"YUYV",
                &[(640, 480, &[30.0, 15.0]), (1280, 720, &[10.0, 5.0])],
            ),
            disc(
                b"MJPG",
                &[
                    (640, 480, &[30.0]),
                    (1280, 720, &[30.0]),
                    (320, 240, &[30.0]),
                ],
            ),
            disc(b"NV12", &[(640, 480, &[30.0])]),
        ]
    }

    fn req(format: Option<PixelFormat>, width: u32, height: u32, fps: Option<f32>) -> Request {
        Request {
            format,
            width,
            height,
            fps,
        }
    }

    #[test]
    fn prefers_uncompressed_when_size_matches() {
        let n = negotiate(&webcam(), &req(None, 640, 480, Some(30.0))).unwrap();
        assert_eq!(n.format, PixelFormat::Yuyv);
        assert_eq!((n.width, n.height, n.fps), (640, 480, Some(30.0)));
        assert!(n.exact_size);
    }

    #[test]
    fn explicit_format_and_nearest_rate() {
        let n = negotiate(
            &webcam(),
            &req(Some(PixelFormat::Yuyv), 1280, 720, Some(30.0)),
        )
        .unwrap();
        assert_eq!((n.format, n.fps), (PixelFormat::Yuyv, Some(10.0)));
        let n = negotiate(
            &webcam(),
            &req(Some(PixelFormat::Mjpeg), 1280, 720, Some(25.0)),
        )
        .unwrap();
        assert_eq!((n.format, n.fps), (PixelFormat::Mjpeg, Some(30.0)));
    }

    #[test]
    fn picks_format_that_has_exact_size() {
        // 320x240 is only offered as MJPEG: exact size beats format preference.
        let n = negotiate(&webcam(), &req(None, 320, 240, None)).unwrap();
        assert_eq!(n.format, PixelFormat::Mjpeg);
        assert!(n.exact_size);
        assert_eq!(n.fps, None);
    }

    #[test]
    fn nearest_size_when_not_offered() {
        let n = negotiate(&webcam(), &req(Some(PixelFormat::Yuyv), 800, 600, None)).unwrap();
        assert_eq!((n.width, n.height), (640, 480));
        assert!(!n.exact_size);
        let n = negotiate(&webcam(), &req(None, 1920, 1080, None)).unwrap();
        assert_eq!(
            (n.format, n.width, n.height),
            (PixelFormat::Yuyv, 1280, 720)
        );
    }

    #[test]
    fn missing_format_error_lists_offer() {
        let err = negotiate(&webcam(), &req(Some(PixelFormat::Rgb24), 640, 480, None))
            .unwrap_err()
            .to_string();
        assert!(err.contains("RGB3 is not offered"), "{err}");
        assert!(err.contains("YUYV [640x480@30/15, 1280x720@10/5]"), "{err}");
        assert!(err.contains("NV12 (not supported)"), "{err}");
        assert!(err.contains("MJPG ["), "{err}");
    }

    #[test]
    fn nothing_convertible_is_an_error() {
        let offer = vec![
            disc(b"NV12", &[(640, 480, &[30.0])]),
            disc(&[b'H', b'2', 0x01, b'4'], &[]),
        ];
        let err = negotiate(&offer, &req(None, 640, 480, None))
            .unwrap_err()
            .to_string();
        assert!(err.contains("none of the offered pixel formats"), "{err}");
        assert!(err.contains("H2\\x014 (not supported)"), "{err}");
        let err = negotiate(&[], &req(None, 640, 480, None))
            .unwrap_err()
            .to_string();
        assert!(err.contains("nothing"), "{err}");
    }

    #[test]
    fn invalid_requests_and_empty_size_lists() {
        assert!(negotiate(&webcam(), &req(None, 0, 480, None)).is_err());
        assert!(negotiate(&webcam(), &req(None, 640, 480, Some(f32::NAN))).is_err());
        assert!(negotiate(&webcam(), &req(None, 640, 480, Some(-1.0))).is_err());
        let offer = vec![disc(b"GREY", &[])];
        let err = negotiate(&offer, &req(None, 640, 480, None)).unwrap_err();
        assert!(err.reason.contains("no frame size"), "{err}");
    }

    #[test]
    fn stepwise_snaps_to_grid() {
        let offer = vec![OfferedFormat {
            fourcc: *b"RGB3",
            sizes: OfferedSizes::Stepwise {
                min: (16, 16),
                max: (1920, 1080),
                step: (16, 8),
            },
        }];
        let n = negotiate(&offer, &req(None, 640, 480, Some(30.0))).unwrap();
        assert_eq!((n.width, n.height, n.exact_size), (640, 480, true));
        assert_eq!(n.fps, Some(30.0));
        let n = negotiate(&offer, &req(None, 650, 3000, None)).unwrap();
        assert_eq!((n.width, n.height), (656, 1080));
        assert!(!n.exact_size);
        let n = negotiate(&offer, &req(None, 1, 1, None)).unwrap();
        assert_eq!((n.width, n.height), (16, 16));
    }
}
