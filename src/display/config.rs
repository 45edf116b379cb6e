//! Display configuration: the `[display]` table of the daemon's config file, or a compact
//! command-line form such as `png:out/frames,every=5,size=320x240`.

use std::path::PathBuf;
use std::str::FromStr;

use serde::Deserialize;

use super::DisplayError;

/// Largest framebuffer side the PNG display accepts (keeps memory bounded on a typo).
const MAX_PNG_SIDE: u32 = 4096;
/// Default number of PNG files kept on disk; older ones are deleted.
const DEFAULT_PNG_KEEP: usize = 1000;
/// ST7789 SPI clock: 40 MHz is within the controller's write-cycle limit and stable on Pi
/// header wiring; 240x240 RGB565 then takes about 23 ms per frame on the wire.
const DEFAULT_ST7789_SPI_HZ: u32 = 40_000_000;
/// Highest SPI clock accepted (ST7789 write cycle 16 ns ≈ 62.5 MHz).
const MAX_ST7789_SPI_HZ: u32 = 62_500_000;
/// Default SSD1306 I2C address (0x3D is the alternative strap).
const DEFAULT_SSD1306_ADDRESS: u8 = 0x3c;

/// Which display, if any, the daemon draws on. Default: none.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum DisplayConfig {
    #[default]
    None,
    /// Host display: the same frames written as PNG files.
    Png(PngConfig),
    /// SSD1306 monochrome OLED over I2C.
    Ssd1306(Ssd1306Config),
    /// ST7789 RGB565 TFT over SPI.
    St7789(St7789Config),
}

/// Pixel format of a PNG display (which physical display it simulates).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColorMode {
    #[default]
    Rgb565,
    Mono,
}

/// Display rotation in degrees clockwise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "u16")]
pub enum Rotation {
    #[default]
    Deg0,
    Deg90,
    Deg180,
    Deg270,
}

impl TryFrom<u16> for Rotation {
    type Error = String;
    fn try_from(v: u16) -> Result<Self, String> {
        match v {
            0 => Ok(Rotation::Deg0),
            90 => Ok(Rotation::Deg90),
            180 => Ok(Rotation::Deg180),
            270 => Ok(Rotation::Deg270),
            _ => Err(format!("rotation must be 0, 90, 180 or 270, got {v}")),
        }
    }
}

/// `png:DIR`: write every `every`-th frame as `DIR/frame_<seq>.png`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PngConfig {
    pub dir: PathBuf,
    #[serde(default = "one")]
    pub every: u32,
    /// Simulated display size, "WxH".
    #[serde(default = "default_png_size", deserialize_with = "de_size")]
    pub size: (u32, u32),
    #[serde(default)]
    pub color: ColorMode,
    /// Most files kept in `dir`: the oldest written by this display are deleted beyond it.
    #[serde(default = "default_keep")]
    pub keep: usize,
    #[serde(default = "yes")]
    pub labels: bool,
}

impl PngConfig {
    /// A config with the defaults for everything but the directory.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        PngConfig {
            dir: dir.into(),
            every: 1,
            size: default_png_size(),
            color: ColorMode::default(),
            keep: DEFAULT_PNG_KEEP,
            labels: true,
        }
    }
}

/// SSD1306 size variants supported by the driver.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum Ssd1306Size {
    #[default]
    #[serde(rename = "128x64")]
    W128H64,
    #[serde(rename = "128x32")]
    W128H32,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ssd1306Config {
    /// I2C bus device.
    #[serde(default = "default_i2c_bus")]
    pub bus: PathBuf,
    #[serde(default = "default_ssd1306_address")]
    pub address: u8,
    #[serde(default)]
    pub rotation: Rotation,
    #[serde(default)]
    pub size: Ssd1306Size,
    #[serde(default = "yes")]
    pub labels: bool,
}

/// How GPIO lines (DC, reset, backlight) are driven.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GpioBackend {
    /// Linux GPIO character device (`gpiochip`), any board.
    #[default]
    Cdev,
    /// rppal (Raspberry Pi only; cargo feature `display-rppal`). Pin numbers are BCM numbers.
    Rppal,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct St7789Config {
    /// spidev device.
    #[serde(default = "default_spi")]
    pub spi: PathBuf,
    #[serde(default = "default_spi_hz")]
    pub spi_hz: u32,
    /// SPI mode 0..=3; modules without a CS pin usually need 3.
    #[serde(default)]
    pub spi_mode: u8,
    #[serde(default)]
    pub gpio: GpioBackend,
    /// GPIO chip for the cdev backend.
    #[serde(default = "default_gpiochip")]
    pub gpiochip: PathBuf,
    /// Data/command line (required).
    pub dc: u32,
    /// Reset line; without it the controller is reset by command.
    #[serde(default)]
    pub rst: Option<u32>,
    /// Backlight enable line (driven high), if wired to a GPIO.
    #[serde(default)]
    pub backlight: Option<u32>,
    /// Panel size in its native orientation, "WxH" (240x240, 240x320, ...).
    #[serde(default = "default_tft_size", deserialize_with = "de_size")]
    pub size: (u32, u32),
    /// Panel offset inside the controller's 240x320 memory (e.g. 0,80 for some 240x240).
    #[serde(default)]
    pub offset: (u16, u16),
    #[serde(default)]
    pub rotation: Rotation,
    /// Most ST7789 modules need inverted colours; set false for those that do not.
    #[serde(default = "yes")]
    pub invert_colors: bool,
    #[serde(default = "yes")]
    pub labels: bool,
    /// Draw the camera image behind the skeletons.
    #[serde(default)]
    pub preview: bool,
}

fn one() -> u32 {
    1
}
fn yes() -> bool {
    true
}
fn default_keep() -> usize {
    DEFAULT_PNG_KEEP
}
fn default_png_size() -> (u32, u32) {
    (240, 240)
}
fn default_tft_size() -> (u32, u32) {
    (240, 240)
}
fn default_i2c_bus() -> PathBuf {
    PathBuf::from("/dev/i2c-1")
}
fn default_ssd1306_address() -> u8 {
    DEFAULT_SSD1306_ADDRESS
}
fn default_spi() -> PathBuf {
    PathBuf::from("/dev/spidev0.0")
}
fn default_gpiochip() -> PathBuf {
    PathBuf::from("/dev/gpiochip0")
}
fn default_spi_hz() -> u32 {
    DEFAULT_ST7789_SPI_HZ
}

fn de_size<'de, D: serde::Deserializer<'de>>(d: D) -> Result<(u32, u32), D::Error> {
    let s = String::deserialize(d)?;
    crate::util::Size::parse(&s)
        .map(crate::util::Size::tuple)
        .map_err(serde::de::Error::custom)
}

impl DisplayConfig {
    /// Range checks serde cannot express; [`super::open`] calls this first.
    pub fn validate(&self) -> Result<(), DisplayError> {
        let err = |m: String| Err(DisplayError::Config(m));
        match self {
            DisplayConfig::None | DisplayConfig::Ssd1306(_) => Ok(()),
            DisplayConfig::Png(c) => {
                if c.every == 0 {
                    return err("png: every must be at least 1".into());
                }
                if c.keep == 0 {
                    return err("png: keep must be at least 1".into());
                }
                let (w, h) = c.size;
                if w == 0 || h == 0 || w > MAX_PNG_SIDE || h > MAX_PNG_SIDE {
                    return err(format!(
                        "png: size {w}x{h} out of range (1..={MAX_PNG_SIDE} per side)"
                    ));
                }
                Ok(())
            }
            DisplayConfig::St7789(c) => {
                let (w, h) = c.size;
                let (ox, oy) = (u32::from(c.offset.0), u32::from(c.offset.1));
                // The ST7789's memory is 240 columns by 320 rows.
                if w == 0 || h == 0 || w + ox > 240 || h + oy > 320 {
                    return err(format!(
                        "st7789: size {w}x{h} at offset {ox},{oy} does not fit the 240x320 controller memory"
                    ));
                }
                if c.spi_mode > 3 {
                    return err(format!(
                        "st7789: spi_mode must be 0..=3, got {}",
                        c.spi_mode
                    ));
                }
                if c.spi_hz == 0 || c.spi_hz > MAX_ST7789_SPI_HZ {
                    return err(format!(
                        "st7789: spi_hz {} out of range (1..={MAX_ST7789_SPI_HZ})",
                        c.spi_hz
                    ));
                }
                Ok(())
            }
        }
    }
}

impl FromStr for DisplayConfig {
    type Err = DisplayError;

    /// `none`, or `KIND:PATH[,key=value]...` with KIND `png` (PATH = dir), `ssd1306` (PATH =
    /// I2C bus) or `st7789` (PATH = spidev); keys are the config-file fields, e.g.
    /// `png:/tmp/frames,every=5,size=128x64,color=mono` or `st7789:/dev/spidev0.0,dc=25,rst=27`.
    fn from_str(s: &str) -> Result<Self, DisplayError> {
        let s = s.trim();
        if s.is_empty() || s == "none" {
            return Ok(DisplayConfig::None);
        }
        let (kind, rest) = s.split_once(':').ok_or_else(|| {
            DisplayError::Config(format!(
                "{s:?}: expected `none` or KIND:PATH[,key=value...] with KIND png, ssd1306 or st7789"
            ))
        })?;
        let path_key = match kind {
            "png" => "dir",
            "ssd1306" => "bus",
            "st7789" => "spi",
            _ => {
                return Err(DisplayError::Config(format!(
                    "unknown display kind {kind:?} (expected png, ssd1306 or st7789)"
                )))
            }
        };
        let mut parts = rest.split(',');
        let mut table = toml::Table::new();
        table.insert("kind".into(), toml::Value::String(kind.into()));
        let path = parts.next().unwrap_or_default();
        if path.is_empty() {
            return Err(DisplayError::Config(format!("{kind}: missing {path_key}")));
        }
        table.insert(path_key.into(), toml::Value::String(path.into()));
        for kv in parts {
            let (k, v) = kv.split_once('=').ok_or_else(|| {
                DisplayError::Config(format!("{kind}: expected key=value, got {kv:?}"))
            })?;
            let k = k.trim();
            if k == "offset" {
                let (x, y) = v.split_once(['x', 'X', '/']).unwrap_or((v, "0"));
                let num = |t: &str| {
                    t.trim().parse::<i64>().map_err(|_| {
                        DisplayError::Config(format!("{kind}: offset must be XxY, got {v:?}"))
                    })
                };
                table.insert(
                    k.into(),
                    toml::Value::Array(vec![num(x)?.into(), num(y)?.into()]),
                );
                continue;
            }
            table.insert(k.into(), scalar(v.trim()));
        }
        toml::Value::Table(table)
            .try_into::<DisplayConfig>()
            .map_err(|e| DisplayError::Config(format!("{s:?}: {}", e.message())))
    }
}

/// A command-line value as the TOML scalar it most likely means.
fn scalar(v: &str) -> toml::Value {
    if let Some(hex) = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        if let Ok(n) = i64::from_str_radix(hex, 16) {
            return toml::Value::Integer(n);
        }
    }
    if let Ok(n) = v.parse::<i64>() {
        return toml::Value::Integer(n);
    }
    match v {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => toml::Value::String(v.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_none() {
        assert_eq!(DisplayConfig::default(), DisplayConfig::None);
        assert_eq!(
            "none".parse::<DisplayConfig>().unwrap(),
            DisplayConfig::None
        );
    }

    #[test]
    fn png_short_form() {
        let c: DisplayConfig = "png:/tmp/x,every=3,size=128x64,color=mono".parse().unwrap();
        let DisplayConfig::Png(p) = c else {
            panic!("not png: {c:?}")
        };
        assert_eq!(p.dir, PathBuf::from("/tmp/x"));
        assert_eq!((p.every, p.size, p.color), (3, (128, 64), ColorMode::Mono));
        assert_eq!(p.keep, DEFAULT_PNG_KEEP);
    }

    #[test]
    fn toml_table_and_unknown_fields() {
        let c: DisplayConfig = toml::from_str(
            "kind = \"st7789\"\ndc = 25\nrst = 27\nsize = \"240x320\"\nrotation = 90\n",
        )
        .unwrap();
        let DisplayConfig::St7789(s) = &c else {
            panic!("not st7789: {c:?}")
        };
        assert_eq!((s.dc, s.rst, s.size), (25, Some(27), (240, 320)));
        assert_eq!(s.rotation, Rotation::Deg90);
        assert!(c.validate().is_ok());

        let e = toml::from_str::<DisplayConfig>("kind = \"ssd1306\"\nadress = 60\n").unwrap_err();
        assert!(e.to_string().contains("adress"), "{e}");
        let e = toml::from_str::<DisplayConfig>("kind = \"ssd1306\"\nrotation = 45\n").unwrap_err();
        assert!(e.to_string().contains("rotation must be"), "{e}");
    }

    #[test]
    fn short_form_errors_name_the_problem() {
        for (s, needle) in [
            ("lcd:/dev/x", "unknown display kind"),
            ("png:", "missing dir"),
            ("png:/tmp/x,every", "key=value"),
            ("png:/tmp/x,evry=2", "evry"),
            ("png:/tmp/x,size=big", "size must look like"),
            ("st7789:/dev/spidev0.0", "dc"),
            ("ssd1306:/dev/i2c-1,address=0x3c", ""),
        ] {
            let r = s.parse::<DisplayConfig>();
            if needle.is_empty() {
                assert!(r.is_ok(), "{s}: {r:?}");
            } else {
                let e = r.unwrap_err().to_string();
                assert!(e.contains(needle), "{s}: {e}");
            }
        }
        let c: DisplayConfig = "png:/tmp/x,every=0".parse().unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("every"));
        let c: DisplayConfig = "st7789:/dev/spidev0.0,dc=25,size=240x240,offset=0x100"
            .parse()
            .unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("240x320"));
    }
}
