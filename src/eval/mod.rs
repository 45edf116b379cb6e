//! COCO keypoint evaluation: the accuracy instrument.
//!
//! [`evaluate`] computes the ten COCO keypoint metrics (AP, AP50, AP75, APM, APL, AR, AR50,
//! AR75, ARM, ARL) exactly as pycocotools' `COCOeval(iouType='keypoints')` does, so numbers
//! from this crate can be compared with published ones. Inputs are a COCO ground-truth file
//! ([`load_ground_truth`]) and a COCO results list ([`load_results`], or
//! [`results_from_persons`] for decoder output held in memory).

mod coco;
mod cocoeval;
mod detect;

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use coco::{
    load_ground_truth, load_results, results_from_persons, save_results, CocoAnnotation,
    CocoCategory, CocoGroundTruth, CocoImage, CocoResult, KEYPOINTS_LEN, PERSON_CATEGORY_ID,
    VALUES_PER_KEYPOINT,
};
pub use cocoeval::{
    oks, oks_thresholds, recall_thresholds, AreaRange, AREA_RANGES, KPT_OKS_SIGMAS, MAX_DETS,
    NUM_OKS_THRESHOLDS, NUM_RECALL_THRESHOLDS,
};
pub use detect::detect_coco;

/// Why an evaluation could not run. Every variant names the offending file or record.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("cannot read {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a valid {what} json", path.display())]
    Json {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("ground truth lists image id {0} more than once")]
    DuplicateImage(u64),
    #[error("ground truth lists annotation id {0} more than once")]
    DuplicateAnnotation(u64),
    #[error("ground-truth annotation {id} refers to image {image_id}, which is not in `images`")]
    UnknownGtImage { id: u64, image_id: u64 },
    #[error(
        "ground-truth annotation {id} has category {category_id}, which is not in `categories`"
    )]
    UnknownGtCategory { id: u64, category_id: u64 },
    #[error("result {index} refers to image {image_id}, which is not in the ground truth")]
    UnknownResultImage { index: usize, image_id: u64 },
    #[error("{what} has {len} keypoint values; expected {KEYPOINTS_LEN} (17 keypoints × x, y, v)")]
    KeypointsLength { what: String, len: usize },
    #[error("{what} has a non-finite {field}")]
    NonFinite { what: String, field: &'static str },
    #[error(
        "result {index} has no [x, y, w, h] `bbox`, but the first result has one \
         (pycocotools then takes every detection's area from its box)"
    )]
    ResultBbox { index: usize },
}

/// The ten COCO keypoint metrics (`COCOeval.stats` for keypoints, in that order). A metric
/// with no ground truth to measure (e.g. APM without medium persons) is -1, as in pycocotools.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// AP over OKS 0.50:0.95, all areas.
    #[serde(rename = "AP")]
    pub ap: f64,
    #[serde(rename = "AP50")]
    pub ap50: f64,
    #[serde(rename = "AP75")]
    pub ap75: f64,
    /// AP for medium persons (32² ≤ area ≤ 96²).
    #[serde(rename = "APM")]
    pub ap_medium: f64,
    /// AP for large persons (area ≥ 96²).
    #[serde(rename = "APL")]
    pub ap_large: f64,
    #[serde(rename = "AR")]
    pub ar: f64,
    #[serde(rename = "AR50")]
    pub ar50: f64,
    #[serde(rename = "AR75")]
    pub ar75: f64,
    #[serde(rename = "ARM")]
    pub ar_medium: f64,
    #[serde(rename = "ARL")]
    pub ar_large: f64,
}

impl Metrics {
    /// Metric names, in `COCOeval.stats` order.
    pub const NAMES: [&'static str; 10] = [
        "AP", "AP50", "AP75", "APM", "APL", "AR", "AR50", "AR75", "ARM", "ARL",
    ];

    /// The metrics in `COCOeval.stats` order.
    pub fn to_array(&self) -> [f64; 10] {
        [
            self.ap,
            self.ap50,
            self.ap75,
            self.ap_medium,
            self.ap_large,
            self.ar,
            self.ar50,
            self.ar75,
            self.ar_medium,
            self.ar_large,
        ]
    }
}

/// The pycocotools `summarize()` table, one line per metric.
impl fmt::Display for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const ROWS: [(&str, &str, &str); 10] = [
            ("Average Precision", "0.50:0.95", "all"),
            ("Average Precision", "0.50", "all"),
            ("Average Precision", "0.75", "all"),
            ("Average Precision", "0.50:0.95", "medium"),
            ("Average Precision", "0.50:0.95", "large"),
            ("Average Recall", "0.50:0.95", "all"),
            ("Average Recall", "0.50", "all"),
            ("Average Recall", "0.75", "all"),
            ("Average Recall", "0.50:0.95", "medium"),
            ("Average Recall", "0.50:0.95", "large"),
        ];
        for ((title, iou, area), value) in ROWS.iter().zip(self.to_array()) {
            let kind = if title.starts_with("Average Precision") {
                "(AP)"
            } else {
                "(AR)"
            };
            writeln!(
                f,
                " {title:<18} {kind} @[ IoU={iou:<9} | area={area:>6} | maxDets={MAX_DETS:>3} ] = {value:.3}"
            )?;
        }
        Ok(())
    }
}

/// Evaluates keypoint detections against a COCO ground truth, as pycocotools' `COCOeval`
/// with `iouType='keypoints'` and default parameters (all images and categories of the
/// ground truth, 20 detections per image).
///
/// Unlike pycocotools, an empty results list is accepted (every AP and AR is then 0 where
/// ground truth exists). Results for categories the ground truth lacks are skipped; results
/// for images it lacks are an error.
pub fn evaluate(gt: &CocoGroundTruth, dets: &[CocoResult]) -> Result<Metrics, EvalError> {
    cocoeval::evaluate(gt, dets)
}
