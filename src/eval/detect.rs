//! A model over a COCO image set: the detections [`super::evaluate`] scores.

use super::{CocoGroundTruth, CocoResult};
use crate::infer::detector::Detector;
use crate::source::images::read_image;

/// Runs `detector` over every image of a COCO ground truth (files looked up in `images_dir`)
/// and returns COCO results. Unreadable images are reported in the second list and skipped.
///
/// Keypoints below the model's presence threshold keep their coordinates (with their low
/// score) when the family predicts them, as pycocotools scores all 17 points of a detection.
pub fn detect_coco(
    detector: &mut Detector,
    gt: &CocoGroundTruth,
    images_dir: &std::path::Path,
) -> (Vec<CocoResult>, Vec<String>) {
    let mut results = Vec::new();
    let mut failures = Vec::new();
    for img in &gt.images {
        let path = images_dir.join(&img.file_name);
        let persons = read_image(&path)
            .map_err(anyhow::Error::from)
            .and_then(|image| Ok(detector.detect(&image)?.0));
        match persons {
            Ok(persons) => results.extend(persons.iter().map(|p| {
                CocoResult {
                    image_id: img.id,
                    category_id: 1,
                    keypoints: p
                        .keypoints
                        .iter()
                        .flat_map(|k| [k.x as f64, k.y as f64, k.score as f64])
                        .collect(),
                    score: p.score as f64,
                    bbox: None,
                }
            })),
            Err(e) => failures.push(format!("{e:#}")),
        }
    }
    (results, failures)
}
