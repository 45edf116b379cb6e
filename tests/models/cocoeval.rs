//! Pins `edgepose::eval` to pycocotools' `COCOeval(iouType='keypoints')`: the expected
//! metrics in tests/fixtures/eval/expected.json were computed by
//! scripts/pycocotools_reference.py (see its docstring to regenerate them).

use std::path::{Path, PathBuf};

use edgepose::decoder::{Keypoint, Person, NUM_COCO_KEYPOINTS};
use edgepose::eval::{self, CocoGroundTruth, Metrics};

/// pycocotools and this crate compute in f64; only summation order may differ.
const TOLERANCE: f64 = 1e-6;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eval")
}

fn expected(case: &str) -> Metrics {
    let path = fixtures().join("expected.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let all: serde_json::Value = serde_json::from_str(&text).expect("expected.json is json");
    serde_json::from_value(all["cases"][case].clone())
        .unwrap_or_else(|e| panic!("expected.json has no case {case}: {e}"))
}

fn assert_metrics_eq(case: &str, got: &Metrics, want: &Metrics) {
    for ((name, g), w) in Metrics::NAMES
        .iter()
        .zip(got.to_array())
        .zip(want.to_array())
    {
        assert!(
            (g - w).abs() <= TOLERANCE,
            "{case}: {name} = {g}, pycocotools says {w}\nours:\n{got}\npycocotools:\n{want}"
        );
    }
}

#[test]
fn fixture_matches_pycocotools() {
    let gt = eval::load_ground_truth(&fixtures().join("gt.json")).expect("fixture gt loads");
    let dets = eval::load_results(&fixtures().join("dt.json")).expect("fixture results load");
    let got = eval::evaluate(&gt, &dets).expect("fixture evaluates");
    let want = expected("fixture");
    assert_metrics_eq("fixture", &got, &want);
    // The fixture is meant to be hard: neither perfect nor empty.
    assert!(want.ap > 0.1 && want.ap < 0.9, "fixture AP {}", want.ap);
}

/// The real sample ground truth, or `None` (skipped) when ../shared is absent outside CI.
fn sample_ground_truth() -> Option<CocoGroundTruth> {
    let path = crate::support::shared("data/coco-sample/test_coco.json")?;
    Some(eval::load_ground_truth(&path).expect("sample ground truth loads"))
}

// The jitter rule of scripts/pycocotools_reference.py (`jittered_sample_detections`).
const MISS_EVERY: usize = 6;
const DUPLICATE_EVERY: usize = 4;
const PRESENT_KEYPOINT_SCORE: f32 = 0.5;
const FALSE_POSITIVE_SCORE: f32 = 0.3;
const FALSE_POSITIVE_KEYPOINTS: usize = 12;

fn jitter(j: usize, k: usize, scale: usize) -> (f64, f64) {
    let dx = ((j * 7 + k * 3) % 9) as f64 - 4.0;
    let dy = ((j * 5 + k * 11) % 9) as f64 - 4.0;
    (dx * 0.5 * scale as f64, dy * 0.5 * scale as f64)
}

fn jittered_person(gt_keypoints: &[f64], j: usize, scale: usize, score: f32) -> Person {
    let mut p = Person {
        score,
        ..Person::default()
    };
    for (k, kp) in p.keypoints.iter_mut().enumerate() {
        let (x, y, v) = (
            gt_keypoints[3 * k],
            gt_keypoints[3 * k + 1],
            gt_keypoints[3 * k + 2],
        );
        if v > 0.0 {
            let (dx, dy) = jitter(j, k, scale);
            *kp = Keypoint::new((x + dx) as f32, (y + dy) as f32, PRESENT_KEYPOINT_SCORE);
        }
    }
    p
}

/// Detections per image (ground-truth image order) as the decoder would hand them over.
fn jittered_sample_persons(gt: &CocoGroundTruth) -> Vec<(u64, Vec<Person>)> {
    let mut per_image: Vec<(u64, Vec<Person>)> =
        gt.images.iter().map(|img| (img.id, Vec::new())).collect();
    for (j, ann) in gt.annotations.iter().enumerate() {
        if ann.num_keypoints == 0 || ann.iscrowd != 0 || j % MISS_EVERY == MISS_EVERY - 1 {
            continue;
        }
        let scale = j % 3 + 1;
        let score = (20 - j) as f32 / 20.0;
        let Some((_, persons)) = per_image.iter_mut().find(|(id, _)| *id == ann.image_id) else {
            panic!("annotation {} on an unknown image", ann.id);
        };
        persons.push(jittered_person(&ann.keypoints, j, scale, score));
        if j % DUPLICATE_EVERY == 1 {
            persons.push(jittered_person(&ann.keypoints, j, scale * 4, score * 0.5));
        }
    }
    for (i, (_, persons)) in per_image.iter_mut().enumerate() {
        let mut fp = Person {
            score: FALSE_POSITIVE_SCORE,
            ..Person::default()
        };
        for (k, kp) in fp
            .keypoints
            .iter_mut()
            .enumerate()
            .take(FALSE_POSITIVE_KEYPOINTS)
        {
            *kp = Keypoint::new((10 + 3 * k + i) as f32, (12 + 4 * k) as f32, 0.5);
        }
        persons.push(fp);
    }
    per_image
}

#[test]
fn jittered_coco_sample_matches_pycocotools() {
    let Some(gt) = sample_ground_truth() else {
        return;
    };
    let persons = jittered_sample_persons(&gt);
    let dets = eval::results_from_persons(persons.iter().map(|(id, p)| (*id, p.as_slice())));
    assert!(dets.len() > gt.images.len(), "some persons detected");
    let got = eval::evaluate(&gt, &dets).expect("sample evaluates");
    assert_metrics_eq("coco_sample_jitter", &got, &expected("coco_sample_jitter"));
}

#[test]
fn absent_keypoints_are_written_as_zeros() {
    let mut p = Person {
        score: 0.75,
        ..Person::default()
    };
    p.keypoints[3] = Keypoint::new(12.5, 40.25, 0.875);
    let people = [p];
    let dets = eval::results_from_persons([(42u64, &people[..])]);
    assert_eq!(dets.len(), 1);
    let d = &dets[0];
    assert_eq!((d.image_id, d.category_id, d.score), (42, 1, 0.75));
    assert_eq!(d.keypoints.len(), 3 * NUM_COCO_KEYPOINTS);
    for k in 0..NUM_COCO_KEYPOINTS {
        let triple = &d.keypoints[3 * k..3 * k + 3];
        if k == 3 {
            assert_eq!(triple, [12.5, 40.25, 0.875]);
        } else {
            assert_eq!(triple, [0.0, 0.0, 0.0], "keypoint {k}");
        }
    }
}

#[test]
fn results_round_trip_through_a_file() {
    let mut p = Person {
        score: 0.5,
        ..Person::default()
    };
    p.keypoints[0] = Keypoint::new(1.0, 2.0, 0.25);
    let people = [p, Person::default()];
    let dets = eval::results_from_persons([(7u64, &people[..])]);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("dets.json");
    eval::save_results(&path, &dets).expect("results written");
    let back = eval::load_results(&path).expect("results read back");
    assert_eq!(back, dets);
}

#[test]
fn malformed_files_name_the_problem() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("nope.json");
    let err = eval::load_ground_truth(&missing).expect_err("missing file");
    assert!(format!("{err}").contains("nope.json"), "{err}");

    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        br#"{"images": [], "annotations": [{"id": 1}], "categories": []}"#,
    )
    .expect("write");
    let err = eval::load_ground_truth(&bad).expect_err("incomplete annotation");
    let chain = format!("{:#}", anyhow::Error::from(err));
    assert!(chain.contains("bad.json"), "{chain}");
    assert!(chain.contains("missing field"), "{chain}");

    std::fs::write(&bad, br#"{"image_id": 1}"#).expect("write");
    let err = eval::load_results(&bad).expect_err("not a list");
    assert!(format!("{err}").contains("results list"), "{err}");
}
