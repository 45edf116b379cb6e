//! COCO keypoint files: the ground-truth json, the results json, their loaders, and the
//! conversion from decoded persons to results.

use std::path::Path;

use edgepose_decoder::{Person, NUM_COCO_KEYPOINTS};
use serde::{Deserialize, Serialize};

use super::EvalError;

/// Values per keypoint in COCO files: x, y and a visibility flag (ground truth) or a score
/// (results).
pub const VALUES_PER_KEYPOINT: usize = 3;

/// Length of a COCO `keypoints` array: 17 × (x, y, v).
pub const KEYPOINTS_LEN: usize = NUM_COCO_KEYPOINTS * VALUES_PER_KEYPOINT;

/// COCO category id of `person`, the only category with keypoints.
pub const PERSON_CATEGORY_ID: u64 = 1;

/// A COCO ground-truth file (`person_keypoints_*.json`); fields the evaluation does not read
/// (`info`, `licenses`, `segmentation`, ...) are skipped when parsing.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CocoGroundTruth {
    pub images: Vec<CocoImage>,
    pub annotations: Vec<CocoAnnotation>,
    pub categories: Vec<CocoCategory>,
}

/// One image of a ground-truth file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CocoImage {
    pub id: u64,
    #[serde(default)]
    pub file_name: String,
    #[serde(default)]
    pub width: u32,
    #[serde(default)]
    pub height: u32,
}

/// One category of a ground-truth file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CocoCategory {
    pub id: u64,
    #[serde(default)]
    pub name: String,
}

/// One ground-truth object. `area` (the segmentation area, not the box area) decides the
/// object's area range; `num_keypoints` (not the visibility flags) decides whether it is
/// ignored, exactly as pycocotools reads them.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CocoAnnotation {
    pub id: u64,
    pub image_id: u64,
    pub category_id: u64,
    /// 1 for a crowd region: detections on it are neither rewarded nor penalised.
    #[serde(default)]
    pub iscrowd: u8,
    pub area: f64,
    /// `[x, y, width, height]`; used for the OKS of objects without labelled keypoints.
    pub bbox: [f64; 4],
    /// 17 × (x, y, v), v = 0 not labelled, 1 labelled but hidden, 2 visible.
    pub keypoints: Vec<f64>,
    pub num_keypoints: u32,
}

/// One detected person in the COCO results format.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CocoResult {
    pub image_id: u64,
    pub category_id: u64,
    /// 17 × (x, y, keypoint score); the score is not used by the metric.
    pub keypoints: Vec<f64>,
    pub score: f64,
    /// Optional `[x, y, width, height]`. pycocotools takes a detection's area from here when
    /// the *first* result carries a non-empty box, otherwise from the keypoints' extent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bbox: Option<Vec<f64>>,
}

/// Reads and parses a COCO ground-truth json file.
pub fn load_ground_truth(path: &Path) -> Result<CocoGroundTruth, EvalError> {
    let bytes = read(path)?;
    serde_json::from_slice(&bytes).map_err(|source| EvalError::Json {
        path: path.to_path_buf(),
        what: "COCO ground truth",
        source,
    })
}

/// Reads and parses a COCO results json file (a list of detections).
pub fn load_results(path: &Path) -> Result<Vec<CocoResult>, EvalError> {
    let bytes = read(path)?;
    serde_json::from_slice(&bytes).map_err(|source| EvalError::Json {
        path: path.to_path_buf(),
        what: "COCO results list",
        source,
    })
}

/// Writes results as a COCO results json file.
pub fn save_results(path: &Path, results: &[CocoResult]) -> Result<(), EvalError> {
    let text = serde_json::to_vec(results).map_err(|source| EvalError::Json {
        path: path.to_path_buf(),
        what: "COCO results list",
        source,
    })?;
    std::fs::write(path, text).map_err(|source| EvalError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn read(path: &Path) -> Result<Vec<u8>, EvalError> {
    std::fs::read(path).map_err(|source| EvalError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// COCO results for decoded persons, `(image id, persons)` per image, in that order.
///
/// A keypoint the decoder did not find is written as `0, 0, 0` (x, y, score), the convention
/// of COCO result files; note that pycocotools then counts (0, 0) in the detection's extent,
/// which only matters for the area ranges of unmatched detections.
pub fn results_from_persons<'a, I>(frames: I) -> Vec<CocoResult>
where
    I: IntoIterator<Item = (u64, &'a [Person])>,
{
    let mut out = Vec::new();
    for (image_id, persons) in frames {
        for person in persons {
            let mut keypoints = Vec::with_capacity(KEYPOINTS_LEN);
            for k in &person.keypoints {
                if k.present {
                    keypoints.extend([f64::from(k.x), f64::from(k.y), f64::from(k.score)]);
                } else {
                    keypoints.extend([0.0, 0.0, 0.0]);
                }
            }
            out.push(CocoResult {
                image_id,
                category_id: PERSON_CATEGORY_ID,
                keypoints,
                score: f64::from(person.score),
                bbox: None,
            });
        }
    }
    out
}
