//! ../shared test data: its location, and the skip-or-fail rule (skip with a message on a
//! user's machine, fail under CI=true where ../shared is always beside the clone).

use std::path::PathBuf;

/// ../shared/data/coco-sample (real COCO images + `test_coco.json`), or `None` (skip).
pub fn coco_sample_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/coco-sample"
    ));
    if dir.join("test_coco.json").is_file() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("../shared/data/coco-sample is missing under CI=true");
    }
    eprintln!(
        "skipped: ../shared/data/coco-sample not found (tests that need ../shared run in CI)"
    );
    None
}
