//! Property tests: exact round trips, no panics on arbitrary input, recovery after garbage.

use edgepose_wire::{
    decode_frame, encode, PoseFrame, StreamDecoder, WireKeypoint, WirePerson, MAX_ENCODED_LEN,
    MAX_WIRE_PERSONS, NUM_KEYPOINTS, PROTOCOL_VERSION_V1,
};
use proptest::prelude::*;

fn keypoint() -> impl Strategy<Value = WireKeypoint> {
    (any::<u16>(), any::<u16>(), any::<u8>()).prop_map(|(x, y, score)| WireKeypoint { x, y, score })
}

fn person() -> impl Strategy<Value = WirePerson> {
    (
        any::<u32>(),
        any::<u8>(),
        proptest::array::uniform17(keypoint()),
    )
        .prop_map(|(track_id, score, keypoints)| WirePerson {
            track_id,
            score,
            keypoints,
        })
}

fn frame() -> impl Strategy<Value = PoseFrame> {
    (
        any::<u32>(),
        any::<u64>(),
        any::<u64>(),
        any::<u16>(),
        any::<u16>(),
        any::<u16>(),
        proptest::collection::vec(person(), 0..=MAX_WIRE_PERSONS),
        any::<u8>(),
        any::<bool>(),
    )
        .prop_map(|(dev, seq, ts, w, h, model, persons, camera, v1)| {
            let mut f = PoseFrame::new(dev, seq, ts, w, h, model);
            // Both versions round-trip; version 1 has no camera index (decodes as 0).
            if v1 {
                f.version = PROTOCOL_VERSION_V1;
            } else {
                f.camera = camera;
            }
            for p in persons {
                f.persons.push(p).expect("strategy respects capacity");
            }
            f
        })
}

fn encoded(frame: &PoseFrame) -> Vec<u8> {
    let mut buf = [0u8; MAX_ENCODED_LEN];
    let n = encode(frame, &mut buf).expect("MAX_ENCODED_LEN suffices");
    buf[..n].to_vec()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn round_trip_is_exact(f in frame()) {
        let mut bytes = encoded(&f);
        prop_assert!(bytes.len() <= MAX_ENCODED_LEN);
        prop_assert_eq!(bytes.iter().position(|&b| b == 0), Some(bytes.len() - 1));
        prop_assert_eq!(decode_frame(&mut bytes), Ok(f));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..6000),
                                   chunk in 1usize..300) {
        let mut dec = StreamDecoder::new();
        let mut results = 0u64;
        for c in bytes.chunks(chunk) {
            results += dec.feed(c).count() as u64;
        }
        let s = *dec.stats();
        prop_assert_eq!(results, s.frames + s.errors());
        prop_assert!(s.dropped_bytes <= bytes.len() as u64);
        let mut copy = bytes.clone();
        let _ = decode_frame(&mut copy);
    }

    /// Garbage (which may contain delimiters and look like frame starts) spliced between valid
    /// frames: every frame that a delimiter separates from the garbage before it is recovered.
    #[test]
    fn frames_after_garbage_are_recovered(
        items in proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 0..400), frame()), 1..6),
        chunk in 1usize..700,
    ) {
        let mut stream = Vec::new();
        for (garbage, f) in &items {
            stream.extend_from_slice(garbage);
            stream.push(0); // the sender's flush marker
            stream.extend(encoded(f));
        }
        let mut dec = StreamDecoder::new();
        let mut got = Vec::new();
        for c in stream.chunks(chunk) {
            got.extend(dec.feed(c).filter_map(Result::ok));
        }
        let sent: Vec<PoseFrame> = items.into_iter().map(|(_, f)| f).collect();
        prop_assert_eq!(got, sent);
    }
}

#[test]
fn uniform17_matches_keypoint_count() {
    // The strategy above hard-codes 17; fail loudly if the constant ever changes.
    assert_eq!(NUM_KEYPOINTS, 17);
}
