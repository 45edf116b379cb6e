//! MQTT over TLS (feature `mqtt-tls`) against a real mosquitto with a TLS listener: a CA and a
//! server certificate made by `openssl` for this test, frames published over `mqtts://`
//! arrive (read back on the broker's second, plain listener); a sink that trusts another CA
//! never delivers, reports the failure and does not panic.
//! Skipped with a message when mosquitto or openssl is missing; fails under CI=true.
#![cfg(feature = "mqtt-tls")]

use crate::support::{
    free_port, have_program, require, sample_poses, subscribe, wait_for, Mosquitto,
};
use edgepose::sink::mqtt::{MqttTlsConfig, STATUS_ONLINE};
use edgepose::sink::{to_wire, MqttConfig, MqttSink, Sink};
use edgepose::wire::StreamDecoder;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);
/// Long enough for several reconnect attempts with the test's backoff.
const REJECT_WINDOW: Duration = Duration::from_secs(2);

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`{name}-ca.pem`) and, when `server`, a server key and certificate for 127.0.0.1
/// signed by it.
fn make_ca(dir: &Path, name: &str, server: bool) -> PathBuf {
    let ca_key = format!("{name}-ca.key");
    let ca = format!("{name}-ca.pem");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN=edgepose test CA {name}"),
            "-keyout",
            &ca_key,
            "-out",
            &ca,
        ],
    );
    if server {
        std::fs::write(
            dir.join("ext.cnf"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
        )
        .expect("write ext.cnf");
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                &ca,
                "-CAkey",
                &ca_key,
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
                "-out",
                "server.pem",
            ],
        );
    }
    dir.join(ca)
}

/// mosquitto with a TLS listener on `tls_port` and a plain one on `plain_port` (for the test's
/// own subscriber).
fn broker(dir: &Path, tls_port: u16, plain_port: u16) -> Mosquitto {
    use std::os::unix::fs::PermissionsExt;
    // mosquitto started as root drops to its own user before reading the key: let it in.
    let readable = |p: &Path, mode| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod")
    };
    readable(dir, 0o755);
    readable(&dir.join("server.key"), 0o644);
    let conf = dir.join("mosquitto.conf");
    let d = dir.display();
    std::fs::write(
        &conf,
        format!(
            "per_listener_settings false\nallow_anonymous true\n\
             listener {plain_port} 127.0.0.1\n\
             listener {tls_port} 127.0.0.1\ncafile {d}/main-ca.pem\ncertfile {d}/server.pem\nkeyfile {d}/server.key\n"
        ),
    )
    .expect("write mosquitto.conf");
    let m = Mosquitto::start_with_config(&conf, plain_port);
    // The TLS listener comes up with the plain one; wait for it too.
    let deadline = Instant::now() + WAIT;
    while std::net::TcpStream::connect(("127.0.0.1", tls_port)).is_err() {
        assert!(Instant::now() < deadline, "TLS listener {tls_port} not up");
        std::thread::sleep(Duration::from_millis(20));
    }
    m
}

fn tls_config(port: u16, device: &str, ca: PathBuf) -> MqttConfig {
    MqttConfig {
        url: format!("mqtts://127.0.0.1:{port}"),
        device: device.into(),
        device_id: 5,
        keep_alive_s: 5,
        queue_len: 8,
        reconnect_min_ms: 50,
        reconnect_max_ms: 300,
        tls: MqttTlsConfig {
            ca_file: Some(ca),
            ..MqttTlsConfig::default()
        },
        ..MqttConfig::default()
    }
}

/// A TLS broker and the CA it is signed with; `None` (skip) without mosquitto or openssl.
struct TlsSetup {
    dir: tempfile::TempDir,
    ca: PathBuf,
    tls_port: u16,
    plain_port: u16,
    _broker: Mosquitto,
}

fn tls_setup() -> Option<TlsSetup> {
    if !require(Mosquitto::available(), "mosquitto")
        || !require(have_program("openssl", "version"), "openssl")
    {
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = make_ca(dir.path(), "main", true);
    let (tls_port, plain_port) = (free_port(), free_port());
    let _broker = broker(dir.path(), tls_port, plain_port);
    Some(TlsSetup {
        dir,
        ca,
        tls_port,
        plain_port,
        _broker,
    })
}

#[test]
fn frames_arrive_over_tls_and_an_untrusted_broker_is_refused() {
    let Some(setup) = tls_setup() else {
        return;
    };
    let (main_ca, tls_port, plain_port) = (setup.ca.clone(), setup.tls_port, setup.plain_port);
    let other_ca = make_ca(setup.dir.path(), "other", false);
    let rx = subscribe(plain_port, "edgepose/#", "t-tls-sub");
    std::thread::sleep(Duration::from_millis(300));

    // Trusted: status and frames arrive, byte-exact.
    let mut sink = MqttSink::open(tls_config(tls_port, "tlscam", main_ca)).expect("open");
    assert!(
        wait_for(&rx, WAIT, |t, p, _| t == "edgepose/tlscam/status"
            && p == STATUS_ONLINE.as_bytes())
        .is_some(),
        "online status over TLS"
    );
    for seq in 0..3 {
        sink.send(&sample_poses(seq, 2)).expect("send");
    }
    for seq in 0..3 {
        let (_, payload, _) = wait_for(&rx, WAIT, |t, _, _| t == "edgepose/tlscam/poses")
            .unwrap_or_else(|| panic!("frame {seq} over TLS"));
        let mut dec = StreamDecoder::new();
        let frame = dec
            .feed(&payload)
            .next()
            .expect("one frame")
            .expect("valid frame");
        assert_eq!(frame, to_wire(&sample_poses(seq, 2), 5));
    }
    sink.close().expect("close");

    // Untrusted CA: the handshake fails on every attempt, nothing is delivered, frames stay
    // bounded in the queue, and nothing panics.
    let mut bad = MqttSink::open(tls_config(tls_port, "badcam", other_ca)).expect("open");
    let until = Instant::now() + REJECT_WINDOW;
    let mut seq = 0;
    while Instant::now() < until {
        bad.send(&sample_poses(seq, 1)).expect("send queues");
        seq += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        wait_for(&rx, Duration::from_millis(500), |t, _, _| t
            .starts_with("edgepose/badcam"))
        .is_none(),
        "a broker with an untrusted certificate must not receive frames"
    );
    let stats = bad.stats();
    assert_eq!((stats.sent, stats.connects), (0, 0), "{stats:?}");
    assert!(stats.errors > 0, "failed handshakes are counted: {stats:?}");
    assert!(stats.dropped > 0, "queue bound must drop: {stats:?}");
    drop(bad);
}

/// `edgepose listen --mqtt mqtts://… --ca-file` receives what a TLS sink publishes.
#[test]
fn listen_reads_frames_over_tls() {
    let Some(setup) = tls_setup() else {
        return;
    };
    let (ca, tls_port) = (setup.ca.clone(), setup.tls_port);
    let mut listen = Command::new(env!("CARGO_BIN_EXE_edgepose"))
        .args(["listen", "--mqtt", &format!("mqtts://127.0.0.1:{tls_port}")])
        .arg("--ca-file")
        .arg(&ca)
        .args([
            "--device",
            "tlslisten",
            "--count",
            "2",
            "--stats-interval",
            "0",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn edgepose listen");
    let mut sink = MqttSink::open(tls_config(tls_port, "tlslisten", ca)).expect("open");
    // Publish until listen has subscribed and seen two frames (it exits then).
    let deadline = Instant::now() + WAIT;
    let mut seq = 0;
    while listen.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = listen.kill();
            break;
        }
        sink.send(&sample_poses(seq, 3)).expect("send");
        seq += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = listen.wait_with_output().expect("listen output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "listen failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let frames: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(frames.len(), 2, "{stdout}");
    for f in &frames {
        assert_eq!(f["persons"].as_array().map(Vec::len), Some(3), "{f}");
    }
    sink.close().expect("close");
}
