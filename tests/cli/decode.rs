//! `edgepose decode` end to end: the real binary on real .npy files.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_edgepose");

/// Writes a version-1.0 .npy with dtype `descr` and raw little-endian `payload`.
fn write_npy(path: &Path, descr: &str, shape: &[usize], payload: &[u8]) {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // Pad so that magic + len + header + '\n' is a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(payload);
    std::fs::write(path, bytes).expect("write npy");
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn decode(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .arg("decode")
        .args(args)
        .output()
        .expect("run edgepose");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/examples/two_people.npy")
}

#[test]
fn demo_tensor_decodes_to_two_people_json() {
    let demo = demo();
    let (ok, stdout, stderr) = decode(&[
        "--family",
        "simplepose",
        "--maps",
        demo.to_str().expect("utf-8 path"),
        "--json",
    ]);
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("json output");
    let persons = v["persons"].as_array().expect("persons");
    assert_eq!(persons.len(), 2, "{stdout}");
    // The demo's left person has its nose at (110, 70) in the 384x384 image.
    let noses: Vec<(f64, f64)> = persons
        .iter()
        .map(|p| {
            let k = &p["keypoints"][0];
            (k[0].as_f64().expect("x"), k[1].as_f64().expect("y"))
        })
        .collect();
    assert!(
        noses
            .iter()
            .any(|&(x, y)| (x - 110.0).abs() < 1.0 && (y - 70.0).abs() < 1.0),
        "{noses:?}"
    );
    for p in persons {
        assert_eq!(p["keypoints"].as_array().expect("kps").len(), 17);
        assert!(p["score"].as_f64().expect("score") > 0.9);
    }
    assert_eq!(v["stats"]["non_finite"], 0);
}

#[test]
fn image_size_rescales_and_table_output() {
    let demo = demo();
    let path = demo.to_str().expect("utf-8 path");
    let (ok, stdout, stderr) = decode(&[
        "--family",
        "simplepose",
        "--maps",
        path,
        "--image-size",
        "768x768",
        "--json",
    ]);
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("json output");
    let xs: Vec<f64> = v["persons"]
        .as_array()
        .expect("persons")
        .iter()
        .map(|p| p["keypoints"][0][0].as_f64().expect("x"))
        .collect();
    assert!(xs.iter().any(|x| (x - 220.0).abs() < 2.0), "{xs:?}");
    let (ok, stdout, _) = decode(&["--family", "simplepose", "--maps", path]);
    assert!(ok);
    assert!(stdout.contains("2 person(s)"), "{stdout}");
    assert!(stdout.contains("left_shoulder"), "{stdout}");
}

#[test]
fn hwc_with_batch_dimension_is_accepted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("paf.npy");
    write_npy(
        &path,
        "<f4",
        &[1, 6, 5, 57],
        &f32_bytes(&vec![0.0; 6 * 5 * 57]),
    );
    let (ok, stdout, stderr) = decode(&[
        "--family",
        "paf",
        "--maps",
        path.to_str().expect("path"),
        "--json",
    ]);
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(v["persons"].as_array().map(Vec::len), Some(0));
}

#[test]
fn bad_inputs_fail_with_one_clear_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = |n: &str| dir.path().join(n);
    write_npy(&p("f64.npy"), "<f8", &[50, 4, 4], &vec![0u8; 50 * 16 * 8]);
    write_npy(
        &p("rank2.npy"),
        "<f4",
        &[50, 16],
        &f32_bytes(&vec![0.0; 800]),
    );
    write_npy(
        &p("chan.npy"),
        "<f4",
        &[49, 4, 4],
        &f32_bytes(&vec![0.0; 49 * 16]),
    );
    let mut nan = vec![0.0f32; 50 * 16];
    nan[7] = f32::NAN;
    nan[9] = f32::INFINITY;
    write_npy(&p("nan.npy"), "<f4", &[50, 4, 4], &f32_bytes(&nan));
    std::fs::write(p("garbage.npy"), b"not a numpy file").expect("write");
    let cases: [(&str, &str); 6] = [
        ("missing.npy", "cannot read"),
        ("f64.npy", "float32"),
        ("rank2.npy", "shape"),
        ("chan.npy", "50"),
        ("nan.npy", "non-finite"),
        ("garbage.npy", "not a valid .npy"),
    ];
    for (name, needle) in cases {
        let path = p(name);
        let (ok, _, stderr) = decode(&[
            "--family",
            "simplepose",
            "--maps",
            path.to_str().expect("path"),
        ]);
        assert!(!ok, "{name} should fail");
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{name}: {stderr}");
        assert!(lines[0].starts_with("error: "), "{name}: {stderr}");
        assert!(
            lines[0].contains(needle),
            "{name}: expected {needle:?} in {stderr}"
        );
    }
}
