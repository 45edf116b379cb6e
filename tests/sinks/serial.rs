//! Serial sink through a real pseudo-terminal pair: what the sink writes is decoded on the
//! master side, including after the "device" disappears and comes back (the sink's port path
//! is a symlink that is re-pointed to a new PTY, like a USB adapter replugged under
//! /dev/serial/by-id).

use crate::support::{sample_poses, Pty};
use edgepose::sink::{to_wire, SerialConfig, SerialSink, Sink};
use edgepose::wire::{PoseFrame, StreamDecoder};
use std::path::Path;
use std::time::{Duration, Instant};

fn config(device: &Path) -> SerialConfig {
    SerialConfig {
        device: device.display().to_string(),
        baud: 115_200,
        device_id: 77,
        queue_len: 4,
        write_timeout_ms: 100,
        reopen_min_ms: 20,
        reopen_max_ms: 200,
        // These tests check queueing across reopens; freshness has its own tests.
        max_age_ms: 0,
    }
}

/// Reads the master until `pred` accepts a decoded frame or `wait` passes; returns all frames.
fn read_until(
    pty: &mut Pty,
    dec: &mut StreamDecoder,
    wait: Duration,
    mut pred: impl FnMut(&PoseFrame) -> bool,
) -> Vec<PoseFrame> {
    let deadline = Instant::now() + wait;
    let mut frames = Vec::new();
    while Instant::now() < deadline {
        let bytes = pty.read_for(Duration::from_millis(50));
        for f in dec.feed(&bytes).flatten() {
            let stop = pred(&f);
            frames.push(f);
            if stop {
                return frames;
            }
        }
    }
    frames
}

#[test]
fn frames_arrive_intact_and_survive_replugging() {
    if crate::support::skip_under_emulation(
        "frames_arrive_intact_and_survive_replugging",
        "serial ioctls (TCGETS2) on a pseudo-terminal fail",
    ) {
        return;
    }
    if cfg!(not(target_os = "linux")) {
        eprintln!("skipped: PTY serial test needs Linux");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let link = dir.path().join("ttyEDGE");
    // The port does not exist yet: the sink must keep retrying, queueing (bounded) meanwhile.
    let mut sink = SerialSink::open(config(&link)).expect("sink starts without the port");
    for seq in 0..10 {
        sink.send(&sample_poses(seq, 2))
            .expect("send never fails while open");
    }
    std::thread::sleep(Duration::from_millis(100));
    let s = sink.stats();
    assert!(s.errors >= 1, "open failures are counted: {s:?}");
    assert_eq!(s.sent, 0);
    assert!(s.dropped >= 6, "queue of 4 must drop the oldest: {s:?}");

    let mut pty = Pty::open();
    std::os::unix::fs::symlink(&pty.slave_path, &link).expect("symlink");
    let mut dec = StreamDecoder::new();
    let frames = read_until(&mut pty, &mut dec, Duration::from_secs(10), |f| f.seq == 9);
    // The newest queued frames (6..=9) are delivered, in order, bit-exact.
    let seqs: Vec<u64> = frames.iter().map(|f| f.seq).collect();
    assert_eq!(
        seqs,
        vec![6, 7, 8, 9],
        "queued frames after the port appeared"
    );
    for f in &frames {
        assert_eq!(f, &to_wire(&sample_poses(f.seq, 2), 77));
    }
    for seq in 10..20 {
        sink.send(&sample_poses(seq, 6)).expect("send");
        std::thread::sleep(Duration::from_millis(5));
    }
    let frames = read_until(&mut pty, &mut dec, Duration::from_secs(10), |f| f.seq == 19);
    assert_eq!(frames.len(), 10, "all frames of a live port arrive");
    assert!(frames
        .iter()
        .all(|f| *f == to_wire(&sample_poses(f.seq, 6), 77)));
    assert_eq!(dec.stats().errors(), 0, "{:?}", dec.stats());

    // Unplug: the reader side closes; the link now points at a new PTY.
    pty.release_slave();
    drop(pty);
    std::fs::remove_file(&link).expect("remove link");
    let mut pty2 = Pty::open();
    std::os::unix::fs::symlink(&pty2.slave_path, &link).expect("re-link");
    let mut dec2 = StreamDecoder::new();
    let mut seq = 100;
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut got = Vec::new();
    while got.is_empty() && Instant::now() < deadline {
        sink.send(&sample_poses(seq, 1)).expect("send");
        seq += 1;
        got = read_until(&mut pty2, &mut dec2, Duration::from_millis(50), |_| true);
    }
    assert!(
        !got.is_empty(),
        "no frame after the port came back: {:?}",
        sink.stats()
    );
    let first = &got[0];
    assert!(first.seq >= 100);
    assert_eq!(first, &to_wire(&sample_poses(first.seq, 1), 77));
    let s = sink.stats();
    assert!(s.connects >= 2, "the port was reopened: {s:?}");
    sink.close().expect("clean close");
    assert!(
        sink.send(&sample_poses(0, 0)).is_err(),
        "closed sink refuses frames"
    );
}

#[test]
fn bad_config_is_a_clear_error() {
    let e = SerialSink::open(SerialConfig::default())
        .err()
        .expect("empty device");
    assert!(e.to_string().contains("device"), "{e}");
}
