//! V4L2 camera capture (Linux, feature `v4l2`): format negotiation, mmap streaming, and
//! reconnection with backoff when the camera disappears (USB unplug, driver error).
//!
//! The pure parts — pixel conversion ([`super::convert`]) and negotiation
//! ([`super::negotiate`]) — live in their own modules and are tested without a device.

use std::io;
use std::time::{Duration, Instant};

use v4l::buffer::{Flags, Type};
use v4l::format::{Format, FourCC};
use v4l::fraction::Fraction;
use v4l::frameinterval::FrameIntervalEnum;
use v4l::framesize::FrameSizeEnum;
use v4l::io::mmap::Stream as MmapStream;
use v4l::io::traits::CaptureStream;
use v4l::video::capture::Parameters;
use v4l::video::Capture;
use v4l::Device;

use super::convert::{self, PixelFormat};
use super::negotiate::{self, Negotiated, OfferedFormat, OfferedSize, OfferedSizes, Request};
use super::v4l2_config::V4l2Config;
use super::{now_us, Frame, Source, SourceError};
use crate::util::Backoff;

/// Frame-interval numerator used to express a fractional frame rate (1000/30000 s = 30 fps).
const FPS_DENOMINATOR_SCALE: f32 = 1000.0;

/// An open, streaming device.
struct Open {
    /// Keeps the device node open; the stream holds its own handle to the same descriptor.
    _device: Device,
    stream: MmapStream<'static>,
    format: PixelFormat,
    width: u32,
    height: u32,
    stride: u32,
}

/// A V4L2 camera.
pub struct V4l2Source {
    config: V4l2Config,
    open: Option<Open>,
    /// Delays between reconnect attempts (double per failure up to the configured max).
    backoff: Backoff,
    retry_at: Option<Instant>,
    seq: u64,
    negotiated: Negotiated,
}

/// The reconnect delays the configuration asks for.
fn reconnect_backoff(config: &V4l2Config) -> Backoff {
    Backoff::new(
        Duration::from_millis(config.retry_initial_ms),
        Duration::from_millis(config.retry_max_ms),
    )
}

impl V4l2Source {
    /// Opens the device and negotiates the format. Fails (rather than waiting) when the device
    /// is missing or offers nothing usable, so configuration mistakes show up at start.
    pub fn open(config: &V4l2Config) -> Result<Self, SourceError> {
        if config.buffers == 0 {
            return Err(SourceError::Failed(
                "v4l2: buffers must be at least 1".into(),
            ));
        }
        let (open, negotiated) = open_device(config)?;
        Ok(V4l2Source {
            config: config.clone(),
            open: Some(open),
            backoff: reconnect_backoff(config),
            retry_at: None,
            seq: 0,
            negotiated,
        })
    }

    fn fail(&mut self, what: String) -> SourceError {
        self.open = None;
        let delay = self.backoff.next_delay();
        self.retry_at = Some(Instant::now() + delay);
        tracing::warn!(
            device = %self.config.device.display(),
            retry_in_ms = delay.as_millis() as u64,
            "v4l2 capture failed: {what}"
        );
        SourceError::Failed(format!("v4l2 {}: {what}", self.config.device.display()))
    }

    /// Waits for the retry time and tries to reopen the device.
    fn reconnect(&mut self) -> Result<(), SourceError> {
        if let Some(at) = self.retry_at {
            let now = Instant::now();
            if at > now {
                std::thread::sleep(at - now);
            }
        }
        match open_device(&self.config) {
            Ok((open, negotiated)) => {
                tracing::info!(
                    device = %self.config.device.display(),
                    format = %negotiated.format,
                    width = negotiated.width,
                    height = negotiated.height,
                    "v4l2 camera reconnected"
                );
                self.open = Some(open);
                self.negotiated = negotiated;
                self.backoff.reset();
                self.retry_at = None;
                Ok(())
            }
            Err(e) => Err(self.fail(format!("reconnect failed: {e}"))),
        }
    }
}

impl Source for V4l2Source {
    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        if self.open.is_none() {
            self.reconnect()?;
        }
        let Some(open) = self.open.as_mut() else {
            return Err(SourceError::Failed("v4l2: device not open".into()));
        };
        let result = open.stream.next().map(|(buf, meta)| {
            let used = (meta.bytesused as usize).min(buf.len());
            let data = &buf[..used];
            if meta.flags.contains(Flags::ERROR) {
                return Err(SourceError::BadFrame(
                    "driver flagged the buffer as corrupt".into(),
                ));
            }
            convert::to_rgb(open.format, data, open.width, open.height, open.stride)
        });
        match result {
            Ok(Ok(image)) => {
                let frame = Frame {
                    seq: self.seq,
                    // Dequeue time: the driver's timestamp is on the monotonic clock, and the
                    // few milliseconds of difference do not matter for tracking.
                    timestamp_us: now_us(),
                    image,
                };
                self.seq += 1;
                Ok(Some(frame))
            }
            Ok(Err(e)) => Err(e),
            Err(e) => Err(self.fail(format!("capture error: {e}"))),
        }
    }

    fn describe(&self) -> String {
        let n = &self.negotiated;
        format!(
            "v4l2:{} {}x{} {}{}",
            self.config.device.display(),
            n.width,
            n.height,
            n.format,
            n.fps.map_or(String::new(), |f| format!(" @{f}fps"))
        )
    }

    fn is_live(&self) -> bool {
        true
    }
}

/// Opens, negotiates, sets the format and rate, and maps the buffers.
fn open_device(config: &V4l2Config) -> Result<(Open, Negotiated), SourceError> {
    let dev_name = config.device.display().to_string();
    let io_err =
        |what: &str, e: io::Error| SourceError::Failed(format!("v4l2 {dev_name}: {what}: {e}"));
    let device = Device::with_path(&config.device).map_err(|e| io_err("cannot open", e))?;
    let offered = enumerate(&device).map_err(|e| io_err("cannot enumerate formats", e))?;
    let request = Request {
        format: config.format,
        width: config.width,
        height: config.height,
        fps: config.fps,
    };
    let negotiated = negotiate::negotiate(&offered, &request)
        .map_err(|e| SourceError::Failed(format!("v4l2 {dev_name}: {e}")))?;
    if !negotiated.exact_size {
        tracing::warn!(
            device = %dev_name,
            "requested {}x{} is not offered; using {}x{}",
            config.width,
            config.height,
            negotiated.width,
            negotiated.height
        );
    }
    let want = Format::new(
        negotiated.width,
        negotiated.height,
        FourCC::new(&negotiated.format.fourcc()),
    );
    let got = device
        .set_format(&want)
        .map_err(|e| io_err("cannot set format", e))?;
    let got_format = PixelFormat::from_fourcc(got.fourcc.repr).ok_or_else(|| {
        SourceError::Failed(format!(
            "v4l2 {dev_name}: driver switched to unsupported format {} (asked for {})",
            got.fourcc, negotiated.format
        ))
    })?;
    if let Some(fps) = negotiated.fps {
        let interval = Fraction::new(
            FPS_DENOMINATOR_SCALE as u32,
            (fps * FPS_DENOMINATOR_SCALE).round() as u32,
        );
        if let Err(e) = device.set_params(&Parameters::new(interval)) {
            // Many cameras have a fixed rate; capture still works.
            tracing::warn!(device = %dev_name, "cannot set frame rate {fps}: {e}");
        }
    }
    let mut stream = MmapStream::with_buffers(&device, Type::VideoCapture, config.buffers)
        .map_err(|e| io_err("cannot map buffers", e))?;
    stream.set_timeout(Duration::from_millis(config.frame_timeout_ms.max(1)));
    let negotiated = Negotiated {
        format: got_format,
        width: got.width,
        height: got.height,
        ..negotiated
    };
    tracing::info!(device = %dev_name, format = %got_format, width = got.width, height = got.height, "v4l2 camera open");
    Ok((
        Open {
            _device: device,
            stream,
            format: got_format,
            width: got.width,
            height: got.height,
            stride: got.stride,
        },
        negotiated,
    ))
}

/// Lists the device's capture formats, sizes and discrete rates.
fn enumerate(device: &Device) -> io::Result<Vec<OfferedFormat>> {
    let mut out = Vec::new();
    for desc in device.enum_formats()? {
        let fourcc = desc.fourcc;
        // A format we cannot convert is listed (for the error message) without its sizes.
        if PixelFormat::from_fourcc(fourcc.repr).is_none() {
            out.push(OfferedFormat {
                fourcc: fourcc.repr,
                sizes: OfferedSizes::Discrete(Vec::new()),
            });
            continue;
        }
        let mut discrete = Vec::new();
        let mut stepwise = None;
        for fs in device.enum_framesizes(fourcc)? {
            match fs.size {
                FrameSizeEnum::Discrete(d) => {
                    let fps = device
                        .enum_frameintervals(fourcc, d.width, d.height)
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|fi| match fi.interval {
                            FrameIntervalEnum::Discrete(f) if f.numerator > 0 => {
                                Some(f.denominator as f32 / f.numerator as f32)
                            }
                            _ => None,
                        })
                        .collect();
                    discrete.push(OfferedSize {
                        width: d.width,
                        height: d.height,
                        fps,
                    });
                }
                FrameSizeEnum::Stepwise(s) => {
                    stepwise = Some(OfferedSizes::Stepwise {
                        min: (s.min_width, s.min_height),
                        max: (s.max_width, s.max_height),
                        step: (s.step_width, s.step_height),
                    });
                }
            }
        }
        out.push(OfferedFormat {
            fourcc: fourcc.repr,
            sizes: stepwise.unwrap_or(OfferedSizes::Discrete(discrete)),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source whose camera went away: every call tries to reconnect, fails with a clear
    /// error, and the delay doubles up to the ceiling — without panicking or giving up.
    #[test]
    fn lost_device_retries_with_capped_backoff() {
        let config = V4l2Config {
            device: "/dev/video-edgepose-unplugged".into(),
            retry_initial_ms: 1,
            retry_max_ms: 4,
            ..Default::default()
        };
        let mut src = V4l2Source {
            config: config.clone(),
            open: None,
            backoff: reconnect_backoff(&config),
            retry_at: None,
            seq: 0,
            negotiated: Negotiated {
                format: PixelFormat::Yuyv,
                width: 640,
                height: 480,
                fps: None,
                exact_size: true,
            },
        };
        let mut delays = Vec::new();
        for _ in 0..5 {
            match src.next_frame() {
                Err(SourceError::Failed(msg)) => {
                    assert!(msg.contains("/dev/video-edgepose-unplugged"), "{msg}");
                    assert!(msg.contains("reconnect failed"), "{msg}");
                }
                other => panic!("expected Failed, got {other:?}"),
            }
            delays.push(src.backoff.peek().as_millis());
            assert!(src.retry_at.is_some());
        }
        assert_eq!(delays, [2, 4, 4, 4, 4]);
        assert!(src
            .describe()
            .starts_with("v4l2:/dev/video-edgepose-unplugged 640x480 YUYV"));
    }
}
