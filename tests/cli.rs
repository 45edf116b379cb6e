//! The `edgepose` command line, run as a program: decode, detect, eval, synth, doctor.
//!
//! One binary per area (link time); the modules are in `tests/cli/`, helpers in
//! `tests/support/` (README, "Development", says where a new test goes).

mod support;

mod cli {
    mod decode;
    mod detect;
    mod doctor;
    mod eval;
    mod synth;
}
