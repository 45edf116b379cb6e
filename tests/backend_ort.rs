//! The onnxruntime backend against the tract backend: for every model card in models/, the same
//! pre-processed real image gives outputs within a stated tolerance and the same poses.
//!
//! Needs a libonnxruntime.so: `$ORT_DYLIB_PATH`, or the one pip puts in models/.venv
//! (`pip install -r models/imhn/requirements.txt`). Skips with a message when none is found,
//! fails under CI=true.
#![cfg(feature = "ort")]

use std::path::{Path, PathBuf};

use edgepose::decoder::Persons;
use edgepose::infer::backend::{self, BackendConfig, BackendKind};
use edgepose::infer::detector::Detector;
use edgepose::infer::model::{self, ModelCard};
use edgepose::infer::preprocess::Preprocessor;

/// fp32 graphs: both runtimes compute the same float graph; differences come from summation
/// order and fused kernels, far below anything the decoder could notice.
const FP32_ABS_TOL: f32 = 2e-3;
/// int8 (QDQ) graphs: onnxruntime runs integer kernels, tract fake-quantises in f32, so a
/// layer may round one step apart and the steps can accumulate. Measured on the trained
/// imhn-edge-int8: max 9.0e-3 (isolated values), mean 4.4e-8.
const INT8_ABS_TOL: f32 = 0.05;
/// Mean absolute difference: fp32 graphs (catches a systematic offset that the per-value
/// bound would hide).
const FP32_MEAN_ABS_TOL: f32 = 1e-4;
/// Mean absolute difference for int8 graphs (measured 4.4e-8: nearly every value identical).
const INT8_MEAN_ABS_TOL: f32 = 1e-3;
/// Keypoints of matched persons agree within this many image pixels (fp32 graphs).
const KEYPOINT_PX_TOL: f32 = 3.0;
/// int8 graphs: within this many output cells (a peak may move to a neighbouring cell).
const INT8_KEYPOINT_CELLS: f32 = 2.0;
/// int8 graphs: share of persons that must match (measured: all 9 on the sample image; a
/// peak of a weak person may still flip between near-equal cells on another CPU).
const INT8_MIN_MATCHED: f32 = 0.9;
/// Person scores agree within this.
const SCORE_TOL: f32 = 0.05;

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn skip_or_fail(why: &str) -> bool {
    assert!(!ci(), "{why} (CI=true: this test must run)");
    eprintln!("skipped: {why}");
    true
}

fn ort_config(threads: usize) -> Option<BackendConfig> {
    let lib = edgepose::infer::backend::ort::find_library(None);
    if lib.is_none() {
        skip_or_fail(
            "no libonnxruntime found (set ORT_DYLIB_PATH or pip install -r \
             models/imhn/requirements.txt into models/.venv)",
        );
        return None;
    }
    Some(BackendConfig {
        kind: BackendKind::Ort,
        threads,
        ort_library: lib,
        ..Default::default()
    })
}

fn sample_image() -> Option<image::RgbImage> {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/coco-sample"
    ));
    if !dir.is_dir() {
        skip_or_fail("../shared not found");
        return None;
    }
    let path = dir.join("000000000785.jpg");
    Some(
        image::open(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
            .to_rgb8(),
    )
}

fn cards() -> Vec<ModelCard> {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/models"));
    let cards: Vec<ModelCard> = model::cards_in(dir)
        .into_iter()
        .map(|c| c.unwrap_or_else(|e| panic!("invalid card: {e}")))
        .collect();
    assert!(cards.len() >= 4, "expected the 4 shipped model cards");
    cards
}

fn is_int8(card: &ModelCard) -> bool {
    card.id.contains("int8")
}

#[test]
fn outputs_match_tract_for_every_card() {
    let (Some(ort_cfg), Some(image)) = (ort_config(1), sample_image()) else {
        return;
    };
    let tract_cfg = BackendConfig::default();
    for card in cards() {
        let (w, h) = (card.input.width, card.input.height);
        let mut tract = backend::open(&card, &tract_cfg, w, h).expect("tract loads");
        let mut ort = backend::open(&card, &ort_cfg, w, h)
            .unwrap_or_else(|e| panic!("ort loads {}: {e}", card.id));
        assert!(ort.name().starts_with("ort-cpu"), "{}", ort.name());
        assert_eq!(ort.input_shape(), tract.input_shape(), "{}", card.id);
        assert_eq!(ort.output_shape(), tract.output_shape(), "{}", card.id);

        let mut pre = Preprocessor::new(&card, w, h);
        pre.run(&image, tract.input()).expect("preprocess");
        pre.run(&image, ort.input()).expect("preprocess");
        let a = tract.run().expect("tract runs").to_vec();
        // Twice: the second run must reuse the bound buffers and give the same answer.
        let b1 = ort.run().expect("ort runs").to_vec();
        let b = ort.run().expect("ort runs again").to_vec();
        assert_eq!(
            b1, b,
            "{}: ort is not deterministic on a reused input",
            card.id
        );
        assert_eq!(a.len(), b.len());

        let max = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        let mean = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32;
        let range = a.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        eprintln!(
            "{}: {} values, |tract| max {range:.3}, |tract - ort| max {max:.2e} mean {mean:.2e}",
            card.id,
            a.len()
        );
        let (tol, mean_tol) = if is_int8(&card) {
            (INT8_ABS_TOL, INT8_MEAN_ABS_TOL)
        } else {
            (FP32_ABS_TOL, FP32_MEAN_ABS_TOL)
        };
        assert!(max <= tol, "{}: max |diff| {max} > {tol}", card.id);
        assert!(
            mean <= mean_tol,
            "{}: mean |diff| {mean} > {mean_tol}",
            card.id
        );
        assert!(range > 0.0, "{}: all-zero output proves nothing", card.id);
    }
}

/// Fraction of `a`'s persons that have a counterpart in `b`: score within [`SCORE_TOL`] and
/// every keypoint present in both within `px_tol` (decoders may order ties differently, so
/// any person of `b` may match).
fn matched_fraction(a: &Persons, b: &Persons, px_tol: f32) -> f32 {
    let same = |pa: &edgepose::decoder::Person, pb: &edgepose::decoder::Person| {
        (pa.score - pb.score).abs() <= SCORE_TOL
            && pa.keypoints.iter().zip(&pb.keypoints).all(|(k, l)| {
                k.score <= 0.0
                    || l.score <= 0.0
                    || ((k.x - l.x).abs() <= px_tol && (k.y - l.y).abs() <= px_tol)
            })
    };
    let matched = a
        .iter()
        .filter(|pa| b.iter().any(|pb| same(pa, pb)))
        .count();
    if a.is_empty() {
        1.0
    } else {
        matched as f32 / a.len() as f32
    }
}

#[test]
fn poses_match_tract_for_every_fp32_card() {
    compare_poses(false);
}

/// onnxruntime's integer kernels and tract's fake-quant decode to the same persons.
#[test]
fn poses_match_tract_for_int8_cards() {
    compare_poses(true);
}

fn compare_poses(int8: bool) {
    let (Some(ort_cfg), Some(image)) = (ort_config(2), sample_image()) else {
        return;
    };
    let mut total = 0;
    for card in cards().into_iter().filter(|c| is_int8(c) == int8) {
        let mut t = Detector::from_card(card.clone(), &BackendConfig::default(), None)
            .expect("tract detector");
        let mut o = Detector::from_card(card.clone(), &ort_cfg, None).expect("ort detector");
        let (pa, _, _) = t.detect(&image).expect("tract detect");
        let (pb, _, _) = o.detect(&image).expect("ort detect");
        eprintln!(
            "{}: {} persons (tract), {} (ort)",
            card.id,
            pa.len(),
            pb.len()
        );
        // The letterbox scales input pixels to image pixels; tolerances are in image pixels.
        let (w, h) = t.input_size();
        let scale = (image.width() as f32 / w as f32).max(image.height() as f32 / h as f32);
        let tol = if is_int8(&card) {
            INT8_KEYPOINT_CELLS * card.output.stride as f32 * scale
        } else {
            KEYPOINT_PX_TOL
        };
        let matched = matched_fraction(&pa, &pb, tol);
        eprintln!("{}: {:.0} % of persons match", card.id, matched * 100.0);
        let (count_tol, min_matched) = if is_int8(&card) {
            (pa.len() / 10, INT8_MIN_MATCHED)
        } else {
            (0, 1.0)
        };
        assert!(
            pa.len().abs_diff(pb.len()) <= count_tol,
            "{}: person counts differ",
            card.id
        );
        assert!(
            matched >= min_matched,
            "{}: only {matched} of persons match",
            card.id
        );
        total += pa.len();
    }
    assert!(
        total > 0,
        "no model found anyone: the comparison proves nothing"
    );
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
