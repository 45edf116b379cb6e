//! `edgepose run`: the daemon.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context as _;

use edgepose::config::Config;
use edgepose::pipeline::{serve_metrics, stats::sinks_line, Control, Pipeline, RunEnd};

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

/// Runs the daemon. SIGINT/SIGTERM stop it cleanly; SIGHUP stops the pipeline cleanly (sinks
/// flushed, summary logged), re-reads the configuration and starts again with it; when the
/// configuration no longer loads, the daemon exits with the error instead.
pub fn run(args: Args) -> anyhow::Result<()> {
    // Before any thread: the daemon's RSS stays near its live memory (README, "Memory").
    edgepose::infer::backend::lean_allocator();
    let mut overrides = args.set.clone();
    if let Some(n) = args.frames {
        overrides.push(format!("daemon.max_frames={n}"));
    }
    if let Some(m) = &args.model {
        overrides.push(format!("model.name=\"{}\"", m.replace('"', "\\\"")));
    }
    let control = Control::default();
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&control.stop))
            .context("installing signal handlers")?;
    }
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&control.reload))
        .context("installing the SIGHUP handler")?;
    let mut config = Config::load(args.config.as_deref(), &overrides)?;
    loop {
        let (bind, port) = (
            config.daemon.metrics_bind.clone(),
            config.daemon.metrics_port,
        );
        let pipeline = Pipeline::open(config)?;
        let metrics_stop = Arc::new(AtomicBool::new(false));
        let metrics = if port != 0 {
            Some(
                serve_metrics(
                    &bind,
                    port,
                    pipeline.model_id().to_owned(),
                    Arc::clone(&pipeline.stats),
                    Arc::clone(&metrics_stop),
                )
                .with_context(|| format!("serving metrics on {bind}:{port}"))?,
            )
        } else {
            None
        };
        let result = pipeline.run_with(&control);
        metrics_stop.store(true, Ordering::Relaxed);
        if let Some(m) = metrics {
            let _ = m.join();
        }
        let summary = result?;
        tracing::info!(
            frames = summary.frames,
            persons = summary.persons,
            seconds = format!("{:.1}", summary.seconds),
            fps = format!("{:.1}", summary.frames as f64 / summary.seconds.max(1e-9)),
            stale = summary.stale_frames,
            late = summary.late_frames,
            bad = summary.bad_frames,
            sinks = %sinks_line(&summary.sinks),
            "stopped"
        );
        if summary.end != RunEnd::Reload {
            return Ok(());
        }
        control.reload.store(false, Ordering::Relaxed);
        tracing::info!("SIGHUP: reloading the configuration");
        config = Config::load(args.config.as_deref(), &overrides)
            .context("SIGHUP: the configuration no longer loads; stopping")?;
    }
}
