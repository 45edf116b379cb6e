//! The daemon's pipeline, one thread per stage, joined by hand-overs that never let latency
//! build up:
//!
//! ```text
//! capture (per camera) ─► newest-value slot ─► inference workers (pool) ─► reorder buffer
//!   (per camera) ─► decode (per camera) ─► newest-value slot ─► output (trackers, sinks, display)
//! ```
//!
//! - [`slot`]: the newest-value slot, one mailbox per camera; a slow stage makes older items
//!   drop (counted), and consumers serve the cameras in turn.
//! - [`pool`]: the reorder buffer that lets results leave the worker pool in capture order
//!   per camera, and the recycled network-output buffers.
//! - [`stats`]: counters and latency windows per camera, the sinks' counters, the log line,
//!   the exit summary and the Prometheus text.
//! - [`supervise`]: stages run under `catch_unwind` with their names; a panicking or stuck
//!   stage stops the daemon with an error; the systemd watchdog is pinged only while frames flow.
//! - one file per stage thread: [`capture`], [`worker`], [`decode`], [`output`].

mod capture;
mod decode;
mod output;
pub mod pool;
pub mod slot;
pub mod stats;
pub mod supervise;
mod worker;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{CameraConfig, Config};
use crate::display::Display;
use crate::infer::decode::FrameGeometry;
use crate::infer::detector::Detector;
use crate::pose::{CameraId, FramePoses};
use crate::sink::Sink;
use crate::source::{Frame, Source};
use crate::tap::Tap;
use crate::track::Tracker;

pub use pool::{output_buffer_bound, BufferPool, Ordered};
pub use slot::{Latest, Take, Taken};
pub use stats::{CameraStats, SinkReport, Stats, Window};
use supervise::{notify_systemd, Failure, Fault, Stage, STAGE_STALL_LIMIT};

/// How often blocked threads wake up to check the stop flag.
const POLL: Duration = Duration::from_millis(50);
/// How often the supervisor looks at the stages.
const SUPERVISE_TICK: Duration = Duration::from_millis(20);
/// After a stage failed, how long the others get to stop before the daemon exits anyway
/// (the exit must come within 2 s for systemd to restart it promptly).
const FAILURE_GRACE: Duration = Duration::from_millis(1000);
/// On a normal stop, how long the stages get to finish; the output thread closes the sinks,
/// which may wait for a flush (MQTT: 2 s flush + 3 s close at most).
const STOP_GRACE: Duration = Duration::from_secs(6);
/// Output buffers between inference and decoding with one worker and one camera: one being
/// filled, one waiting, one being decoded ([`output_buffer_bound`] in general).
pub const OUTPUT_BUFFERS: usize = 3;
/// Name of the single `[source]` camera in logs and metric labels.
pub const SINGLE_CAMERA: &str = "source";

/// A captured frame on its way to a worker, with the instant it was captured: latency is
/// measured on this clock, whatever clock the source stamps frames with.
pub(crate) struct Captured {
    frame: Frame,
    at: Instant,
}

/// A network output on its way from a worker to its camera's decode thread.
pub(crate) struct RawOutput {
    /// One of the pool's buffers, returned after decoding.
    output: Vec<f32>,
    geometry: FrameGeometry,
    seq: u64,
    timestamp_us: u64,
    /// The frame itself, kept only when a display shows it.
    preview: Option<image::RgbImage>,
    captured: Instant,
}

/// Decoded persons on their way to the output thread.
pub(crate) struct Decoded {
    poses: FramePoses,
    preview: Option<image::RgbImage>,
    captured: Instant,
}

/// Why a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunEnd {
    /// The sources ended or `max_frames` frames went out.
    Finished,
    /// The stop flag was set (SIGINT/SIGTERM).
    Stopped,
    /// The reload flag was set (SIGHUP): the caller re-reads the configuration.
    Reload,
}

/// What a finished run reports.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    pub frames: u64,
    pub persons: u64,
    pub seconds: f64,
    /// Every value replaced before it was read (captured frames, outputs, results).
    pub stale_frames: u64,
    /// Frames dropped because a newer one of their camera went out while they were inferred.
    pub late_frames: u64,
    pub bad_frames: u64,
    /// Each sink's counters at the end.
    pub sinks: Vec<SinkReport>,
    pub end: RunEnd,
}

/// Flags that end a run from outside (signal handlers set them).
#[derive(Clone, Default)]
pub struct Control {
    pub stop: Arc<AtomicBool>,
    pub reload: Arc<AtomicBool>,
}

/// One camera's opened pieces.
struct Camera {
    config: CameraConfig,
    id: Option<CameraId>,
    source: Box<dyn Source>,
    tracker: Tracker,
}

impl Camera {
    fn label(&self) -> &str {
        self.config.name.as_deref().unwrap_or(SINGLE_CAMERA)
    }

    /// Thread name of one of this camera's stages: `capture` or `capture-front`.
    fn stage(&self, stage: &str) -> String {
        match &self.config.name {
            Some(n) => format!("{stage}-{n}"),
            None => stage.to_owned(),
        }
    }
}

/// A running daemon's pieces, opened before any thread starts so configuration errors show
/// up at start-up.
pub struct Pipeline {
    config: Config,
    cameras: Vec<Camera>,
    /// One detector per worker; they share the loaded weights.
    detectors: Vec<Detector>,
    sinks: Vec<Box<dyn Sink>>,
    display: Option<Box<dyn Display>>,
    /// Where finished frames go for the web server and the recorder.
    tap: Option<Arc<Tap>>,
    pub stats: Arc<Stats>,
}

impl Pipeline {
    /// The loaded model's card id (labels the metrics).
    pub fn model_id(&self) -> &str {
        &self.detectors[0].card.id
    }

    /// The backend's name (for status reports).
    pub fn backend_name(&self) -> &str {
        self.detectors[0].backend_name()
    }

    /// The sources ("name: description" with several cameras) and the sinks, as the start-up
    /// log line names them.
    pub fn describe(&self) -> (Vec<String>, Vec<String>) {
        let sources = self
            .cameras
            .iter()
            .map(|c| match &c.config.name {
                Some(n) => format!("{n}: {}", c.source.describe()),
                None => c.source.describe(),
            })
            .collect();
        (sources, self.sinks.iter().map(|s| s.describe()).collect())
    }

    /// Publishes every finished frame (with the first camera's image while a reader wants
    /// images) to `tap`.
    pub fn with_tap(mut self, tap: Arc<Tap>) -> Self {
        self.tap = Some(tap);
        self
    }

    /// Inference workers this pipeline runs.
    pub fn workers(&self) -> usize {
        self.detectors.len()
    }

    /// Opens the sources, model (once, shared by the workers), trackers, sinks and display
    /// named by `config`.
    pub fn open(config: Config) -> anyhow::Result<Pipeline> {
        use anyhow::Context as _;
        let mut detector = Detector::load(
            &config.model.name,
            &config.model.backend,
            config.model.input_size().map_err(anyhow::Error::msg)?,
        )?;
        if config.model.tta_flip.is_some() || config.model.tta_scales.is_some() {
            let settings = crate::infer::tta::TtaSettings::from_card(&detector.card)
                .with_overrides(config.model.tta_flip, config.model.tta_scales.as_deref());
            detector
                .set_tta(&settings)
                .context("model.tta_flip / model.tta_scales")?;
        }
        let workers = config.model.workers();
        let mut detectors = Vec::with_capacity(workers);
        for i in 1..workers {
            detectors.push(
                detector
                    .fork()
                    .with_context(|| format!("starting inference worker {i}"))?,
            );
        }
        detectors.insert(0, detector);
        let mut cameras = Vec::new();
        for (index, camera) in config.cameras().into_iter().enumerate() {
            let what = camera
                .name
                .as_ref()
                .map_or("the source".to_owned(), |n| format!("camera '{n}'"));
            let source =
                crate::source::open(&camera.source).with_context(|| format!("opening {what}"))?;
            let id = camera.name.as_ref().map(|n| CameraId {
                // At most MAX_CAMERAS (checked with the configuration) fit a u8.
                index: u8::try_from(index).unwrap_or(u8::MAX),
                name: Arc::from(n.as_str()),
            });
            cameras.push(Camera {
                config: camera,
                id,
                source,
                tracker: Tracker::new(config.tracker)?,
            });
        }
        let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
        let device_id = config.daemon.device_id;
        if let Some(c) = &config.sinks.jsonl {
            let mut c = c.clone();
            if c.device_id == 0 {
                c.device_id = device_id;
            }
            sinks.push(Box::new(
                crate::sink::JsonlSink::open(&c).context("opening the JSON-lines sink")?,
            ));
        }
        if let Some(c) = &config.sinks.serial {
            let mut c = c.clone();
            if c.device_id == 0 {
                c.device_id = device_id;
            }
            sinks.push(Box::new(
                crate::sink::SerialSink::open(c).context("opening the serial sink")?,
            ));
        }
        if let Some(c) = &config.sinks.mqtt {
            let mut c = c.clone();
            if c.device_id == 0 {
                c.device_id = device_id;
            }
            sinks.push(Box::new(
                crate::sink::MqttSink::open(c).context("opening the MQTT sink")?,
            ));
        }
        #[cfg(feature = "ros2")]
        if let Some(c) = &config.sinks.ros2 {
            sinks.push(Box::new(
                crate::sink::Ros2Sink::open(c.clone()).context("opening the ROS 2 sink")?,
            ));
        }
        let display = crate::display::open(&config.display).context("opening the display")?;
        let names: Vec<String> = cameras.iter().map(|c| c.label().to_owned()).collect();
        let stats = Stats::new(&names, detectors.len());
        let _ = stats.backend.set((
            detectors[0].backend_name().to_owned(),
            detectors[0].backend_choice().clone(),
        ));
        let stats = Arc::new(stats);
        Ok(Pipeline {
            config,
            cameras,
            detectors,
            sinks,
            display,
            tap: None,
            stats,
        })
    }

    /// Runs until the sources end, `max_frames` frames were published, or `stop` is set.
    /// Sinks are flushed and closed (MQTT publishes `offline`) before this returns.
    pub fn run(self, stop: Arc<AtomicBool>) -> anyhow::Result<RunSummary> {
        self.run_with(&Control {
            stop,
            reload: Arc::default(),
        })
    }

    /// [`Pipeline::run`] that also ends when `control.reload` is set. A stage that panics or
    /// gets stuck ends the run with an error naming it, within 2 s.
    pub fn run_with(self, control: &Control) -> anyhow::Result<RunSummary> {
        let Pipeline {
            config,
            cameras,
            detectors,
            sinks,
            display,
            tap,
            stats,
        } = self;
        let epoch = Instant::now();
        let halt = Arc::new(AtomicBool::new(false));
        let failure = Arc::new(Failure::default());
        let fault = Fault::from_env();
        let n = cameras.len();
        let frames: Arc<Latest<Captured>> = Arc::new(Latest::new(n));
        let ordered: Arc<Vec<Ordered<RawOutput>>> =
            Arc::new((0..n).map(|_| Ordered::default()).collect());
        let results: Arc<Latest<Decoded>> = Arc::new(Latest::new(n));
        let workers = detectors.len();
        let pool = Arc::new(BufferPool::new(
            detectors[0].output_len(),
            output_buffer_bound(workers, n),
        ));
        let model_name = detectors[0].card.id.clone();
        tracing::info!(
            cameras = ?cameras.iter().map(|c| format!("{}: {}", c.label(), c.source.describe())).collect::<Vec<_>>(),
            model = %model_name,
            backend = detectors[0].backend_name(),
            backend_reason = %detectors[0].backend_choice().reason,
            input = ?detectors[0].input_size(),
            workers,
            sinks = ?sinks.iter().map(|s| s.describe()).collect::<Vec<_>>(),
            "pipeline started"
        );

        let mut stages: Vec<Stage> = Vec::new();
        let started = Self::spawn_stages(
            &mut stages,
            Shared {
                frames: &frames,
                ordered: &ordered,
                results: &results,
                pool: &pool,
                stats: &stats,
                halt: &halt,
                failure: &failure,
                fault: &fault,
                epoch,
            },
            cameras,
            detectors,
            sinks,
            display,
            tap,
            &config,
        );
        let monitors = match started {
            Ok(m) => m,
            Err(e) => {
                halt.store(true, Ordering::Relaxed);
                frames.close_all();
                return Err(anyhow::anyhow!("cannot start the pipeline threads: {e}"));
            }
        };
        notify_systemd(&[sd_notify::NotifyState::Ready]);
        let end = supervise_run(
            &mut stages,
            &monitors,
            &stats,
            control,
            &failure,
            epoch,
            &config,
        );
        notify_systemd(&[sd_notify::NotifyState::Stopping]);
        halt.store(true, Ordering::Relaxed);
        let failed = end.is_err();
        let deadline = Instant::now() + if failed { FAILURE_GRACE } else { STOP_GRACE };
        for stage in stages.iter_mut() {
            if !stage.join_until(deadline) {
                tracing::warn!("stage '{}' did not stop in time; left behind", stage.name);
            }
        }
        let sinks = stats.sinks();
        let summary = RunSummary {
            frames: stats.total(|c| &c.published),
            persons: stats.total(|c| &c.persons),
            seconds: epoch.elapsed().as_secs_f64(),
            stale_frames: stats.cameras.iter().map(CameraStats::stale).sum(),
            late_frames: stats.total(|c| &c.late_frames),
            bad_frames: stats.total(|c| &c.bad_frames),
            sinks,
            end: RunEnd::Finished,
        };
        stats.log();
        // A failure found while joining (a stage panicking on its way out) still counts.
        if let Some(m) = failure.get() {
            return Err(anyhow::anyhow!(m));
        }
        let end = end?;
        Ok(RunSummary { end, ..summary })
    }

    /// Starts every stage thread; returns what the supervisor watches per camera.
    #[allow(clippy::too_many_arguments)]
    fn spawn_stages(
        stages: &mut Vec<Stage>,
        sh: Shared<'_>,
        cameras: Vec<Camera>,
        detectors: Vec<Detector>,
        sinks: Vec<Box<dyn Sink>>,
        display: Option<Box<dyn Display>>,
        tap: Option<Arc<Tap>>,
        config: &Config,
    ) -> std::io::Result<Vec<Monitor>> {
        let n = cameras.len();
        let workers = detectors.len();
        let model_name = detectors[0].card.id.clone();
        let model_id = detectors[0].card.wire_id;
        let mut monitors = Vec::with_capacity(n);
        let mut trackers = Vec::with_capacity(n);
        let mut decoders = Vec::with_capacity(n);
        for (key, camera) in cameras.into_iter().enumerate() {
            let name = camera.stage("capture");
            monitors.push(Monitor {
                stage: stages.len(),
                key,
                camera: camera.label().to_owned(),
                frame_timeout: camera.config.frame_timeout,
            });
            decoders.push(decode::Decode {
                key,
                name: camera.stage("decode"),
                camera: camera.id.clone(),
                stage: detectors[0].decode_stage(),
                model_id,
                ordered: Arc::clone(sh.ordered),
                results: Arc::clone(sh.results),
                pool: Arc::clone(sh.pool),
                stats: Arc::clone(sh.stats),
                halt: Arc::clone(sh.halt),
                fault: sh.fault.clone(),
                epoch: sh.epoch,
            });
            trackers.push(camera.tracker);
            let capture = capture::Capture {
                key,
                name: name.clone(),
                source: camera.source,
                frames: Arc::clone(sh.frames),
                ordered: Arc::clone(sh.ordered),
                stats: Arc::clone(sh.stats),
                halt: Arc::clone(sh.halt),
                fault: sh.fault.clone(),
                epoch: sh.epoch,
                failure: Arc::clone(sh.failure),
            };
            stages.push(Stage::spawn(&name, false, sh.failure, move |b| {
                capture.run(b)
            })?);
        }
        let running = Arc::new(AtomicUsize::new(workers));
        let want_preview = display.is_some();
        for (i, detector) in detectors.into_iter().enumerate() {
            let name = if workers == 1 {
                "infer".to_owned()
            } else {
                format!("infer-{i}")
            };
            let worker = worker::Worker {
                name: name.clone(),
                detector,
                frames: Arc::clone(sh.frames),
                ordered: Arc::clone(sh.ordered),
                pool: Arc::clone(sh.pool),
                stats: Arc::clone(sh.stats),
                halt: Arc::clone(sh.halt),
                want_preview,
                tap: tap.clone(),
                fault: sh.fault.clone(),
                epoch: sh.epoch,
                running: Arc::clone(&running),
            };
            stages.push(Stage::spawn(&name, true, sh.failure, move |b| {
                worker.run(b)
            })?);
        }
        for d in decoders {
            let name = d.name.clone();
            stages.push(Stage::spawn(&name, true, sh.failure, move |b| d.run(b))?);
        }
        let output = output::Output {
            results: Arc::clone(sh.results),
            trackers,
            sinks,
            display,
            tap,
            stats: Arc::clone(sh.stats),
            halt: Arc::clone(sh.halt),
            max_frames: config.daemon.max_frames,
            model_name,
            fault: sh.fault.clone(),
            epoch: sh.epoch,
            failure: Arc::clone(sh.failure),
        };
        stages.push(Stage::spawn("output", true, sh.failure, move |b| {
            output.run(b)
        })?);
        Ok(monitors)
    }
}

/// The hand-overs and flags every stage gets a handle on.
struct Shared<'a> {
    frames: &'a Arc<Latest<Captured>>,
    ordered: &'a Arc<Vec<Ordered<RawOutput>>>,
    results: &'a Arc<Latest<Decoded>>,
    pool: &'a Arc<BufferPool>,
    stats: &'a Arc<Stats>,
    halt: &'a Arc<AtomicBool>,
    failure: &'a Arc<Failure>,
    fault: &'a Fault,
    epoch: Instant,
}

/// What the supervisor watches of one camera's capture stage.
struct Monitor {
    /// Index of the capture stage in the stage list.
    stage: usize,
    /// The camera's index in the statistics.
    key: usize,
    camera: String,
    frame_timeout: Duration,
}

/// Watches the stages until the run ends: failures, stuck stages, stalled sources (which stop
/// the watchdog pings), the statistics line, the stop and reload flags.
fn supervise_run(
    stages: &mut [Stage],
    monitors: &[Monitor],
    stats: &Stats,
    control: &Control,
    failure: &Failure,
    epoch: Instant,
    config: &Config,
) -> anyhow::Result<RunEnd> {
    let interval = Duration::from_secs_f64(config.daemon.stats_interval_s);
    let watchdog = sd_notify::watchdog_enabled().map(|d| d / 2);
    let mut last_log = Instant::now();
    let mut last_ping: Option<Instant> = None;
    let output = stages.len() - 1;
    loop {
        std::thread::sleep(SUPERVISE_TICK);
        if let Some(m) = failure.get() {
            anyhow::bail!(m);
        }
        for stage in stages.iter() {
            if let Some(busy) = stage.beat.busy_for(epoch).filter(|_| stage.supervised) {
                if busy >= STAGE_STALL_LIMIT {
                    let m = format!(
                        "pipeline stage '{}' made no progress for {} s",
                        stage.name,
                        busy.as_secs()
                    );
                    failure.set(m.clone());
                    anyhow::bail!(m);
                }
            }
        }
        let mut flowing = true;
        for m in monitors {
            let Some(cam) = stats.cameras.get(m.key) else {
                continue;
            };
            let waited = stages[m.stage].beat.busy_for(epoch);
            let stalled =
                !m.frame_timeout.is_zero() && waited.is_some_and(|w| w >= m.frame_timeout);
            let was = cam.stalled.swap(stalled, Ordering::Relaxed);
            if stalled && !was {
                cam.stalls.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    "{}: no frame for {} ms (source.frame_timeout_ms); systemd watchdog pings stop until frames flow again",
                    m.camera,
                    m.frame_timeout.as_millis()
                );
            } else if was && !stalled {
                tracing::info!("{}: frames flow again", m.camera);
            }
            flowing &= !stalled;
        }
        if stages[output].is_finished() {
            return Ok(RunEnd::Finished);
        }
        if control.stop.load(Ordering::Relaxed) {
            return Ok(RunEnd::Stopped);
        }
        if control.reload.load(Ordering::Relaxed) {
            return Ok(RunEnd::Reload);
        }
        if !interval.is_zero() && last_log.elapsed() >= interval {
            last_log = Instant::now();
            stats.log();
        }
        if let Some(w) = watchdog {
            if flowing && last_ping.is_none_or(|t| t.elapsed() >= w) {
                last_ping = Some(Instant::now());
                let fps: f64 = stats.cameras.iter().map(CameraStats::fps).sum();
                let line = format!("{fps:.1} fps, {} frames", stats.total(|c| &c.published));
                notify_systemd(&[
                    sd_notify::NotifyState::Watchdog,
                    sd_notify::NotifyState::Status(&line),
                ]);
            }
        }
    }
}
