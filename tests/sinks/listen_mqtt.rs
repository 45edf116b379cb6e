//! `edgepose listen --mqtt` end to end: the MQTT sink publishes to a real mosquitto broker and
//! the listen command prints the frames as JSON lines. Skipped without mosquitto (fails under
//! CI=true).

use crate::support::{free_port, require, sample_poses, Mosquitto};
use edgepose::pose::JsonFrame;
use edgepose::sink::{to_wire, MqttConfig, MqttSink, Sink};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `edgepose listen --mqtt BROKER --device DEVICE EXTRA…` with piped output.
fn spawn_listen(broker: &Mosquitto, device: &str, extra: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_edgepose"))
        .args(["listen", "--device", device])
        .args(extra)
        .arg("--mqtt")
        .arg(broker.url())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn edgepose listen")
}

/// Publishes from a sink for `device`.
fn sink_for(broker: &Mosquitto, device: &str, device_id: u32) -> MqttSink {
    MqttSink::open(MqttConfig {
        url: broker.url(),
        device: device.into(),
        device_id,
        ..MqttConfig::default()
    })
    .expect("open sink")
}

#[test]
fn listen_prints_frames_published_by_the_mqtt_sink() {
    if !require(Mosquitto::available(), "mosquitto") {
        return;
    }
    let broker = Mosquitto::start(free_port());
    let mut child = spawn_listen(&broker, "cam9", &["--count", "3"]);
    let stdout = child.stdout.take().expect("piped stdout");
    let lines = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<String>>()
    });
    let mut sink = sink_for(&broker, "cam9", 21);
    // Another device's frames must not show up.
    let mut other = MqttSink::open(MqttConfig {
        url: broker.url(),
        device: "cam8".into(),
        ..MqttConfig::default()
    })
    .expect("open second sink");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seq = 0;
    while child.try_wait().expect("try_wait").is_none() {
        assert!(
            Instant::now() < deadline,
            "listen did not exit after 3 frames"
        );
        sink.send(&sample_poses(seq, 2)).expect("send");
        other.send(&sample_poses(seq + 500, 1)).expect("send");
        seq += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(child.wait().expect("wait").success());
    let lines = lines.join().expect("stdout reader");
    assert_eq!(lines.len(), 3, "{lines:?}");
    for l in &lines {
        let f: JsonFrame = serde_json::from_str(l).expect("JSON frame");
        assert_eq!(f.device_id, 21);
        assert_eq!(
            f,
            JsonFrame::from_wire(&to_wire(&sample_poses(f.seq, 2), 21))
        );
    }
    sink.close().expect("close");
    other.close().expect("close");
}

/// Ctrl-C (SIGINT) ends `listen` promptly with exit code 0 and the final counts on stderr.
#[test]
fn ctrl_c_prints_the_final_counts() {
    use std::io::Read;
    if !require(Mosquitto::available(), "mosquitto") {
        return;
    }
    let broker = Mosquitto::start(free_port());
    let mut child = spawn_listen(&broker, "cam7", &["--stats-interval", "0"]);
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut sink = sink_for(&broker, "cam7", 7);
    // Publish until two frames came out (the first ones may precede the subscription).
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut received = 0;
    let mut seq = 0;
    while received < 2 {
        assert!(
            Instant::now() < deadline,
            "listen printed {received} frames"
        );
        sink.send(&sample_poses(seq, 1)).expect("send");
        seq += 1;
        if rx.recv_timeout(Duration::from_millis(200)).is_ok() {
            received += 1;
        }
    }
    sink.close().expect("close");
    // Let any frame still in flight arrive, so the count below is exact.
    std::thread::sleep(Duration::from_millis(300));
    while rx.try_recv().is_ok() {
        received += 1;
    }
    let signalled = Instant::now();
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if signalled.elapsed() > Duration::from_secs(5) {
            let _ = child.kill();
            panic!("listen ignored SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit code 0 after Ctrl-C: {status}");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    let final_line = stderr
        .lines()
        .find(|l| l.starts_with("listen final:"))
        .unwrap_or_else(|| panic!("no final counts after Ctrl-C:\n{stderr}"));
    assert!(
        final_line.contains(&format!("frames={received} ")),
        "{final_line} (printed {received})"
    );
}
