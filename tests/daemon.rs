//! The daemon end to end (`edgepose run`), board presets and the tracker on synthetic walkers.
//!
//! One binary per area (link time); the modules are in `tests/daemon/`, helpers in
//! `tests/support/` (README, "Development", says where a new test goes).

mod support;

mod daemon {
    mod boards;
    mod e2e;
    mod track;
}
