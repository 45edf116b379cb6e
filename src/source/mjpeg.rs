//! Splits a concatenated JPEG stream (what `rpicam-vid --codec mjpeg -o -`, `ffmpeg -f mjpeg`
//! and GStreamer's `jpegenc ! fdsink` write) into frames.
//!
//! Searching for the next `FF D9` is not enough: an APP segment (EXIF, a thumbnail) may
//! contain one. The splitter walks the marker segments by their lengths and scans only the
//! entropy-coded data for markers, where `FF` is always stuffed (`FF 00`) or a restart marker.
//! Bytes outside a frame (a program's banner, a torn frame after a restart) are skipped and
//! counted; a frame that grows past [`MAX_FRAME_BYTES`] without an end is dropped, so memory
//! stays bounded whatever the program writes. Parsing resumes where the last call stopped:
//! every byte is looked at once however the data arrives.

/// Largest accepted JPEG frame: far above any camera frame (a 4056x3040 JPEG at quality 100 is
/// about 10 MB), small enough that a stream without end markers cannot exhaust memory.
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;
/// Bytes of skipped data kept to show in error messages.
const GARBAGE_SAMPLE_BYTES: usize = 32;

/// JPEG markers the splitter acts on (the byte after `FF`).
const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const TEM: u8 = 0x01;
const RST0: u8 = 0xD0;
const RST7: u8 = 0xD7;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Looking for `FF D8 FF` (SOI followed by a marker).
    Seek,
    /// At a marker boundary inside a frame.
    Segments,
    /// Inside entropy-coded data after SOS.
    Entropy,
}

/// Streaming JPEG frame splitter; see the module documentation.
#[derive(Debug)]
pub struct MjpegSplitter {
    /// Unconsumed bytes; a frame in progress starts at index 0.
    buf: Vec<u8>,
    /// Parse position within `buf`.
    pos: usize,
    state: State,
    /// Bytes skipped outside frames (or in frames dropped as corrupt or oversized).
    skipped: u64,
    /// Frames dropped for a broken marker structure or exceeding [`MAX_FRAME_BYTES`].
    dropped: u64,
    /// The first skipped bytes, for error messages.
    sample: Vec<u8>,
}

impl Default for MjpegSplitter {
    fn default() -> Self {
        Self::new()
    }
}

impl MjpegSplitter {
    pub fn new() -> Self {
        MjpegSplitter {
            buf: Vec::new(),
            pos: 0,
            state: State::Seek,
            skipped: 0,
            dropped: 0,
            sample: Vec::with_capacity(GARBAGE_SAMPLE_BYTES),
        }
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes skipped so far (not part of any complete frame).
    pub fn skipped_bytes(&self) -> u64 {
        self.skipped
    }

    /// Frames dropped as corrupt (broken marker structure) or oversized.
    pub fn dropped_frames(&self) -> u64 {
        self.dropped
    }

    /// The first skipped bytes, printable (non-ASCII escaped), for error messages.
    pub fn skipped_sample(&self) -> String {
        self.sample.escape_ascii().to_string()
    }

    /// Bytes held for a frame in progress.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// End of stream: whatever is held (a partial frame or marker) counts as skipped.
    pub fn finish(&mut self) {
        if !self.buf.is_empty() && self.state != State::Seek {
            self.dropped += 1;
        }
        self.skip(self.buf.len());
        self.state = State::Seek;
    }

    /// Discards the first `n` bytes of the buffer as skipped data.
    fn skip(&mut self, n: usize) {
        let n = n.min(self.buf.len());
        let room = GARBAGE_SAMPLE_BYTES.saturating_sub(self.sample.len());
        self.sample.extend_from_slice(&self.buf[..n.min(room)]);
        self.skipped += n as u64;
        self.buf.drain(..n);
        self.pos = 0;
    }

    /// Drops the frame in progress (its SOI byte) and looks for the next one.
    fn resync(&mut self) {
        self.dropped += 1;
        self.skip(1);
        self.state = State::Seek;
    }

    /// The next complete frame, `None` until more data is pushed.
    pub fn next_frame(&mut self) -> Option<Vec<u8>> {
        loop {
            if self.state != State::Seek && self.pos > MAX_FRAME_BYTES {
                self.resync();
                continue;
            }
            match self.state {
                State::Seek => {
                    match self.buf.windows(3).position(|w| w == [0xFF, SOI, 0xFF]) {
                        Some(i) => {
                            self.skip(i);
                            self.pos = 2;
                            self.state = State::Segments;
                        }
                        None => {
                            // Keep a possible partial `FF D8` at the end.
                            let keep = self.buf.len().min(2);
                            self.skip(self.buf.len() - keep);
                            return None;
                        }
                    }
                }
                State::Segments => {
                    // Fill bytes: any number of FF may precede a marker.
                    while self.buf.get(self.pos) == Some(&0xFF)
                        && self.buf.get(self.pos + 1) == Some(&0xFF)
                    {
                        self.pos += 1;
                    }
                    let (Some(&ff), Some(&marker)) =
                        (self.buf.get(self.pos), self.buf.get(self.pos + 1))
                    else {
                        return None;
                    };
                    if ff != 0xFF {
                        self.resync();
                        continue;
                    }
                    match marker {
                        EOI => {
                            let end = self.pos + 2;
                            let rest = self.buf.split_off(end);
                            let frame = std::mem::replace(&mut self.buf, rest);
                            self.pos = 0;
                            self.state = State::Seek;
                            return Some(frame);
                        }
                        // A new image before this one ended: this one is torn.
                        SOI => {
                            let at = self.pos;
                            self.dropped += 1;
                            self.skip(at);
                            self.state = State::Seek;
                        }
                        TEM | RST0..=RST7 => self.pos += 2,
                        0x00 => {
                            self.resync();
                        }
                        _ => {
                            let (Some(&hi), Some(&lo)) =
                                (self.buf.get(self.pos + 2), self.buf.get(self.pos + 3))
                            else {
                                return None;
                            };
                            let len = usize::from(u16::from_be_bytes([hi, lo]));
                            if len < 2 {
                                self.resync();
                                continue;
                            }
                            self.pos += 2 + len;
                            if marker == SOS {
                                self.state = State::Entropy;
                            }
                        }
                    }
                }
                State::Entropy => {
                    // Scan for FF followed by a real marker (not stuffing, not RSTn, not fill).
                    let mut i = self.pos;
                    let found = loop {
                        let Some(off) = self
                            .buf
                            .get(i..)
                            .and_then(|s| s.iter().position(|&b| b == 0xFF))
                        else {
                            break None;
                        };
                        let at = i + off;
                        match self.buf.get(at + 1) {
                            None => break None,
                            Some(0x00) | Some(RST0..=RST7) | Some(0xFF) => i = at + 1,
                            Some(_) => break Some(at),
                        }
                    };
                    match found {
                        Some(at) => {
                            self.pos = at;
                            self.state = State::Segments;
                        }
                        None => {
                            // Resume at the last byte (it may be the FF of a marker).
                            self.pos = self.buf.len().saturating_sub(1).max(self.pos);
                            return None;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(w: u32, h: u32, seed: u8) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x as u8).wrapping_mul(seed), y as u8, seed])
        });
        let mut out = std::io::Cursor::new(Vec::new());
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
            .encode_image(&img)
            .unwrap();
        out.into_inner()
    }

    /// A JPEG with an APP1 segment holding `FF D9` and `FF D8` (an embedded thumbnail).
    fn jpeg_with_app1(seed: u8) -> Vec<u8> {
        let j = jpeg(16, 8, seed);
        let payload = [
            b'E', b'x', b'i', b'f', 0, 0, 0xFF, 0xD8, 0xFF, 0xD9, 0xFF, 0xD9,
        ];
        let len = (payload.len() + 2) as u16;
        let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&payload);
        out.extend_from_slice(&j[2..]);
        out
    }

    fn split_all(stream: &[u8], chunk: usize) -> (Vec<Vec<u8>>, MjpegSplitter) {
        let mut s = MjpegSplitter::new();
        let mut frames = Vec::new();
        for c in stream.chunks(chunk.max(1)) {
            s.push(c);
            while let Some(f) = s.next_frame() {
                frames.push(f);
            }
        }
        (frames, s)
    }

    #[test]
    fn splits_frames_with_garbage_between_in_any_chunking() {
        let (a, b, c) = (jpeg(32, 16, 3), jpeg_with_app1(5), jpeg(8, 8, 7));
        let garbage_head = b"rpicam-vid banner\n\xFF\xD8 torn".to_vec();
        let mut stream = garbage_head.clone();
        stream.extend_from_slice(&a);
        stream.extend_from_slice(b"\x00\x00\xFFjunk");
        stream.extend_from_slice(&b);
        stream.extend_from_slice(&c);
        for chunk in [1, 2, 3, 7, 64, 4096, stream.len()] {
            let (frames, s) = split_all(&stream, chunk);
            assert_eq!(
                frames,
                vec![a.clone(), b.clone(), c.clone()],
                "chunk {chunk}"
            );
            assert_eq!(
                s.skipped_bytes(),
                (garbage_head.len() + 7) as u64,
                "chunk {chunk}"
            );
            assert!(s.skipped_sample().starts_with("rpicam-vid banner\\n"));
            assert_eq!(s.pending(), 0);
            for f in &frames {
                assert!(crate::source::convert::decode_jpeg(f).is_ok());
            }
        }
    }

    #[test]
    fn torn_frame_is_dropped_and_the_next_one_kept() {
        let (a, b) = (jpeg(32, 16, 3), jpeg(16, 16, 9));
        // A restart cut `a` in the middle of its scan data.
        let mut stream = a[..a.len() / 2].to_vec();
        stream.extend_from_slice(&b);
        let (frames, s) = split_all(&stream, 100);
        assert_eq!(frames, vec![b.clone()]);
        assert_eq!(s.dropped_frames(), 1);
        // A frame cut by the end of the stream is dropped too.
        let (frames, mut s) = split_all(&b[..b.len() - 3], 100);
        assert!(frames.is_empty());
        s.finish();
        assert_eq!((s.dropped_frames(), s.pending()), (1, 0));
        assert_eq!(s.skipped_bytes(), (b.len() - 3) as u64);
    }

    #[test]
    fn garbage_only_stays_bounded() {
        let mut s = MjpegSplitter::new();
        let junk: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        for _ in 0..50 {
            s.push(&junk);
            assert!(s.next_frame().is_none());
            assert!(s.pending() <= 2);
        }
        assert_eq!(s.skipped_bytes() + s.pending() as u64, 5_000_000);
        assert!(s.skipped_sample().len() >= GARBAGE_SAMPLE_BYTES);
    }

    #[test]
    fn endless_frame_is_dropped_at_the_cap() {
        let mut s = MjpegSplitter::new();
        // SOI, SOF-less SOS, then scan data that never ends.
        s.push(&[0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02]);
        let chunk = vec![0x55u8; 1 << 20];
        for _ in 0..(MAX_FRAME_BYTES >> 20) + 2 {
            s.push(&chunk);
            assert!(s.next_frame().is_none());
        }
        assert_eq!(s.dropped_frames(), 1);
        assert!(s.pending() <= 2, "{}", s.pending());
        let good = jpeg(8, 8, 1);
        s.push(&good);
        assert_eq!(s.next_frame(), Some(good));
    }
}
