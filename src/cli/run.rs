//! `edgepose run`: the daemon.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::Context as _;

use edgepose::config::Config;
use edgepose::pipeline::{serve_metrics, Pipeline};

/// Arguments of `edgepose run`.
#[derive(clap::Args, Debug, Default)]
pub struct Args {
    /// Configuration file (TOML); without it the built-in default runs (`edgepose config default`).
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Override a configuration key, e.g. `--set model.backend.threads=2` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Stop after N frames (overrides daemon.max_frames).
    #[arg(long)]
    pub frames: Option<u64>,
    /// Model name or path (overrides model.name).
    #[arg(long)]
    pub model: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut overrides = args.set.clone();
    if let Some(n) = args.frames {
        overrides.push(format!("daemon.max_frames={n}"));
    }
    if let Some(m) = &args.model {
        overrides.push(format!("model.name=\"{}\"", m.replace('"', "\\\"")));
    }
    let config = Config::load(args.config.as_deref(), &overrides)?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .context("installing signal handlers")?;
    }
    let (bind, port) = (
        config.daemon.metrics_bind.clone(),
        config.daemon.metrics_port,
    );
    let pipeline = Pipeline::open(config)?;
    let metrics = if port != 0 {
        Some(
            serve_metrics(
                &bind,
                port,
                pipeline.model_id().to_owned(),
                Arc::clone(&pipeline.stats),
                Arc::clone(&stop),
            )
            .with_context(|| format!("serving metrics on {bind}:{port}"))?,
        )
    } else {
        None
    };
    let summary = pipeline.run(Arc::clone(&stop))?;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Some(m) = metrics {
        let _ = m.join();
    }
    tracing::info!(
        frames = summary.frames,
        persons = summary.persons,
        seconds = format!("{:.1}", summary.seconds),
        fps = format!("{:.1}", summary.frames as f64 / summary.seconds.max(1e-9)),
        stale = summary.stale_frames,
        bad = summary.bad_frames,
        "stopped"
    );
    Ok(())
}
