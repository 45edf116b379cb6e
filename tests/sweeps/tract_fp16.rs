//! tract's half-precision option (`model.backend.tract.fp16`) on the real COCO sample: MoveNet
//! in f16 finds the same people as in f32, keypoints within a stated tolerance, and the COCO
//! AP within 0.01. On x86_64 tract emulates f16 (slow, but the same rounding of weights and
//! activations); the fp16 kernels of ARM boards run it under qemu-user with a Cortex-A76
//! (`QEMU_CPU=cortex-a76 scripts/cross-test-aarch64.sh --test tract_fp16`).

use edgepose::decoder::{Person, Persons};
use edgepose::eval;
use edgepose::eval::detect_coco;
use edgepose::infer::backend::{BackendConfig, TractConfig};
use edgepose::infer::detector::Detector;

const MODEL: &str = "movenet-multipose-lightning";
/// |AP(f16) - AP(f32)| on the COCO sample (the bound).
const AP_TOL: f64 = 0.01;
/// Keypoints of matched persons agree within this many image pixels (MoveNet's output cell is
/// 8 input pixels, ~12-15 image pixels on the sample: f16 rounding moves a keypoint's
/// sub-cell offset, not its cell).
const KEYPOINT_PX_TOL: f32 = 6.0;
/// Person scores agree within this.
const SCORE_TOL: f32 = 0.05;
/// Keypoints weaker than this in f32 are left out of the comparison: near the decoder's
/// threshold f16 may flip them between two weak peaks.
const MIN_KEYPOINT_SCORE: f32 = 0.3;

fn detector(fp16: bool) -> Detector {
    let cfg = BackendConfig {
        tract: TractConfig {
            fp16,
            ..Default::default()
        },
        ..Default::default()
    };
    Detector::load(MODEL, &cfg, None).expect("model loads")
}

fn same(a: &Person, b: &Person) -> bool {
    (a.score - b.score).abs() <= SCORE_TOL
        && a.keypoints.iter().zip(&b.keypoints).all(|(k, l)| {
            k.score < MIN_KEYPOINT_SCORE
                || ((k.x - l.x).abs() <= KEYPOINT_PX_TOL && (k.y - l.y).abs() <= KEYPOINT_PX_TOL)
        })
}

fn strong(p: &Persons) -> usize {
    p.iter().filter(|p| p.score >= 0.2).count()
}

#[test]
fn movenet_in_f16_matches_f32_on_the_coco_sample() {
    let Some(dir) = crate::support::coco_sample_dir() else {
        return;
    };
    let mut f32_det = detector(false);
    let mut f16_det = detector(true);
    assert!(
        f16_det.backend_name().contains("f16"),
        "{}",
        f16_det.backend_name()
    );
    let mut images: Vec<_> = std::fs::read_dir(&dir)
        .expect("sample dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    images.sort();
    let mut compared = 0;
    for path in &images {
        let img = image::open(path).expect("image").to_rgb8();
        let (a, _, _) = f32_det.detect(&img).expect("f32");
        let (b, _, _) = f16_det.detect(&img).expect("f16");
        eprintln!(
            "{}: {} persons f32, {} f16",
            path.display(),
            a.len(),
            b.len()
        );
        assert_eq!(strong(&a), strong(&b), "{}: person counts", path.display());
        for p in a.iter().filter(|p| p.score >= 0.2) {
            assert!(
                b.iter().any(|q| same(p, q)),
                "{}: an f32 person (score {:.3}) has no f16 counterpart",
                path.display(),
                p.score
            );
            compared += 1;
        }
    }
    assert!(compared > 0, "nobody found: the comparison proves nothing");

    let gt = eval::load_ground_truth(&dir.join("test_coco.json")).expect("ground truth");
    let (r32, f32_fail) = detect_coco(&mut f32_det, &gt, &dir);
    let (r16, f16_fail) = detect_coco(&mut f16_det, &gt, &dir);
    assert!(f32_fail.is_empty() && f16_fail.is_empty());
    let (ap32, ap16) = (
        eval::evaluate(&gt, &r32).expect("eval").ap,
        eval::evaluate(&gt, &r16).expect("eval").ap,
    );
    eprintln!("AP f32 {ap32:.4}, f16 {ap16:.4}");
    assert!(
        (ap32 - ap16).abs() <= AP_TOL,
        "AP f32 {ap32:.4} vs f16 {ap16:.4}"
    );
}
