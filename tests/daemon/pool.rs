//! The daemon with a pool of inference workers, several cameras and supervision: two
//! synthetic cameras into a real mosquitto and JSON lines, results in capture order with two
//! workers, a stage panic (test-only fault hook) ending the daemon non-zero within 2 s, the
//! systemd watchdog pings stopping while a source stalls (fake NOTIFY_SOCKET), and SIGHUP
//! reloading the configuration.

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::{free_port, require, subscribe, Mosquitto};

const BIN: &str = env!("CARGO_BIN_EXE_edgepose");
/// The test-only fault hook's variable (`edgepose::pipeline::supervise::FAULT_ENV`).
const FAULT_ENV: &str = edgepose::pipeline::supervise::FAULT_ENV;

fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

/// Reads `child`'s stderr on a thread: each line with the instant it arrived.
fn stderr_lines(child: &mut Child) -> mpsc::Receiver<(Instant, String)> {
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send((Instant::now(), line)).is_err() {
                return;
            }
        }
    });
    rx
}

/// Waits for `child` to exit, up to `wait`; kills it (by PID) and fails after that.
fn wait_exit(child: &mut Child, wait: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + wait;
    loop {
        if let Some(s) = child.try_wait().expect("wait") {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the daemon did not exit within {wait:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn signal(child: &Child, sig: &str) {
    let st = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(st.success());
}

const TWO_CAMERAS: &str = r#"
[daemon]
device_id = 7
stats_interval_s = 0.5
[model]
workers = 2
[sources.front]
kind = "synthetic"
width = 192
height = 144
people = 2
seed = 1
[sources.rear]
kind = "synthetic"
width = 160
height = 120
people = 1
seed = 2
"#;

#[test]
fn two_cameras_reach_mqtt_and_json_lines_with_their_names_and_topics() {
    if !require(Mosquitto::available(), "mosquitto") {
        return;
    }
    let broker = Mosquitto::start(free_port());
    let rx = subscribe(broker.port, "edgepose/robot/#", "pool-test-sub");
    wait_subscribed(broker.port, &rx);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("poses.jsonl");
    let conf = dir.path().join("edgepose.toml");
    std::fs::write(
        &conf,
        format!(
            "{TWO_CAMERAS}\n[sinks.jsonl]\npath = \"{}\"\n[sinks.mqtt]\nurl = \"{}\"\ndevice = \"robot\"\njson = true\n",
            out.display(),
            broker.url()
        ),
    )
    .expect("write config");
    let frames = 24u64;
    let status = Command::new(BIN)
        .args(["run", "--frames", &frames.to_string(), "--config"])
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("runs");
    assert!(status.success(), "{status:?}");

    // JSON lines: every frame names its camera; each camera in capture order; both served.
    let lines = read_jsonl(&out);
    assert_eq!(lines.len() as u64, frames);
    for (name, index, width) in [("front", 0, 192), ("rear", 1, 160)] {
        let cam: Vec<&serde_json::Value> = lines
            .iter()
            .filter(|l| l["camera"].as_str() == Some(name))
            .collect();
        assert!(
            cam.len() as u64 >= frames * 35 / 100,
            "camera {name} got {} of {frames} frames: the workers serve cameras in turn",
            cam.len()
        );
        let seqs: Vec<u64> = cam.iter().filter_map(|l| l["seq"].as_u64()).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{name}: {seqs:?}");
        for l in &cam {
            assert_eq!(l["camera_index"].as_u64(), Some(index), "{l}");
            assert_eq!(l["version"].as_u64(), Some(2), "{l}");
            assert_eq!(l["width"].as_u64(), Some(width), "{l}");
            assert_eq!(l["device_id"].as_u64(), Some(7), "{l}");
        }
    }
    assert!(lines.iter().all(|l| l["camera"].is_string()));

    // MQTT: per-camera topics, wire version 2 with the camera index, JSON twins named.
    let mut seen: Vec<(String, Vec<u8>)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok((topic, payload, _)) => seen.push((topic, payload)),
            Err(_) if seen.len() as u64 >= 2 * frames => break,
            Err(_) => {}
        }
    }
    for (name, index) in [("front", 0u8), ("rear", 1u8)] {
        let poses_topic = format!("edgepose/robot/{name}/poses");
        let wire: Vec<_> = seen.iter().filter(|(t, _)| *t == poses_topic).collect();
        assert!(
            !wire.is_empty(),
            "nothing on {poses_topic}: {:?}",
            topics(&seen)
        );
        for (_, payload) in &wire {
            let mut bytes = payload.clone();
            let f = edgepose_wire::decode_frame(&mut bytes).expect("a valid wire frame");
            assert_eq!((f.version, f.camera, f.device_id), (2, index, 7));
        }
        let json_topic = format!("{poses_topic}/json");
        let json: Vec<_> = seen.iter().filter(|(t, _)| *t == json_topic).collect();
        assert_eq!(
            json.len(),
            wire.len(),
            "one JSON twin per frame on {json_topic}"
        );
        let v: serde_json::Value = serde_json::from_slice(&json[0].1).expect("JSON payload");
        assert_eq!(v["camera"].as_str(), Some(name));
    }
    assert!(
        !seen.iter().any(|(t, _)| t == "edgepose/robot/poses"),
        "named cameras do not use the single-camera topic"
    );
    drop(broker);
}

/// Publishes a probe under the subscriber's filter until it arrives: the subscription is
/// active before the daemon publishes anything.
fn wait_subscribed(port: u16, rx: &mpsc::Receiver<(String, Vec<u8>, bool)>) {
    use rumqttc::{Client, MqttOptions, QoS};
    let (client, mut conn) = Client::new(MqttOptions::new("pool-test-probe", "127.0.0.1", port), 8);
    std::thread::spawn(move || {
        // Ends at the first error (the disconnect below, or the broker going away).
        for event in conn.iter() {
            if event.is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let _ = client.try_publish(
            "edgepose/robot/probe",
            QoS::AtMostOnce,
            false,
            b"p".to_vec(),
        );
        let got = crate::support::wait_for(rx, Duration::from_millis(300), |t, _, _| {
            t == "edgepose/robot/probe"
        });
        if got.is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the test subscriber never got its probe"
        );
    }
    let _ = client.try_disconnect();
}

fn topics(seen: &[(String, Vec<u8>)]) -> Vec<&str> {
    let mut t: Vec<&str> = seen.iter().map(|(t, _)| t.as_str()).collect();
    t.dedup();
    t
}

#[test]
fn two_workers_publish_in_capture_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("poses.jsonl");
    let status = Command::new(BIN)
        .args(["run", "--frames", "20", "--set", "model.workers=2"])
        .args(["--set", "source.width=192", "--set", "source.height=144"])
        .arg("--set")
        .arg(format!("sinks.jsonl.path=\"{}\"", out.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("runs");
    assert!(status.success(), "{status:?}");
    let lines = read_jsonl(&out);
    assert_eq!(lines.len(), 20);
    let seqs: Vec<u64> = lines.iter().filter_map(|l| l["seq"].as_u64()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    // The single [source] keeps its single-camera form.
    assert!(lines.iter().all(|l| l.get("camera").is_none()));
    assert!(lines.iter().all(|l| l["version"].as_u64() == Some(1)));
}

/// Runs the default daemon with the fault hook set to `fault`; returns the time from the
/// panic message to the exit, the exit status and stderr.
fn run_with_panic(fault: &str, extra: &[&str]) -> (Duration, std::process::ExitStatus, String) {
    let mut child = Command::new(BIN)
        .args([
            "run",
            "--set",
            "source.width=160",
            "--set",
            "source.height=120",
        ])
        .args(extra)
        .env(FAULT_ENV, fault)
        // As under systemd: no backtrace, whose symbolisation (debug build) takes a second.
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    let lines = stderr_lines(&mut child);
    let mut text = String::new();
    let mut panicked_at = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    while panicked_at.is_none() && Instant::now() < deadline {
        if let Ok((at, l)) = lines.recv_timeout(Duration::from_millis(200)) {
            if l.contains("panicked") {
                panicked_at = Some(at);
            }
            text.push_str(&l);
            text.push('\n');
        }
    }
    let at = panicked_at.unwrap_or_else(|| {
        let _ = child.kill();
        panic!("no panic reported: {text}")
    });
    let status = wait_exit(&mut child, Duration::from_secs(30));
    let took = at.elapsed();
    while let Ok((_, l)) = lines.recv_timeout(Duration::from_millis(200)) {
        text.push_str(&l);
        text.push('\n');
    }
    (took, status, text)
}

#[test]
fn a_panicking_stage_ends_the_daemon_non_zero_within_two_seconds() {
    let allowance = crate::support::emulation_allowance();
    for (fault, stage, extra) in [
        ("panic:decode", "decode", &[][..]),
        ("panic:infer", "infer-", &["--set", "model.workers=2"][..]),
    ] {
        let (took, status, text) = run_with_panic(fault, extra);
        eprintln!("{fault}: exited {took:?} after the panic message");
        assert!(!status.success(), "{fault}: exit status {status:?}");
        assert!(
            took <= Duration::from_secs(2) + allowance,
            "{fault}: exited {took:?} after the panic"
        );
        assert!(
            text.contains(&format!("pipeline stage '{stage}")),
            "{fault}: the stage is named: {text}"
        );
    }
}

#[test]
fn a_stalled_source_stops_the_watchdog_pings_until_frames_flow_again() {
    if crate::support::skip_under_emulation(
        "a_stalled_source_stops_the_watchdog_pings_until_frames_flow_again",
        "watchdog timing needs native speed",
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("bind the fake notify socket");
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let stall = Duration::from_millis(2500);
    let mut child = Command::new(BIN)
        .args([
            "run",
            "--set",
            "source.width=160",
            "--set",
            "source.height=120",
        ])
        .args([
            "--set",
            "source.frame_timeout_ms=400",
            "--set",
            "source.realtime=true",
        ])
        .args(["--set", "source.fps=20"])
        .env("NOTIFY_SOCKET", &sock_path)
        // Ping every 100 ms (half the watchdog period).
        .env("WATCHDOG_USEC", "200000")
        .env_remove("WATCHDOG_PID")
        .env(FAULT_ENV, format!("stall:10:{}", stall.as_millis()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    let lines = stderr_lines(&mut child);
    let mut pings: Vec<Instant> = Vec::new();
    let mut ready = None;
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(60);
    // Collect until pings resumed for a while after the stall (or the deadline).
    while Instant::now() < deadline {
        if let Ok(n) = sock.recv(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            if msg.lines().any(|l| l == "READY=1") {
                ready = Some(Instant::now());
            }
            if msg.lines().any(|l| l == "WATCHDOG=1") {
                pings.push(Instant::now());
            }
        }
        let gap = pings
            .windows(2)
            .position(|w| w[1] - w[0] >= Duration::from_millis(1500));
        if gap.is_some_and(|i| pings.len() >= i + 6) {
            break;
        }
    }
    signal(&child, "-TERM");
    let status = wait_exit(&mut child, Duration::from_secs(20));
    let mut text = String::new();
    while let Ok((_, l)) = lines.recv_timeout(Duration::from_millis(300)) {
        text.push_str(&l);
        text.push('\n');
    }
    assert!(status.success(), "{status:?}: {text}");
    assert!(ready.is_some(), "READY=1 sent: {text}");
    let gap_at = pings
        .windows(2)
        .position(|w| w[1] - w[0] >= Duration::from_millis(1500))
        .unwrap_or_else(|| panic!("no gap in {} pings: {text}", pings.len()));
    assert!(
        gap_at >= 2,
        "pings while frames flowed before the stall ({gap_at})"
    );
    let gap = pings[gap_at + 1] - pings[gap_at];
    eprintln!(
        "{} pings, {} before a gap of {gap:?} (source stalled for {stall:?})",
        pings.len(),
        gap_at + 1
    );
    assert!(
        gap < stall + Duration::from_millis(1500),
        "pings resume once frames flow again (gap {gap:?})"
    );
    assert!(pings.len() >= gap_at + 6, "pings continue after the stall");
    // Between consecutive pings outside the gap: about the configured 100 ms.
    let steady = pings[..=gap_at].windows(2).map(|w| w[1] - w[0]).max();
    assert!(
        steady.is_some_and(|d| d < Duration::from_millis(800)),
        "{steady:?}"
    );
    assert!(text.contains("no frame for 400 ms"), "{text}");
    assert!(text.contains("frames flow again"), "{text}");
}

#[test]
fn sighup_reloads_the_configuration() {
    if crate::support::skip_under_emulation(
        "sighup_reloads_the_configuration",
        "two daemon runs of the default model, several frames each (minutes emulated)",
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"));
    let conf = dir.path().join("edgepose.toml");
    let write = |out: &Path| {
        std::fs::write(
            &conf,
            format!(
                "[source]\nkind = \"synthetic\"\nwidth = 160\nheight = 120\n[sinks.jsonl]\npath = \"{}\"\n",
                out.display()
            ),
        )
        .expect("write config")
    };
    write(&a);
    let mut child = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    let lines = stderr_lines(&mut child);
    let until = |path: &Path, what: &str| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while read_jsonl(path).len() < 3 {
            assert!(Instant::now() < deadline, "no frames in {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    until(&a, "the first output");
    write(&b);
    signal(&child, "-HUP");
    until(&b, "the reloaded output");
    signal(&child, "-TERM");
    let status = wait_exit(&mut child, Duration::from_secs(20));
    let mut text = String::new();
    while let Ok((_, l)) = lines.recv_timeout(Duration::from_millis(300)) {
        text.push_str(&l);
        text.push('\n');
    }
    assert!(status.success(), "{status:?}: {text}");
    assert!(
        text.contains("SIGHUP: reloading the configuration"),
        "{text}"
    );
    assert_eq!(
        text.matches("stopped frames=").count(),
        2,
        "a summary per run: {text}"
    );
    // The first run's output is complete JSON lines (the sink was closed cleanly).
    assert!(read_jsonl(&a).len() >= 3);
}
