//! Hardware displays on Linux (feature `hw-display`): SSD1306 over I2C (`/dev/i2c-*`) and
//! ST7789 over SPI (`/dev/spidev*`) with DC / reset / backlight on GPIO lines (gpio-cdev, or
//! rppal with feature `display-rppal`). Wrapped in [`super::Resilient`] by [`super::open`].

use std::path::Path;

use embedded_graphics::pixelcolor::{Rgb565, RgbColor};
use embedded_hal::delay::DelayNs;
use embedded_hal::digital::{ErrorKind, ErrorType, OutputPin};
use linux_embedded_hal::gpio_cdev::{Chip, LineRequestFlags};
use linux_embedded_hal::spidev::{SpiModeFlags, SpidevOptions};
use linux_embedded_hal::{CdevPin, Delay, I2cdev, SpidevDevice};
use mipidsi::interface::{Interface, InterfaceKind};
use mipidsi::models::ST7789;
use mipidsi::options::{ColorInversion, Orientation, Rotation as MipiRotation};
use ssd1306::mode::{BufferedGraphicsMode, DisplayConfig as _};
use ssd1306::prelude::I2CInterface;
use ssd1306::rotation::DisplayRotation;
use ssd1306::size::{DisplaySize, DisplaySize128x32, DisplaySize128x64};
use ssd1306::{I2CDisplayInterface, Ssd1306};

use super::{
    Display, DisplayError, Framebuffer, GpioBackend, RenderOptions, Renderer, Rotation,
    Ssd1306Config, Ssd1306Size, St7789Config, Status,
};
use crate::pose::FramePoses;

/// Linux spidev's default per-transfer limit (`bufsiz` module parameter) is 4096 bytes.
const SPI_CHUNK: usize = 4096;
/// ST7789 software reset (SWRESET) and the wait the datasheet asks for after it.
const ST7789_SWRESET: u8 = 0x01;
const ST7789_SWRESET_WAIT_MS: u32 = 150;
/// GPIO consumer label shown by `gpioinfo`.
const GPIO_CONSUMER: &str = "edgepose-display";

fn device_err(device: &str, what: impl std::fmt::Display) -> DisplayError {
    DisplayError::Device {
        device: device.to_string(),
        detail: what.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// GPIO

/// An output line: a gpio-cdev line, an rppal pin, or nothing (optional lines not wired).
pub enum Pin {
    Cdev(CdevPin),
    #[cfg(feature = "display-rppal")]
    Rppal(rppal::gpio::OutputPin),
    /// Not connected: writes are no-ops.
    Absent,
}

/// A GPIO write failure.
#[derive(Debug)]
pub struct PinError(String);

impl std::fmt::Display for PinError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl embedded_hal::digital::Error for PinError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Other
    }
}

impl ErrorType for Pin {
    type Error = PinError;
}

impl OutputPin for Pin {
    fn set_low(&mut self) -> Result<(), PinError> {
        match self {
            Pin::Cdev(p) => p.set_low().map_err(|e| PinError(e.to_string())),
            #[cfg(feature = "display-rppal")]
            Pin::Rppal(p) => {
                p.set_low();
                Ok(())
            }
            Pin::Absent => Ok(()),
        }
    }

    fn set_high(&mut self) -> Result<(), PinError> {
        match self {
            Pin::Cdev(p) => p.set_high().map_err(|e| PinError(e.to_string())),
            #[cfg(feature = "display-rppal")]
            Pin::Rppal(p) => {
                p.set_high();
                Ok(())
            }
            Pin::Absent => Ok(()),
        }
    }
}

impl Pin {
    /// Request line `line` as an output driven to `high` initially.
    pub fn open(
        backend: GpioBackend,
        chip: &Path,
        line: u32,
        high: bool,
    ) -> Result<Pin, DisplayError> {
        match backend {
            GpioBackend::Cdev => {
                let ctx = |e: &dyn std::fmt::Display| {
                    device_err("gpio", format!("{} line {line}: {e}", chip.display()))
                };
                let mut c = Chip::new(chip).map_err(|e| ctx(&e))?;
                let handle = c
                    .get_line(line)
                    .and_then(|l| {
                        l.request(LineRequestFlags::OUTPUT, u8::from(high), GPIO_CONSUMER)
                    })
                    .map_err(|e| ctx(&e))?;
                Ok(Pin::Cdev(CdevPin::new(handle).map_err(|e| ctx(&e))?))
            }
            GpioBackend::Rppal => open_rppal(line, high),
        }
    }
}

#[cfg(feature = "display-rppal")]
fn open_rppal(line: u32, high: bool) -> Result<Pin, DisplayError> {
    let ctx = |e: rppal::gpio::Error| device_err("gpio", format!("rppal BCM {line}: {e}"));
    let bcm = u8::try_from(line)
        .map_err(|_| device_err("gpio", format!("rppal BCM pin {line} out of range")))?;
    let pin = rppal::gpio::Gpio::new()
        .and_then(|g| g.get(bcm))
        .map_err(ctx)?;
    Ok(Pin::Rppal(if high {
        pin.into_output_high()
    } else {
        pin.into_output_low()
    }))
}

#[cfg(not(feature = "display-rppal"))]
fn open_rppal(_line: u32, _high: bool) -> Result<Pin, DisplayError> {
    Err(DisplayError::Config(
        "gpio = \"rppal\" needs the `display-rppal` cargo feature".into(),
    ))
}

// ---------------------------------------------------------------------------------------------
// SSD1306

type Oled<S> = Ssd1306<I2CInterface<I2cdev>, S, BufferedGraphicsMode<S>>;

// One display per process: the size difference does not matter.
#[allow(clippy::large_enum_variant)]
enum OledDev {
    S128x64(Oled<DisplaySize128x64>),
    S128x32(Oled<DisplaySize128x32>),
}

/// SSD1306 monochrome OLED on an I2C bus; renders straight into the driver's frame buffer.
pub struct Ssd1306Display {
    dev: OledDev,
    renderer: Renderer,
}

fn oled_rotation(r: Rotation) -> DisplayRotation {
    match r {
        Rotation::Deg0 => DisplayRotation::Rotate0,
        Rotation::Deg90 => DisplayRotation::Rotate90,
        Rotation::Deg180 => DisplayRotation::Rotate180,
        Rotation::Deg270 => DisplayRotation::Rotate270,
    }
}

fn init_oled<S: DisplaySize>(
    i2c: I2cdev,
    config: &Ssd1306Config,
    size: S,
) -> Result<Oled<S>, DisplayError> {
    let iface = I2CDisplayInterface::new_custom_address(i2c, config.address);
    let mut d =
        Ssd1306::new(iface, size, oled_rotation(config.rotation)).into_buffered_graphics_mode();
    d.init().map_err(|e| {
        device_err(
            "ssd1306",
            format!(
                "init at {} address {:#04x}: {e:?} (is the display connected?)",
                config.bus.display(),
                config.address
            ),
        )
    })?;
    Ok(d)
}

impl Ssd1306Display {
    pub fn open(config: &Ssd1306Config) -> Result<Self, DisplayError> {
        let i2c = I2cdev::new(&config.bus)
            .map_err(|e| device_err("ssd1306", format!("opening {}: {e}", config.bus.display())))?;
        let dev = match config.size {
            Ssd1306Size::W128H64 => OledDev::S128x64(init_oled(i2c, config, DisplaySize128x64)?),
            Ssd1306Size::W128H32 => OledDev::S128x32(init_oled(i2c, config, DisplaySize128x32)?),
        };
        Ok(Ssd1306Display {
            dev,
            renderer: Renderer::new(RenderOptions {
                track_labels: config.labels,
                ..RenderOptions::default()
            }),
        })
    }
}

fn show_oled<S: DisplaySize>(
    d: &mut Oled<S>,
    renderer: &mut Renderer,
    frame: &FramePoses,
    status: &Status,
) -> Result<(), DisplayError> {
    // Drawing only touches the in-memory buffer; the bus is used by flush().
    renderer
        .render(d, frame, None, status)
        .map_err(|e| device_err("ssd1306", format!("draw: {e:?}")))?;
    d.flush()
        .map_err(|e| device_err("ssd1306", format!("flush: {e:?}")))
}

impl Display for Ssd1306Display {
    fn show(
        &mut self,
        frame: &FramePoses,
        _preview: Option<&image::RgbImage>,
        status: &Status,
    ) -> Result<(), DisplayError> {
        match &mut self.dev {
            OledDev::S128x64(d) => show_oled(d, &mut self.renderer, frame, status),
            OledDev::S128x32(d) => show_oled(d, &mut self.renderer, frame, status),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ST7789

/// mipidsi's SPI interface borrows its staging buffer (`&'a mut [u8]`), which would tie the
/// display to a leaked buffer per reopen; this one owns it.
pub struct SpiDi {
    spi: SpidevDevice,
    dc: Pin,
    buffer: Vec<u8>,
}

#[derive(Debug)]
pub enum SpiDiError {
    Spi(linux_embedded_hal::SPIError),
    Dc(PinError),
}

impl SpiDi {
    fn write(&mut self, n: usize) -> Result<(), SpiDiError> {
        use embedded_hal::spi::SpiDevice as _;
        self.spi.write(&self.buffer[..n]).map_err(SpiDiError::Spi)
    }
}

impl Interface for SpiDi {
    type Word = u8;
    type Error = SpiDiError;
    const KIND: InterfaceKind = InterfaceKind::Serial4Line;

    fn send_command(&mut self, command: u8, args: &[u8]) -> Result<(), SpiDiError> {
        use embedded_hal::spi::SpiDevice as _;
        self.dc.set_low().map_err(SpiDiError::Dc)?;
        self.spi.write(&[command]).map_err(SpiDiError::Spi)?;
        self.dc.set_high().map_err(SpiDiError::Dc)?;
        if !args.is_empty() {
            self.spi.write(args).map_err(SpiDiError::Spi)?;
        }
        Ok(())
    }

    fn send_pixels<const N: usize>(
        &mut self,
        pixels: impl IntoIterator<Item = [u8; N]>,
    ) -> Result<(), SpiDiError> {
        let cap = (self.buffer.len() / N) * N;
        let mut n = 0;
        for px in pixels {
            self.buffer[n..n + N].copy_from_slice(&px);
            n += N;
            if n == cap {
                self.write(n)?;
                n = 0;
            }
        }
        if n > 0 {
            self.write(n)?;
        }
        Ok(())
    }

    fn send_repeated_pixel<const N: usize>(
        &mut self,
        pixel: [u8; N],
        count: u32,
    ) -> Result<(), SpiDiError> {
        self.send_pixels(core::iter::repeat_n(pixel, count as usize))
    }
}

/// ST7789 RGB565 TFT on spidev. Frames are rendered into a framebuffer and sent whole
/// (RGB565 big-endian), so the panel never shows a half-drawn frame's clear.
pub struct St7789Display {
    dev: mipidsi::Display<SpiDi, ST7789, Pin>,
    /// Held so the backlight line stays requested (and on) while the display is open.
    _backlight: Pin,
    fb: Framebuffer<Rgb565>,
    renderer: Renderer,
    preview: bool,
}

impl St7789Display {
    pub fn open(config: &St7789Config) -> Result<Self, DisplayError> {
        super::DisplayConfig::St7789(config.clone()).validate()?;
        let spi_ctx = |e: &dyn std::fmt::Display| {
            device_err("st7789", format!("{}: {e}", config.spi.display()))
        };
        let mut spi = SpidevDevice::open(&config.spi).map_err(|e| spi_ctx(&e))?;
        let mode = match config.spi_mode {
            0 => SpiModeFlags::SPI_MODE_0,
            1 => SpiModeFlags::SPI_MODE_1,
            2 => SpiModeFlags::SPI_MODE_2,
            _ => SpiModeFlags::SPI_MODE_3,
        };
        spi.configure(
            &SpidevOptions::new()
                .bits_per_word(8)
                .max_speed_hz(config.spi_hz)
                .mode(mode)
                .build(),
        )
        .map_err(|e| spi_ctx(&e))?;

        let pin = |line: Option<u32>, high: bool| match line {
            Some(l) => Pin::open(config.gpio, &config.gpiochip, l, high),
            None => Ok(Pin::Absent),
        };
        let dc = pin(Some(config.dc), false)?;
        let rst = pin(config.rst, true)?;
        let backlight = pin(config.backlight, true)?;

        let mut di = SpiDi {
            spi,
            dc,
            buffer: vec![0; SPI_CHUNK],
        };
        let mut delay = Delay;
        if config.rst.is_none() {
            // With a no-op reset pin mipidsi skips its software reset: do it here.
            di.send_command(ST7789_SWRESET, &[])
                .map_err(|e| device_err("st7789", format!("software reset: {e:?}")))?;
            delay.delay_ms(ST7789_SWRESET_WAIT_MS);
        }
        let (w, h) = config.size;
        let rotation = match config.rotation {
            Rotation::Deg0 => MipiRotation::Deg0,
            Rotation::Deg90 => MipiRotation::Deg90,
            Rotation::Deg180 => MipiRotation::Deg180,
            Rotation::Deg270 => MipiRotation::Deg270,
        };
        // validate() bounded the size by the 240x320 controller memory, so these fit in u16.
        let dev = mipidsi::Builder::new(ST7789, di)
            .display_size(w as u16, h as u16)
            .display_offset(config.offset.0, config.offset.1)
            .orientation(Orientation::new().rotate(rotation))
            .invert_colors(if config.invert_colors {
                ColorInversion::Inverted
            } else {
                ColorInversion::Normal
            })
            .reset_pin(rst)
            .init(&mut delay)
            .map_err(|e| {
                device_err("st7789", format!("init on {}: {e:?}", config.spi.display()))
            })?;
        let (lw, lh) = match config.rotation {
            Rotation::Deg90 | Rotation::Deg270 => (h, w),
            Rotation::Deg0 | Rotation::Deg180 => (w, h),
        };
        Ok(St7789Display {
            dev,
            _backlight: backlight,
            fb: Framebuffer::new(lw, lh, Rgb565::BLACK),
            renderer: Renderer::new(RenderOptions {
                track_labels: config.labels,
                ..RenderOptions::default()
            }),
            preview: config.preview,
        })
    }
}

impl Display for St7789Display {
    fn show(
        &mut self,
        frame: &FramePoses,
        preview: Option<&image::RgbImage>,
        status: &Status,
    ) -> Result<(), DisplayError> {
        let preview = preview.filter(|_| self.preview);
        let Ok(()) = self.renderer.render(&mut self.fb, frame, preview, status);
        let (w, h) = (self.fb.width() as u16, self.fb.height() as u16);
        self.dev
            .set_pixels(0, 0, w - 1, h - 1, self.fb.pixels().iter().copied())
            .map_err(|e| device_err("st7789", format!("frame transfer: {e:?}")))
    }
}
