//! The shipped IMHN edge models on held-out synthetic scenes (seed 1000, never trained on), as
//! a user measures them: `edgepose synth` then `edgepose eval --json`. Floors sit just under the
//! measured figures (60 images: fp32 0.191, int8 0.185; 200 images: 0.195 / 0.190), so a
//! broken export, card, pre-processing or decoder change fails here.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_edgepose");
/// Held-out seed: the training set used seed 1.
const HELDOUT_SEED: &str = "1000";
const IMAGES: &str = "60";
/// fp32 AP floor on the 60 held-out images.
const FP32_AP_FLOOR: f64 = 0.17;
/// int8 may lose at most this much AP against fp32 (the bound).
const INT8_MAX_AP_LOSS: f64 = 0.02;

fn ap(model: &str, dir: &Path) -> f64 {
    let out = Command::new(BIN)
        .args(["eval", "--json", "--model", model, "--images"])
        .arg(dir.join("images"))
        .arg("--annotations")
        .arg(dir.join("annotations.json"))
        .output()
        .expect("edgepose eval runs");
    assert!(
        out.status.success(),
        "eval {model}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metrics: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metrics json");
    metrics["AP"].as_f64().expect("AP")
}

#[test]
fn imhn_edge_fp32_and_int8_on_heldout_synthetic_scenes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let st = Command::new(BIN)
        .args(["synth", "--out"])
        .arg(dir.path())
        .args([
            "--count",
            IMAGES,
            "--size",
            "256x256",
            "--seed",
            HELDOUT_SEED,
        ])
        .status()
        .expect("edgepose synth runs");
    assert!(st.success());
    let fp32 = ap("imhn-edge-fp32", dir.path());
    let int8 = ap("imhn-edge-int8", dir.path());
    eprintln!("held-out synthetic AP: fp32 {fp32:.3}, int8 {int8:.3}");
    assert!(fp32 >= FP32_AP_FLOOR, "fp32 AP {fp32} < {FP32_AP_FLOOR}");
    assert!(
        int8 >= fp32 - INT8_MAX_AP_LOSS,
        "int8 AP {int8} more than {INT8_MAX_AP_LOSS} below fp32 {fp32}"
    );
}
