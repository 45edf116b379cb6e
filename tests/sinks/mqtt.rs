//! MQTT sink against a real mosquitto broker on 127.0.0.1 (started and killed by PID):
//! delivery, JSON topic, retained status, Last Will on SIGKILL, broker restart.
//! Skipped with a message when mosquitto is missing; fails under CI=true.

use crate::support::{free_port, require, sample_poses, subscribe, wait_for, Mosquitto};
use edgepose::pose::JsonFrame;
use edgepose::sink::mqtt::{STATUS_OFFLINE, STATUS_ONLINE};
use edgepose::sink::{to_wire, MqttConfig, MqttSink, Sink};
use edgepose::wire::{PoseFrame, StreamDecoder};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);
/// Env var that turns `child_sink_process` into a long-running sink (the Last Will test).
const CHILD_ENV: &str = "EDGEPOSE_TEST_MQTT_CHILD_PORT";

fn config(port: u16, device: &str) -> MqttConfig {
    MqttConfig {
        url: format!("mqtt://127.0.0.1:{port}"),
        device: device.into(),
        device_id: 3,
        keep_alive_s: 5,
        json: true,
        queue_len: 8,
        reconnect_min_ms: 50,
        reconnect_max_ms: 300,
        ..MqttConfig::default()
    }
}

fn decode(payload: &[u8]) -> PoseFrame {
    let mut dec = StreamDecoder::new();
    let mut frames: Vec<_> = dec.feed(payload).collect();
    assert_eq!(frames.len(), 1, "one complete frame per payload");
    frames.remove(0).expect("valid wire frame")
}

fn is_status(topic: &str, payload: &[u8], device: &str, value: &str) -> bool {
    topic == format!("edgepose/{device}/status") && payload == value.as_bytes()
}

#[test]
fn frames_json_and_status_reach_subscribers() {
    if !require(Mosquitto::available(), "mosquitto") {
        return;
    }
    let broker = Mosquitto::start(free_port());
    let rx = subscribe(broker.port, "edgepose/#", "t-sub-1");
    std::thread::sleep(Duration::from_millis(300)); // let the subscription settle
    let mut sink = MqttSink::open(config(broker.port, "cam1")).expect("open");
    assert!(
        wait_for(&rx, WAIT, |t, p, _| is_status(t, p, "cam1", STATUS_ONLINE)).is_some(),
        "status online"
    );
    for seq in 0..5 {
        sink.send(&sample_poses(seq, 4)).expect("send");
    }
    let mut wire = Vec::new();
    let mut json = Vec::new();
    let deadline = Instant::now() + WAIT;
    while (wire.len() < 5 || json.len() < 5) && Instant::now() < deadline {
        if let Ok((topic, payload, _)) = rx.recv_timeout(Duration::from_millis(100)) {
            match topic.as_str() {
                "edgepose/cam1/poses" => wire.push(decode(&payload)),
                "edgepose/cam1/poses/json" => {
                    json.push(serde_json::from_slice::<JsonFrame>(&payload).expect("JSON frame"))
                }
                _ => {}
            }
        }
    }
    let expected: Vec<PoseFrame> = (0..5).map(|s| to_wire(&sample_poses(s, 4), 3)).collect();
    assert_eq!(wire, expected);
    let expected_json: Vec<JsonFrame> = (0..5)
        .map(|s| JsonFrame::from_poses(&sample_poses(s, 4), 3))
        .collect();
    assert_eq!(json, expected_json);
    sink.flush().expect("flush while connected");
    assert_eq!(sink.stats().sent, 5);
    sink.close().expect("clean close");
    assert!(
        wait_for(&rx, WAIT, |t, p, _| is_status(t, p, "cam1", STATUS_OFFLINE)).is_some(),
        "status offline after close"
    );
    // A late subscriber gets the retained status.
    let late = subscribe(broker.port, "edgepose/cam1/status", "t-sub-late");
    let m = wait_for(&late, WAIT, |_, _, _| true).expect("retained status");
    assert_eq!((m.1.as_slice(), m.2), (STATUS_OFFLINE.as_bytes(), true));
}

/// Not a test of its own: with CHILD_ENV set it runs a sink until killed (see below).
#[test]
fn child_sink_process() {
    let Ok(port) = std::env::var(CHILD_ENV) else {
        return;
    };
    let port: u16 = port.parse().expect("port");
    let mut sink = MqttSink::open(config(port, "doomed")).expect("open");
    for seq in 0.. {
        let _ = sink.send(&sample_poses(seq, 1));
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn last_will_announces_an_abrupt_death() {
    if !require(Mosquitto::available(), "mosquitto") {
        return;
    }
    let broker = Mosquitto::start(free_port());
    let rx = subscribe(broker.port, "edgepose/doomed/#", "t-sub-2");
    std::thread::sleep(Duration::from_millis(300));
    let exe = std::env::current_exe().expect("test binary path");
    // The test's full name in this binary: its module path without the crate name.
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    let child_test = format!("{module}::child_sink_process");
    let mut child = Command::new(exe)
        .args(["--exact", &child_test, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, broker.port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child sink");
    let online = wait_for(&rx, WAIT, |t, p, _| {
        is_status(t, p, "doomed", STATUS_ONLINE)
    });
    let frame = wait_for(&rx, WAIT, |t, _, _| t == "edgepose/doomed/poses");
    child.kill().expect("SIGKILL the child"); // std sends SIGKILL on Unix
    let _ = child.wait();
    assert!(online.is_some() && frame.is_some(), "child was publishing");
    let will = wait_for(&rx, WAIT, |t, p, _| {
        is_status(t, p, "doomed", STATUS_OFFLINE)
    });
    assert!(will.is_some(), "Last Will 'offline' after SIGKILL");
}

#[test]
fn sink_reconnects_after_broker_restart() {
    if !require(Mosquitto::available(), "mosquitto") {
        return;
    }
    let port = free_port();
    let broker = Mosquitto::start(port);
    let rx = subscribe(port, "edgepose/phoenix/poses", "t-sub-3");
    std::thread::sleep(Duration::from_millis(300));
    let mut sink = MqttSink::open(config(port, "phoenix")).expect("open");
    let deadline = Instant::now() + WAIT;
    let mut seq = 0;
    let mut before = None;
    while before.is_none() && Instant::now() < deadline {
        sink.send(&sample_poses(seq, 2)).expect("send");
        seq += 1;
        before = wait_for(&rx, Duration::from_millis(50), |_, _, _| true);
    }
    assert!(before.is_some(), "delivery before the restart");

    drop(broker); // kill mosquitto
    let down_deadline = Instant::now() + WAIT;
    while sink.is_connected() && Instant::now() < down_deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!sink.is_connected(), "sink noticed the broker is gone");
    for s in 1000..1040 {
        sink.send(&sample_poses(s, 2))
            .expect("send never fails while the broker is down");
    }
    let s = sink.stats();
    assert!(s.dropped >= 30, "bounded queue (8) drops the oldest: {s:?}");
    let _broker = Mosquitto::start(port);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut after = None;
    let mut seq = 2000;
    while after.is_none() && Instant::now() < deadline {
        sink.send(&sample_poses(seq, 2)).expect("send");
        seq += 1;
        after = wait_for(&rx, Duration::from_millis(50), |_, p, _| {
            decode(p).seq >= 1000
        });
    }
    let (_, payload, _) = after.expect("delivery resumes after the broker restarts");
    let f = decode(&payload);
    assert_eq!(f, to_wire(&sample_poses(f.seq, 2), 3));
    let s = sink.stats();
    assert!(s.connects >= 2 && s.errors >= 1, "{s:?}");
    sink.close().expect("clean close");
}
