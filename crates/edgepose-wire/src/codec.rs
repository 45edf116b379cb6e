//! One frame at a time: postcard payload + CRC-32 trailer, COBS-encoded, 0x00-terminated.

use crate::frame::{BodyV1, PoseFrame, WirePersons, PROTOCOL_VERSION, PROTOCOL_VERSION_V1};
use postcard::experimental::max_size::MaxSize;

/// The CRC used for the trailer: CRC-32/ISO-HDLC (the zlib/Ethernet CRC-32: polynomial
/// 0x04C11DB7 reflected, init 0xFFFFFFFF, refin/refout true, xorout 0xFFFFFFFF, check value
/// 0xCBF43926 for "123456789"). Python: `zlib.crc32`.
pub const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// Bytes of the CRC trailer (little-endian u32).
pub const CRC_LEN: usize = 4;

/// The frame delimiter. COBS guarantees it never occurs inside an encoded frame.
pub const DELIMITER: u8 = 0x00;

/// Most bytes of a postcard-encoded [`PoseFrame`].
pub const MAX_POSTCARD_LEN: usize = PoseFrame::POSTCARD_MAX_SIZE;

/// Most bytes of a payload: postcard bytes plus the CRC trailer (before COBS).
pub const MAX_PAYLOAD_LEN: usize = MAX_POSTCARD_LEN + CRC_LEN;

/// Most bytes of one COBS-encoded frame, not counting the delimiter.
pub const MAX_COBS_LEN: usize = cobs::max_encoding_length(MAX_PAYLOAD_LEN);

/// Most bytes one complete frame occupies on the wire, delimiter included: size buffers with it.
pub const MAX_ENCODED_LEN: usize = MAX_COBS_LEN + 1;

/// Shortest payload that can be valid: the version byte plus the CRC trailer.
const MIN_PAYLOAD_LEN: usize = 1 + CRC_LEN;

/// Why a frame could not be encoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The caller's buffer cannot hold the frame; [`MAX_ENCODED_LEN`] always suffices.
    #[error("output buffer too small for the encoded frame: {got} bytes (at most {MAX_ENCODED_LEN} are needed)")]
    BufferTooSmall {
        /// Length of the buffer given.
        got: usize,
    },
    /// postcard refused the frame (cannot happen for a [`PoseFrame`] within its bounds).
    #[error("postcard serialization failed: {0}")]
    Serialize(postcard::Error),
}

/// Why received bytes were not a valid frame.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// More bytes arrived without a delimiter than any valid frame has; they are discarded up to
    /// the next delimiter.
    #[error("frame longer than {MAX_COBS_LEN} bytes without a 0x00 delimiter; discarding to the next delimiter")]
    FrameTooLong,
    /// The bytes between two delimiters are not valid COBS.
    #[error("invalid COBS encoding")]
    Cobs,
    /// The decoded payload is shorter than the version byte plus the CRC trailer.
    #[error("frame too short: {len} payload bytes (at least {MIN_PAYLOAD_LEN} needed)")]
    TooShort {
        /// Payload bytes after COBS decoding.
        len: usize,
    },
    /// The CRC trailer does not match the payload: corrupted in transit.
    #[error("CRC mismatch: frame says {received:#010x}, payload gives {computed:#010x}")]
    Crc {
        /// CRC carried by the frame.
        received: u32,
        /// CRC of the received payload.
        computed: u32,
    },
    /// Intact frame of a protocol version this receiver does not know.
    #[error("unknown protocol version {version} (this receiver supports {PROTOCOL_VERSION_V1} to {PROTOCOL_VERSION})")]
    UnknownVersion {
        /// The frame's version byte.
        version: u8,
    },
    /// Intact frame (CRC good) whose payload postcard cannot read, e.g. more than the allowed
    /// persons: a sender bug, not line noise.
    #[error("malformed payload: {0}")]
    Malformed(postcard::Error),
    /// The payload parsed but bytes were left over before the CRC.
    #[error("{count} unexpected bytes after the frame payload")]
    TrailingBytes {
        /// Unread body bytes.
        count: usize,
    },
}

/// Encodes `frame` into `out` as one complete wire frame (COBS bytes then the 0x00 delimiter)
/// and returns the number of bytes written. `out` of [`MAX_ENCODED_LEN`] bytes always suffices.
///
/// Uses a [`MAX_PAYLOAD_LEN`]-byte (about 2 KiB) scratch buffer on the stack.
pub fn encode(frame: &PoseFrame, out: &mut [u8]) -> Result<usize, EncodeError> {
    let mut payload = [0u8; MAX_PAYLOAD_LEN];
    let n = encode_payload(frame, &mut payload)?;
    let got = out.len();
    // Leave room for the delimiter after the COBS bytes.
    let cobs_room = got
        .checked_sub(1)
        .ok_or(EncodeError::BufferTooSmall { got })?;
    let written = cobs::try_encode(&payload[..n], &mut out[..cobs_room])
        .map_err(|_| EncodeError::BufferTooSmall { got })?;
    out[written] = DELIMITER;
    Ok(written + 1)
}

/// Writes the un-framed payload (postcard bytes + little-endian CRC-32) into `out` and returns
/// its length. Useful where the transport frames messages itself; [`encode`] wraps it in COBS.
pub fn encode_payload(frame: &PoseFrame, out: &mut [u8]) -> Result<usize, EncodeError> {
    let got = out.len();
    let body_room = got
        .checked_sub(CRC_LEN)
        .ok_or(EncodeError::BufferTooSmall { got })?;
    // Version 1 has no camera index; any other version number is written in the current
    // layout (tests use that to produce frames of unknown versions).
    let written = if frame.version == PROTOCOL_VERSION_V1 {
        postcard::to_slice(&BodyV1::of(frame), &mut out[..body_room]).map(|b| b.len())
    } else {
        postcard::to_slice(frame, &mut out[..body_room]).map(|b| b.len())
    };
    let body_len = match written {
        Ok(n) => n,
        Err(postcard::Error::SerializeBufferFull) => {
            return Err(EncodeError::BufferTooSmall { got })
        }
        Err(e) => return Err(EncodeError::Serialize(e)),
    };
    let crc = CRC.checksum(&out[..body_len]);
    out[body_len..body_len + CRC_LEN].copy_from_slice(&crc.to_le_bytes());
    Ok(body_len + CRC_LEN)
}

/// Decodes one complete frame: the COBS bytes, with or without the trailing delimiter. The
/// buffer is decoded in place (its contents are destroyed).
pub fn decode_frame(encoded: &mut [u8]) -> Result<PoseFrame, DecodeError> {
    let cobs_len = encoded
        .iter()
        .position(|&b| b == DELIMITER)
        .unwrap_or(encoded.len());
    if cobs_len > MAX_COBS_LEN {
        return Err(DecodeError::FrameTooLong);
    }
    let encoded = &mut encoded[..cobs_len];
    let len = cobs::decode_in_place(encoded).map_err(|_| DecodeError::Cobs)?;
    decode_payload(&encoded[..len])
}

/// Checks and parses an un-framed payload (postcard bytes + little-endian CRC-32).
pub fn decode_payload(payload: &[u8]) -> Result<PoseFrame, DecodeError> {
    let len = payload.len();
    if len < MIN_PAYLOAD_LEN {
        return Err(DecodeError::TooShort { len });
    }
    let (body, trailer) = payload.split_at(len - CRC_LEN);
    let mut crc_bytes = [0u8; CRC_LEN];
    crc_bytes.copy_from_slice(trailer);
    let received = u32::from_le_bytes(crc_bytes);
    let computed = CRC.checksum(body);
    if received != computed {
        return Err(DecodeError::Crc { received, computed });
    }
    // The version byte comes first in every version, so it is checked before parsing the rest.
    let version = body[0];
    let (frame, rest) = match version {
        PROTOCOL_VERSION_V1 => {
            let (v1, rest) = postcard::take_from_bytes::<BodyV1<WirePersons>>(body)
                .map_err(DecodeError::Malformed)?;
            (v1.into_frame(), rest)
        }
        PROTOCOL_VERSION => {
            postcard::take_from_bytes::<PoseFrame>(body).map_err(DecodeError::Malformed)?
        }
        _ => return Err(DecodeError::UnknownVersion { version }),
    };
    if !rest.is_empty() {
        return Err(DecodeError::TrailingBytes { count: rest.len() });
    }
    Ok(frame)
}
