//! One module per subcommand: its clap `Args` and its `run`.

pub mod bench;
pub mod config;
pub mod decode;
pub mod detect;
pub mod doctor;
pub mod eval;
pub mod listen;
pub mod run;
pub mod synth;
