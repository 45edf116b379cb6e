//! `edgepose run`: the daemon.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context as _;

use edgepose::config::Config;
use edgepose::http::{DaemonInfo, HttpServer};
use edgepose::pipeline::{stats::sinks_line, Control, Pipeline, RunEnd};
use edgepose::recorder::{Recorder, RecorderInputs};
use edgepose::tap::Tap;

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
    // Before any pipeline thread starts (README, "Memory").
    edgepose::infer::backend::configure_allocator(config.daemon.allocator);
    loop {
        let binds = http_binds(&config)?;
        let (http_config, device_id) = (config.http.clone(), config.daemon.device_id);
        let recorder_config = config.recorder.clone();
        let mut pipeline = Pipeline::open(config)?;
        let tap = Tap::new();
        // The web server's and the recorder's threads stop with this flag and the tap.
        let readers_stop = Arc::new(AtomicBool::new(false));
        let recorder = if recorder_config.enabled {
            pipeline = pipeline.with_tap(Arc::clone(&tap));
            Some(Recorder::start(
                recorder_config,
                RecorderInputs {
                    tap: Arc::clone(&tap),
                    stats: Arc::clone(&pipeline.stats),
                    device_id,
                    model: pipeline.model_id().to_owned(),
                },
            )?)
        } else {
            None
        };
        let server = if binds.is_empty() {
            None
        } else {
            pipeline = pipeline.with_tap(Arc::clone(&tap));
            let (sources, sinks) = pipeline.describe();
            let info = DaemonInfo {
                model: pipeline.model_id().to_owned(),
                backend: pipeline.backend_name().to_owned(),
                sources,
                sinks,
                device_id,
            };
            Some(HttpServer::start(
                &binds,
                http_config,
                info,
                Arc::clone(&pipeline.stats),
                Arc::clone(&tap),
                Arc::clone(&readers_stop),
            )?)
        };
        let result = pipeline.run_with(&control);
        tap.close();
        readers_stop.store(true, Ordering::Relaxed);
        if let Some(s) = server {
            s.join();
        }
        if let Some(r) = recorder {
            let s = r.join();
            let n = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
            tracing::info!(
                frames = n(&s.frames),
                images = n(&s.images),
                dropped = n(&s.dropped),
                files = n(&s.files),
                errors = n(&s.write_errors),
                "recorder stopped"
            );
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

/// Addresses of the web server: `[http] bind` when enabled, and the older
/// `daemon.metrics_bind:metrics_port` when that port is set (same server, same endpoints).
fn http_binds(config: &Config) -> anyhow::Result<Vec<std::net::SocketAddr>> {
    let mut binds = Vec::new();
    if config.http.enabled {
        binds.push(
            config
                .http
                .bind
                .parse()
                .with_context(|| format!("http.bind '{}'", config.http.bind))?,
        );
    }
    if config.daemon.metrics_port != 0 {
        let ip: std::net::IpAddr = config
            .daemon
            .metrics_bind
            .parse()
            .with_context(|| format!("daemon.metrics_bind '{}'", config.daemon.metrics_bind))?;
        let addr = std::net::SocketAddr::new(ip, config.daemon.metrics_port);
        if !binds.contains(&addr) {
            binds.push(addr);
        }
    }
    Ok(binds)
}
