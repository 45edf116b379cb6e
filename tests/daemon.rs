//! The daemon end to end (`edgepose run`): the pipeline, the worker pool and several cameras,
//! supervision and the fault scenarios, board presets, the tracker on synthetic walkers, the
//! web server (`/`, MJPEG, SSE, /healthz, /metrics, token) and MCAP recording and replay.
//!
//! One binary per area (link time); the modules are in `tests/daemon/`, helpers in
//! `tests/support/` (README, "Development", says where a new test goes).

mod support;

mod daemon {
    mod boards;
    mod e2e;
    mod faults;
    mod pool;
    mod recorder;
    mod track;
    mod web;
}
