//! The onnxruntime backend against the tract backend: for every model card in models/, the same
//! pre-processed real image gives outputs within a stated tolerance and the same poses.
//!
//! Needs a libonnxruntime.so: `$ORT_DYLIB_PATH`, or the one pip puts in models/.venv
//! (`pip install -r models/imhn/requirements.txt`). Skips with a message when none is found,
//! fails under CI=true.
#![cfg(feature = "ort")]

use edgepose::infer::backend::{self, BackendConfig};
use edgepose::infer::preprocess::Preprocessor;

use crate::support::ort::{
    cards, compare_poses, is_int8, ort_config, sample_image, FP32_ABS_TOL, FP32_MEAN_ABS_TOL,
    INT8_ABS_TOL, INT8_MEAN_ABS_TOL,
};

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

#[test]
fn poses_match_tract_for_every_fp32_card() {
    compare_poses(false);
}
