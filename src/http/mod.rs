//! The daemon's web server (`[http]`): a live page with the camera image and skeletons
//! (`/`), an MJPEG stream (`/stream.mjpg`) and a snapshot (`/snapshot.jpg`) drawn by the
//! project's renderer, the pose frames as Server-Sent Events (`/events`, the JSON-lines
//! schema), Prometheus text (`/metrics`), a health check (`/healthz`) and a JSON status
//! (`/api/status`).
//!
//! It reads the pipeline through its [`Tap`] and [`Stats`] only: a slow or vanished viewer
//! drops frames for itself (counted) and never slows the pipeline. tiny_http reads each
//! connection on its own thread, so idle connections do not delay other clients; a few
//! worker threads answer requests, and each stream gets its own thread, at most
//! `max_streams` at once.

mod mjpeg;

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use crate::config::HttpConfig;
use crate::pipeline::stats::write_metric;
use crate::pipeline::Stats;
use crate::pose::JsonFrame;
use crate::tap::{Tap, TapNext};

pub use mjpeg::Mjpeg;

/// The page served at `/`: one file, no external scripts, fonts or styles.
const PAGE: &str = include_str!("page.html");
/// Threads answering requests per listening address (streams get threads of their own).
const WORKERS: usize = 4;
/// How often blocked threads look at the stop flag.
const POLL: Duration = Duration::from_millis(100);
/// An idle event stream sends a comment this often (keeps proxies from closing it and finds
/// vanished viewers).
const KEEPALIVE: Duration = Duration::from_secs(10);
/// How long `/snapshot.jpg` waits for a frame before answering 503.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(5);
/// Part boundary of `/stream.mjpg`.
const BOUNDARY: &str = "edgepose-frame";

/// What `/api/status` reports about the daemon besides its counters.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct DaemonInfo {
    pub model: String,
    pub backend: String,
    pub sources: Vec<String>,
    pub sinks: Vec<String>,
    pub device_id: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("web server: cannot listen on {addr}: {message}")]
    Bind { addr: String, message: String },
    #[error("web server: cannot start a thread: {0}")]
    Thread(std::io::Error),
}

/// The server's own counters (in `/metrics` and `/api/status`).
#[derive(Default, Debug)]
pub struct HttpCounters {
    pub requests: AtomicU64,
    pub unauthorized: AtomicU64,
    /// Streams refused because `max_streams` were open.
    pub rejected_streams: AtomicU64,
    pub open_streams: AtomicUsize,
    pub events_clients: AtomicUsize,
    /// Pose frames an event viewer missed because it read too slowly.
    pub events_dropped: AtomicU64,
    /// MJPEG parts a viewer missed because it read too slowly.
    pub stream_dropped: AtomicU64,
    /// Writes to viewers that failed (viewer gone).
    pub viewer_errors: AtomicU64,
}

struct Context {
    config: HttpConfig,
    info: DaemonInfo,
    stats: Arc<Stats>,
    tap: Arc<Tap>,
    mjpeg: Arc<Mjpeg>,
    counters: HttpCounters,
    started: Instant,
    stop: Arc<AtomicBool>,
}

/// A running server; [`HttpServer::join`] waits for its threads after `stop` was set.
pub struct HttpServer {
    addrs: Vec<SocketAddr>,
    threads: Vec<JoinHandle<()>>,
    context: Arc<Context>,
}

impl HttpServer {
    /// Listens on every address of `binds` (one server, the same endpoints on each) until
    /// `stop` is set.
    pub fn start(
        binds: &[SocketAddr],
        config: HttpConfig,
        info: DaemonInfo,
        stats: Arc<Stats>,
        tap: Arc<Tap>,
        stop: Arc<AtomicBool>,
    ) -> Result<HttpServer, HttpError> {
        let mjpeg = Mjpeg::new(&config, Arc::clone(&tap));
        let context = Arc::new(Context {
            config,
            info,
            stats,
            tap,
            mjpeg,
            counters: HttpCounters::default(),
            started: Instant::now(),
            stop,
        });
        let mut threads = Vec::new();
        let mut addrs = Vec::new();
        for bind in binds {
            let server = tiny_http::Server::http(bind).map_err(|e| HttpError::Bind {
                addr: bind.to_string(),
                message: e.to_string(),
            })?;
            let addr = server
                .server_addr()
                .to_ip()
                .ok_or_else(|| HttpError::Bind {
                    addr: bind.to_string(),
                    message: "not an IP socket".into(),
                })?;
            if !addr.ip().is_loopback() {
                tracing::warn!(
                    "web view on {addr} is reachable from the network: anyone who can reach it \
                     sees the camera image{}",
                    if context.config.token.is_empty() {
                        " (no [http] token set)"
                    } else {
                        ""
                    }
                );
            }
            tracing::info!("web view on http://{addr}/ (metrics on /metrics)");
            addrs.push(addr);
            let server = Arc::new(server);
            for i in 0..WORKERS {
                let (server, context) = (Arc::clone(&server), Arc::clone(&context));
                threads.push(
                    std::thread::Builder::new()
                        .name(format!("http-{i}"))
                        .spawn(move || worker(&server, &context))
                        .map_err(HttpError::Thread)?,
                );
            }
        }
        let encoder = {
            let context = Arc::clone(&context);
            std::thread::Builder::new()
                .name("http-jpeg".into())
                .spawn(move || context.mjpeg.run(&context.stop))
                .map_err(HttpError::Thread)?
        };
        threads.push(encoder);
        Ok(HttpServer {
            addrs,
            threads,
            context,
        })
    }

    /// The addresses listened on (the real port when a bind asked for port 0).
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    pub fn counters(&self) -> &HttpCounters {
        &self.context.counters
    }

    /// Waits for the worker threads; call after setting the stop flag.
    pub fn join(self) {
        for t in self.threads {
            let _ = t.join();
        }
    }
}

fn worker(server: &tiny_http::Server, cx: &Arc<Context>) {
    while !cx.stop.load(Ordering::Relaxed) {
        match server.recv_timeout(POLL) {
            Ok(Some(request)) => handle(request, cx),
            Ok(None) => {}
            Err(e) => {
                tracing::debug!("web server: {e}");
                std::thread::sleep(POLL);
            }
        }
    }
}

/// A header from constant names and values built here (`None` only for bytes HTTP forbids).
fn header(name: &str, value: &str) -> Option<tiny_http::Header> {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
}

fn text(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> tiny_http::ResponseBox {
    let mut r = tiny_http::Response::from_data(body.into()).with_status_code(status);
    for h in [
        header("Content-Type", content_type),
        header("Cache-Control", "no-store"),
    ]
    .into_iter()
    .flatten()
    {
        r.add_header(h);
    }
    r.boxed()
}

fn respond(request: tiny_http::Request, response: tiny_http::ResponseBox) {
    if let Err(e) = request.respond(response) {
        tracing::debug!("web server: answering: {e}");
    }
}

fn handle(request: tiny_http::Request, cx: &Arc<Context>) {
    cx.counters.requests.fetch_add(1, Ordering::Relaxed);
    let path = request.url().split('?').next().unwrap_or("").to_owned();
    if *request.method() != tiny_http::Method::Get && *request.method() != tiny_http::Method::Head {
        return respond(request, text(405, "text/plain", "only GET\n"));
    }
    // The health check carries no data and is what supervisors poll without credentials.
    if path != "/healthz" && !authorized(&request, &cx.config.token) {
        cx.counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        let mut response = text(401, "text/plain", "unauthorized\n");
        if let Some(h) = header("WWW-Authenticate", "Basic realm=\"edgepose\"") {
            response.add_header(h);
        }
        return respond(request, response);
    }
    match path.as_str() {
        "/" | "/index.html" => respond(request, text(200, "text/html; charset=utf-8", PAGE)),
        "/metrics" => respond(
            request,
            text(200, "text/plain; version=0.0.4", metrics_text(cx)),
        ),
        "/healthz" => {
            let (ok, why) = health(cx);
            respond(request, text(if ok { 200 } else { 503 }, "text/plain", why));
        }
        "/api/status" => respond(
            request,
            text(200, "application/json", status_json(cx).to_string()),
        ),
        "/snapshot.jpg" => match cx.mjpeg.snapshot(SNAPSHOT_WAIT, &cx.stop) {
            Some(part) => respond(request, text(200, "image/jpeg", part.jpeg.clone())),
            None => respond(request, text(503, "text/plain", "no frame yet\n")),
        },
        "/stream.mjpg" | "/events" => {
            let Some(slot) = StreamSlot::take(cx) else {
                cx.counters.rejected_streams.fetch_add(1, Ordering::Relaxed);
                return respond(request, text(503, "text/plain", "too many streams open\n"));
            };
            let cx = Arc::clone(cx);
            let spawned = std::thread::Builder::new()
                .name("http-stream".into())
                .spawn(move || {
                    let writer = request.into_writer();
                    let result = if path == "/events" {
                        events(writer, &cx)
                    } else {
                        mjpeg_stream(writer, &cx)
                    };
                    if let Err(e) = result {
                        cx.counters.viewer_errors.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!("web server: viewer of {path} gone: {e}");
                    }
                    drop(slot);
                });
            if let Err(e) = spawned {
                tracing::warn!("web server: cannot start a stream thread: {e}");
            }
        }
        _ => respond(request, text(404, "text/plain", "not found\n")),
    }
}

/// One of the `max_streams` stream places, given back on drop.
struct StreamSlot(Arc<Context>);

impl StreamSlot {
    fn take(cx: &Arc<Context>) -> Option<StreamSlot> {
        let max = cx.config.max_streams;
        cx.counters
            .open_streams
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| StreamSlot(Arc::clone(cx)))
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.0.counters.open_streams.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Whether `request` carries the token (always true without a token).
fn authorized(request: &tiny_http::Request, token: &str) -> bool {
    use base64::Engine as _;
    if token.is_empty() {
        return true;
    }
    let Some(value) = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Authorization"))
        .map(|h| h.value.as_str().trim())
    else {
        return false;
    };
    if let Some(bearer) = value.strip_prefix("Bearer ") {
        return same(bearer.trim().as_bytes(), token.as_bytes());
    }
    if let Some(basic) = value.strip_prefix("Basic ") {
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(basic.trim()) else {
            return false;
        };
        let password = match decoded.iter().position(|&b| b == b':') {
            Some(i) => &decoded[i + 1..],
            None => return false,
        };
        return same(password, token.as_bytes());
    }
    false
}

/// Comparison whose time does not depend on where the inputs differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Healthy while frames flow: the last frame is younger than `stall_s`.
fn health(cx: &Context) -> (bool, String) {
    let stall = Duration::from_secs_f64(cx.config.stall_s);
    match cx.tap.since_last() {
        _ if cx.tap.is_closed() => (false, "stopped\n".into()),
        None => (false, "no frame yet\n".into()),
        Some(d) if d > stall => (
            false,
            format!("stalled: no frame for {:.1} s\n", d.as_secs_f64()),
        ),
        Some(d) => (true, format!("ok: last frame {} ms ago\n", d.as_millis())),
    }
}

fn metrics_text(cx: &Context) -> String {
    let mut s = cx.stats.prometheus(&cx.info.model);
    let c = &cx.counters;
    let counters = [
        (
            "http_requests",
            c.requests.load(Ordering::Relaxed),
            "HTTP requests",
        ),
        (
            "http_unauthorized",
            c.unauthorized.load(Ordering::Relaxed),
            "requests refused for a missing or wrong token",
        ),
        (
            "http_rejected_streams",
            c.rejected_streams.load(Ordering::Relaxed),
            "streams refused because max_streams were open",
        ),
        (
            "http_events_dropped",
            c.events_dropped.load(Ordering::Relaxed),
            "pose events skipped for slow /events viewers",
        ),
        (
            "http_stream_dropped",
            c.stream_dropped.load(Ordering::Relaxed),
            "MJPEG parts skipped for slow /stream.mjpg viewers",
        ),
        (
            "http_jpeg_encoded",
            cx.mjpeg.encoded(),
            "JPEG images encoded for the stream and snapshots",
        ),
    ];
    for (name, v, help) in counters {
        write_metric(
            &mut s,
            "counter",
            &format!("edgepose_{name}_total"),
            help,
            "",
            v,
        );
    }
    let gauges = [
        (
            "http_open_streams",
            c.open_streams.load(Ordering::Relaxed),
            "open /stream.mjpg and /events connections",
        ),
        (
            "http_stream_viewers",
            cx.mjpeg.viewers(),
            "open /stream.mjpg connections",
        ),
    ];
    for (name, v, help) in gauges {
        write_metric(&mut s, "gauge", &format!("edgepose_{name}"), help, "", v);
    }
    s
}

fn ms(w: &std::sync::Mutex<crate::pipeline::Window>, p: f64) -> Option<f64> {
    w.lock().unwrap_or_else(|e| e.into_inner()).percentile_ms(p)
}

fn status_json(cx: &Context) -> serde_json::Value {
    use crate::pipeline::CameraStats;
    let st = &cx.stats;
    let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let latest = cx.tap.latest();
    let (healthy, health_text) = health(cx);
    let camera = |c: &CameraStats| {
        serde_json::json!({
            "name": c.name,
            "fps": c.fps(),
            "captured": n(&c.captured),
            "published": n(&c.published),
            "stalled": c.stalled.load(Ordering::Relaxed),
            "capture_p50": ms(&c.capture, 0.5),
            "inference_p50": ms(&c.inference, 0.5),
            "end_to_end_p50": ms(&c.end_to_end, 0.5),
        })
    };
    // The page's latency line shows the first camera (the one whose image it shows).
    let first = st.cameras.first();
    let lat = |f: fn(&CameraStats) -> &std::sync::Mutex<crate::pipeline::Window>, p: f64| {
        first.and_then(|c| ms(f(c), p))
    };
    serde_json::json!({
        "model": cx.info.model,
        "backend": cx.info.backend,
        "sources": cx.info.sources,
        "sinks": cx.info.sinks,
        "device_id": cx.info.device_id,
        "uptime_s": cx.started.elapsed().as_secs_f64(),
        "healthy": healthy,
        "health": health_text.trim(),
        "fps": cx.tap.rate_hz(),
        "last_frame": latest.as_ref().map(|f| serde_json::json!({
            "seq": f.poses.seq,
            "width": f.poses.width,
            "height": f.poses.height,
            "persons": f.poses.persons.len(),
            "age_ms": f.published.elapsed().as_secs_f64() * 1e3,
        })),
        "counters": st.counters_json(),
        "latency_ms": {
            "capture_p50": lat(|c| &c.capture, 0.5),
            "preprocess_p50": lat(|c| &c.preprocess, 0.5),
            "inference_p50": lat(|c| &c.inference, 0.5),
            "decode_p50": lat(|c| &c.decode, 0.5),
            "output_p50": ms(&st.output, 0.5),
            "end_to_end_p50": lat(|c| &c.end_to_end, 0.5),
            "end_to_end_p99": lat(|c| &c.end_to_end, 0.99),
        },
        "cameras": st.cameras.iter().map(camera).collect::<Vec<_>>(),
        "http": {
            "open_streams": cx.counters.open_streams.load(Ordering::Relaxed),
            "stream_viewers": cx.mjpeg.viewers(),
            "events_clients": cx.counters.events_clients.load(Ordering::Relaxed),
            "jpeg_encoded": cx.mjpeg.encoded(),
            "stream_dropped": n(&cx.counters.stream_dropped),
            "events_dropped": n(&cx.counters.events_dropped),
        },
    })
}

/// `/events`: each pose frame as `data: <JSON-lines object>`; a viewer that reads too slowly
/// skips frames (counted), the pipeline never waits.
fn events(mut w: Box<dyn std::io::Write + Send>, cx: &Context) -> std::io::Result<()> {
    cx.counters.events_clients.fetch_add(1, Ordering::Relaxed);
    struct Leave<'a>(&'a AtomicUsize);
    impl Drop for Leave<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::Relaxed);
        }
    }
    let _leave = Leave(&cx.counters.events_clients);
    w.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n\
          Connection: close\r\nX-Accel-Buffering: no\r\n\r\n: edgepose pose frames\n\n",
    )?;
    w.flush()?;
    let mut cursor = cx.tap.cursor_at_end();
    let mut last_write = Instant::now();
    let device_id = cx.info.device_id;
    while !cx.stop.load(Ordering::Relaxed) {
        let before = cursor.missed;
        match cx.tap.next(&mut cursor, POLL) {
            TapNext::Frame(f) => {
                cx.counters
                    .events_dropped
                    .fetch_add(cursor.missed - before, Ordering::Relaxed);
                let json = serde_json::to_string(&JsonFrame::from_poses(&f.poses, device_id))
                    .map_err(std::io::Error::other)?;
                write!(w, "id: {}\ndata: {json}\n\n", f.poses.seq)?;
                w.flush()?;
                last_write = Instant::now();
            }
            TapNext::Timeout => {
                if last_write.elapsed() >= KEEPALIVE {
                    w.write_all(b": keepalive\n\n")?;
                    w.flush()?;
                    last_write = Instant::now();
                }
            }
            TapNext::Closed => break,
        }
    }
    Ok(())
}

/// `/stream.mjpg`: the shared encoder's parts as they come; one encoding serves every viewer.
fn mjpeg_stream(mut w: Box<dyn std::io::Write + Send>, cx: &Context) -> std::io::Result<()> {
    let _viewer = cx.mjpeg.viewer();
    write!(
        w,
        "HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary={BOUNDARY}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n"
    )?;
    w.flush()?;
    let mut last = 0;
    while !cx.stop.load(Ordering::Relaxed) && !cx.tap.is_closed() {
        let Some(part) = cx.mjpeg.wait_part(last, POLL) else {
            continue;
        };
        if last != 0 && part.index > last + 1 {
            cx.counters
                .stream_dropped
                .fetch_add(part.index - last - 1, Ordering::Relaxed);
        }
        last = part.index;
        write!(
            w,
            "--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\nX-Frame-Seq: {}\r\n\r\n",
            part.jpeg.len(),
            part.seq
        )?;
        w.write_all(&part.jpeg)?;
        w.write_all(b"\r\n")?;
        w.flush()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_comparison() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
        assert!(same(b"", b""));
    }
}
