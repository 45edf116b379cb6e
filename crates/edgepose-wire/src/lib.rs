//! Compact pose frames for robots: postcard + CRC-32 + COBS, `no_std`, no allocation.
//!
//! One [`PoseFrame`] per camera frame: who sent it, when it was captured, and up to
//! [`MAX_WIRE_PERSONS`] persons with 17 COCO keypoints each. The same bytes travel over a UART
//! (serial sink) and as MQTT payloads, so one decoder serves both. MCUs only need this crate
//! (it does not depend on the rest of edgepose); a dependency-free Python decoder lives in
//! `examples/python/edgepose_wire.py`.
//!
//! # Byte layout (protocol versions 1 and 2)
//!
//! A frame on the wire is
//!
//! ```text
//! COBS( payload ) 0x00          payload = body || crc32_le(body)
//! ```
//!
//! 1. **body**: the [`PoseFrame`] in [postcard] encoding (below).
//! 2. **CRC**: CRC-32/ISO-HDLC over the body, appended as 4 bytes **little-endian**. Parameters:
//!    width 32, polynomial 0x04C11DB7 (reflected form 0xEDB88320), init 0xFFFFFFFF,
//!    refin = refout = true, xorout 0xFFFFFFFF; check value 0xCBF43926 for ASCII "123456789".
//!    This is zlib's `crc32()` and Python's `zlib.crc32`.
//! 3. **COBS**: Consistent Overhead Byte Stuffing of body+CRC, standard variant with sentinel
//!    0x00: the output is a sequence of blocks, each a code byte `c` (1..=255) followed by
//!    `c - 1` non-zero data bytes; a block with `c < 255` stands for its data followed by one
//!    0x00 byte, except that the final 0x00 of the whole message is implied and dropped. A
//!    block with `c == 255` has no implied zero. Overhead: at most one byte per 254.
//! 4. **Delimiter**: one 0x00 byte ends the frame. 0x00 never occurs inside COBS output, so a
//!    receiver that starts mid-stream resynchronises at the next 0x00.
//!
//! Receivers check, in this order: the frame fits the buffer ([`MAX_COBS_LEN`] bytes before the
//! delimiter), COBS decodes, the payload is at least 5 bytes, the CRC matches, the first body
//! byte is a known version (1 or 2), postcard parses the body exactly. This envelope (COBS, CRC
//! trailer, version first) is fixed for all future versions.
//!
//! ## postcard encoding of the body
//!
//! postcard writes fields in declaration order with no tags, names or padding:
//! - `u8`: one raw byte.
//! - `u16`, `u32`, `u64`: unsigned LEB128 **varint**: 7 bits per byte, least significant group
//!   first, high bit 0x80 set on every byte except the last (300 = `AC 02`). Maximum lengths:
//!   u16 3 bytes, u32 5, u64 10.
//! - a fixed-size array `[T; N]`: the N elements back to back, no length.
//! - a variable-length sequence: its length as a varint, then the elements.
//!
//! | # | field          | type          | meaning |
//! |---|----------------|---------------|---------|
//! | 1 | `version`      | u8 (raw)      | 1 or 2 ([`PROTOCOL_VERSION`]) |
//! | 2 | `device_id`    | u32 varint    | sender's configured id |
//! | 2a | `camera`      | u8 (raw)      | **version 2 only**: camera index within the device |
//! | 3 | `seq`          | u64 varint    | frame sequence number |
//! | 4 | `timestamp_us` | u64 varint    | capture time, µs since the Unix epoch |
//! | 5 | `width`        | u16 varint    | source-image width, px |
//! | 6 | `height`       | u16 varint    | source-image height, px |
//! | 7 | `model_id`     | u16 varint    | model identifier |
//! | 8 | `persons`      | varint count (0..=16), then that many persons | |
//!
//! Each person:
//!
//! | field       | type               | meaning |
//! |-------------|--------------------|---------|
//! | `track_id`  | u32 varint         | tracker id, 0 = untracked |
//! | `score`     | u8 (raw)           | `round(score * 255)` |
//! | `keypoints` | 17 × keypoint      | COCO order: nose, l/r eye, l/r ear, l/r shoulder, l/r elbow, l/r wrist, l/r hip, l/r knee, l/r ankle |
//!
//! Each keypoint: `x` u16 varint, `y` u16 varint, `score` u8 raw. `x` and `y` are in quarter
//! pixels ([`COORD_UNITS_PER_PIXEL`] = 4: pixel = value / 4) from the top-left corner of the
//! source image; `score` is `round(score * 255)`. **`score == 0` marks an absent keypoint**
//! (x = y = 0 then); present keypoints always have score ≥ 1.
//!
//! Version 2 (multi-camera daemons, `[sources.<name>]`) inserts one raw byte, the camera
//! index (the device's named cameras in the alphabetical order of their names), after
//! `device_id`; everything else is unchanged. A daemon with a single unnamed `[source]` still
//! writes version 1, so receivers written for version 1 keep working with it. Version-1 frames
//! decode with [`PoseFrame::camera`] = 0.
//!
//! Sizes: a person takes 35 to 125 bytes (typically about 90 with 17 keypoints on a 640×480
//! image), the whole frame at most [`MAX_POSTCARD_LEN`] = 2037 body bytes, [`MAX_PAYLOAD_LEN`]
//! = 2041 with the CRC, and [`MAX_ENCODED_LEN`] = 2051 bytes on the wire with COBS and the
//! delimiter (version 1: one byte less).
//!
//! # Use
//!
//! - Send: [`encode`] a [`PoseFrame`] into a `[u8; MAX_ENCODED_LEN]` and write the bytes.
//! - Receive: feed chunks to a [`StreamDecoder`] as they arrive; it yields frames and typed
//!   [`DecodeError`]s and counts dropped bytes in [`DecoderStats`].
//!
//! # Fuzzing
//!
//! `fuzz/` (outside the workspace) has a cargo-fuzz target for the streaming decoder; see
//! `crates/edgepose-wire/README.md`.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod codec;
mod frame;
mod stream;

pub use codec::{
    decode_frame, decode_payload, encode, encode_payload, DecodeError, EncodeError, CRC, CRC_LEN,
    DELIMITER, MAX_COBS_LEN, MAX_ENCODED_LEN, MAX_PAYLOAD_LEN, MAX_POSTCARD_LEN,
};
pub use frame::{
    PoseFrame, WireKeypoint, WirePerson, WirePersons, COORD_UNITS_PER_PIXEL, MAX_COORD_PX,
    MAX_WIRE_PERSONS, NUM_KEYPOINTS, PROTOCOL_VERSION, PROTOCOL_VERSION_V1, SCORE_SCALE,
};
pub use postcard::experimental::max_size::MaxSize;
pub use stream::{DecoderStats, Feed, StreamDecoder};
