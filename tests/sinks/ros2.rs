//! ROS 2 sink against an independent DDS implementation: Eclipse Cyclone DDS (PyPI
//! `cyclonedds`, in the project venv) subscribing with the message types declared in Python
//! IDL under their ROS 2 names (tests/support/ros2_listener.py). Discovery is unicast on
//! 127.0.0.1 (Cyclone's peers set explicitly; RustDDS announces to localhost itself), so no
//! multicast is needed. Skipped with a message without the venv module; fails under CI=true.
#![cfg(feature = "ros2")]

use crate::support::{require, sample_poses, venv_python_with};
use edgepose::pose::{CameraId, FramePoses, JsonFrame};
use edgepose::sink::{JsonlConfig, JsonlSink, Ros2Config, Ros2Sink, Sink};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

const LISTENER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/support/ros2_listener.py"
);
const BIN: &str = env!("CARGO_BIN_EXE_edgepose");
/// Discovery plus delivery on loopback takes well under a second; generous for slow CI.
const WAIT: Duration = Duration::from_secs(20);
/// Interval between frames the tests send (about 30 fps).
const FRAME_INTERVAL: Duration = Duration::from_millis(33);
/// Normalised-coordinate tolerance: JSON lines round pixels to 0.01 and scores to 0.001.
const TOL: f32 = 2e-3;

/// A domain of our own per test and process, so concurrent runs do not see each other.
fn domain(test: u16) -> u16 {
    10 + (std::process::id() % 40) as u16 * 5 + test
}

fn python() -> Option<PathBuf> {
    let p = venv_python_with("cyclonedds");
    require(
        p.is_some(),
        "Python module cyclonedds in models/.venv (pip install cyclonedds)",
    )
    .then_some(p)
    .flatten()
}

/// The Cyclone DDS subscriber process (killed by PID on drop) and its samples.
struct Listener {
    child: Child,
    rx: Receiver<Value>,
}

impl Listener {
    fn start(python: &Path, domain: u16, namespace: &str) -> Listener {
        let mut child = Command::new(python)
            .arg(LISTENER)
            .args(["--domain", &domain.to_string(), "--namespace", namespace])
            .args(["--seconds", "120"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the Cyclone DDS listener");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                let v: Value = serde_json::from_str(&line).expect("listener prints JSON");
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        let l = Listener { child, rx };
        l.wait(Duration::from_secs(30), |v| v["kind"] == "ready")
            .expect("listener ready");
        l
    }

    fn wait(&self, wait: Duration, mut pred: impl FnMut(&Value) -> bool) -> Option<Value> {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            match self.rx.recv_timeout(left) {
                Ok(v) if pred(&v) => return Some(v),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    /// Everything received so far.
    fn drain(&self) -> Vec<Value> {
        self.rx.try_iter().collect()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ros2_config(domain: u16) -> Ros2Config {
    Ros2Config {
        domain_id: Some(domain),
        frame_id: "test_cam".into(),
        ..Ros2Config::default()
    }
}

fn ids(v: &Value) -> Vec<String> {
    v["ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|s| s.as_str().expect("string id").to_owned())
        .collect()
}

/// Sends frames with `n` persons (track ids 10..) until the listener reports `want` as the
/// tracked list; returns the last seq used.
fn send_until_tracked(
    sinks: &mut [&mut dyn Sink],
    listener: &Listener,
    seq: &mut u64,
    n: usize,
    want: &[&str],
) {
    let deadline = Instant::now() + WAIT;
    loop {
        let frame = sample_poses(*seq, n);
        *seq += 1;
        for s in sinks.iter_mut() {
            s.send(&frame).expect("send");
        }
        let seen = listener.wait(FRAME_INTERVAL, |v| v["kind"] == "tracked" && ids(v) == want);
        if seen.is_some() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "tracked list {want:?} not seen within {WAIT:?}"
        );
    }
}

/// The hri_msgs/Skeleton2D points a JSON-lines person should have become (COCO-17 pixels ->
/// 18 normalised points, neck = shoulders' midpoint, missing = zeros).
fn expected_skeleton(frame: &JsonFrame, track_id: u32) -> [[f32; 3]; 18] {
    const COCO_FOR_HRI: [i32; 18] = [0, -1, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 1, 2, 3, 4];
    let p = frame
        .persons
        .iter()
        .find(|p| p.track_id == track_id)
        .expect("person in the JSON-lines frame");
    let (w, h) = (frame.width as f32, frame.height as f32);
    let norm = |k: Option<[f32; 3]>| match k {
        Some([x, y, c]) => [(x / w).clamp(0.0, 1.0), (y / h).clamp(0.0, 1.0), c],
        None => [0.0; 3],
    };
    let mut out = [[0.0; 3]; 18];
    for (o, c) in out.iter_mut().zip(COCO_FOR_HRI) {
        if c >= 0 {
            *o = norm(p.keypoints[c as usize]);
        }
    }
    if let (Some(l), Some(r)) = (p.keypoints[5], p.keypoints[6]) {
        out[1] = norm(Some([
            (l[0] + r[0]) / 2.0,
            (l[1] + r[1]) / 2.0,
            l[2].min(r[2]),
        ]));
    }
    out
}

fn assert_skeleton_matches(msg: &Value, frames: &[JsonFrame]) {
    let stamp = msg["stamp_us"].as_u64().expect("stamp");
    let id = msg["id"].as_str().expect("id");
    let track: u32 = id
        .strip_prefix('b')
        .and_then(|t| t.parse().ok())
        .expect("b<n> id");
    let frame = frames
        .iter()
        .find(|f| f.timestamp_us == stamp)
        .unwrap_or_else(|| panic!("no JSON-lines frame with the stamp {stamp}"));
    let want = expected_skeleton(frame, track);
    let got = msg["points"].as_array().expect("points");
    assert_eq!(got.len(), 18);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        for (j, wv) in w.iter().enumerate() {
            let gv = g[j].as_f64().expect("number") as f32;
            assert!(
                (gv - wv).abs() <= TOL,
                "body {id} stamp {stamp} point {i}[{j}]: got {gv}, JSON lines say {wv}"
            );
        }
    }
    assert_eq!(msg["frame_id"], "test_cam");
}

fn read_jsonl(path: &Path) -> Vec<JsonFrame> {
    std::fs::read_to_string(path)
        .expect("JSON lines written")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON frame"))
        .collect()
}

#[test]
fn people_entering_and_leaving_reach_cyclone_dds_with_the_json_lines_keypoints() {
    let Some(py) = python() else { return };
    let d = domain(0);
    let listener = Listener::start(&py, d, "/");
    let dir = tempfile::tempdir().expect("tempdir");
    let jsonl_path = dir.path().join("poses.jsonl");
    let mut jsonl = JsonlSink::open(&JsonlConfig {
        path: Some(jsonl_path.clone()),
        ..JsonlConfig::default()
    })
    .expect("jsonl sink");
    let mut ros = Ros2Sink::open(ros2_config(d)).expect("ros2 sink");
    let mut seq = 0;
    {
        let mut sinks: [&mut dyn Sink; 2] = [&mut jsonl, &mut ros];
        send_until_tracked(&mut sinks, &listener, &mut seq, 1, &["b10"]);
        send_until_tracked(&mut sinks, &listener, &mut seq, 2, &["b10", "b11"]);
        // Both bodies' skeletons flow (per-body readers are created on the first list).
        let deadline = Instant::now() + WAIT;
        let mut seen = std::collections::BTreeSet::new();
        let mut skeletons = Vec::new();
        while seen.len() < 2 {
            assert!(
                Instant::now() < deadline,
                "skeletons of b10 and b11: {seen:?}"
            );
            let frame = sample_poses(seq, 2);
            seq += 1;
            for s in sinks.iter_mut() {
                s.send(&frame).expect("send");
            }
            std::thread::sleep(FRAME_INTERVAL);
            for v in listener.drain() {
                if v["kind"] == "skeleton2d" {
                    seen.insert(v["id"].as_str().expect("id").to_owned());
                    skeletons.push(v);
                }
            }
        }
        send_until_tracked(&mut sinks, &listener, &mut seq, 1, &["b10"]);
        send_until_tracked(&mut sinks, &listener, &mut seq, 0, &[]);
        jsonl.flush().expect("flush jsonl");
        let frames = read_jsonl(&jsonl_path);
        assert_eq!(frames.len() as u64, seq, "every frame in the JSON lines");
        for v in &skeletons {
            assert_skeleton_matches(v, &frames);
        }
    }
    ros.close().expect("close");
    let stats = ros.stats();
    assert_eq!(stats.errors, 0, "{stats:?}");
    assert!(stats.sent > 0 && stats.sent <= seq, "{stats:?}");
}

#[test]
fn roi_and_detections_carry_boxes_scores_and_track_ids() {
    let Some(py) = python() else { return };
    let d = domain(1);
    // A named camera publishes one level below the namespace.
    let listener = Listener::start(&py, d, "/robot/front_left");
    let mut ros = Ros2Sink::open(Ros2Config {
        namespace: "/robot".into(),
        ..ros2_config(d)
    })
    .expect("ros2 sink");
    let mut seq = 0;
    let (mut roi, mut det) = (None, None);
    let deadline = Instant::now() + WAIT;
    while roi.is_none() || det.is_none() {
        assert!(Instant::now() < deadline, "roi {roi:?} detections {det:?}");
        let mut frame = sample_poses(seq, 2);
        frame.camera = Some(CameraId {
            index: 0,
            name: Arc::from("front-left"),
        });
        ros.send(&frame).expect("send");
        seq += 1;
        std::thread::sleep(FRAME_INTERVAL);
        for v in listener.drain() {
            match v["kind"].as_str() {
                Some("roi") if v["id"] == "b11" => roi = Some(v),
                Some("detections") => det = Some(v),
                _ => {}
            }
        }
    }
    let (roi, det) = (roi.expect("roi"), det.expect("detections"));
    let frame_of = |v: &Value| -> FramePoses {
        let stamp = v["stamp_us"].as_u64().expect("stamp");
        (0..seq)
            .map(|s| sample_poses(s, 2))
            .find(|f| f.timestamp_us == stamp)
            .expect("a sent frame")
    };
    let f = frame_of(&roi);
    let p = &f.persons[1];
    let (x0, y0, x1, y1) = p.bbox().expect("keypoints");
    let r: Vec<f32> = roi["roi"]
        .as_array()
        .expect("roi")
        .iter()
        .map(|v| v.as_f64().expect("number") as f32)
        .collect();
    let (w, h) = (f.width as f32, f.height as f32);
    let want = [
        (x0 / w).clamp(0.0, 1.0),
        (y0 / h).clamp(0.0, 1.0),
        (x1 / w).clamp(0.0, 1.0),
        (y1 / h).clamp(0.0, 1.0),
        p.score,
    ];
    for (g, w) in r.iter().zip(want) {
        assert!((g - w).abs() < 1e-5, "roi {r:?} vs {want:?}");
    }
    let f = frame_of(&det);
    let dets = det["detections"].as_array().expect("detections");
    assert_eq!(dets.len(), 2);
    for (d, p) in dets.iter().zip(&f.persons) {
        let (x0, y0, x1, y1) = p.bbox().expect("keypoints");
        assert_eq!(d["id"], format!("b{}", p.track_id));
        assert_eq!(d["class_id"], "person");
        let num = |k: &str| d[k].as_f64().expect("number");
        assert!((num("score") - f64::from(p.score)).abs() < 1e-6);
        assert!((num("cx") - f64::from(x0 + x1) / 2.0).abs() < 1e-3);
        assert!((num("w") - f64::from(x1 - x0)).abs() < 1e-3);
        assert!((num("h") - f64::from(y1 - y0)).abs() < 1e-3);
    }
    assert_eq!(det["frame_id"], "test_cam");
}

#[test]
fn survives_no_subscriber_and_a_subscriber_that_comes_and_goes() {
    let Some(py) = python() else { return };
    let d = domain(2);
    let mut ros = Ros2Sink::open(ros2_config(d)).expect("ros2 sink");
    let mut seq = 0;
    for _ in 0..30 {
        ros.send(&sample_poses(seq, 2))
            .expect("send without subscribers");
        seq += 1;
    }
    ros.flush().expect("flush without subscribers");
    assert_eq!(ros.stats().sent + ros.stats().dropped, 30);
    for round in 0..2 {
        let listener = Listener::start(&py, d, "/");
        send_until_tracked(&mut [&mut ros], &listener, &mut seq, 2, &["b10", "b11"]);
        drop(listener); // SIGKILL: the reader vanishes without saying goodbye
        let before = ros.stats().sent;
        for _ in 0..30 {
            ros.send(&sample_poses(seq, 2))
                .expect("send after the subscriber left");
            seq += 1;
            std::thread::sleep(Duration::from_millis(5));
        }
        ros.flush().expect("flush after the subscriber left");
        let s = ros.stats();
        assert!(
            s.sent + s.errors > before,
            "round {round}: still publishing: {s:?}"
        );
    }
    let started = Instant::now();
    ros.close().expect("close");
    assert!(started.elapsed() < Duration::from_secs(6));
    assert!(ros.send(&sample_poses(seq, 1)).is_err(), "closed");
}

#[test]
fn daemon_publishes_the_poses_its_json_lines_sink_writes() {
    let Some(py) = python() else { return };
    let d = domain(3);
    let listener = Listener::start(&py, d, "/");
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("poses.jsonl");
    let status = Command::new(BIN)
        .args(["run", "--frames", "30"])
        .args(["--set", &format!("sinks.jsonl.path=\"{}\"", out.display())])
        .args(["--set", &format!("sinks.ros2.domain_id={d}")])
        .args(["--set", "sinks.ros2.frame_id=\"test_cam\""])
        .args(["--set", "source.width=320", "--set", "source.height=240"])
        .args(["--set", "source.people=2", "--set", "source.fps=10"])
        .args(["--set", "source.realtime=true"])
        .stdout(Stdio::null())
        .status()
        .expect("daemon runs");
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(500));
    let frames = read_jsonl(&out);
    assert_eq!(frames.len(), 30);
    let got = listener.drain();
    let skeletons: Vec<&Value> = got.iter().filter(|v| v["kind"] == "skeleton2d").collect();
    assert!(
        skeletons.len() >= 5,
        "skeletons received from the daemon: {}",
        skeletons.len()
    );
    for v in &skeletons {
        assert_skeleton_matches(v, &frames);
    }
    for v in got.iter().filter(|v| v["kind"] == "tracked") {
        let stamp = v["stamp_us"].as_u64().expect("stamp");
        let want: Vec<String> = match frames.iter().find(|f| f.timestamp_us == stamp) {
            Some(f) => f
                .persons
                .iter()
                .filter(|p| p.track_id != 0)
                .map(|p| format!("b{}", p.track_id))
                .collect(),
            None => {
                assert!(ids(v).is_empty(), "only the goodbye list has no frame: {v}");
                continue;
            }
        };
        assert_eq!(ids(v), want, "tracked ids at {stamp}");
    }
}
