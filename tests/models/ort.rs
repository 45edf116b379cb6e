//! The onnxruntime backend: its errors and fallbacks, and the int8 cards' poses against tract
//! (the every-card output and fp32 pose sweeps are in `tests/sweeps/ort.rs`).
//!
//! Needs a libonnxruntime.so: `$ORT_DYLIB_PATH`, or the one pip puts in models/.venv
//! (`pip install -r models/imhn/requirements.txt`). Skips with a message when none is found,
//! fails under CI=true.
#![cfg(feature = "ort")]

use std::path::PathBuf;

use edgepose::infer::backend::{self, BackendConfig, BackendKind};

use crate::support::ort::{cards, compare_poses, ort_config};

/// onnxruntime's integer kernels and tract's fake-quant decode to the same persons.
#[test]
fn poses_match_tract_for_int8_cards() {
    compare_poses(true);
}

#[test]
fn bad_library_path_is_a_clear_error() {
    let cfg = BackendConfig {
        kind: BackendKind::Ort,
        ort_library: Some(PathBuf::from("/nonexistent/libonnxruntime.so")),
        ..Default::default()
    };
    let card = &cards()[0];
    let err = match backend::open(card, &cfg, card.input.width, card.input.height) {
        Ok(_) => {
            // Another test in this process already loaded onnxruntime from elsewhere: the
            // request for a different library must still be refused.
            panic!("a nonexistent library path was accepted")
        }
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("/nonexistent/libonnxruntime.so"),
        "error does not name the path: {err}"
    );
}

#[test]
fn unknown_provider_is_refused() {
    let Some(mut cfg) = ort_config(1) else {
        return;
    };
    cfg.providers = vec!["quantum".into(), "cpu".into()];
    let card = &cards()[0];
    let err = backend::open(card, &cfg, card.input.width, card.input.height)
        .err()
        .expect("unknown provider accepted")
        .to_string();
    assert!(err.contains("quantum"), "{err}");
}

#[test]
fn unavailable_gpu_providers_fall_back_to_cpu() {
    let Some(mut cfg) = ort_config(1) else {
        return;
    };
    cfg.providers = vec!["tensorrt".into(), "cuda".into(), "cpu".into()];
    cfg.trt_cache_dir = Some(std::env::temp_dir());
    let card = &cards()[0];
    let mut b = backend::open(card, &cfg, card.input.width, card.input.height)
        .expect("falls back to the CPU");
    if !edgepose::infer::backend::ort::available_providers().contains(&"cuda") {
        assert!(b.name().starts_with("ort-cpu"), "{}", b.name());
    }
    assert!(!b.run().expect("runs").is_empty());
}

#[test]
fn auto_runs_onnxruntime_when_a_library_is_found() {
    let Some(mut cfg) = ort_config(1) else {
        return;
    };
    cfg.kind = BackendKind::Auto;
    let choice = backend::choose(&cfg);
    assert_eq!(choice.kind, BackendKind::Ort, "{choice:?}");
    assert!(choice.reason.contains("libonnxruntime"), "{choice:?}");
    let det = edgepose::infer::detector::Detector::load("movenet-multipose-lightning", &cfg, None)
        .expect("loads");
    assert!(
        det.backend_name().starts_with("ort-"),
        "{}",
        det.backend_name()
    );
    assert_eq!(det.backend_choice().kind, BackendKind::Ort);
}

/// A library that does not load: the daemon runs tract, says why once, and keeps going. In a
/// child process: onnxruntime loads once per process, and other tests here load the real one.
#[test]
fn auto_falls_back_to_tract_with_one_warning_when_the_library_fails_to_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lib = dir.path().join("libonnxruntime.so.1");
    std::fs::write(&lib, b"not a shared library").expect("write");
    let out = dir.path().join("poses.jsonl");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_edgepose"))
        .args(["run", "--frames", "3", "--set"])
        .arg(format!("sinks.jsonl.path=\"{}\"", out.display()))
        .args(["--set", "model.backend.kind=\"auto\"", "--set"])
        .arg(format!("model.backend.ort_library=\"{}\"", lib.display()))
        .env("RUST_LOG", "info")
        .env_remove("ORT_DYLIB_PATH")
        .output()
        .expect("runs");
    let log = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "daemon failed:\n{log}");
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("backend auto"))
        .collect();
    assert_eq!(warnings.len(), 1, "one warning expected:\n{log}");
    assert!(warnings[0].contains(&lib.display().to_string()), "{log}");
    let started = log
        .lines()
        .find(|l| l.contains("pipeline started"))
        .unwrap_or_else(|| panic!("no start-up line:\n{log}"));
    assert!(started.contains("tract-cpu"), "{started}");
    assert!(started.contains("failed to load"), "{started}");
    let frames = std::fs::read_to_string(&out).expect("poses written");
    assert_eq!(frames.lines().count(), 3, "the daemon ran on tract");
}
