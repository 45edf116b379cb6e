//! Sources: image files, video through ffmpeg, command (rpicam-vid, gst-launch) and network
//! stream sources, the synthetic camera and scene generator.
//!
//! One binary per area (link time); the modules are in `tests/sources/`, helpers in
//! `tests/support/` (README, "Development", says where a new test goes).

mod support;

mod sources {
    mod command;
    mod images;
    mod preview;
    mod scene;
    mod stream;
    mod synthetic;
    mod video;
}
