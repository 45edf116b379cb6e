//! Displays: golden images, PNG output, recovery of a failing display.
//!
//! One binary per area (link time); the modules are in `tests/display/`, helpers in
//! `tests/support/` (README, "Development", says where a new test goes).

mod support;

mod display {
    mod golden;
    mod png;
    mod resilient;
}
