//! Per-frame CPU cost of the ROS 2 sink: `send` + `flush` of a 6-person frame (messages built,
//! CDR-serialised and handed to RustDDS for every topic), measured as the process's CPU time
//! (all threads: the publisher thread and RustDDS's event loop included), not wall time.
//! No subscriber: the cost of the sink itself, not of a reader on the same 2-core machine.
//!
//! `cargo bench --features ros2 --bench ros2`

use criterion::{criterion_group, criterion_main, Criterion};
use edgepose::decoder::{Keypoint, Person};
use edgepose::pose::FramePoses;
use edgepose::sink::{ros2::msg::frame_messages, Ros2Config, Ros2Sink, Sink};
use std::time::Duration;

/// Domain for the benchmark (away from the tests' 10..210 range is not needed: no reader).
const BENCH_DOMAIN: u16 = 231;
const PERSONS: usize = 6;

fn frame(seq: u64) -> FramePoses {
    let mut f = FramePoses {
        seq,
        timestamp_us: 1_763_700_000_000_000 + seq * 33_333,
        width: 640,
        height: 480,
        ..FramePoses::default()
    };
    for i in 0..PERSONS {
        let mut p = Person {
            score: 0.8,
            track_id: 1 + i as u32,
            ..Person::default()
        };
        for (k, kp) in p.keypoints.iter_mut().enumerate() {
            *kp = Keypoint::new(
                50.0 + 90.0 * i as f32 + k as f32,
                40.0 + 20.0 * k as f32,
                0.7,
            );
        }
        let _ = f.persons.push(p);
    }
    f
}

/// CPU time of the whole process (user + system, all threads).
fn cpu_time() -> Duration {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn bench(c: &mut Criterion) {
    c.bench_function("ros2 messages for 6 persons (build only)", |b| {
        let f = frame(1);
        b.iter(|| frame_messages(std::hint::black_box(&f), "camera"))
    });
    let mut sink = Ros2Sink::open(Ros2Config {
        domain_id: Some(BENCH_DOMAIN),
        ..Ros2Config::default()
    })
    .expect("ROS 2 participant");
    let mut seq = 0;
    c.bench_function("ros2 sink, 6 persons, send+flush (process CPU time)", |b| {
        b.iter_custom(|iters| {
            let start = cpu_time();
            for _ in 0..iters {
                seq += 1;
                sink.send(&frame(seq)).expect("send");
                sink.flush().expect("flush");
            }
            cpu_time() - start
        })
    });
    let _ = sink.close();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
