//! Encoder/decoder behaviour: bounds, layout, every typed error, streaming and resync.

use edgepose_wire::{
    decode_frame, decode_payload, encode, encode_payload, DecodeError, EncodeError, PoseFrame,
    StreamDecoder, WireKeypoint, WirePerson, CRC, MAX_COBS_LEN, MAX_ENCODED_LEN, MAX_PAYLOAD_LEN,
    MAX_POSTCARD_LEN, MAX_WIRE_PERSONS, NUM_KEYPOINTS, PROTOCOL_VERSION, PROTOCOL_VERSION_V1,
};

/// The frame with the largest possible encoding: every varint at its maximum length.
fn worst_case_frame() -> PoseFrame {
    let mut f = PoseFrame::new(u32::MAX, u64::MAX, u64::MAX, u16::MAX, u16::MAX, u16::MAX);
    let kp = WireKeypoint {
        x: u16::MAX,
        y: u16::MAX,
        score: 255,
    };
    for _ in 0..MAX_WIRE_PERSONS {
        let p = WirePerson {
            track_id: u32::MAX,
            score: 255,
            keypoints: [kp; NUM_KEYPOINTS],
        };
        f.persons.push(p).expect("capacity is MAX_WIRE_PERSONS");
    }
    f
}

fn sample_frame(seq: u64, persons: usize) -> PoseFrame {
    let mut f = PoseFrame::new(42, seq, 1_700_000_000_000_000 + seq * 33_333, 640, 480, 3);
    for i in 0..persons {
        let mut p = WirePerson::new(i as u32 + 1, 0.9);
        for (k, kp) in p.keypoints.iter_mut().enumerate() {
            if k % 5 != 4 {
                *kp = WireKeypoint::from_pixels(
                    100.25 + 20.0 * i as f32 + k as f32,
                    50.5 + 7.0 * k as f32,
                    0.5,
                );
            }
        }
        f.persons.push(p).expect("persons <= MAX_WIRE_PERSONS");
    }
    f
}

fn encoded(frame: &PoseFrame) -> Vec<u8> {
    let mut buf = [0u8; MAX_ENCODED_LEN];
    let n = encode(frame, &mut buf).expect("encode into MAX_ENCODED_LEN");
    buf[..n].to_vec()
}

/// COBS-frames a raw payload (for building deliberately broken frames).
fn frame_payload(payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; cobs::max_encoding_length(payload.len()) + 1];
    let n = cobs::encode(payload, &mut out);
    out.truncate(n);
    out.push(0);
    out
}

fn with_crc(body: &[u8]) -> Vec<u8> {
    let mut v = body.to_vec();
    v.extend_from_slice(&CRC.checksum(body).to_le_bytes());
    v
}

#[test]
fn crc_is_crc32_iso_hdlc() {
    assert_eq!(CRC.checksum(b"123456789"), 0xCBF4_3926);
}

#[test]
fn documented_sizes_hold() {
    assert_eq!(MAX_POSTCARD_LEN, 2037);
    assert_eq!(MAX_PAYLOAD_LEN, 2041);
    assert_eq!(MAX_ENCODED_LEN, 2051);
}

#[test]
fn worst_case_frame_meets_the_bound_exactly() {
    let f = worst_case_frame();
    let mut payload = [0u8; MAX_PAYLOAD_LEN];
    let n = encode_payload(&f, &mut payload).expect("payload fits");
    assert_eq!(n, MAX_PAYLOAD_LEN, "bound must be tight for the worst case");
    let bytes = encoded(&f);
    assert!(bytes.len() <= MAX_ENCODED_LEN);
    assert_eq!(bytes.iter().filter(|&&b| b == 0).count(), 1);
    let mut copy = bytes.clone();
    assert_eq!(decode_frame(&mut copy), Ok(f));
}

/// Bytes written by hand from the layout in the crate docs, not by the encoder: version 1,
/// as a daemon with a single `[source]` (and every daemon before version 2) writes it.
#[test]
fn body_matches_documented_layout() {
    let mut f = PoseFrame::new(300, 5, 1, 640, 480, 2);
    f.version = PROTOCOL_VERSION_V1;
    let mut p = WirePerson::new(7, 1.0);
    p.keypoints[0] = WireKeypoint::from_pixels(10.25, 0.0, 0.5);
    f.persons.push(p).expect("one person fits");
    let mut expected = vec![
        1, // version
        0xAC, 0x02, // device_id 300
        5,    // seq
        1,    // timestamp
        0x80, 0x05, // width 640
        0xE0, 0x03, // height 480
        2,    // model id
        1,    // one person
        7,    // track id
        255,  // score 1.0
        41,   // kp0.x = 10.25 px * 4
        0,    // kp0.y
        128,  // kp0.score round(0.5 * 255)
    ];
    expected.extend(std::iter::repeat_n([0u8, 0, 0], NUM_KEYPOINTS - 1).flatten());
    let mut payload = [0u8; MAX_PAYLOAD_LEN];
    let n = encode_payload(&f, &mut payload).expect("fits");
    assert_eq!(&payload[..n], with_crc(&expected).as_slice());
    assert_eq!(encoded(&f), frame_payload(&with_crc(&expected)));
}

/// A version-1 frame made by hand (the bytes an old daemon sends) still decodes, with
/// camera 0; version 2 carries the camera index right after the device id.
#[test]
fn v1_frames_still_decode_and_v2_carries_the_camera() {
    let mut v1_body = vec![
        1, // version 1
        0xAC, 0x02, // device_id 300
        5,    // seq
        1,    // timestamp
        0x80, 0x05, // width 640
        0xE0, 0x03, // height 480
        2,    // model id
        1,    // one person
        7,    // track id
        255,  // score
        41, 0, 128, // kp0
    ];
    v1_body.extend(std::iter::repeat_n([0u8, 0, 0], NUM_KEYPOINTS - 1).flatten());
    let mut bytes = frame_payload(&with_crc(&v1_body));
    let f = decode_frame(&mut bytes).expect("a version-1 frame decodes");
    assert_eq!((f.version, f.device_id, f.camera, f.seq), (1, 300, 0, 5));
    assert_eq!((f.width, f.height, f.model_id), (640, 480, 2));
    assert_eq!(f.persons.len(), 1);
    assert_eq!(f.persons[0].keypoints[0].x_px(), 10.25);

    // The same frame in version 2 from camera 3: one more byte, after the device id.
    let mut v2_body = v1_body.clone();
    v2_body[0] = PROTOCOL_VERSION;
    v2_body.insert(3, 3);
    let mut g = f.clone();
    g.version = PROTOCOL_VERSION;
    g.camera = 3;
    let mut payload = [0u8; MAX_PAYLOAD_LEN];
    let n = encode_payload(&g, &mut payload).expect("fits");
    assert_eq!(&payload[..n], with_crc(&v2_body).as_slice());
    let mut bytes = encoded(&g);
    assert_eq!(decode_frame(&mut bytes), Ok(g));
    // A stream mixing both versions yields both frames.
    let mut stream = encoded(&f);
    stream.extend(encoded(&sample_frame(9, 2)));
    let mut dec = StreamDecoder::new();
    let got: Vec<PoseFrame> = dec.feed(&stream).filter_map(|r| r.ok()).collect();
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].version, got[1].version), (1, 2));
}

#[test]
fn keypoint_conversion_rounds_clamps_and_keeps_presence() {
    let k = WireKeypoint::from_pixels(12.3, 7.9, 0.001);
    assert_eq!((k.x, k.y), (49, 32)); // 12.25 and 8.0 px: nearest quarter pixel
    assert!(k.is_present(), "tiny scores must not turn into 'absent'");
    assert_eq!(k.score, 1);
    let k = WireKeypoint::from_pixels(-5.0, 1e9, 2.0);
    assert_eq!((k.x, k.y, k.score), (0, u16::MAX, 255));
    let k = WireKeypoint::from_pixels(f32::NAN, 3.0, f32::NAN);
    assert_eq!((k.x, k.y, k.score), (0, 12, 1));
    assert!(!WireKeypoint::ABSENT.is_present());
    assert!((WireKeypoint::from_pixels(639.75, 0.0, 1.0).x_px() - 639.75).abs() < 1e-6);
}

#[test]
fn small_buffers_are_rejected_not_overrun() {
    let f = sample_frame(1, 6);
    let full = encoded(&f);
    for len in [0, 1, 5, full.len() - 1] {
        let mut buf = vec![0u8; len];
        assert_eq!(
            encode(&f, &mut buf),
            Err(EncodeError::BufferTooSmall { got: len })
        );
    }
    let mut buf = vec![0u8; full.len()];
    assert_eq!(encode(&f, &mut buf), Ok(full.len()));
}

#[test]
fn corrupted_byte_is_a_crc_error() {
    let f = sample_frame(9, 2);
    let mut payload = [0u8; MAX_PAYLOAD_LEN];
    let n = encode_payload(&f, &mut payload).expect("fits");
    payload[20] ^= 0x10;
    let mut bytes = frame_payload(&payload[..n]);
    assert!(matches!(
        decode_frame(&mut bytes),
        Err(DecodeError::Crc { received, computed }) if received != computed
    ));
}

#[test]
fn unknown_version_is_rejected_with_its_number() {
    let mut f = sample_frame(1, 1);
    f.version = PROTOCOL_VERSION + 1;
    let mut bytes = encoded(&f);
    assert_eq!(
        decode_frame(&mut bytes),
        Err(DecodeError::UnknownVersion {
            version: PROTOCOL_VERSION + 1
        })
    );
}

#[test]
fn too_many_persons_is_malformed() {
    // Header, then a person count one above the limit, each person minimal.
    let mut body = vec![1, 0, 0, 0, 1, 1, 0, MAX_WIRE_PERSONS as u8 + 1];
    for _ in 0..=MAX_WIRE_PERSONS {
        body.extend_from_slice(&[0, 0]);
        body.extend(std::iter::repeat_n(0u8, 3 * NUM_KEYPOINTS));
    }
    assert!(matches!(
        decode_payload(&with_crc(&body)),
        Err(DecodeError::Malformed(_))
    ));
}

#[test]
fn short_truncated_trailing_and_bad_cobs_are_typed() {
    assert_eq!(
        decode_payload(&[1, 2, 3]),
        Err(DecodeError::TooShort { len: 3 })
    );
    let f = sample_frame(3, 1);
    let mut payload = [0u8; MAX_PAYLOAD_LEN];
    let n = encode_payload(&f, &mut payload).expect("fits");
    let body = &payload[..n - 4];
    // Truncated body with a valid CRC: postcard runs out of bytes.
    assert!(matches!(
        decode_payload(&with_crc(&body[..body.len() - 3])),
        Err(DecodeError::Malformed(_))
    ));
    let mut longer = body.to_vec();
    longer.extend_from_slice(&[9, 9]);
    assert_eq!(
        decode_payload(&with_crc(&longer)),
        Err(DecodeError::TrailingBytes { count: 2 })
    );
    // Code byte 0x10 promises 15 data bytes, only 2 follow.
    assert_eq!(decode_frame(&mut [0x10, 1, 2]), Err(DecodeError::Cobs));
    let mut long = vec![1u8; MAX_COBS_LEN + 1];
    assert_eq!(decode_frame(&mut long), Err(DecodeError::FrameTooLong));
}

#[test]
fn stream_decodes_byte_by_byte_and_in_every_chunk_size() {
    let frames: Vec<PoseFrame> = (0..4).map(|i| sample_frame(i, i as usize * 2)).collect();
    let stream: Vec<u8> = frames.iter().flat_map(encoded).collect();
    for chunk in [1, 2, 3, 7, 64, 255, 1000, stream.len()] {
        let mut dec = StreamDecoder::new();
        let mut got = Vec::new();
        for c in stream.chunks(chunk) {
            for r in dec.feed(c) {
                got.push(r.expect("clean stream has no errors"));
            }
        }
        assert_eq!(got, frames, "chunk size {chunk}");
        assert_eq!(dec.stats().frames, 4);
        assert_eq!(dec.stats().dropped_bytes, 0);
        assert_eq!(dec.pending(), 0);
    }
}

#[test]
fn stream_resyncs_after_garbage_and_counts_it() {
    let a = sample_frame(1, 3);
    let b = sample_frame(2, 1);
    let mut stream = vec![0x17, 0x42, 0x99]; // mid-frame start: no delimiter before frame a
    stream.extend(encoded(&a)); // lost: glued to the garbage
    stream.extend(encoded(&b));
    let mut dec = StreamDecoder::new();
    let results: Vec<_> = dec.feed(&stream).collect();
    assert_eq!(results.len(), 2);
    assert!(results[0].is_err());
    assert_eq!(results[1].as_ref().ok(), Some(&b));
    let s = *dec.stats();
    assert_eq!(s.frames, 1);
    assert_eq!(s.errors(), 1);
    assert_eq!(s.dropped_bytes as usize, 3 + encoded(&a).len() - 1);
}

#[test]
fn over_long_frame_is_reported_once_then_skipped() {
    let good = sample_frame(5, 2);
    let mut stream = vec![0xAB; 3 * MAX_COBS_LEN + 17];
    stream.push(0);
    stream.extend(encoded(&good));
    let mut dec = StreamDecoder::new();
    let mut results = Vec::new();
    for c in stream.chunks(100) {
        results.extend(dec.feed(c));
    }
    assert_eq!(results.len(), 2, "{results:?}");
    assert_eq!(results[0], Err(DecodeError::FrameTooLong));
    assert_eq!(results[1], Ok(good));
    assert_eq!(dec.stats().too_long, 1);
    assert_eq!(dec.stats().dropped_bytes as usize, 3 * MAX_COBS_LEN + 17);
}

#[test]
fn empty_frames_are_flush_markers_not_errors() {
    let f = sample_frame(8, 1);
    let mut stream = vec![0, 0, 0];
    stream.extend(encoded(&f));
    stream.extend([0, 0]);
    let mut dec = StreamDecoder::new();
    let results: Vec<_> = dec.feed(&stream).collect();
    assert_eq!(results, vec![Ok(f)]);
    assert_eq!(dec.stats().errors(), 0);
}

#[test]
fn reset_drops_partial_frame() {
    let bytes = encoded(&sample_frame(1, 1));
    let mut dec = StreamDecoder::new();
    assert!(dec.feed(&bytes[..10]).next().is_none());
    assert_eq!(dec.pending(), 10);
    dec.reset();
    assert_eq!(dec.stats().dropped_bytes, 10);
    assert_eq!(dec.feed(&bytes).count(), 1);
}
