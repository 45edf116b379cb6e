//! Statistics shared by the pipeline threads: counters and latency windows per camera, the
//! sinks' own counters, the periodic log line, the exit summary and the Prometheus text.
//! Everything here is live: the threads update it as they go, readers never wait for the end.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::sink::SinkStats;

/// Latency samples kept for percentiles (fixed memory).
pub const LATENCY_WINDOW: usize = 1024;

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

pub(crate) fn record(w: &Mutex<Window>, d: Duration) {
    w.lock().unwrap_or_else(|p| p.into_inner()).push(d);
}

pub(crate) fn pct(w: &Mutex<Window>, p: f64) -> f64 {
    w.lock()
        .unwrap_or_else(|p| p.into_inner())
        .percentile_ms(p)
        .unwrap_or(f64::NAN)
}

/// A per-camera counter: its metric name, where it lives, its help text.
type CameraCounter = (&'static str, fn(&CameraStats) -> &AtomicU64, &'static str);
/// A per-sink counter: its metric name, how it is read, its help text.
type SinkCounter = (&'static str, fn(&SinkReport) -> u64, &'static str);
/// A per-camera latency window: its metric name and where it lives.
type CameraWindow = (&'static str, fn(&CameraStats) -> &Mutex<Window>);

/// Counters and latency windows of one camera.
#[derive(Default)]
pub struct CameraStats {
    /// The camera's name (`source` for the single `[source]`): the metrics' `camera` label.
    pub name: String,
    pub captured: AtomicU64,
    pub bad_frames: AtomicU64,
    pub source_errors: AtomicU64,
    pub inferred: AtomicU64,
    pub inference_errors: AtomicU64,
    pub published: AtomicU64,
    pub persons: AtomicU64,
    /// Captured frames replaced before a worker took them.
    pub stale_frames: AtomicU64,
    /// Network outputs replaced before the decode thread took them.
    pub stale_outputs: AtomicU64,
    /// Results replaced before the output thread took them.
    pub stale_results: AtomicU64,
    /// Frames inferred too late: a newer frame of the camera went out while they waited.
    pub late_frames: AtomicU64,
    pub decode_drops: AtomicU64,
    /// The source has been asked for a frame for longer than its `frame_timeout_ms`.
    pub stalled: AtomicBool,
    /// Times the source stalled.
    pub stalls: AtomicU64,
    /// Published frames per second × 1000 (smoothed), for the log line and the watchdog status.
    pub fps_milli: AtomicU64,
    /// Time the source took to deliver a frame (read + decode).
    pub capture: Mutex<Window>,
    pub preprocess: Mutex<Window>,
    pub inference: Mutex<Window>,
    pub decode: Mutex<Window>,
    /// Capture → all sinks done.
    pub end_to_end: Mutex<Window>,
}

impl CameraStats {
    pub fn new(name: &str) -> Self {
        CameraStats {
            name: name.to_owned(),
            ..CameraStats::default()
        }
    }

    pub fn fps(&self) -> f64 {
        self.fps_milli.load(Ordering::Relaxed) as f64 / 1e3
    }

    /// Every value replaced before it was read, at any hand-over.
    pub fn stale(&self) -> u64 {
        self.stale_frames.load(Ordering::Relaxed)
            + self.stale_outputs.load(Ordering::Relaxed)
            + self.stale_results.load(Ordering::Relaxed)
    }
}

/// One sink's counters as last read from [`crate::sink::Sink::stats`], plus the `send` errors
/// the pipeline saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SinkReport {
    /// The sink's description ("mqtt:mqtt://127.0.0.1:1883 (edgepose/robot/poses)").
    pub name: String,
    pub stats: SinkStats,
    /// `send` calls that returned an error.
    pub send_errors: u64,
}

/// Statistics of a whole run.
#[derive(Default)]
pub struct Stats {
    pub cameras: Vec<CameraStats>,
    /// Inference workers running.
    pub workers: usize,
    /// Output buffers allocated between the workers and the decode threads: at most
    /// [`super::output_buffer_bound`] in a healthy run (more would mean a leak).
    pub output_buffers: AtomicU64,
    pub display_errors: AtomicU64,
    /// Time the output thread spent per frame (tracker, sinks, display).
    pub output: Mutex<Window>,
    pub sinks: Mutex<Vec<SinkReport>>,
    /// The runtime that runs and why (`model.backend.kind = "auto"` resolved), set at start.
    pub backend: std::sync::OnceLock<(String, crate::infer::backend::Choice)>,
}

impl Stats {
    /// Statistics for cameras named `cameras` and `workers` workers.
    pub fn new(cameras: &[String], workers: usize) -> Self {
        Stats {
            cameras: cameras.iter().map(|n| CameraStats::new(n)).collect(),
            workers,
            ..Stats::default()
        }
    }

    /// Sum of one counter over the cameras.
    pub fn total(&self, counter: impl Fn(&CameraStats) -> &AtomicU64) -> u64 {
        self.cameras
            .iter()
            .map(|c| counter(c).load(Ordering::Relaxed))
            .sum()
    }

    /// The sinks' counters as last refreshed by the output thread.
    pub fn sinks(&self) -> Vec<SinkReport> {
        self.sinks.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn set_sinks(&self, reports: Vec<SinkReport>) {
        *self.sinks.lock().unwrap_or_else(|p| p.into_inner()) = reports;
    }

    /// The counters summed over the cameras, as one JSON object (the web view's
    /// `/api/status` and the recorder's `/stats` messages share it).
    pub fn counters_json(&self) -> serde_json::Value {
        let sink_errors: u64 = self
            .sinks()
            .iter()
            .map(|s| s.send_errors + s.stats.errors)
            .sum();
        serde_json::json!({
            "captured": self.total(|c| &c.captured),
            "inferred": self.total(|c| &c.inferred),
            "published": self.total(|c| &c.published),
            "persons": self.total(|c| &c.persons),
            "bad_frames": self.total(|c| &c.bad_frames),
            "source_errors": self.total(|c| &c.source_errors),
            "inference_errors": self.total(|c| &c.inference_errors),
            "stale": self.cameras.iter().map(CameraStats::stale).sum::<u64>(),
            "late_frames": self.total(|c| &c.late_frames),
            "decode_drops": self.total(|c| &c.decode_drops),
            "sink_errors": sink_errors,
            "display_errors": self.display_errors.load(Ordering::Relaxed),
        })
    }

    /// Prometheus text exposition: counters and latency quantiles per camera, the sinks' own
    /// counters per sink.
    pub fn prometheus(&self, model: &str) -> String {
        let model = label(model);
        let mut s = String::new();
        let counters: [CameraCounter; 13] = [
            ("captured", |c| &c.captured, "frames delivered by the source"),
            ("bad_frames", |c| &c.bad_frames, "frames the source could not decode"),
            ("source_errors", |c| &c.source_errors, "source failures (followed by a retry)"),
            ("inferred", |c| &c.inferred, "frames run through the model"),
            ("inference_errors", |c| &c.inference_errors, "frames the model or decoder rejected"),
            ("published", |c| &c.published, "frames handed to the sinks"),
            ("persons", |c| &c.persons, "persons published"),
            ("stale_frames", |c| &c.stale_frames, "captured frames dropped because every inference worker was busy"),
            ("stale_outputs", |c| &c.stale_outputs, "network outputs dropped because decoding was busy"),
            ("stale_results", |c| &c.stale_results, "results dropped because the outputs were busy"),
            ("late_frames", |c| &c.late_frames, "frames dropped because a newer frame of the camera was published while they were inferred"),
            ("decode_drops", |c| &c.decode_drops, "peaks/pairs/persons dropped by decoder capacities"),
            ("source_stalls", |c| &c.stalls, "times the source delivered nothing for frame_timeout_ms"),
        ];
        for (name, counter, help) in counters {
            let _ = writeln!(
                s,
                "# HELP edgepose_{name}_total {help}\n# TYPE edgepose_{name}_total counter"
            );
            for c in &self.cameras {
                let _ = writeln!(
                    s,
                    "edgepose_{name}_total{{model=\"{model}\",camera=\"{}\"}} {}",
                    label(&c.name),
                    counter(c).load(Ordering::Relaxed)
                );
            }
        }
        let _ = writeln!(
            s,
            "# HELP edgepose_source_stalled 1 while the source delivers nothing for frame_timeout_ms\n# TYPE edgepose_source_stalled gauge"
        );
        for c in &self.cameras {
            let _ = writeln!(
                s,
                "edgepose_source_stalled{{model=\"{model}\",camera=\"{}\"}} {}",
                label(&c.name),
                u8::from(c.stalled.load(Ordering::Relaxed))
            );
        }
        let global = [
            (
                "output_buffers",
                self.output_buffers.load(Ordering::Relaxed),
                "output buffers allocated between inference and decoding",
            ),
            (
                "display_errors",
                self.display_errors.load(Ordering::Relaxed),
                "display errors",
            ),
        ];
        let labels = format!("{{model=\"{model}\"}}");
        for (name, v, help) in global {
            let name = format!("edgepose_{name}_total");
            write_metric(&mut s, "counter", &name, help, &labels, v);
        }
        let _ = writeln!(
            s,
            "# HELP edgepose_workers inference workers\n# TYPE edgepose_workers gauge\nedgepose_workers{{model=\"{model}\"}} {}",
            self.workers
        );
        if let Some((name, choice)) = self.backend.get() {
            let _ = writeln!(
                s,
                "# HELP edgepose_backend_info the inference runtime and why it was chosen\n\
                 # TYPE edgepose_backend_info gauge\n\
                 edgepose_backend_info{{model=\"{model}\",kind=\"{}\",backend=\"{}\",reason=\"{}\"}} 1",
                choice.kind.as_str(),
                label(name),
                label(&choice.reason)
            );
        }
        let sinks = self.sinks();
        let per_sink: [SinkCounter; 7] = [
            (
                "sink_sent",
                |r| r.stats.sent,
                "frames the sink wrote or published",
            ),
            (
                "sink_dropped",
                |r| r.stats.dropped,
                "frames the sink dropped (device slow or gone)",
            ),
            (
                "sink_errors",
                |r| r.stats.errors,
                "sink write/connection errors (a file sink's also show as refused sends)",
            ),
            (
                "sink_send_errors",
                |r| r.send_errors,
                "sends the sink refused",
            ),
            (
                "sink_connects",
                |r| r.stats.connects,
                "sink (re)connections",
            ),
            (
                "sink_stale",
                |r| r.stats.stale,
                "queued frames dropped for being older than the sink's max_age_ms",
            ),
            (
                "sink_oversize",
                |r| r.stats.oversize,
                "messages not sent for being larger than the sink allows",
            ),
        ];
        for (name, value, help) in per_sink {
            let _ = writeln!(
                s,
                "# HELP edgepose_{name}_total {help}\n# TYPE edgepose_{name}_total counter"
            );
            for r in &sinks {
                let _ = writeln!(
                    s,
                    "edgepose_{name}_total{{model=\"{model}\",sink=\"{}\"}} {}",
                    label(&r.name),
                    value(r)
                );
            }
        }
        let _ = writeln!(s, "# TYPE edgepose_output_ms summary");
        for q in [0.5, 0.9, 0.99] {
            let _ = writeln!(
                s,
                "edgepose_output_ms{{model=\"{model}\",quantile=\"{q}\"}} {:.3}",
                pct(&self.output, q)
            );
        }
        let windows: [CameraWindow; 5] = [
            ("capture", |c| &c.capture),
            ("preprocess", |c| &c.preprocess),
            ("inference", |c| &c.inference),
            ("decode", |c| &c.decode),
            ("end_to_end", |c| &c.end_to_end),
        ];
        for (name, w) in windows {
            let _ = writeln!(s, "# TYPE edgepose_{name}_ms summary");
            for c in &self.cameras {
                for q in [0.5, 0.9, 0.99] {
                    let _ = writeln!(
                        s,
                        "edgepose_{name}_ms{{model=\"{model}\",camera=\"{}\",quantile=\"{q}\"}} {:.3}",
                        label(&c.name),
                        pct(w(c), q)
                    );
                }
            }
        }
        s
    }

    /// The periodic statistics line (one per camera when there are several, then the sinks).
    pub fn log(&self) {
        let multi = self.cameras.len() > 1;
        for c in &self.cameras {
            let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
            tracing::info!(
                "{}{:.1} fps | frames {} | persons {} | infer p50 {:.1} ms | pre {:.1} ms | decode {:.2} ms | latency p50 {:.1} p99 {:.1} ms | stale {} late {} | bad {} | errors src {} infer {}{}",
                if multi { format!("{}: ", c.name) } else { String::new() },
                c.fps(),
                l(&c.published),
                l(&c.persons),
                pct(&c.inference, 0.5),
                pct(&c.preprocess, 0.5),
                pct(&c.decode, 0.5),
                pct(&c.end_to_end, 0.5),
                pct(&c.end_to_end, 0.99),
                c.stale(),
                l(&c.late_frames),
                l(&c.bad_frames),
                l(&c.source_errors),
                l(&c.inference_errors),
                if c.stalled.load(Ordering::Relaxed) { " | STALLED" } else { "" },
            );
        }
        let sinks = self.sinks();
        if !sinks.is_empty() {
            tracing::info!("sinks: {}", sinks_line(&sinks));
        }
    }
}

/// `name sent N dropped D errors E; ...` for the log line and the exit summary.
pub fn sinks_line(sinks: &[SinkReport]) -> String {
    sinks
        .iter()
        .map(|r| {
            let mut line = format!(
                "{} sent {} dropped {} errors {}",
                r.name, r.stats.sent, r.stats.dropped, r.stats.errors
            );
            // Sends the sink refused; a file sink's write errors are also its refused sends,
            // so the two are shown apart, never added.
            if r.send_errors > 0 {
                line.push_str(&format!(" refused {}", r.send_errors));
            }
            // Freshness and size drops only where a sink has them (serial, MQTT).
            if r.stats.stale > 0 {
                line.push_str(&format!(" stale {}", r.stats.stale));
            }
            if r.stats.oversize > 0 {
                line.push_str(&format!(" oversize {}", r.stats.oversize));
            }
            line
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// One Prometheus sample with its HELP and TYPE lines; `kind` is `counter` or `gauge`,
/// `labels` the `{...}` part or empty.
pub fn write_metric(
    out: &mut String,
    kind: &str,
    name: &str,
    help: &str,
    labels: &str,
    value: impl std::fmt::Display,
) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{labels} {value}"
    );
}

/// A Prometheus label value with `\`, `"` and newlines escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Frames per second over the last second or so (exponential smoothing of intervals).
#[derive(Default)]
pub struct FpsMeter {
    last: Option<Instant>,
    interval_s: f64,
}

impl FpsMeter {
    pub fn tick(&mut self) -> f64 {
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

    pub fn rate(&self) -> f64 {
        if self.interval_s > 0.0 {
            1.0 / self.interval_s
        } else {
            0.0
        }
    }

    /// The smoothed interval, `None` before two ticks.
    pub fn interval(&self) -> Option<Duration> {
        (self.interval_s > 0.0).then(|| Duration::from_secs_f64(self.interval_s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn metrics_say_which_backend_runs_and_why() {
        let stats = Stats::new(&["cam".into()], 1);
        assert!(!stats.prometheus("m").contains("edgepose_backend_info"));
        let choice = crate::infer::backend::Choice {
            kind: crate::infer::backend::BackendKind::Tract,
            reason: "onnxruntime at /x/\"q\".so failed to load".into(),
        };
        let _ = stats.backend.set(("tract-cpu x1".into(), choice));
        let text = stats.prometheus("m");
        let line = text
            .lines()
            .find(|l| l.starts_with("edgepose_backend_info{"))
            .unwrap_or_else(|| panic!("no backend_info sample:\n{text}"));
        assert_eq!(
            line,
            "edgepose_backend_info{model=\"m\",kind=\"tract\",backend=\"tract-cpu x1\",\
             reason=\"onnxruntime at /x/\\\"q\\\".so failed to load\"} 1"
        );
    }

    #[test]
    fn prometheus_text_has_cameras_and_sinks_and_escapes_labels() {
        let s = Stats::new(&["front".into(), "rear".into()], 2);
        s.cameras[1].late_frames.store(4, Ordering::Relaxed);
        s.cameras[0].stalled.store(true, Ordering::Relaxed);
        s.set_sinks(vec![SinkReport {
            name: "mqtt:x (\"q\")".into(),
            stats: SinkStats {
                sent: 7,
                dropped: 3,
                errors: 2,
                connects: 1,
                ..SinkStats::default()
            },
            send_errors: 1,
        }]);
        let t = s.prometheus("m");
        assert!(
            t.contains("edgepose_late_frames_total{model=\"m\",camera=\"rear\"} 4"),
            "{t}"
        );
        assert!(
            t.contains("edgepose_source_stalled{model=\"m\",camera=\"front\"} 1"),
            "{t}"
        );
        assert!(
            t.contains("edgepose_sink_dropped_total{model=\"m\",sink=\"mqtt:x (\\\"q\\\")\"} 3"),
            "{t}"
        );
        assert!(
            t.contains("edgepose_sink_errors_total{model=\"m\",sink=\"mqtt:x (\\\"q\\\")\"} 2"),
            "{t}"
        );
        assert!(t.contains("edgepose_workers{model=\"m\"} 2"), "{t}");
        assert_eq!(
            sinks_line(&s.sinks()),
            "mqtt:x (\"q\") sent 7 dropped 3 errors 2 refused 1"
        );
    }
}
