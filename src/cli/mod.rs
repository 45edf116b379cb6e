//! One module per subcommand: its clap `Args` and its `run`.

pub mod decode;
pub mod synth;
