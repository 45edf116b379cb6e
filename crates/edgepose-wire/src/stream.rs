//! Streaming receive: feed bytes as they arrive, in chunks of any size, get frames out.

use crate::codec::{decode_frame, DecodeError, DELIMITER, MAX_COBS_LEN};
use crate::frame::PoseFrame;

/// What a [`StreamDecoder`] has seen so far. Counters saturate instead of wrapping.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecoderStats {
    /// Valid frames delivered.
    pub frames: u64,
    /// Frames rejected because the CRC did not match.
    pub crc_errors: u64,
    /// Intact frames of an unknown protocol version.
    pub version_errors: u64,
    /// Frames longer than any valid frame (see [`DecodeError::FrameTooLong`]).
    pub too_long: u64,
    /// Frames rejected for bad COBS, too few bytes or an unreadable payload.
    pub malformed: u64,
    /// Bytes that did not end up in a valid frame (delimiters not counted). Garbage before the
    /// first delimiter, e.g. when a receiver starts listening mid-frame, lands here.
    pub dropped_bytes: u64,
}

impl DecoderStats {
    /// All rejected frames, whatever the reason.
    pub fn errors(&self) -> u64 {
        self.crc_errors
            .saturating_add(self.version_errors)
            .saturating_add(self.too_long)
            .saturating_add(self.malformed)
    }

    fn count(&mut self, err: &DecodeError) {
        let c = match err {
            DecodeError::Crc { .. } => &mut self.crc_errors,
            DecodeError::UnknownVersion { .. } => &mut self.version_errors,
            DecodeError::FrameTooLong => &mut self.too_long,
            DecodeError::Cobs
            | DecodeError::TooShort { .. }
            | DecodeError::Malformed(_)
            | DecodeError::TrailingBytes { .. } => &mut self.malformed,
        };
        *c = c.saturating_add(1);
    }
}

/// Reassembles 0x00-delimited frames from a byte stream with a fixed buffer
/// ([`MAX_COBS_LEN`] bytes, about 2 KiB) and no allocation.
///
/// Every rejected frame is reported once as an `Err` and counted in [`DecoderStats`]; the
/// decoder then resynchronises at the next delimiter, so valid frames after garbage are
/// recovered. Empty frames (two delimiters in a row) are ignored: senders may emit a lone 0x00
/// to flush a receiver's partial frame.
///
/// ```
/// use edgepose_wire::{encode, PoseFrame, StreamDecoder, MAX_ENCODED_LEN};
/// let mut buf = [0u8; MAX_ENCODED_LEN];
/// let n = encode(&PoseFrame::new(7, 1, 1_000, 640, 480, 3), &mut buf).unwrap();
/// let mut dec = StreamDecoder::new();
/// // Garbage first, then the frame split across two chunks.
/// let errors = dec.feed(&[0x55, 0xAA, 0x00]).filter(|r| r.is_err()).count();
/// assert!(dec.feed(&buf[..5]).next().is_none());
/// let frame = dec.feed(&buf[5..n]).next().unwrap().unwrap();
/// assert_eq!((errors, frame.device_id, frame.width), (1, 7, 640));
/// assert_eq!(dec.stats().dropped_bytes, 2);
/// ```
#[derive(Clone)]
pub struct StreamDecoder {
    buf: [u8; MAX_COBS_LEN],
    len: usize,
    /// Set after an over-long frame was reported: discard until the next delimiter.
    discarding: bool,
    stats: DecoderStats,
}

impl Default for StreamDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for StreamDecoder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StreamDecoder")
            .field("pending", &self.len)
            .field("discarding", &self.discarding)
            .field("stats", &self.stats)
            .finish()
    }
}

impl StreamDecoder {
    /// A decoder waiting for the start of a frame.
    pub const fn new() -> Self {
        StreamDecoder {
            buf: [0; MAX_COBS_LEN],
            len: 0,
            discarding: false,
            stats: DecoderStats {
                frames: 0,
                crc_errors: 0,
                version_errors: 0,
                too_long: 0,
                malformed: 0,
                dropped_bytes: 0,
            },
        }
    }

    /// Counters since creation.
    pub fn stats(&self) -> &DecoderStats {
        &self.stats
    }

    /// Bytes of an incomplete frame held so far.
    pub fn pending(&self) -> usize {
        self.len
    }

    /// Forgets a partial frame (e.g. after the port was reopened); its bytes count as dropped.
    pub fn reset(&mut self) {
        self.drop_bytes(self.len);
        self.len = 0;
        self.discarding = false;
    }

    /// Iterates over the frames (and errors) completed by `chunk`. Bytes after the last
    /// delimiter are kept for the next call. Dropping the iterator early loses nothing: the
    /// unread rest of the chunk is simply not consumed (feed it again).
    pub fn feed<'d, 'c>(&'d mut self, chunk: &'c [u8]) -> Feed<'d, 'c> {
        Feed {
            decoder: self,
            rest: chunk,
        }
    }

    /// Consumes bytes from the front of `input` until one frame completes or `input` is empty.
    /// Returns `None` when `input` ran out first (everything was consumed and buffered).
    pub fn poll(&mut self, input: &mut &[u8]) -> Option<Result<PoseFrame, DecodeError>> {
        while !input.is_empty() {
            let (segment, delimited) = match input.iter().position(|&b| b == DELIMITER) {
                Some(i) => (&input[..i], true),
                None => (*input, false),
            };
            *input = &input[segment.len() + usize::from(delimited)..];

            if self.discarding {
                self.drop_bytes(segment.len());
                if delimited {
                    self.discarding = false;
                }
                continue;
            }
            let room = MAX_COBS_LEN - self.len;
            if segment.len() > room {
                self.drop_bytes(self.len + segment.len());
                self.len = 0;
                // The frame's end may be in this very segment: then there is nothing left to skip.
                self.discarding = !delimited;
                let err = DecodeError::FrameTooLong;
                self.stats.count(&err);
                return Some(Err(err));
            }
            self.buf[self.len..self.len + segment.len()].copy_from_slice(segment);
            self.len += segment.len();
            if !delimited {
                continue;
            }
            if self.len == 0 {
                continue; // empty frame: a flush marker, not an error
            }
            let frame_len = self.len;
            self.len = 0;
            let result = decode_frame(&mut self.buf[..frame_len]);
            match &result {
                Ok(_) => self.stats.frames = self.stats.frames.saturating_add(1),
                Err(e) => {
                    self.stats.count(e);
                    self.drop_bytes(frame_len);
                }
            }
            return Some(result);
        }
        None
    }

    fn drop_bytes(&mut self, n: usize) {
        self.stats.dropped_bytes = self.stats.dropped_bytes.saturating_add(n as u64);
    }
}

/// Iterator returned by [`StreamDecoder::feed`].
#[derive(Debug)]
pub struct Feed<'d, 'c> {
    decoder: &'d mut StreamDecoder,
    rest: &'c [u8],
}

impl Feed<'_, '_> {
    /// Bytes of the chunk not consumed yet.
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }
}

impl Iterator for Feed<'_, '_> {
    type Item = Result<PoseFrame, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.decoder.poll(&mut self.rest)
    }
}
