//! Wire-format cost per frame with 6 persons: encode (FramePoses → wire bytes), decode (stream
//! decoder → PoseFrame), and the encoded size next to the JSON size.
//!
//! Run: `cargo bench --bench wire`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use edgepose::decoder::{Keypoint, Person};
use edgepose::pose::FramePoses;
use edgepose::pose::JsonFrame;
use edgepose::sink::{encode_wire, to_wire};
use edgepose::wire::{encode, StreamDecoder, MAX_ENCODED_LEN};
use std::hint::black_box;

const PERSONS: usize = 6;

/// Six people spread over a 640×480 image, every keypoint present except two per person
/// (typical bottom-up output), with fractional coordinates and scores.
fn frame() -> FramePoses {
    let mut f = FramePoses {
        seq: 123_456,
        timestamp_us: 1_763_700_000_123_456,
        width: 640,
        height: 480,
        model_id: 2,
        ..FramePoses::default()
    };
    for i in 0..PERSONS {
        let mut p = Person {
            score: 0.55 + 0.07 * i as f32,
            track_id: 40 + i as u32,
            num_parts: 14,
            ..Person::default()
        };
        for (k, kp) in p.keypoints.iter_mut().enumerate() {
            if k % 8 != 3 {
                let x = 40.0 + 100.0 * i as f32 + 3.37 * k as f32;
                let y = 60.0 + 21.13 * k as f32;
                *kp = Keypoint::new(x, y, 0.3 + 0.04 * k as f32);
            }
        }
        // Cannot fail: PERSONS < MAX_PERSONS.
        let _ = f.persons.push(p);
    }
    f
}

fn bench(c: &mut Criterion) {
    let f = frame();
    let wire = encode_wire(&f, 7).expect("6-person frame encodes");
    let json = serde_json::to_vec(&JsonFrame::from_poses(&f, 7)).expect("JSON serializes");
    println!(
        "wire frame, {PERSONS} persons: {} bytes (COBS + CRC + delimiter); JSON: {} bytes ({:.1}x)",
        wire.len(),
        json.len(),
        json.len() as f64 / wire.len() as f64
    );

    let mut g = c.benchmark_group("wire_6_persons");
    g.throughput(Throughput::Elements(1));
    g.bench_function("encode_from_frame_poses", |b| {
        let mut buf = [0u8; MAX_ENCODED_LEN];
        b.iter(|| {
            let pf = to_wire(black_box(&f), 7);
            encode(&pf, &mut buf).expect("fits")
        })
    });
    let pf = to_wire(&f, 7);
    g.bench_function("encode_pose_frame", |b| {
        let mut buf = [0u8; MAX_ENCODED_LEN];
        b.iter(|| encode(black_box(&pf), &mut buf).expect("fits"))
    });
    g.bench_function("stream_decode", |b| {
        let mut dec = StreamDecoder::new();
        b.iter(|| {
            let mut it = dec.feed(black_box(&wire));
            it.next().and_then(Result::ok).map(|p| p.persons.len())
        })
    });
    g.bench_function("json_serialize", |b| {
        b.iter(|| serde_json::to_vec(&JsonFrame::from_poses(black_box(&f), 7)).map(|v| v.len()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
