//! Model cards, backends (onnxruntime and tract-CUDA against tract) and the COCO metrics against pycocotools.
//!
//! One binary per area (link time); the modules are in `tests/models/`, helpers in
//! `tests/support/` (README, "Development", says where a new test goes).

mod support;

mod models {
    mod cards;
    mod cocoeval;
    mod ort;
    mod tract_gpu;
}
