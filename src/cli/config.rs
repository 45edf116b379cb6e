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
    /// Validate a configuration file: keys and values, the model card and its network's
    /// checksum, sizes and TTA scales, the paths the source and sinks need (exit 1 with each
    /// problem named).
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
            let config = Config::load(Some(&file), &set)?;
            let problems = edgepose::config::check::preflight(&config);
            if !problems.is_empty() {
                for p in &problems {
                    eprintln!("{}: {p}", file.display());
                }
                anyhow::bail!(
                    "{}: {} problem{} found",
                    file.display(),
                    problems.len(),
                    if problems.len() == 1 { "" } else { "s" }
                );
            }
            println!("{}: ok", file.display());
        }
    }
    Ok(())
}
