//! `edgepose listen --serial` end to end through a pseudo-terminal: frames written on the
//! master (with garbage and corrupted frames in between) come out as JSON lines; the error
//! counters reach stderr.

use crate::support::{sample_poses, Pty};
use edgepose::pose::JsonFrame;
use edgepose::sink::{encode_wire, to_wire};
use edgepose::wire::{decode_frame, DecodeError};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_edgepose");

/// A copy of `frame` with one byte changed so that it fails exactly the CRC check.
fn corrupt(frame: &[u8]) -> Vec<u8> {
    for i in (1..frame.len() - 1).rev() {
        let mut b = frame.to_vec();
        b[i] ^= 0x01;
        if b[i] != 0 && matches!(decode_frame(&mut b.clone()), Err(DecodeError::Crc { .. })) {
            return b;
        }
    }
    panic!("no single-byte corruption gives a CRC error");
}

#[test]
fn listen_prints_frames_and_counts_errors() {
    if crate::support::skip_under_emulation(
        "listen_prints_frames_and_counts_errors",
        "serial ioctls (TCGETS2) on a pseudo-terminal fail",
    ) {
        return;
    }
    if cfg!(not(target_os = "linux")) {
        eprintln!("skipped: PTY test needs Linux");
        return;
    }
    let mut pty = Pty::open();
    let mut child = Command::new(BIN)
        .args([
            "listen",
            "--count",
            "3",
            "--stats-interval",
            "0",
            "--serial",
        ])
        .arg(format!("{}:115200", pty.slave_path.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn edgepose listen");
    let stdout = child.stdout.take().expect("piped stdout");
    let lines = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<String>>()
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seq = 0u64;
    while child.try_wait().expect("try_wait").is_none() {
        assert!(
            Instant::now() < deadline,
            "listen did not exit after 3 frames"
        );
        let good = encode_wire(&sample_poses(seq, 3), 5).expect("encode");
        let mut burst = vec![0x13, 0x37, 0xFF, 0x00]; // garbage + delimiter
        burst.extend(corrupt(&good));
        burst.extend(&good);
        // EAGAIN while the kernel buffer is full is fine: the next burst follows.
        let _ = pty.master.write_all(&burst);
        seq += 1;
        std::thread::sleep(Duration::from_millis(50));
        let _ = pty.read_for(Duration::ZERO);
    }
    let status = child.wait().expect("wait");
    assert!(status.success(), "listen failed: {status}");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("piped stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    let lines = lines.join().expect("stdout reader");
    assert_eq!(lines.len(), 3, "{lines:?}\n{stderr}");
    let frames: Vec<JsonFrame> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("each line is a JsonFrame"))
        .collect();
    let first = frames[0].seq;
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.seq, first + i as u64, "consecutive frames");
        let expected = JsonFrame::from_wire(&to_wire(&sample_poses(f.seq, 3), 5));
        assert_eq!(f, &expected);
        assert!(f.is_well_formed());
    }
    let final_line = stderr
        .lines()
        .find(|l| l.starts_with("listen final:"))
        .unwrap_or_else(|| panic!("no final stats on stderr:\n{stderr}"));
    let crc: u64 = final_line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("crc_errors="))
        .and_then(|v| v.parse().ok())
        .expect("crc_errors=N");
    assert!(
        crc >= 2,
        "corrupted frames between good ones are counted: {final_line}"
    );
    assert!(final_line.contains("frames=3"), "{final_line}");
}

#[test]
fn listen_reports_a_missing_port() {
    let out = Command::new(BIN)
        .args(["listen", "--serial", "/nonexistent/ttyNOPE"])
        .output()
        .expect("run edgepose listen");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot open serial port /nonexistent/ttyNOPE"),
        "{err}"
    );
}

#[test]
fn listen_needs_an_input() {
    let out = Command::new(BIN).arg("listen").output().expect("run");
    assert!(!out.status.success());
}
