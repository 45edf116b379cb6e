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
