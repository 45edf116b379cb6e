//! `edgepose decode`: decode a saved network output (.npy).

/// Arguments of `edgepose decode`.
#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("decode: in progress")
}
