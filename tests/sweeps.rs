//! Whole-model sweeps (every image of the COCO sample, every card): seconds natively, tens of minutes under
//! qemu-user, so this binary needs the default feature `sweeps` and the emulated quick run
//! (scripts/cross-test-aarch64.sh) leaves it out with `--no-default-features`.
//!
//! One binary per area (link time); the modules are in `tests/sweeps/`, helpers in
//! `tests/support/` (README, "Development", says where a new test goes).

mod support;

mod sweeps {
    mod coco_sample;
    mod imhn_synth;
    mod movenet_heads;
    mod ort;
    mod tract_fp16;
    mod tta_tfpose;
}
