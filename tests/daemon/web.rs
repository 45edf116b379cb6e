//! The daemon's web server end to end: a real headless Chromium renders `/` (skeleton pixels
//! where the decoded keypoints are), `/stream.mjpg` parts decode at the configured rate with
//! one encoding for all viewers, `/events` equals the JSON-lines sink, `/healthz` turns 503
//! when the source stalls, the token is enforced, and `/metrics` (through the older
//! `daemon.metrics_port` key) answers while idle connections are open.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{coco_sample_dir, free_port, have_program, require, skip_under_emulation};

/// Why these tests skip under qemu-user: each runs several frames through the model.
const SLOW_EMULATED: &str = "needs several model inferences, tens of seconds each";

const BIN: &str = env!("CARGO_BIN_EXE_edgepose");
/// Model loading plus the first frames on a busy 2-core machine.
const START_BUDGET: Duration = Duration::from_secs(90);

/// A daemon killed (by PID) on drop.
struct Daemon {
    child: Child,
    port: u16,
}

impl Daemon {
    /// Runs the daemon on `image` looped at `rate_hz` with the web server on a free port.
    fn start(image: &Path, rate_hz: f32, extra: &[String]) -> Daemon {
        let source = [
            "source.kind=\"images\"".to_string(),
            format!("source.path=\"{}\"", image.display()),
            "source.loop=true".into(),
            format!("source.rate_hz={rate_hz}"),
        ];
        Daemon::start_with(&source, extra)
    }

    /// Runs the daemon with `source` (`--set` values) and the web server on a free port.
    fn start_with(source: &[String], extra: &[String]) -> Daemon {
        let port = free_port();
        let mut args: Vec<String> = vec!["run".into()];
        for s in source {
            args.push("--set".into());
            args.push(s.clone());
        }
        args.extend([
            "--set".into(),
            "http.enabled=true".into(),
            "--set".into(),
            format!("http.bind=\"127.0.0.1:{port}\""),
            "--set".into(),
            "daemon.stats_interval_s=0".into(),
        ]);
        args.extend(extra.iter().cloned());
        let child = Command::new(BIN)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("daemon starts");
        let d = Daemon { child, port };
        d.wait_healthy();
        d
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + START_BUDGET;
        while Instant::now() < deadline {
            if get(self.port, "/healthz", &[]).is_some_and(|r| r.status == 200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("daemon did not report healthy within {START_BUDGET:?}");
    }

    /// SIGTERM, and the exit status within `budget`.
    fn stop(mut self, budget: Duration) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + budget;
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "daemon did not stop within {budget:?} after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Reply {
    status: u16,
    head: String,
    body: Vec<u8>,
}

/// One GET with `Connection: close`, whole reply.
fn get(port: u16, path: &str, headers: &[&str]) -> Option<Reply> {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    conn.write_all(req.as_bytes()).ok()?;
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).ok()?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some(Reply {
        status,
        head,
        body: raw[split + 4..].to_vec(),
    })
}

fn status_json(port: u16) -> serde_json::Value {
    let r = get(port, "/api/status", &[]).expect("status answers");
    assert_eq!(r.status, 200);
    serde_json::from_slice(&r.body).expect("status is JSON")
}

/// A stream response's reader after its head.
fn open_stream(port: u16, path: &str) -> BufReader<TcpStream> {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    write!(conn, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").expect("request");
    let mut r = BufReader::new(conn);
    let mut line = String::new();
    r.read_line(&mut line).expect("status line");
    assert!(line.starts_with("HTTP/1.1 200"), "{path}: {line}");
    loop {
        line.clear();
        r.read_line(&mut line).expect("header");
        if line == "\r\n" {
            break;
        }
    }
    r
}

/// Next SSE `data:` payload.
fn next_event(r: &mut BufReader<TcpStream>) -> serde_json::Value {
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            r.read_line(&mut line).expect("event line") > 0,
            "stream ended"
        );
        if let Some(data) = line.strip_prefix("data: ") {
            return serde_json::from_str(data.trim()).expect("event data is JSON");
        }
    }
}

/// Next MJPEG part: its JPEG bytes.
fn next_part(r: &mut BufReader<TcpStream>) -> Vec<u8> {
    let mut line = String::new();
    let mut len = None;
    loop {
        line.clear();
        assert!(
            r.read_line(&mut line).expect("part line") > 0,
            "stream ended"
        );
        let l = line.trim();
        if let Some(v) = l.strip_prefix("Content-Length: ") {
            len = v.parse::<usize>().ok();
        }
        if l.is_empty() && len.is_some() {
            break;
        }
    }
    let mut jpeg = vec![0; len.unwrap_or(0)];
    r.read_exact(&mut jpeg).expect("part body");
    jpeg
}

/// The COCO sample's single-skier image (a real photo), or `None` (skip).
fn person_image() -> Option<PathBuf> {
    coco_sample_dir().map(|d| d.join("000000000785.jpg"))
}

fn artefact_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web-screenshots");
    std::fs::create_dir_all(&dir).expect("artefact dir");
    dir
}

fn find_chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"]
        .into_iter()
        .find(|p| have_program(p, "--version"))
}

/// The renderer's limb/keypoint colours after RGB565 → RGB888 (left, right, centre).
const SIDE_COLOURS: [[u8; 3]; 3] = [[66, 162, 255], [255, 130, 0], [231, 231, 231]];

/// Whether a pixel of `colour` (within `tol`, Euclidean) lies within `r` pixels of (x, y).
fn colour_near(img: &image::RgbImage, x: f32, y: f32, r: i32, colour: [u8; 3], tol: f32) -> bool {
    let (cx, cy) = (x.round() as i32, y.round() as i32);
    for dy in -r..=r {
        for dx in -r..=r {
            let (px, py) = (cx + dx, cy + dy);
            if px < 0 || py < 0 || px >= img.width() as i32 || py >= img.height() as i32 {
                continue;
            }
            let p = img.get_pixel(px as u32, py as u32).0;
            let d: f32 = (0..3)
                .map(|i| (p[i] as f32 - colour[i] as f32).powi(2))
                .sum::<f32>()
                .sqrt();
            if d <= tol {
                return true;
            }
        }
    }
    false
}

fn side_of(k: usize) -> usize {
    match k {
        0 => 2,
        k if k % 2 == 1 => 0,
        _ => 1,
    }
}

#[test]
fn headless_chromium_shows_the_camera_image_with_the_skeleton_on_the_keypoints() {
    if skip_under_emulation(
        "headless_chromium_shows_the_camera_image_with_the_skeleton_on_the_keypoints",
        SLOW_EMULATED,
    ) {
        return;
    }
    let Some(image) = person_image() else { return };
    let Some(chromium) = find_chromium() else {
        require(false, "chromium (apt-get install chromium)");
        return;
    };
    let d = Daemon::start(
        &image,
        5.0,
        &["--set".into(), "http.jpeg_quality=95".into()],
    );
    // The poses of the (static) scene, as a page script would get them.
    let mut events = open_stream(d.port, "/events");
    let frame = next_event(&mut events);
    drop(events);
    let dir = artefact_dir();
    let shot = dir.join("page.png");
    let _ = std::fs::remove_file(&shot);
    let profile = tempfile::tempdir().expect("profile dir");
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--window-size=1280,900",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("http://127.0.0.1:{}/", d.port))
        .stdin(Stdio::null())
        .output()
        .expect("chromium runs");
    assert!(
        shot.is_file(),
        "chromium wrote no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = image::open(&shot).expect("screenshot is a PNG").to_rgb8();
    // The page puts the image at the top left, at its size (640 px wide ≤ the stream cap).
    let (w, h) = (
        frame["width"].as_u64().expect("width") as u32,
        frame["height"].as_u64().expect("height") as u32,
    );
    assert!(
        png.width() >= w && png.height() >= h,
        "screenshot too small"
    );
    // The camera image is there: the image area is not flat.
    let lum: Vec<f32> = (0..h)
        .step_by(4)
        .flat_map(|y| (0..w).step_by(4).map(move |x| (x, y)))
        .map(|(x, y)| png.get_pixel(x, y).0.iter().map(|&c| c as f32).sum::<f32>() / 3.0)
        .collect();
    let mean = lum.iter().sum::<f32>() / lum.len() as f32;
    let var = lum.iter().map(|l| (l - mean).powi(2)).sum::<f32>() / lum.len() as f32;
    assert!(var > 100.0, "the image area looks blank (variance {var})");
    // Every confident keypoint has a pixel of its side's colour on it.
    let persons = frame["persons"].as_array().expect("persons");
    assert!(!persons.is_empty(), "the model finds the skier");
    let (mut checked, mut hit) = (0, 0);
    for p in persons.iter().filter(|p| p["score"].as_f64() > Some(0.3)) {
        for (k, kp) in p["keypoints"]
            .as_array()
            .expect("keypoints")
            .iter()
            .enumerate()
        {
            let Some(kp) = kp.as_array() else { continue };
            let (x, y, s) = (
                kp[0].as_f64().unwrap_or(-1.0) as f32,
                kp[1].as_f64().unwrap_or(-1.0) as f32,
                kp[2].as_f64().unwrap_or(0.0),
            );
            if s < 0.3 || x < 3.0 || y < 3.0 || x > w as f32 - 3.0 || y > h as f32 - 3.0 {
                continue;
            }
            checked += 1;
            if colour_near(&png, x, y, 3, SIDE_COLOURS[side_of(k)], 60.0) {
                hit += 1;
            }
        }
    }
    assert!(
        checked >= 5,
        "too few confident keypoints to check ({checked})"
    );
    assert!(
        hit * 10 >= checked * 8,
        "skeleton colours at only {hit} of {checked} keypoints (screenshot: {})",
        shot.display()
    );
    // A control: the same colours are not everywhere (a far corner has none of them).
    assert!(
        !SIDE_COLOURS
            .iter()
            .all(|&c| colour_near(&png, 2.0, 2.0, 2, c, 60.0)),
        "skeleton colours everywhere?"
    );
    assert!(d.stop(Duration::from_secs(10)).success());
}

#[test]
fn mjpeg_parts_decode_at_the_configured_rate_and_viewers_share_one_encoding() {
    if skip_under_emulation(
        "mjpeg_parts_decode_at_the_configured_rate_and_viewers_share_one_encoding",
        SLOW_EMULATED,
    ) {
        return;
    }
    let Some(image) = person_image() else { return };
    const MAX_FPS: f64 = 4.0;
    let d = Daemon::start(
        &image,
        10.0,
        &[
            "--set".into(),
            format!("http.stream_max_fps={MAX_FPS}"),
            "--set".into(),
            "http.stream_max_width=320".into(),
        ],
    );
    let mut viewers: Vec<_> = (0..3)
        .map(|_| open_stream(d.port, "/stream.mjpg"))
        .collect();
    // Let the encoder start, then measure over a window.
    for v in &mut viewers {
        next_part(v);
    }
    let s0 = status_json(d.port);
    let t0 = Instant::now();
    let window = Duration::from_secs(4);
    let mut counts = [0usize; 3];
    let mut threads = Vec::new();
    for (i, mut v) in viewers.into_iter().enumerate() {
        threads.push(std::thread::spawn(move || {
            let mut n = 0;
            let start = Instant::now();
            while start.elapsed() < window {
                let jpeg = next_part(&mut v);
                let img = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg)
                    .expect("each part is a JPEG");
                assert_eq!(img.width(), 320, "scaled to stream_max_width");
                n += 1;
            }
            (i, n)
        }));
    }
    for t in threads {
        let (i, n) = t.join().expect("viewer thread");
        counts[i] = n;
    }
    let secs = t0.elapsed().as_secs_f64();
    let s1 = status_json(d.port);
    let published = (s1["counters"]["published"].as_f64().unwrap_or(0.0)
        - s0["counters"]["published"].as_f64().unwrap_or(0.0))
        / secs;
    let encoded = s1["http"]["jpeg_encoded"].as_f64().unwrap_or(0.0)
        - s0["http"]["jpeg_encoded"].as_f64().unwrap_or(0.0);
    for &n in &counts {
        let rate = n as f64 / secs;
        assert!(
            rate <= MAX_FPS * 1.2,
            "{rate:.2} parts/s over the cap {MAX_FPS}"
        );
        let expected = MAX_FPS.min(published);
        assert!(
            rate >= expected * 0.6,
            "{rate:.2} parts/s, pipeline at {published:.2} fps, cap {MAX_FPS}"
        );
    }
    let max_parts = *counts.iter().max().unwrap_or(&0) as f64;
    assert!(
        encoded <= max_parts + 2.0,
        "three viewers cost one encoding: {encoded} encoded for {counts:?} parts"
    );
    assert!(d.stop(Duration::from_secs(10)).success());
}

#[test]
fn events_carry_the_same_frames_as_the_jsonl_sink() {
    if skip_under_emulation(
        "events_carry_the_same_frames_as_the_jsonl_sink",
        SLOW_EMULATED,
    ) {
        return;
    }
    let Some(image) = person_image() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let jsonl = dir.path().join("poses.jsonl");
    let d = Daemon::start(
        &image,
        8.0,
        &[
            "--set".into(),
            format!("sinks.jsonl.path=\"{}\"", jsonl.display()),
            "--set".into(),
            "daemon.device_id=42".into(),
        ],
    );
    let mut events = open_stream(d.port, "/events");
    let got: Vec<serde_json::Value> = (0..6).map(|_| next_event(&mut events)).collect();
    assert!(d.stop(Duration::from_secs(10)).success());
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&jsonl)
        .expect("jsonl written")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let seqs: Vec<u64> = got.iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "a reading viewer gets every frame: {seqs:?}"
    );
    for e in &got {
        assert_eq!(e["device_id"], 42);
        let line = lines
            .iter()
            .find(|l| l["seq"] == e["seq"])
            .unwrap_or_else(|| panic!("frame {} is in the JSON-lines output", e["seq"]));
        assert_eq!(e, line, "the event equals the JSON-lines object");
    }
}

#[test]
fn healthz_turns_503_when_the_source_stalls_and_200_when_it_recovers() {
    if skip_under_emulation(
        "healthz_turns_503_when_the_source_stalls_and_200_when_it_recovers",
        SLOW_EMULATED,
    ) {
        return;
    }
    let Some(image) = person_image() else { return };
    // A camera program that sends 10 frames, then hangs: the command source restarts it
    // after its 3 s stall timeout, and frames flow again.
    let script = format!(
        "for i in 1 2 3 4 5 6 7 8 9 10; do cat {}; sleep 0.2; done; sleep 60",
        image.display()
    );
    let source = [
        "source.kind=\"command\"".to_string(),
        format!("source.command=[\"sh\", \"-c\", \"{script}\"]"),
        "source.stall_timeout_ms=3000".into(),
    ];
    let d = Daemon::start_with(&source, &["--set".into(), "http.stall_s=1.5".into()]);
    let wait_for = |code: u16| {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let r = get(d.port, "/healthz", &[]).expect("healthz answers");
            if r.status == code {
                return String::from_utf8_lossy(&r.body).into_owned();
            }
            assert!(Instant::now() < deadline, "healthz never turned {code}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let body = wait_for(503);
    assert!(body.contains("stalled"), "{body}");
    let s = status_json(d.port);
    assert_eq!(s["healthy"], false, "{s}");
    let body = wait_for(200);
    assert!(body.starts_with("ok"), "{body}");
    assert!(d.stop(Duration::from_secs(10)).success());
}

#[test]
fn the_token_is_enforced_on_every_endpoint_but_healthz() {
    if skip_under_emulation(
        "the_token_is_enforced_on_every_endpoint_but_healthz",
        SLOW_EMULATED,
    ) {
        return;
    }
    let Some(image) = person_image() else { return };
    let d = Daemon::start(
        &image,
        5.0,
        &["--set".into(), "http.token=\"s3cret\"".into()],
    );
    for path in [
        "/",
        "/metrics",
        "/api/status",
        "/snapshot.jpg",
        "/events",
        "/stream.mjpg",
    ] {
        let r = get(d.port, path, &[]).expect("answers");
        assert_eq!(r.status, 401, "{path} without a token");
        assert!(r.head.contains("WWW-Authenticate: Basic"), "{}", r.head);
        let r = get(d.port, path, &["Authorization: Bearer wrong"]).expect("answers");
        assert_eq!(r.status, 401, "{path} with a wrong token");
        // "user:S3CRET": basic auth with a wrong password.
        let r = get(d.port, path, &["Authorization: Basic dXNlcjpTM0NSRVQ="]).expect("answers");
        assert_eq!(r.status, 401, "{path} with a wrong basic-auth password");
    }
    for path in ["/", "/metrics", "/api/status", "/snapshot.jpg"] {
        let r = get(d.port, path, &["Authorization: Bearer s3cret"]).expect("answers");
        assert_eq!(r.status, 200, "{path} with the bearer token");
        // "viewer:s3cret" in base64: browsers send this after the login prompt.
        let r = get(d.port, path, &["Authorization: Basic dmlld2VyOnMzY3JldA=="]).expect("answers");
        assert_eq!(r.status, 200, "{path} with basic auth");
    }
    let r = get(d.port, "/healthz", &[]).expect("answers");
    assert_eq!(r.status, 200, "health checks need no token");
    let m = get(d.port, "/metrics", &["Authorization: Bearer s3cret"]).expect("metrics");
    let text = String::from_utf8_lossy(&m.body);
    let unauthorized = text
        .lines()
        .find(|l| l.starts_with("edgepose_http_unauthorized_total "))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<u64>().ok());
    assert_eq!(unauthorized, Some(18), "refusals are counted");
    assert!(d.stop(Duration::from_secs(10)).success());
}

#[test]
fn metrics_answer_within_1s_while_20_idle_connections_are_open() {
    if skip_under_emulation(
        "metrics_answer_within_1s_while_20_idle_connections_are_open",
        SLOW_EMULATED,
    ) {
        return;
    }
    // The older key: daemon.metrics_port serves the same server without [http] enabled.
    let port = free_port();
    let mut child = Command::new(BIN)
        .args([
            "run",
            "--set",
            "source.width=160",
            "--set",
            "source.height=120",
        ])
        .args(["--set", &format!("daemon.metrics_port={port}")])
        .args(["--set", "daemon.stats_interval_s=0"])
        .stdout(Stdio::null())
        .spawn()
        .expect("daemon starts");
    let deadline = Instant::now() + START_BUDGET;
    while get(port, "/metrics", &[]).is_none_or(|r| r.status != 200) {
        assert!(Instant::now() < deadline, "metrics never answered");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Twenty clients connect and say nothing.
    let idle: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).expect("idle connection"))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..3 {
        let t = Instant::now();
        let r = get(port, "/metrics", &[]).expect("metrics answers");
        let took = t.elapsed();
        assert_eq!(r.status, 200);
        assert!(
            String::from_utf8_lossy(&r.body).contains("edgepose_published_total"),
            "Prometheus text"
        );
        assert!(
            took < Duration::from_secs(1),
            "a scrape took {took:?} with 20 idle connections open"
        );
    }
    drop(idle);
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().expect("wait");
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_viewer_that_never_reads_does_not_stop_the_pipeline_or_the_server() {
    if skip_under_emulation(
        "a_viewer_that_never_reads_does_not_stop_the_pipeline_or_the_server",
        SLOW_EMULATED,
    ) {
        return;
    }
    let Some(image) = person_image() else { return };
    let d = Daemon::start(
        &image,
        10.0,
        &[
            "--set".into(),
            "http.stream_max_fps=30".into(),
            "--set".into(),
            "http.jpeg_quality=100".into(),
        ],
    );
    // Two viewers that send a request and never read a byte.
    let stalled: Vec<TcpStream> = ["/stream.mjpg", "/events"]
        .iter()
        .map(|p| {
            let mut c = TcpStream::connect(("127.0.0.1", d.port)).expect("connect");
            write!(c, "GET {p} HTTP/1.1\r\nHost: x\r\n\r\n").expect("request");
            c
        })
        .collect();
    let p0 = status_json(d.port)["counters"]["published"]
        .as_u64()
        .unwrap_or(0);
    std::thread::sleep(Duration::from_secs(4));
    let s = status_json(d.port);
    let p1 = s["counters"]["published"].as_u64().unwrap_or(0);
    assert!(p1 >= p0 + 4, "the pipeline went on: {p0} → {p1}");
    assert_eq!(s["http"]["stream_viewers"], 1, "{s}");
    assert_eq!(get(d.port, "/healthz", &[]).map(|r| r.status), Some(200));
    drop(stalled);
    // Shutdown does not wait on the viewers.
    assert!(d.stop(Duration::from_secs(10)).success());
}
