//! Network cameras against real servers on 127.0.0.1: ffmpeg's HTTP server (`-listen 1`)
//! serving multipart MJPEG, and GStreamer's RTSP server (tests/bin/rtsp-server.py) serving
//! RTP/JPEG. Each stream is read (size reported, colours right), goes away (the source
//! reports it) and comes back (the source reconnects on its own); the newest frame wins.
//! Needs ffmpeg, and for RTSP `gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good
//! python3-gi` (all installed by .ci/run): skipped with a message when missing, a failure
//! under CI=true.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use edgepose::source::stream::{StreamConfig, StreamSource};
use edgepose::source::{Frame, Source};
use image::RgbImage;

/// The served colour (0x3366cc) and how far lossy JPEG and YUV round trips may move it.
const COLOUR: [u8; 3] = [0x33, 0x66, 0xcc];
const COLOUR_TOLERANCE: f64 = 20.0;
/// Generous: a frame normally arrives within a second of (re)connecting.
const FRAME_LIMIT: Duration = Duration::from_secs(15);
/// The system Python, where Debian's GObject introspection bindings live.
const SYSTEM_PYTHON: &str = "/usr/bin/python3";

fn have_ffmpeg() -> bool {
    crate::support::require(
        crate::support::have_program("ffmpeg", "-version")
            && crate::support::have_program("ffprobe", "-version"),
        "ffmpeg/ffprobe (apt install ffmpeg)",
    )
}

fn have_rtsp_server() -> bool {
    let ok = Command::new(SYSTEM_PYTHON)
        .args([
            "-c",
            "import gi; gi.require_version('GstRtspServer', '1.0'); \
             from gi.repository import GstRtspServer",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    crate::support::require(
        ok,
        "GStreamer's RTSP server for Python (apt install gir1.2-gst-rtsp-server-1.0 \
         gstreamer1.0-plugins-good python3-gi)",
    )
}

fn mean_colour(img: &RgbImage) -> [f64; 3] {
    let mut sum = [0f64; 3];
    for p in img.pixels() {
        for (s, v) in sum.iter_mut().zip(p.0) {
            *s += f64::from(v);
        }
    }
    let n = f64::from(img.width() * img.height());
    sum.map(|s| s / n)
}

fn assert_colour(f: &Frame, what: &str) {
    let m = mean_colour(&f.image);
    for c in 0..3 {
        assert!(
            (m[c] - f64::from(COLOUR[c])).abs() < COLOUR_TOLERANCE,
            "{what}: mean colour {m:?}, served {COLOUR:?}"
        );
    }
}

/// Next frame within `limit`, collecting the errors on the way.
fn frame_within(src: &mut StreamSource, limit: Duration, errors: &mut Vec<String>) -> Frame {
    let start = Instant::now();
    loop {
        match src.next_frame() {
            Ok(Some(f)) => return f,
            Ok(None) => panic!("a stream never ends"),
            Err(e) => errors.push(e.to_string()),
        }
        assert!(
            start.elapsed() < limit,
            "no frame within {limit:?}; errors: {errors:?}"
        );
    }
}

/// A server process restarted whenever it exits (ffmpeg's `-listen 1` serves one client),
/// until paused or dropped; killed by PID.
struct Server {
    child: Arc<Mutex<Option<Child>>>,
    paused: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(spawn: impl Fn() -> Child + Send + 'static) -> Server {
        let child: Arc<Mutex<Option<Child>>> = Arc::new(Mutex::new(Some(spawn())));
        let (paused, stop) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let thread = {
            let (child, paused, stop) = (child.clone(), paused.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    {
                        let mut c = child.lock().unwrap();
                        let exited = match c.as_mut() {
                            Some(ch) => ch.try_wait().ok().flatten().is_some(),
                            None => true,
                        };
                        if exited && !paused.load(Ordering::Relaxed) {
                            *c = Some(spawn());
                        }
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        Server {
            child,
            paused,
            stop,
            thread: Some(thread),
        }
    }

    /// Kills the server and keeps it down until [`Server::resume`].
    fn drop_connection(&self) {
        self.paused.store(true, Ordering::Relaxed);
        if let Some(mut c) = self.child.lock().unwrap().take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn resume(&self) {
        self.paused.store(false, Ordering::Relaxed);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.drop_connection();
    }
}

/// Whether a socket listens on 127.0.0.1:`port`, read from /proc/net/tcp: connecting to find
/// out would use up ffmpeg's one `-listen 1` client.
fn listening(port: u16) -> bool {
    let want = format!("0100007F:{port:04X}");
    std::fs::read_to_string("/proc/net/tcp").is_ok_and(|t| {
        t.lines().skip(1).any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[1] == want && f[3] == "0A"
        })
    })
}

/// Waits until something listens on `port`.
fn wait_listening(port: u16) {
    let start = Instant::now();
    while !listening(port) {
        assert!(
            start.elapsed() < FRAME_LIMIT,
            "server on {port} never listened"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stream_config(url: String) -> StreamConfig {
    let mut c = StreamConfig::new(url);
    c.reconnect_initial_ms = 100;
    c.reconnect_max_ms = 400;
    c.stall_timeout_ms = 2_000;
    c
}

/// Reads, loses and regains a stream served by `server`.
fn read_drop_reconnect(server: &Server, url: String, what: &str) {
    let mut src = StreamSource::open(&stream_config(url)).unwrap();
    let info = src.info();
    assert_eq!((info.width, info.height), (320, 240), "{what}: {info:?}");
    assert!(src.describe().contains("320x240"), "{}", src.describe());
    assert!(src.is_live());
    let mut errors = Vec::new();
    for _ in 0..3 {
        let f = frame_within(&mut src, FRAME_LIMIT, &mut errors);
        assert_eq!(f.image.dimensions(), (320, 240));
        assert_colour(&f, what);
    }

    // Newest frame wins: after a pause the frame handed out is fresh, the backlog replaced.
    std::thread::sleep(Duration::from_millis(1_000));
    let f = frame_within(&mut src, FRAME_LIMIT, &mut errors);
    let age_ms = (edgepose_now_us().saturating_sub(f.timestamp_us)) / 1000;
    assert!(
        age_ms < 300,
        "{what}: frame is {age_ms} ms old after a pause"
    );
    assert!(src.stats().replaced >= 5, "{what}: {:?}", src.stats());

    // The camera goes away: the source says so, and does not deliver stale frames.
    let starts_before = src.stats().starts;
    server.drop_connection();
    let t = Instant::now();
    let mut saw_error = false;
    while t.elapsed() < Duration::from_secs(3) {
        // Frames already in flight when the server died may still come first.
        if let Err(e) = src.next_frame() {
            saw_error = true;
            assert!(e.to_string().contains("stream"), "{e}");
            break;
        }
    }
    assert!(saw_error, "{what}: no error after the server went away");

    // It comes back: the source reconnects by itself.
    server.resume();
    let f = frame_within(&mut src, FRAME_LIMIT, &mut errors);
    assert_colour(&f, what);
    assert!(
        src.stats().starts > starts_before,
        "{what}: {:?}",
        src.stats()
    );
}

fn edgepose_now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

#[test]
fn http_mjpeg_stream_is_read_dropped_and_reconnected() {
    if !have_ffmpeg() {
        return;
    }
    let port = crate::support::free_port();
    let url = format!("http://127.0.0.1:{port}/cam.mjpg");
    let served = url.clone();
    let server = Server::start(move || {
        Command::new("ffmpeg")
            .args(["-hide_banner", "-nostdin", "-loglevel", "quiet", "-re"])
            .args(["-f", "lavfi", "-i", "color=c=0x3366cc:s=320x240:r=15"])
            .args(["-c:v", "mjpeg", "-q:v", "3", "-f", "mpjpeg", "-listen", "1"])
            .arg(&served)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ffmpeg HTTP server")
    });
    wait_listening(port);
    read_drop_reconnect(&server, url, "http");
}

#[test]
fn rtsp_stream_is_read_dropped_and_reconnected() {
    if !have_ffmpeg() || !have_rtsp_server() {
        return;
    }
    let port = crate::support::free_port();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/bin/rtsp-server.py");
    let server = Server::start(move || {
        Command::new(SYSTEM_PYTHON)
            .args([script, &port.to_string(), "3366cc"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("RTSP server")
    });
    wait_listening(port);
    read_drop_reconnect(&server, format!("rtsp://127.0.0.1:{port}/cam"), "rtsp");
}

#[test]
fn unreachable_and_silent_streams_fail_at_open_with_the_url() {
    if !have_ffmpeg() {
        return;
    }
    // Nothing listens: ffprobe's connection error names the URL.
    let port = crate::support::free_port();
    let url = format!("rtsp://127.0.0.1:{port}/cam");
    let err = StreamSource::open(&stream_config(url.clone()))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains(&url) && err.contains("ffprobe"), "{err}");

    // Something accepts and says nothing: the probe deadline ends the wait.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut c = stream_config(format!("http://127.0.0.1:{port}/x.mjpg"));
    c.probe_timeout_ms = 1_000;
    let t = Instant::now();
    let err = StreamSource::open(&c).err().unwrap().to_string();
    assert!(err.contains("no answer") && err.contains("1.0 s"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    drop(listener);
}
