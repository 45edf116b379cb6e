//! The onnxruntime backend's test helpers (the quick checks in `tests/models/ort.rs`, the
//! every-card sweeps in `tests/sweeps/ort.rs`): tolerances, the library, the sample image,
//! the shipped cards, and the tract-vs-onnxruntime pose comparison.

use std::path::Path;

use edgepose::decoder::Persons;
use edgepose::infer::backend::{BackendConfig, BackendKind};
use edgepose::infer::detector::Detector;
use edgepose::infer::model::{self, ModelCard};

use super::skip::{require, shared};

/// fp32 graphs: both runtimes compute the same float graph; differences come from summation
/// order and fused kernels, far below anything the decoder could notice.
pub const FP32_ABS_TOL: f32 = 2e-3;
/// int8 (QDQ) graphs: onnxruntime runs integer kernels, tract fake-quantises in f32, so a
/// layer may round one step apart and the steps can accumulate. Measured on the trained
/// imhn-edge-int8: max 9.0e-3 (isolated values), mean 4.4e-8.
pub const INT8_ABS_TOL: f32 = 0.05;
/// Mean absolute difference: fp32 graphs (catches a systematic offset that the per-value
/// bound would hide).
pub const FP32_MEAN_ABS_TOL: f32 = 1e-4;
/// Mean absolute difference for int8 graphs (measured 4.4e-8: nearly every value identical).
pub const INT8_MEAN_ABS_TOL: f32 = 1e-3;
/// Keypoints of matched persons agree within this many image pixels (fp32 graphs).
pub const KEYPOINT_PX_TOL: f32 = 3.0;
/// int8 graphs: within this many output cells (a peak may move to a neighbouring cell).
pub const INT8_KEYPOINT_CELLS: f32 = 2.0;
/// int8 graphs: share of persons that must match (measured: all 9 on the sample image; a
/// peak of a weak person may still flip between near-equal cells on another CPU).
pub const INT8_MIN_MATCHED: f32 = 0.9;
/// Person scores agree within this.
pub const SCORE_TOL: f32 = 0.05;

pub fn ort_config(threads: usize) -> Option<BackendConfig> {
    let lib = edgepose::infer::backend::ort::find_library(None);
    if !require(
        lib.is_some(),
        "libonnxruntime (set ORT_DYLIB_PATH or pip install -r \
         models/imhn/requirements.txt into models/.venv)",
    ) {
        return None;
    }
    Some(BackendConfig {
        kind: BackendKind::Ort,
        threads,
        ort_library: lib,
        ..Default::default()
    })
}

pub fn sample_image() -> Option<image::RgbImage> {
    let path = shared("data/coco-sample/000000000785.jpg")?;
    Some(
        image::open(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
            .to_rgb8(),
    )
}

pub fn cards() -> Vec<ModelCard> {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/models"));
    let cards: Vec<ModelCard> = model::cards_in(dir)
        .into_iter()
        .map(|c| c.unwrap_or_else(|e| panic!("invalid card: {e}")))
        .collect();
    assert!(cards.len() >= 4, "expected the 4 shipped model cards");
    cards
}

pub fn is_int8(card: &ModelCard) -> bool {
    card.id.contains("int8")
}

/// Fraction of `a`'s persons that have a counterpart in `b`: score within [`SCORE_TOL`] and
/// every keypoint present in both within `px_tol` (decoders may order ties differently, so
/// any person of `b` may match).
pub fn matched_fraction(a: &Persons, b: &Persons, px_tol: f32) -> f32 {
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

pub fn compare_poses(int8: bool) {
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
