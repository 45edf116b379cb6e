//! The fault suite's fast scenarios (seconds each), run by CI: outputs that go away, a full
//! disk, image sources that can never produce a frame, bad configurations and models, exit
//! codes of `eval`, `doctor` and `config check`, and the MQTT faults a probe found (over-size
//! messages, two daemons with one device name, stale frames after an outage, over-size
//! messages at `listen`), and stale frames after a serial port comes back. The slow ones
//! (broker killed/paused for seconds, signals, serial unplugged) are in
//! `scripts/fault-suite.sh`; the README's "Faults and bad input" section has both.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{free_port, require, sample_poses, subscribe, wait_for, Mosquitto};
use edgepose::sink::{MqttConfig, MqttSink, Sink};

const BIN: &str = env!("CARGO_BIN_EXE_edgepose");
/// Bound on every daemon run here: each scenario ends in seconds when the fix holds (plus
/// [`EMULATION_ALLOWANCE`] under qemu-user, where loading a model alone takes that long).
const RUN_LIMIT: Duration = Duration::from_secs(60);
const EMULATION_ALLOWANCE: Duration = Duration::from_secs(120);
/// Why the scenarios that push several frames through the model skip under qemu-user.
const SLOW_EMULATED: &str = "needs several model inferences, tens of seconds each";

fn limit() -> Duration {
    if crate::support::under_emulation() {
        RUN_LIMIT + EMULATION_ALLOWANCE
    } else {
        RUN_LIMIT
    }
}

fn edgepose(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("EDGEPOSE_MODEL_DIR")
        .env("RUST_LOG", "info");
    c
}

/// Runs to completion (killed after [`RUN_LIMIT`]); returns the output.
fn run_bounded(mut cmd: Command) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn edgepose");
    let deadline = Instant::now() + limit();
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("edgepose did not end within {:?}", limit());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A small real image: a grey gradient, `w` x `h`.
fn gradient(w: u32, h: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 3) as u8, (y * 3) as u8, 128]))
}

fn write_png(path: &Path, w: u32, h: u32) {
    gradient(w, h)
        .save_with_format(path, image::ImageFormat::Png)
        .expect("write png");
}

/// Flags that switch the built-in default to an image directory (`--set` kind switch).
fn images_source(dir: &Path, looped: bool) -> Vec<String> {
    vec![
        "--set".into(),
        "source.kind=images".into(),
        "--set".into(),
        format!("source.path=\"{}\"", dir.display()),
        "--set".into(),
        format!("source.loop={looped}"),
    ]
}

// ---- outputs that go away -------------------------------------------------------------

#[test]
fn run_piped_into_head_ends_non_zero_with_a_clear_message() {
    if crate::support::skip_under_emulation("run | head", SLOW_EMULATED) {
        return;
    }
    let mut child = edgepose(&[
        "run",
        "--set",
        "source.width=160",
        "--set",
        "source.height=120",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("first frame");
    assert!(line.starts_with('{'), "{line}");
    drop(out); // `head -1` exits: the pipe's reader is gone
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the daemon kept running after its stdout reader went away");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut err)
        .expect("stderr");
    assert!(!status.success(), "{err}");
    assert!(
        err.contains("output is gone") && err.contains("Broken pipe"),
        "{err}"
    );
    assert!(
        err.lines().filter(|l| l.contains("Broken pipe")).count() <= 2,
        "no warning per frame:\n{err}"
    );
}

#[test]
fn a_closed_stdout_is_refused_at_start() {
    let o = run_bounded({
        let mut c = Command::new("sh");
        c.args(["-c", "exec \"$0\" run --frames 3 >&-", BIN])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        c
    });
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("standard output is closed"), "{err}");
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_is_counted_and_logged_without_a_flood() {
    if crate::support::skip_under_emulation("full disk", SLOW_EMULATED) {
        return;
    }
    // /dev/full fails every write with ENOSPC.
    let o = run_bounded(edgepose(&[
        "run",
        "--frames",
        "8",
        "--set",
        "sinks.jsonl.path=\"/dev/full\"",
        "--set",
        "sinks.jsonl.append=true",
        "--set",
        "source.width=160",
        "--set",
        "source.height=120",
    ]));
    let err = stderr(&o);
    assert!(o.status.success(), "a full disk is not fatal:\n{err}");
    let warnings = err
        .lines()
        .filter(|l| l.contains("No space left on device"))
        .count();
    assert_eq!(warnings, 1, "8 failed writes, one warning line:\n{err}");
    assert!(
        err.contains("jsonl:/dev/full sent 0 dropped 0 errors 8 refused 8"),
        "the exit summary counts the 8 write errors (each a refused send):\n{err}"
    );
}

// ---- image sources ---------------------------------------------------------------------

#[test]
fn a_looped_directory_of_bad_files_stops_with_one_error_instead_of_spinning() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.jpg"), b"\xff\xd8 not a jpeg").expect("write");
    std::fs::write(dir.path().join("b.png"), b"").expect("write");
    std::fs::write(dir.path().join("c.jpg"), b"plain text").expect("write");
    let mut args = vec!["run".to_string()];
    args.extend(images_source(dir.path(), true));
    let started = Instant::now();
    let o = run_bounded(edgepose(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    let err = stderr(&o);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("none of the 3 files could be decoded"),
        "{err}"
    );
    assert!(err.lines().count() < 20, "no flood:\n{err}");
    assert!(started.elapsed() < limit());
}

#[test]
fn a_mixed_directory_reports_each_bad_file_once_and_decodes_by_content() {
    if crate::support::skip_under_emulation("mixed directory", SLOW_EMULATED) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // A PNG named .jpg is a PNG: it must be used, not called "not a JPEG".
    write_png(&dir.path().join("a_png_named.jpg"), 96, 64);
    std::fs::write(dir.path().join("b_bad.jpg"), b"\xff\xd8\xff garbage").expect("write");
    let out = dir.path().join("poses.jsonl");
    let mut args = vec!["run".to_string(), "--frames".into(), "6".into()];
    args.extend(images_source(dir.path(), true));
    args.extend([
        "--set".into(),
        format!("sinks.jsonl.path=\"{}\"", out.display()),
    ]);
    let o = run_bounded(edgepose(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    let frames = std::fs::read_to_string(&out)
        .expect("output")
        .lines()
        .count();
    assert_eq!(frames, 6, "six passes over the one good file:\n{err}");
    assert_eq!(
        err.lines().filter(|l| l.contains("b_bad.jpg")).count(),
        1,
        "the bad file is reported once, not on every pass:\n{err}"
    );
    assert!(!err.contains("not a JPEG"), "{err}");
}

#[test]
fn huge_and_mislabelled_images_get_messages_that_say_what_they_are() {
    use edgepose::source::images::decode_image;
    // A PNG header claiming 100000 x 100000 pixels.
    let mut png = Vec::new();
    gradient(4, 4)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("png");
    png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    png[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    // A valid header: the IHDR chunk's CRC (over its type and data) matches.
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    let e = decode_image(&png).expect_err("too large").to_string();
    assert!(e.contains("100000x100000"), "{e}");
    let e = decode_image(b"hello, I am text")
        .expect_err("text")
        .to_string();
    assert!(e.contains("not a JPEG or PNG"), "{e}");
}

/// CRC-32 (IEEE), as PNG chunks use it.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

// ---- configurations, models, exit codes ------------------------------------------------

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models")
}

/// `config check` of `text` (written to a file in `dir`) → (success, stdout + stderr).
fn config_check(dir: &Path, text: &str) -> (bool, String) {
    let file = dir.join("edgepose.toml");
    std::fs::write(&file, text).expect("write config");
    let o = run_bounded(edgepose(&[
        "config",
        "check",
        file.to_str().expect("utf-8"),
    ]));
    (
        o.status.success(),
        format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o)),
    )
}

#[test]
fn config_check_verifies_model_paths_and_run_time_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ok, text) = config_check(dir.path(), "");
    assert!(ok && text.contains(": ok"), "{text}");

    let (ok, text) = config_check(dir.path(), "[model]\nname = \"no-such-model\"\n");
    assert!(
        !ok && text.contains("`model.name`") && text.contains("no-such-model"),
        "{text}"
    );

    // A corrupt network next to a copy of a real card.
    let card = std::fs::read_to_string(models_dir().join("imhn-edge-int8.toml")).expect("card");
    std::fs::write(
        dir.path().join("copy.toml"),
        card.replace("id = \"imhn-edge-int8\"", "id = \"copy\""),
    )
    .expect("card");
    let file = toml::from_str::<toml::Table>(&card).expect("toml")["file"]
        .as_str()
        .expect("file")
        .to_owned();
    std::fs::write(dir.path().join(&file), b"not a network").expect("network");
    let copy = dir.path().join("copy.toml");
    let (ok, text) = config_check(
        dir.path(),
        &format!("[model]\nname = \"{}\"\n", copy.display()),
    );
    assert!(!ok && text.contains("sha256"), "{text}");
    // The card is there, its network is not: say which file is missing.
    std::fs::remove_file(dir.path().join(&file)).expect("rm");
    let (ok, text) = config_check(
        dir.path(),
        &format!("[model]\nname = \"{}\"\n", copy.display()),
    );
    assert!(!ok && text.contains("cannot read network file"), "{text}");

    let (ok, text) = config_check(
        dir.path(),
        "[source]\nkind = \"images\"\npath = \"/nonexistent/frames\"\n",
    );
    assert!(!ok && text.contains("`source.path`"), "{text}");

    let (ok, text) = config_check(
        dir.path(),
        "[sinks.jsonl]\npath = \"/nonexistent/dir/poses.jsonl\"\n",
    );
    assert!(!ok && text.contains("`sinks.jsonl.path`"), "{text}");

    // TTA scales are checked against the model now, not when the daemon starts.
    let (ok, text) = config_check(
        dir.path(),
        "[model]\nname = \"imhn-edge-int8\"\ntta_scales = [0.5, 2.5, 1.0, 1.5, 2.0]\n",
    );
    assert!(!ok && text.contains("`model.tta_scales`"), "{text}");
}

#[test]
fn set_errors_name_the_flag_and_file_errors_name_the_line() {
    let o = run_bounded(edgepose(&["run", "--set", "source.fps=\"fast\""]));
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(
        err.contains("--set source.fps=\"fast\": `source.fps`"),
        "{err}"
    );
    assert!(!err.contains("built-in default"), "{err}");
    let dir = tempfile::tempdir().expect("tempdir");
    let (ok, text) = config_check(dir.path(), "[source]\n\nfps = \"fast\"\n");
    assert!(
        !ok && text.contains("edgepose.toml:3: `source.fps`"),
        "{text}"
    );
}

#[test]
fn an_onnx_path_without_a_card_says_what_is_missing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let net = dir.path().join("x.onnx");
    std::fs::write(&net, b"whatever").expect("write");
    let o = run_bounded(edgepose(&[
        "run",
        "--frames",
        "1",
        "--model",
        net.to_str().expect("utf-8"),
    ]));
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(
        err.contains("has no model card") && err.contains("x.toml"),
        "{err}"
    );
}

#[test]
fn eval_fails_when_images_are_missing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gt = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eval/gt.json");
    if !gt.is_file() {
        panic!("fixture {} missing", gt.display());
    }
    let o = run_bounded(edgepose(&[
        "eval",
        "--model",
        "movenet-multipose-lightning",
        "--images",
        dir.path().to_str().expect("utf-8"),
        "--annotations",
        gt.to_str().expect("utf-8"),
    ]));
    let err = stderr(&o);
    assert!(!o.status.success(), "missing images must fail eval:\n{err}");
    assert!(err.contains("could not be evaluated"), "{err}");
}

// ---- MQTT ------------------------------------------------------------------------------

fn mqtt_config(port: u16, device: &str) -> MqttConfig {
    MqttConfig {
        url: format!("mqtt://127.0.0.1:{port}"),
        device: device.into(),
        device_id: 3,
        keep_alive_s: 5,
        json: true,
        queue_len: 16,
        reconnect_min_ms: 50,
        reconnect_max_ms: 300,
        ..MqttConfig::default()
    }
}

fn wait_connected(sink: &MqttSink) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sink.is_connected() {
        assert!(Instant::now() < deadline, "sink never connected");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn mqtt_json_of_a_crowd_is_delivered_and_oversize_is_counted_not_fatal() {
    if !require(Mosquitto::available(), "mosquitto") {
        return;
    }
    let broker = Mosquitto::start(free_port());
    let rx = subscribe(broker.port, "edgepose/crowd/#", "t-faults-crowd");
    std::thread::sleep(Duration::from_millis(300));
    // 32 persons: about 12 KB of JSON, over rumqttc's 10 KiB default.
    let mut sink = MqttSink::open(mqtt_config(broker.port, "crowd")).expect("open");
    wait_connected(&sink);
    sink.send(&sample_poses(1, 32)).expect("send");
    let json = wait_for(&rx, Duration::from_secs(10), |t, _, _| {
        t.ends_with("/poses/json")
    })
    .expect("the crowd's JSON arrives");
    assert!(json.1.len() > 10_240, "{} bytes", json.1.len());
    sink.close().expect("close");

    // A limit below the JSON: the JSON is skipped and counted, the wire frame still goes out
    // and the connection stays up.
    let mut small = mqtt_config(broker.port, "crowd");
    small.max_packet_bytes = 8 * 1024;
    let mut sink = MqttSink::open(small).expect("open");
    wait_connected(&sink);
    for seq in 10..13 {
        sink.send(&sample_poses(seq, 32)).expect("send");
    }
    sink.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(300));
    let st = sink.stats();
    assert_eq!((st.sent, st.oversize, st.connects), (3, 3, 1), "{st:?}");
    assert!(sink.is_connected());
}

#[test]
fn two_sinks_with_one_device_name_do_not_kick_each_other_off() {
    if !require(Mosquitto::available(), "mosquitto") {
        return;
    }
    let broker = Mosquitto::start(free_port());
    let a = MqttSink::open(mqtt_config(broker.port, "twin")).expect("open a");
    let b = MqttSink::open(mqtt_config(broker.port, "twin")).expect("open b");
    wait_connected(&a);
    wait_connected(&b);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!((a.stats().connects, b.stats().connects), (1, 1));
    assert_eq!((a.stats().errors, b.stats().errors), (0, 0));
}

#[test]
fn frames_queued_during_an_outage_are_dropped_as_stale_not_delivered_late() {
    if !require(Mosquitto::available(), "mosquitto") {
        return;
    }
    let port = free_port();
    let mut cfg = mqtt_config(port, "fresh");
    cfg.max_age_ms = 300;
    let mut sink = MqttSink::open(cfg).expect("open without a broker");
    for seq in 0..5 {
        sink.send(&sample_poses(seq, 2)).expect("queue");
    }
    std::thread::sleep(Duration::from_millis(600)); // the queued frames are now too old
    let broker = Mosquitto::start(port);
    let rx = subscribe(broker.port, "edgepose/fresh/poses", "t-faults-fresh");
    wait_connected(&sink);
    std::thread::sleep(Duration::from_millis(400));
    sink.send(&sample_poses(99, 2)).expect("send fresh");
    let got = wait_for(&rx, Duration::from_secs(10), |_, _, _| true).expect("fresh frame");
    let mut dec = edgepose::wire::StreamDecoder::new();
    let frame = dec.feed(&got.1).next().expect("one frame").expect("valid");
    assert_eq!(frame.seq, 99, "the first frame delivered is the fresh one");
    assert!(wait_for(&rx, Duration::from_millis(500), |_, _, _| true).is_none());
    assert_eq!(sink.stats().stale, 5, "{:?}", sink.stats());
}

#[test]
fn listen_reports_oversize_messages_and_keeps_listening() {
    if !require(Mosquitto::available(), "mosquitto") {
        return;
    }
    let broker = Mosquitto::start(free_port());
    let mut listen = edgepose(&[
        "listen",
        "--mqtt",
        &broker.url(),
        "--count",
        "1",
        "--stats-interval",
        "0",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn listen");
    std::thread::sleep(Duration::from_millis(1500)); // connected and subscribed
                                                     // A publisher that may send large messages.
    let mut opts = rumqttc::MqttOptions::new("t-faults-big", "127.0.0.1", broker.port);
    opts.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut conn) = rumqttc::Client::new(opts, 8);
    std::thread::spawn(move || for _ in conn.iter() {});
    client
        .publish(
            "edgepose/x/poses",
            rumqttc::QoS::AtLeastOnce,
            false,
            vec![7u8; 20_000],
        )
        .expect("publish big");
    let wire = edgepose::sink::encode_wire(&sample_poses(5, 2), 1).expect("encode");
    std::thread::sleep(Duration::from_millis(300));
    client
        .publish("edgepose/x/poses", rumqttc::QoS::AtLeastOnce, false, wire)
        .expect("publish frame");
    let deadline = Instant::now() + Duration::from_secs(15);
    while listen.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = listen.kill();
            panic!("listen did not receive the frame after the over-size message");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = listen.wait_with_output().expect("output");
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("skipped a message of 20000 bytes"), "{err}");
    assert!(err.contains("oversize=1"), "{err}");
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 1);
}

// ---- serial --------------------------------------------------------------------------

#[test]
fn serial_frames_queued_while_the_port_is_gone_are_dropped_as_stale() {
    use edgepose::sink::{SerialConfig, SerialSink};
    if crate::support::skip_under_emulation("serial freshness", "serial ioctls on a PTY fail") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let link = dir.path().join("ttyROBOT");
    let mut sink = SerialSink::open(SerialConfig {
        device: link.display().to_string(),
        device_id: 4,
        reopen_min_ms: 20,
        reopen_max_ms: 100,
        max_age_ms: 200,
        ..SerialConfig::default()
    })
    .expect("open before the port exists");
    for seq in 0..3 {
        sink.send(&sample_poses(seq, 1)).expect("queue");
    }
    std::thread::sleep(Duration::from_millis(400)); // queued frames are now too old
    let mut pty = crate::support::Pty::open();
    std::os::unix::fs::symlink(&pty.slave_path, &link).expect("plug the port in");
    pty.release_slave();
    let deadline = Instant::now() + Duration::from_secs(5);
    while sink.stats().connects == 0 {
        assert!(Instant::now() < deadline, "port never opened");
        std::thread::sleep(Duration::from_millis(10));
    }
    sink.send(&sample_poses(99, 1)).expect("send fresh");
    let bytes = pty.read_for(Duration::from_millis(500));
    let mut dec = edgepose::wire::StreamDecoder::new();
    let seqs: Vec<u64> = dec.feed(&bytes).flatten().map(|f| f.seq).collect();
    assert_eq!(seqs, vec![99], "only the fresh frame reaches the robot");
    assert_eq!(sink.stats().stale, 3, "{:?}", sink.stats());
    sink.close().expect("close");
}
