//! Accuracy of the shipped pretrained models on the real COCO sample in ../shared/data
//! (4 val2017 images, 12 annotated people): COCO keypoint AP through our whole chain
//! (letterbox pre-processing, tract, our decoders, our COCOeval port).

use edgepose::eval;
use edgepose::eval::detect_coco;
use edgepose::infer::backend::BackendConfig;
use edgepose::infer::detector::Detector;

/// Floors from the inference issue (the spec's NumPy sanity checks reached 0.564 and 0.493).
const TFPOSE_MIN_AP: f64 = 0.55;
const MOVENET_MIN_AP: f64 = 0.48;

use crate::support::coco_sample_dir as sample_dir;

fn ap_of(model: &str) -> Option<eval::Metrics> {
    let dir = sample_dir()?;
    let gt = eval::load_ground_truth(&dir.join("test_coco.json")).expect("ground truth parses");
    let mut det = Detector::load(model, &BackendConfig::default(), None).expect("model loads");
    let (results, failures) = detect_coco(&mut det, &gt, &dir);
    assert!(failures.is_empty(), "images failed: {failures:?}");
    let m = eval::evaluate(&gt, &results).expect("evaluation runs");
    eprintln!("{model}: {m}");
    Some(m)
}

#[test]
fn tfpose_paf_ap_on_coco_sample() {
    let Some(m) = ap_of("tfpose-mobilenet-thin") else {
        return;
    };
    assert!(
        m.ap >= TFPOSE_MIN_AP,
        "tf-pose AP {:.3} < {TFPOSE_MIN_AP}",
        m.ap
    );
}

#[test]
fn movenet_ap_on_coco_sample() {
    let Some(m) = ap_of("movenet-multipose-lightning") else {
        return;
    };
    assert!(
        m.ap >= MOVENET_MIN_AP,
        "MoveNet AP {:.3} < {MOVENET_MIN_AP}",
        m.ap
    );
}
