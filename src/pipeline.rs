//! The daemon's pipeline: capture → pre-process + inference → decode → track + sinks/display,
//! each on its own thread, joined by [`Latest`] slots that keep only the newest item: a slow
//! stage never makes latency build up, it makes older frames drop (counted).
//!
//! Network outputs travel from inference to decoding in a fixed pool of [`OUTPUT_BUFFERS`]
//! buffers that go back to the inference thread after use, so the hand-over allocates nothing
//! per frame.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::decode::FrameGeometry;
use crate::detector::Detector;
use crate::display::{Display, Status};
use crate::pose::FramePoses;
use crate::sink::Sink;
use crate::source::{Frame, Source, SourceError};
use crate::tap::Tap;
use crate::track::Tracker;

/// Back-off after a source failure before asking it again (sources reconnect themselves).
const SOURCE_RETRY_DELAY: Duration = Duration::from_millis(200);
/// How often blocked threads wake up to check the stop flag.
const POLL: Duration = Duration::from_millis(50);
/// Latency samples kept for percentiles (fixed memory).
const LATENCY_WINDOW: usize = 1024;
/// Output buffers between inference and decoding: one being filled, one waiting in the slot,
/// one being decoded.
pub const OUTPUT_BUFFERS: usize = 3;

/// What [`Latest::take`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Take<T> {
    Item(T),
    /// Nothing arrived within the timeout.
    Empty,
    /// Closed and drained: no value will come.
    Closed,
}

/// A one-item mailbox that keeps the newest value; `put` over an unread value drops it.
pub struct Latest<T> {
    slot: Mutex<(Option<T>, bool)>,
    ready: Condvar,
    dropped: AtomicU64,
}

impl<T> Default for Latest<T> {
    fn default() -> Self {
        Latest {
            slot: Mutex::new((None, false)),
            ready: Condvar::new(),
            dropped: AtomicU64::new(0),
        }
    }
}

impl<T> Latest<T> {
    /// Stores `value`, replacing (and counting) an unread one, which is handed back so that
    /// its buffers can be reused.
    #[must_use = "a replaced value may hold buffers to recycle; drop it explicitly"]
    pub fn put(&self, value: T) -> Option<T> {
        let mut g = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        let replaced = g.0.replace(value);
        if replaced.is_some() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        self.ready.notify_one();
        replaced
    }

    /// Waits up to `timeout` for a value.
    pub fn take(&self, timeout: Duration) -> Take<T> {
        let g = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        let (mut g, _) = self
            .ready
            .wait_timeout_while(g, timeout, |s| s.0.is_none() && !s.1)
            .unwrap_or_else(|p| p.into_inner());
        match g.0.take() {
            Some(v) => {
                // Wake a producer waiting in `wait_empty`.
                self.ready.notify_all();
                Take::Item(v)
            }
            None if g.1 => Take::Closed,
            None => Take::Empty,
        }
    }

    /// No more values will come; a pending value can still be taken.
    pub fn close(&self) {
        self.slot.lock().unwrap_or_else(|p| p.into_inner()).1 = true;
        self.ready.notify_all();
    }

    /// Waits up to `timeout` until the slot is empty (the consumer took the last value).
    pub fn wait_empty(&self, timeout: Duration) -> bool {
        let g = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        let (g, _) = self
            .ready
            .wait_timeout_while(g, timeout, |s| s.0.is_some())
            .unwrap_or_else(|p| p.into_inner());
        g.0.is_none()
    }

    /// Values replaced before they were read.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Sliding window of durations (µs) with percentiles; fixed memory.
#[derive(Debug)]
pub struct Window {
    samples: Vec<u64>,
    next: usize,
    filled: bool,
}

impl Default for Window {
    fn default() -> Self {
        Window {
            samples: vec![0; LATENCY_WINDOW],
            next: 0,
            filled: false,
        }
    }
}

impl Window {
    pub fn push(&mut self, d: Duration) {
        self.samples[self.next] = d.as_micros().min(u64::MAX as u128) as u64;
        self.next = (self.next + 1) % self.samples.len();
        self.filled |= self.next == 0;
    }

    /// Percentile `p` in [0, 1] in milliseconds; `None` without samples.
    pub fn percentile_ms(&self, p: f64) -> Option<f64> {
        let n = if self.filled {
            self.samples.len()
        } else {
            self.next
        };
        if n == 0 {
            return None;
        }
        let mut v = self.samples[..n].to_vec();
        v.sort_unstable();
        let i = ((n - 1) as f64 * p.clamp(0.0, 1.0)).round() as usize;
        Some(v[i] as f64 / 1e3)
    }
}

/// Counters and latency windows shared by the pipeline threads, read by the stats log line
/// and the metrics endpoint.
#[derive(Default)]
pub struct Stats {
    pub captured: AtomicU64,
    pub bad_frames: AtomicU64,
    pub source_errors: AtomicU64,
    pub inferred: AtomicU64,
    pub inference_errors: AtomicU64,
    pub published: AtomicU64,
    pub persons: AtomicU64,
    pub sink_errors: AtomicU64,
    pub display_errors: AtomicU64,
    pub stale_frames: AtomicU64,
    pub stale_results: AtomicU64,
    /// Network outputs replaced before the decode thread took them.
    pub stale_outputs: AtomicU64,
    pub decode_drops: AtomicU64,
    /// Output buffers allocated between inference and decoding: [`OUTPUT_BUFFERS`] at most
    /// in a healthy run (more would mean a leak in the recycling).
    pub output_buffers: AtomicU64,
    /// Time the source took to deliver a frame (read + decode).
    pub capture: Mutex<Window>,
    pub preprocess: Mutex<Window>,
    pub inference: Mutex<Window>,
    pub decode: Mutex<Window>,
    pub output: Mutex<Window>,
    /// Capture timestamp → all sinks done.
    pub end_to_end: Mutex<Window>,
}

fn record(w: &Mutex<Window>, d: Duration) {
    w.lock().unwrap_or_else(|p| p.into_inner()).push(d);
}

fn pct(w: &Mutex<Window>, p: f64) -> f64 {
    w.lock()
        .unwrap_or_else(|p| p.into_inner())
        .percentile_ms(p)
        .unwrap_or(f64::NAN)
}

impl Stats {
    /// Prometheus text exposition of the counters and latency quantiles.
    pub fn prometheus(&self, model: &str) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let counters = [
            ("captured", &self.captured, "frames delivered by the source"),
            (
                "bad_frames",
                &self.bad_frames,
                "frames the source could not decode",
            ),
            (
                "source_errors",
                &self.source_errors,
                "source failures (followed by a retry)",
            ),
            ("inferred", &self.inferred, "frames run through the model"),
            (
                "inference_errors",
                &self.inference_errors,
                "frames the model or decoder rejected",
            ),
            ("published", &self.published, "frames handed to the sinks"),
            ("persons", &self.persons, "persons published"),
            ("sink_errors", &self.sink_errors, "sink errors"),
            ("display_errors", &self.display_errors, "display errors"),
            (
                "stale_frames",
                &self.stale_frames,
                "captured frames dropped because inference was busy",
            ),
            (
                "stale_outputs",
                &self.stale_outputs,
                "network outputs dropped because decoding was busy",
            ),
            (
                "output_buffers",
                &self.output_buffers,
                "output buffers allocated between inference and decoding",
            ),
            (
                "stale_results",
                &self.stale_results,
                "results dropped because the outputs were busy",
            ),
            (
                "decode_drops",
                &self.decode_drops,
                "peaks/pairs/persons dropped by decoder capacities",
            ),
        ];
        for (name, v, help) in counters {
            let _ = writeln!(
                s,
                "# HELP edgepose_{name}_total {help}\n# TYPE edgepose_{name}_total counter"
            );
            let _ = writeln!(
                s,
                "edgepose_{name}_total{{model=\"{model}\"}} {}",
                v.load(Ordering::Relaxed)
            );
        }
        let windows = [
            ("capture", &self.capture),
            ("preprocess", &self.preprocess),
            ("inference", &self.inference),
            ("decode", &self.decode),
            ("output", &self.output),
            ("end_to_end", &self.end_to_end),
        ];
        for (name, w) in windows {
            let _ = writeln!(s, "# TYPE edgepose_{name}_ms summary");
            for q in [0.5, 0.9, 0.99] {
                let _ = writeln!(
                    s,
                    "edgepose_{name}_ms{{model=\"{model}\",quantile=\"{q}\"}} {:.3}",
                    pct(w, q)
                );
            }
        }
        s
    }
}

/// What a finished run reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunSummary {
    pub frames: u64,
    pub persons: u64,
    pub seconds: f64,
    pub stale_frames: u64,
    pub bad_frames: u64,
}

/// A running daemon's pieces, opened before any thread starts so configuration errors show
/// up at start-up.
pub struct Pipeline {
    config: Config,
    source: Box<dyn Source>,
    detector: Detector,
    tracker: Tracker,
    sinks: Vec<Box<dyn Sink>>,
    display: Option<Box<dyn Display>>,
    /// Where finished frames go for the web server and the recorder.
    tap: Option<Arc<Tap>>,
    pub stats: Arc<Stats>,
}

impl Pipeline {
    /// The loaded model's card id (labels the metrics).
    pub fn model_id(&self) -> &str {
        &self.detector.card.id
    }

    /// The backend's name (for status reports).
    pub fn backend_name(&self) -> &str {
        self.detector.backend_name()
    }

    /// The source and sinks, as the start-up log line names them.
    pub fn describe(&self) -> (String, Vec<String>) {
        (
            self.source.describe(),
            self.sinks.iter().map(|s| s.describe()).collect(),
        )
    }

    /// Publishes every finished frame (and its camera image while a reader wants images)
    /// to `tap`.
    pub fn with_tap(mut self, tap: Arc<Tap>) -> Self {
        self.tap = Some(tap);
        self
    }

    /// Opens the source, model, tracker, sinks and display named by `config`.
    pub fn open(config: Config) -> anyhow::Result<Pipeline> {
        use anyhow::Context as _;
        let detector = Detector::load(
            &config.model.name,
            &config.model.backend,
            config.model.input_size().map_err(anyhow::Error::msg)?,
        )?;
        let mut detector = detector;
        if config.model.tta_flip.is_some() || config.model.tta_scales.is_some() {
            let settings = crate::tta::TtaSettings::from_card(&detector.card)
                .with_overrides(config.model.tta_flip, config.model.tta_scales.as_deref());
            detector
                .set_tta(&settings)
                .context("model.tta_flip / model.tta_scales")?;
        }
        let tracker = Tracker::new(config.tracker)?;
        let source = crate::source::open(&config.source).context("opening the source")?;
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
        let display = crate::display::open(&config.display).context("opening the display")?;
        Ok(Pipeline {
            config,
            source,
            detector,
            tracker,
            sinks,
            display,
            tap: None,
            stats: Arc::new(Stats::default()),
        })
    }

    /// Runs until the source ends, `max_frames` frames were published, or `stop` is set.
    /// Sinks are flushed and closed (MQTT publishes `offline`) before this returns.
    pub fn run(self, stop: Arc<AtomicBool>) -> anyhow::Result<RunSummary> {
        let Pipeline {
            config,
            mut source,
            mut detector,
            mut tracker,
            mut sinks,
            mut display,
            tap,
            stats,
        } = self;
        // Each item carries the instant it was captured: latency is measured on this clock,
        // whatever clock the source stamps frames with.
        let frames: Arc<Latest<(Frame, Instant)>> = Arc::default();
        let raw: Arc<Latest<RawOutput>> = Arc::default();
        let results: Arc<Latest<(FramePoses, Option<image::RgbImage>, Instant)>> = Arc::default();
        let started = Instant::now();
        let max_frames = config.daemon.max_frames;
        let model_id = detector.card.wire_id;
        let model_name = detector.card.id.clone();
        tracing::info!(
            source = %source.describe(),
            model = %model_name,
            backend = detector.backend_name(),
            input = ?detector.input_size(),
            sinks = ?sinks.iter().map(|s| s.describe()).collect::<Vec<_>>(),
            "pipeline started"
        );
        notify_systemd(&[sd_notify::NotifyState::Ready]);

        std::thread::scope(|scope| -> anyhow::Result<RunSummary> {
            // Capture.
            let cap = {
                let (frames, stats, stop) =
                    (Arc::clone(&frames), Arc::clone(&stats), Arc::clone(&stop));
                let live = source.is_live();
                scope.spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        // Files and simulations wait for the model; cameras never wait.
                        if !live && !frames.wait_empty(POLL) {
                            continue;
                        }
                        let t = Instant::now();
                        match source.next_frame() {
                            Ok(Some(f)) => {
                                let now = Instant::now();
                                record(&stats.capture, now - t);
                                stats.captured.fetch_add(1, Ordering::Relaxed);
                                drop(frames.put((f, now)));
                            }
                            Ok(None) => break,
                            Err(SourceError::BadFrame(m)) => {
                                stats.bad_frames.fetch_add(1, Ordering::Relaxed);
                                tracing::warn!("skipping bad frame: {m}");
                            }
                            Err(SourceError::Failed(m)) => {
                                stats.source_errors.fetch_add(1, Ordering::Relaxed);
                                tracing::warn!("source failed, retrying: {m}");
                                std::thread::sleep(SOURCE_RETRY_DELAY);
                            }
                        }
                    }
                    frames.close();
                })
            };
            // Pre-processing + inference.
            let want_preview = display.is_some();
            let tap_images = tap.clone();
            let (recycle_tx, recycle_rx) = mpsc::sync_channel::<Vec<f32>>(OUTPUT_BUFFERS);
            let mut decode_stage = detector.decode_stage();
            let inf = {
                let (frames, raw, stats, stop) = (
                    Arc::clone(&frames),
                    Arc::clone(&raw),
                    Arc::clone(&stats),
                    Arc::clone(&stop),
                );
                scope.spawn(move || {
                    let output_len = detector.output_len();
                    let mut spare: Vec<Vec<f32>> = Vec::with_capacity(OUTPUT_BUFFERS);
                    loop {
                        let (frame, captured) = match frames.take(POLL) {
                            Take::Item(f) => f,
                            Take::Empty if stop.load(Ordering::Relaxed) => break,
                            Take::Empty => continue,
                            Take::Closed => break,
                        };
                        spare.extend(recycle_rx.try_iter());
                        let mut buf = spare.pop().unwrap_or_else(|| {
                            stats.output_buffers.fetch_add(1, Ordering::Relaxed);
                            Vec::with_capacity(output_len)
                        });
                        match detector.infer_into(&frame.image, &mut buf) {
                            Ok((geometry, times)) => {
                                stats.inferred.fetch_add(1, Ordering::Relaxed);
                                record(&stats.preprocess, times.preprocess);
                                record(&stats.inference, times.inference);
                                let item = RawOutput {
                                    output: buf,
                                    geometry,
                                    seq: frame.seq,
                                    timestamp_us: frame.timestamp_us,
                                    preview: (want_preview
                                        || tap_images.as_ref().is_some_and(|t| t.wants_images()))
                                    .then_some(frame.image),
                                    captured,
                                };
                                if let Some(stale) = raw.put(item) {
                                    spare.push(stale.output);
                                }
                            }
                            Err(e) => {
                                spare.push(buf);
                                stats.inference_errors.fetch_add(1, Ordering::Relaxed);
                                tracing::warn!("frame {} failed: {e:#}", frame.seq);
                            }
                        }
                    }
                    raw.close();
                })
            };
            // Decoding.
            let dec = {
                let (raw, results, stats) =
                    (Arc::clone(&raw), Arc::clone(&results), Arc::clone(&stats));
                scope.spawn(move || {
                    loop {
                        // The inference thread closes the slot when it stops.
                        let item = match raw.take(POLL) {
                            Take::Item(r) => r,
                            Take::Empty => continue,
                            Take::Closed => break,
                        };
                        let t = Instant::now();
                        let decoded = decode_stage.decode(&item.output, &item.geometry);
                        record(&stats.decode, t.elapsed());
                        match decoded {
                            Ok((persons, dstats)) => {
                                let drops = dstats.peaks_dropped
                                    + dstats.pairs_dropped
                                    + dstats.persons_dropped;
                                stats
                                    .decode_drops
                                    .fetch_add(drops as u64, Ordering::Relaxed);
                                let poses = FramePoses {
                                    seq: item.seq,
                                    timestamp_us: item.timestamp_us,
                                    width: item.geometry.image_width,
                                    height: item.geometry.image_height,
                                    model_id,
                                    persons,
                                    stats: dstats,
                                };
                                drop(results.put((poses, item.preview, item.captured)));
                            }
                            Err(e) => {
                                stats.inference_errors.fetch_add(1, Ordering::Relaxed);
                                tracing::warn!("frame {}: decoding failed: {e}", item.seq);
                            }
                        }
                        // Full only if buffers were allocated beyond the pool: then drop it.
                        let _ = recycle_tx.try_send(item.output);
                    }
                    results.close();
                })
            };
            // Outputs (this thread): track, publish, draw, log.
            let interval = Duration::from_secs_f64(config.daemon.stats_interval_s);
            let watchdog = sd_notify::watchdog_enabled().map(|d| d / 2);
            let mut last_log = Instant::now();
            let mut last_ping = Instant::now();
            let mut fps = FpsMeter::default();
            let mut status = Status {
                fps: 0.0,
                model: model_name.clone(),
            };
            while !stop.load(Ordering::Relaxed) {
                let item = match results.take(POLL) {
                    Take::Item(r) => Some(r),
                    Take::Empty => None,
                    Take::Closed => break,
                };
                if let Some((mut poses, preview, captured)) = item {
                    let t0 = Instant::now();
                    tracker.update_frame(&mut poses);
                    for sink in sinks.iter_mut() {
                        if let Err(e) = sink.send(&poses) {
                            stats.sink_errors.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!("{}: {e}", sink.describe());
                        }
                    }
                    status.fps = fps.tick() as f32;
                    if let Some(d) = display.as_mut() {
                        if let Err(e) = d.show(&poses, preview.as_ref(), &status) {
                            stats.display_errors.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!("display: {e}");
                        }
                    }
                    if let Some(t) = &tap {
                        t.publish(&poses, preview);
                    }
                    record(&stats.output, t0.elapsed());
                    record(&stats.end_to_end, captured.elapsed());
                    stats
                        .persons
                        .fetch_add(poses.persons.len() as u64, Ordering::Relaxed);
                    let n = stats.published.fetch_add(1, Ordering::Relaxed) + 1;
                    if max_frames > 0 && n >= max_frames {
                        break;
                    }
                }
                if !interval.is_zero() && last_log.elapsed() >= interval {
                    last_log = Instant::now();
                    log_stats(
                        &stats,
                        fps.rate(),
                        frames.dropped() + raw.dropped() + results.dropped(),
                    );
                }
                if let Some(w) = watchdog {
                    if last_ping.elapsed() >= w {
                        last_ping = Instant::now();
                        let line = format!(
                            "{:.1} fps, {} frames",
                            fps.rate(),
                            stats.published.load(Ordering::Relaxed)
                        );
                        notify_systemd(&[
                            sd_notify::NotifyState::Watchdog,
                            sd_notify::NotifyState::Status(&line),
                        ]);
                    }
                }
            }
            notify_systemd(&[sd_notify::NotifyState::Stopping]);
            stop.store(true, Ordering::Relaxed);
            // Threads end on their own once the stop flag is seen or the slots close.
            let _ = cap.join();
            let _ = inf.join();
            let _ = dec.join();
            for sink in sinks.iter_mut() {
                if let Err(e) = sink.close() {
                    tracing::warn!("{}: closing: {e}", sink.describe());
                }
            }
            stats
                .stale_frames
                .store(frames.dropped(), Ordering::Relaxed);
            stats.stale_outputs.store(raw.dropped(), Ordering::Relaxed);
            stats
                .stale_results
                .store(results.dropped(), Ordering::Relaxed);
            let summary = RunSummary {
                frames: stats.published.load(Ordering::Relaxed),
                persons: stats.persons.load(Ordering::Relaxed),
                seconds: started.elapsed().as_secs_f64(),
                stale_frames: frames.dropped(),
                bad_frames: stats.bad_frames.load(Ordering::Relaxed),
            };
            log_stats(
                &stats,
                fps.rate(),
                frames.dropped() + raw.dropped() + results.dropped(),
            );
            Ok(summary)
        })
    }
}

/// A network output on its way from the inference thread to the decode thread.
struct RawOutput {
    /// One of the pool's buffers, returned to the inference thread after decoding.
    output: Vec<f32>,
    geometry: FrameGeometry,
    seq: u64,
    timestamp_us: u64,
    /// The frame itself, kept only when a display shows it.
    preview: Option<image::RgbImage>,
    captured: Instant,
}

/// `stale`: values the pipeline's slots replaced before they were read.
fn log_stats(stats: &Stats, fps: f64, stale: u64) {
    tracing::info!(
        "{:.1} fps | frames {} | persons {} | infer p50 {:.1} ms | pre {:.1} ms | decode {:.2} ms | latency p50 {:.1} p99 {:.1} ms | stale {} | bad {} | errors src {} infer {} sink {}",
        fps,
        stats.published.load(Ordering::Relaxed),
        stats.persons.load(Ordering::Relaxed),
        pct(&stats.inference, 0.5),
        pct(&stats.preprocess, 0.5),
        pct(&stats.decode, 0.5),
        pct(&stats.end_to_end, 0.5),
        pct(&stats.end_to_end, 0.99),
        stale,
        stats.bad_frames.load(Ordering::Relaxed),
        stats.source_errors.load(Ordering::Relaxed),
        stats.inference_errors.load(Ordering::Relaxed),
        stats.sink_errors.load(Ordering::Relaxed),
    );
}

fn notify_systemd(states: &[sd_notify::NotifyState]) {
    // Outside systemd NOTIFY_SOCKET is unset and this is a no-op.
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!("sd_notify: {e}");
    }
}

/// Frames per second over the last second or so (exponential smoothing of intervals).
#[derive(Default)]
struct FpsMeter {
    last: Option<Instant>,
    interval_s: f64,
}

impl FpsMeter {
    fn tick(&mut self) -> f64 {
        let now = Instant::now();
        if let Some(last) = self.last {
            let dt = (now - last).as_secs_f64();
            self.interval_s = if self.interval_s == 0.0 {
                dt
            } else {
                0.9 * self.interval_s + 0.1 * dt
            };
        }
        self.last = Some(now);
        self.rate()
    }

    fn rate(&self) -> f64 {
        if self.interval_s > 0.0 {
            1.0 / self.interval_s
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_keeps_the_newest_and_counts_drops() {
        let l = Latest::default();
        assert_eq!(l.put(1), None);
        // The replaced value comes back (its buffers get recycled).
        assert_eq!(l.put(2), Some(1));
        assert_eq!(l.put(3), Some(2));
        assert_eq!(l.take(Duration::ZERO), Take::Item(3));
        assert_eq!(l.dropped(), 2);
        assert_eq!(l.take(Duration::from_millis(1)), Take::Empty);
        assert_eq!(l.put(4), None);
        l.close();
        assert_eq!(l.take(Duration::ZERO), Take::Item(4));
        assert_eq!(l.take(Duration::ZERO), Take::Closed);
    }

    #[test]
    fn window_percentiles_are_bounded() {
        let mut w = Window::default();
        assert_eq!(w.percentile_ms(0.5), None);
        for i in 1..=3000u64 {
            w.push(Duration::from_micros(i * 1000));
        }
        // Only the last LATENCY_WINDOW samples count: 1977..=3000 ms.
        let p50 = w.percentile_ms(0.5).unwrap_or_default();
        assert!((2480.0..=2500.0).contains(&p50), "{p50}");
        assert_eq!(w.percentile_ms(1.0), Some(3000.0));
    }
}
