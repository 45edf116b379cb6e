//! `edgepose config`: print the documented default, or check a file.

use std::path::PathBuf;

use edgepose::config::{Config, DEFAULT_TOML};

/// Arguments of `edgepose config`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(clap::Subcommand, Debug)]
pub enum Action {
    /// Print the complete, commented default configuration.
    Default,
    /// Validate a configuration file (exit 1 with the offending key named).
    Check {
        file: PathBuf,
        /// Overrides as for `edgepose run --set`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.action {
        Action::Default => print!("{DEFAULT_TOML}"),
        Action::Check { file, set } => {
            Config::load(Some(&file), &set)?;
            println!("{}: ok", file.display());
        }
    }
    Ok(())
}
