//! End-to-end runs of the daemon binary: the built-in synthetic source and an image
//! directory (with corrupt frames) into the JSON-lines sink, config errors, and SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::emulation_allowance as allowance;
use crate::support::read_jsonl;

const BIN: &str = env!("CARGO_BIN_EXE_edgepose");

/// Shutdown budget after SIGTERM (the requirement is 2 s; the bound is the same here).
const SHUTDOWN_BUDGET: Duration = Duration::from_secs(2);

fn persons(frame: &serde_json::Value) -> &Vec<serde_json::Value> {
    frame["persons"].as_array().expect("persons array")
}

#[test]
fn synthetic_source_to_jsonl_yields_tracked_poses_inside_the_image() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("poses.jsonl");
    let status = Command::new(BIN)
        .args(["run", "--frames", "6", "--set"])
        .arg(format!("sinks.jsonl.path=\"{}\"", out.display()))
        .args([
            "--set",
            "source.width=320",
            "--set",
            "source.height=240",
            "--set",
            "source.people=2",
        ])
        .status()
        .expect("runs");
    assert!(status.success());
    let frames = read_jsonl(&out);
    assert_eq!(frames.len(), 6, "exactly --frames frames are published");
    let mut seqs: Vec<u64> = frames
        .iter()
        .map(|f| f["seq"].as_u64().expect("seq"))
        .collect();
    let sorted = {
        let mut s = seqs.clone();
        s.sort_unstable();
        s
    };
    assert_eq!(seqs, sorted, "frames are published in capture order");
    seqs.dedup();
    assert_eq!(seqs.len(), 6);
    let total: usize = frames.iter().map(|f| persons(f).len()).sum();
    assert!(
        total >= 3,
        "MoveNet finds the synthetic walkers ({total} persons in 6 frames)"
    );
    for f in &frames {
        assert_eq!(
            (f["width"].as_u64(), f["height"].as_u64()),
            (Some(320), Some(240))
        );
        for p in persons(f) {
            assert!(
                p["track_id"].as_u64().expect("track id") > 0,
                "tracked persons carry an id"
            );
            for k in p["keypoints"].as_array().expect("keypoints") {
                if let Some(k) = k.as_array() {
                    let (x, y) = (k[0].as_f64().expect("x"), k[1].as_f64().expect("y"));
                    assert!(
                        (-20.0..340.0).contains(&x) && (-20.0..260.0).contains(&y),
                        "{x},{y}"
                    );
                }
            }
        }
    }
}

#[test]
fn corrupt_truncated_and_empty_jpegs_are_skipped_and_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let imgs = dir.path().join("imgs");
    let st = Command::new(BIN)
        .args([
            "synth", "--count", "3", "--size", "256x192", "--seed", "7", "--out",
        ])
        .arg(dir.path().join("syn"))
        .status()
        .expect("synth runs");
    assert!(st.success());
    std::fs::create_dir_all(&imgs).expect("mkdir");
    for i in 0..3 {
        let src = dir.path().join(format!("syn/images/{i:06}.jpg"));
        std::fs::copy(&src, imgs.join(format!("a{i}.jpg"))).expect("copy");
    }
    let good = std::fs::read(imgs.join("a0.jpg")).expect("read");
    std::fs::write(imgs.join("b_truncated.jpg"), &good[..good.len() / 3]).expect("write");
    std::fs::write(imgs.join("c_empty.jpg"), b"").expect("write");
    std::fs::write(
        imgs.join("d_garbage.jpg"),
        b"\xff\xd8\xff\xe0 not really a jpeg",
    )
    .expect("write");
    let out = dir.path().join("poses.jsonl");
    let config = dir.path().join("edgepose.toml");
    std::fs::write(
        &config,
        format!(
            "[source]\nkind = \"images\"\npath = \"{}\"\n\n[sinks.jsonl]\npath = \"{}\"\n",
            imgs.display(),
            out.display()
        ),
    )
    .expect("config");
    let o = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&config)
        .output()
        .expect("runs");
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{log}");
    assert_eq!(
        read_jsonl(&out).len(),
        3,
        "the three good images are published"
    );
    for bad in ["b_truncated.jpg", "c_empty.jpg", "d_garbage.jpg"] {
        assert!(log.contains(bad), "the warning names {bad}: {log}");
    }
    assert!(log.contains("bad=3"), "bad frames are counted: {log}");
    assert!(!log.contains("panicked"));
}

#[test]
fn config_errors_name_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        ("[model]\nnaem = \"x\"\n", "naem"),
        ("[model.backend]\nthreads = 0\n", "model.backend.threads"),
        ("[tracker]\noks_threshold = \"high\"\n", "oks_threshold"),
        ("[source]\nkind = \"webcam\"\n", "webcam"),
    ];
    for (i, (text, key)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("c{i}.toml"));
        std::fs::write(&path, text).expect("write");
        let o = Command::new(BIN)
            .args(["config", "check"])
            .arg(&path)
            .output()
            .expect("runs");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{text} must be rejected");
        assert!(
            err.contains(key) && err.contains(&format!("c{i}.toml")),
            "error names {key}: {err}"
        );
        let o = Command::new(BIN)
            .args(["run", "--config"])
            .arg(&path)
            .output()
            .expect("runs");
        assert!(!o.status.success());
    }
    let o = Command::new(BIN)
        .args(["config", "default"])
        .output()
        .expect("runs");
    let default = dir.path().join("default.toml");
    std::fs::write(&default, &o.stdout).expect("write");
    let o = Command::new(BIN)
        .args(["config", "check"])
        .arg(&default)
        .output()
        .expect("runs");
    assert!(
        o.status.success(),
        "the printed default checks: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The built-in default daemon on a small synthetic scene, running until signalled.
fn spawn_small_daemon(extra: &[&str], stdout: Stdio) -> std::process::Child {
    Command::new(BIN)
        .args([
            "run",
            "--set",
            "source.width=320",
            "--set",
            "source.height=240",
        ])
        .args(extra)
        .stdout(stdout)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns")
}

#[test]
fn sigterm_stops_the_daemon_cleanly_and_quickly() {
    let mut child = spawn_small_daemon(&[], Stdio::piped());
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("a first frame").expect("readable");
    assert!(first.starts_with('{'), "JSON lines on stdout: {first}");
    let signalled = Instant::now();
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let deadline = signalled + SHUTDOWN_BUDGET + Duration::from_secs(3) + allowance();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("no exit within {:?} of SIGTERM", deadline - signalled);
        }
        // Keep reading so a full pipe never blocks the daemon.
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = signalled.elapsed();
    for l in lines.map_while(Result::ok) {
        assert!(
            serde_json::from_str::<serde_json::Value>(&l).is_ok(),
            "complete lines only: {l}"
        );
    }
    assert!(
        status.success(),
        "exit code 0 after SIGTERM, got {status:?}"
    );
    eprintln!("exited {took:?} after SIGTERM");
    assert!(
        took <= SHUTDOWN_BUDGET + Duration::from_secs(3) + allowance(),
        "took {took:?}"
    );
}

/// One HTTP GET on 127.0.0.1:`port`; `None` while nothing listens yet.
fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    // Read to the end: ask the (keep-alive) server to close after the reply.
    write!(
        conn,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    conn.read_to_string(&mut text).ok()?;
    Some(text)
}

/// The value of the first sample line of `metric` (any labels).
fn sample(body: &str, metric: &str) -> Option<f64> {
    body.lines()
        .find(|l| l.starts_with(&format!("{metric}{{")))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn prometheus_endpoint_reports_live_counters_and_latencies() {
    if crate::support::under_emulation() {
        // Needs 9+ frames in a minute; emulated, one frame takes tens of seconds.
        eprintln!(
            "skipped: prometheus_endpoint_reports_live_counters_and_latencies: too slow under \
             qemu-user (EDGEPOSE_QEMU=1); runs natively"
        );
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let metrics = format!("daemon.metrics_port={port}");
    let mut child = spawn_small_daemon(&["--set", &metrics], Stdio::null());
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while seen.len() < 2 && Instant::now() < deadline {
        if let Some(text) = http_get(port, "/metrics") {
            let published = sample(&text, "edgepose_published_total").unwrap_or(0.0);
            // The second scrape waits for more frames than the output-buffer pool holds, so
            // that a leak in the recycling would show in `output_buffers`.
            let wanted = if seen.is_empty() { 0.0 } else { 8.0 };
            if published > wanted && seen.last().is_none_or(|(p, _)| published > *p) {
                seen.push((published, text));
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().expect("wait");
    assert!(status.success(), "{status:?}");
    assert_eq!(seen.len(), 2, "two scrapes with growing frame counts");
    let (_, text) = &seen[1];
    let (head, body) = text.split_once("\r\n\r\n").expect("HTTP head and body");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    assert!(
        body.contains("# TYPE edgepose_published_total counter"),
        "{body}"
    );
    assert!(
        body.contains("model=\"movenet-multipose-lightning\""),
        "{body}"
    );
    let captured = sample(body, "edgepose_captured_total").expect("captured");
    let published = sample(body, "edgepose_published_total").expect("published");
    assert!(captured >= published && published > 0.0, "{body}");
    assert!(
        sample(body, "edgepose_persons_total").expect("persons") > 0.0,
        "the synthetic walkers are found: {body}"
    );
    let infer = sample(body, "edgepose_inference_ms").expect("inference quantile");
    let e2e = sample(body, "edgepose_end_to_end_ms").expect("end-to-end quantile");
    assert!(infer > 0.0 && infer.is_finite(), "{body}");
    assert!(
        e2e >= infer,
        "capture-to-publish includes inference: {body}"
    );
    let decode = sample(body, "edgepose_decode_ms").expect("decode quantile");
    let capture = sample(body, "edgepose_capture_ms").expect("capture quantile");
    assert!(
        decode >= 0.0 && decode.is_finite(),
        "decode thread ran: {body}"
    );
    assert!(capture > 0.0 && capture.is_finite(), "{body}");
    // Inference → decode hand-over: a fixed pool, recycled, however many frames ran.
    let buffers = sample(body, "edgepose_output_buffers_total").expect("output buffers");
    assert!(
        (1.0..=edgepose::pipeline::OUTPUT_BUFFERS as f64).contains(&buffers),
        "{buffers} output buffers for {published} frames: {body}"
    );
}

/// Without the `ort` feature the default `auto` runs tract and the start-up line says why.
#[cfg(not(feature = "ort"))]
#[test]
fn auto_backend_without_ort_runs_tract_and_says_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("poses.jsonl");
    let run = Command::new(BIN)
        .args(["run", "--frames", "1", "--set"])
        .arg(format!("sinks.jsonl.path=\"{}\"", out.display()))
        .env("RUST_LOG", "info")
        .output()
        .expect("runs");
    let log = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{log}");
    let started = log
        .lines()
        .find(|l| l.contains("pipeline started"))
        .unwrap_or_else(|| panic!("no start-up line:\n{log}"));
    assert!(started.contains("tract-cpu"), "{started}");
    assert!(started.contains("no onnxruntime"), "{started}");
    assert!(
        !log.contains("backend auto"),
        "no warning when tract is the only runtime:\n{log}"
    );
}
