//! The Python decoder (examples/python/edgepose_wire.py) reads what the Rust encoder writes:
//! frames go to a temp file (with garbage and a corrupted frame in between), Python prints
//! JSON lines, and they must equal the Rust-side values.

use crate::support::{have_program, require, sample_poses};
use edgepose::pose::JsonFrame;
use edgepose::sink::{encode_wire, to_wire};
use std::process::Command;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/python/edgepose_wire.py"
);

fn python_decode(bytes: &[u8]) -> (bool, Vec<serde_json::Value>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("stream.bin");
    std::fs::write(&path, bytes).expect("write stream");
    let out = Command::new("python3")
        .arg(SCRIPT)
        .arg("--check")
        .arg(&path)
        .output()
        .expect("run python3");
    let stdout = String::from_utf8(out.stdout).expect("utf-8 JSON");
    let values = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    (
        out.status.success(),
        values,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

/// Compares Python's object with the Rust wire frame, number by number.
fn assert_same(py: &serde_json::Value, rust: &JsonFrame) {
    let n = |k: &str| {
        py[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{k} missing in {py}"))
    };
    assert_eq!(n("version"), u64::from(rust.version));
    assert_eq!(n("device_id"), u64::from(rust.device_id));
    assert_eq!(
        py.get("camera_index").and_then(|v| v.as_u64()),
        rust.camera_index.map(u64::from),
        "camera index (version 2 only)"
    );
    assert_eq!(n("seq"), rust.seq);
    assert_eq!(n("timestamp_us"), rust.timestamp_us);
    assert_eq!(n("width"), u64::from(rust.width));
    assert_eq!(n("height"), u64::from(rust.height));
    assert_eq!(n("model_id"), u64::from(rust.model_id));
    let persons = py["persons"].as_array().expect("persons array");
    assert_eq!(persons.len(), rust.persons.len());
    for (pp, rp) in persons.iter().zip(&rust.persons) {
        assert_eq!(pp["track_id"].as_u64(), Some(u64::from(rp.track_id)));
        assert!(close(
            pp["score"].as_f64().unwrap_or(-1.0),
            f64::from(rp.score)
        ));
        let kps = pp["keypoints"].as_array().expect("keypoints array");
        assert_eq!(kps.len(), 17);
        for (pk, rk) in kps.iter().zip(&rp.keypoints) {
            match rk {
                None => assert!(pk.is_null(), "absent keypoint must be null, got {pk}"),
                Some([x, y, s]) => {
                    let v: Vec<f64> = pk
                        .as_array()
                        .expect("[x, y, score]")
                        .iter()
                        .filter_map(|v| v.as_f64())
                        .collect();
                    assert_eq!(v.len(), 3);
                    assert!(close(v[0], f64::from(*x)) && close(v[1], f64::from(*y)));
                    assert!(close(v[2], f64::from(*s)), "{v:?} vs {s}");
                }
            }
        }
    }
}

#[test]
fn python_decoder_agrees_with_rust_encoder() {
    if !require(have_program("python3", "--version"), "python3") {
        return;
    }
    let mut stream = Vec::new();
    let mut expected = Vec::new();
    // Single-camera frames (version 1) and named cameras' frames (version 2) in one stream.
    for (seq, persons, camera) in [
        (0u64, 0usize, None),
        (1, 1, None),
        (2, 6, Some(0u8)),
        (3, 16, Some(5)),
        (4, 18, None),
    ] {
        let mut f = sample_poses(seq, persons.min(edgepose::decoder::MAX_PERSONS));
        f.camera = camera.map(|index| edgepose::pose::CameraId {
            index,
            name: std::sync::Arc::from("rear"),
        });
        stream.extend(encode_wire(&f, 1234).expect("encode"));
        expected.push(JsonFrame::from_wire(&to_wire(&f, 1234)));
    }
    let (ok, values, stderr) = python_decode(&stream);
    assert!(ok, "python reported a problem: {stderr}");
    assert_eq!(values.len(), expected.len(), "{stderr}");
    for (py, rust) in values.iter().zip(&expected) {
        assert_same(py, rust);
    }
    assert_eq!(values[4]["persons"].as_array().map(Vec::len), Some(16));
    let versions: Vec<_> = values
        .iter()
        .filter_map(|v| v["version"].as_u64())
        .collect();
    assert_eq!(versions, [1, 1, 2, 2, 1]);
    assert_eq!(values[3]["camera_index"].as_u64(), Some(5));
}

#[test]
fn python_decoder_resyncs_and_counts_errors() {
    if !require(have_program("python3", "--version"), "python3") {
        return;
    }
    let good = encode_wire(&sample_poses(7, 2), 1).expect("encode");
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] = if bad[mid] == 0x42 { 0x43 } else { 0x42 };
    let mut stream = vec![0xde, 0xad, 0xbe, 0xef, 0x00];
    stream.extend(&bad);
    stream.extend(&good);
    let (ok, values, stderr) = python_decode(&stream);
    assert!(!ok, "errors must give a failing exit code");
    assert_eq!(values.len(), 1, "the good frame after garbage is recovered");
    assert_same(
        &values[0],
        &JsonFrame::from_wire(&to_wire(&sample_poses(7, 2), 1)),
    );
    let stats: serde_json::Value =
        serde_json::from_str(stderr.lines().last().unwrap_or("")).expect("stats JSON on stderr");
    assert_eq!(stats["errors"].as_u64(), Some(2), "{stats}");
    assert_eq!(
        stats["dropped_bytes"].as_u64(),
        Some(4 + bad.len() as u64 - 1),
        "{stats}"
    );
}
