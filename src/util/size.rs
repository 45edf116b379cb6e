//! The one size type: network input sizes, synthetic images, display panels and `decode`'s
//! image size are all written `WIDTHxHEIGHT` and parsed here.

use std::fmt;
use std::str::FromStr;

/// A width × height in pixels, both at least 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Size {
    pub width: u32,
    pub height: u32,
}

impl Size {
    pub const fn new(width: u32, height: u32) -> Size {
        Size { width, height }
    }

    /// Parses `WIDTHxHEIGHT` (`x` or `X`, spaces around the numbers allowed).
    pub fn parse(s: &str) -> Result<Size, String> {
        let bad = || format!("size must look like WIDTHxHEIGHT (e.g. 640x480), got {s:?}");
        let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
        let width: u32 = w.trim().parse().map_err(|_| bad())?;
        let height: u32 = h.trim().parse().map_err(|_| bad())?;
        if width == 0 || height == 0 {
            return Err(format!("size {s:?} is empty (a side is 0)"));
        }
        Ok(Size { width, height })
    }

    /// `(width, height)`.
    pub const fn tuple(self) -> (u32, u32) {
        (self.width, self.height)
    }
}

impl FromStr for Size {
    type Err = String;
    fn from_str(s: &str) -> Result<Size, String> {
        Size::parse(s)
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

impl From<(u32, u32)> for Size {
    fn from((width, height): (u32, u32)) -> Size {
        Size { width, height }
    }
}

impl From<Size> for (u32, u32) {
    fn from(s: Size) -> (u32, u32) {
        s.tuple()
    }
}

impl<'de> serde::Deserialize<'de> for Size {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Size, D::Error> {
        let s = String::deserialize(d)?;
        Size::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for Size {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        assert_eq!(Size::parse("640x480"), Ok(Size::new(640, 480)));
        assert_eq!(Size::parse(" 32 X 24 "), Ok(Size::new(32, 24)));
        assert_eq!(Size::new(640, 480).to_string(), "640x480");
        assert_eq!("256x192".parse::<Size>().map(Size::tuple), Ok((256, 192)));
    }

    #[test]
    fn rejects_bad_text_naming_it() {
        for bad in ["", "640", "640x", "x480", "ax480", "640x-1", "640x480x3"] {
            let e = Size::parse(bad).unwrap_err();
            assert!(
                e.contains("WIDTHxHEIGHT") && e.contains(&format!("{bad:?}")),
                "{e}"
            );
        }
        let e = Size::parse("0x480").unwrap_err();
        assert!(e.contains("empty"), "{e}");
    }
}
