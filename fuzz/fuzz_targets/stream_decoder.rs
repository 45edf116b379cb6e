//! Fuzz the streaming decoder: arbitrary bytes, fed in arbitrary chunk sizes, must never panic,
//! counters must stay consistent, and a valid frame appended after the garbage (behind a
//! delimiter) must always be recovered.
#![no_main]

use edgepose_wire::{encode, PoseFrame, StreamDecoder, WireKeypoint, WirePerson, MAX_ENCODED_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, rest)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk).max(1);
    let mut dec = StreamDecoder::new();
    let mut results = 0u64;
    for c in rest.chunks(chunk) {
        results += dec.feed(c).count() as u64;
    }
    let s = *dec.stats();
    assert_eq!(results, s.frames + s.errors());
    assert!(s.dropped_bytes <= rest.len() as u64);

    // A known frame after the garbage is recovered intact.
    let mut frame = PoseFrame::new(9, rest.len() as u64, 1, 640, 480, 2);
    let mut p = WirePerson::new(3, 0.5);
    p.keypoints[0] = WireKeypoint::from_pixels(1.0, 2.0, 0.5);
    let _ = frame.persons.push(p);
    let mut buf = [0u8; MAX_ENCODED_LEN];
    buf[0] = 0; // flush marker ends whatever the garbage left open
    let n = encode(&frame, &mut buf[1..]).expect("encode into MAX_ENCODED_LEN");
    let got: Vec<_> = dec.feed(&buf[..n + 1]).collect();
    assert_eq!(got.last(), Some(&Ok(frame)));

    // The one-shot decoder must not panic either.
    let mut copy = rest.to_vec();
    let _ = edgepose_wire::decode_frame(&mut copy);
});
