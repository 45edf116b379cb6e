//! The command source against a stand-in for `rpicam-vid` (tests/bin/rpicam-vid: the real
//! program's options, frames from ffmpeg): MJPEG and I420 frames match the picture, the
//! daemon finds people in them end to end, a program that exits or hangs mid-stream is
//! restarted, garbage and a missing program give clear errors, and stopping reaps the program.
//! Needs `ffmpeg` (apt install ffmpeg): skipped with a message when missing, a failure under
//! CI=true.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use edgepose::source::command::{CommandConfig, CommandSource};
use edgepose::source::convert::PixelFormat;
use edgepose::source::synthetic::{SyntheticConfig, SyntheticSource};
use edgepose::source::{Frame, Source, SourceError};
use image::RgbImage;

const BIN: &str = env!("CARGO_BIN_EXE_edgepose");
/// A frame must arrive within this (the stand-in needs ffmpeg's start-up, ~0.1-0.5 s).
const FIRST_FRAME: Duration = Duration::from_secs(10);

fn stand_in() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/bin/rpicam-vid").to_string()
}

fn have_ffmpeg() -> bool {
    crate::support::require(
        crate::support::have_program("ffmpeg", "-version"),
        "ffmpeg (apt install ffmpeg)",
    )
}

/// One synthetic scene with walking people, saved as PNG (lossless input for the stand-in).
fn scene(dir: &Path, width: u32, height: u32) -> (PathBuf, RgbImage) {
    let mut src = SyntheticSource::open(&SyntheticConfig {
        people: 3,
        width,
        height,
        seed: 7,
        ..SyntheticConfig::default()
    })
    .expect("synthetic source");
    let img = src.next_frame().expect("frame").expect("some frame").image;
    let path = dir.join("scene.png");
    img.save(&path).expect("save scene");
    (path, img)
}

fn rpicam_args(codec: &str, w: u32, h: u32, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        stand_in().as_str(),
        "-t",
        "0",
        "-n",
        "--codec",
        codec,
        "--width",
        &w.to_string(),
        "--height",
        &h.to_string(),
        "--framerate",
        "30",
        "-o",
        "-",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn config(argv: Vec<String>, format: PixelFormat, size: Option<(u32, u32)>) -> CommandConfig {
    let mut c = CommandConfig::new(&[], format);
    c.command = argv;
    c.width = size.map(|s| s.0);
    c.height = size.map(|s| s.1);
    c.restart_initial_ms = 50;
    c.restart_max_ms = 400;
    c
}

/// Next frame, retrying through transient errors until `limit`; errors are collected.
fn frame_within(src: &mut CommandSource, limit: Duration, errors: &mut Vec<String>) -> Frame {
    let start = Instant::now();
    loop {
        match src.next_frame() {
            Ok(Some(f)) => return f,
            Ok(None) => panic!("a live source never ends"),
            Err(e) => errors.push(e.to_string()),
        }
        assert!(
            start.elapsed() < limit,
            "no frame within {limit:?}; errors: {errors:?}"
        );
    }
}

fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

#[test]
fn mjpeg_and_i420_frames_match_the_picture() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (png, img) = scene(dir.path(), 320, 240);
    let png = png.to_string_lossy().to_string();
    for (codec, format, size, tolerance) in [
        ("mjpeg", PixelFormat::Mjpeg, None, 6.0),
        ("yuv420", PixelFormat::I420, Some((320, 240)), 4.0),
    ] {
        let argv = rpicam_args(codec, 320, 240, &["--fake-image", &png]);
        let mut src = CommandSource::open(&config(argv, format, size)).unwrap();
        assert!(src.is_live());
        assert!(src.describe().contains("rpicam-vid"), "{}", src.describe());
        let mut errors = Vec::new();
        let mut last_seq = None;
        for _ in 0..5 {
            let f = frame_within(&mut src, FIRST_FRAME, &mut errors);
            assert_eq!(f.image.dimensions(), (320, 240), "{codec}");
            let d = mean_abs_diff(&f.image, &img);
            assert!(d < tolerance, "{codec}: mean abs diff {d:.2} vs the scene");
            assert!(last_seq.is_none_or(|s| f.seq == s + 1), "{codec}: seq");
            last_seq = Some(f.seq);
        }
        assert!(errors.is_empty(), "{codec}: {errors:?}");
        let stats = src.stats();
        assert_eq!(stats.starts, 1, "{codec}: {stats:?}");
        assert_eq!(stats.skipped_bytes, 0, "{codec}: {stats:?}");
    }
}

#[test]
fn program_exiting_mid_stream_is_restarted_with_its_stderr_in_the_error() {
    if !have_ffmpeg() {
        return;
    }
    let argv = rpicam_args("mjpeg", 160, 120, &["--fake-exit-after", "4"]);
    let mut src = CommandSource::open(&config(argv, PixelFormat::Mjpeg, Some((160, 120)))).unwrap();
    let mut errors = Vec::new();
    let mut frames = 0;
    let start = Instant::now();
    while frames < 12 {
        frame_within(&mut src, FIRST_FRAME, &mut errors);
        frames += 1;
    }
    let stats = src.stats();
    assert!(stats.starts >= 3, "4 frames per run, 12 frames: {stats:?}");
    let exit = errors
        .iter()
        .find(|e| e.contains("ended"))
        .unwrap_or_else(|| panic!("an error per exit: {errors:?}"));
    assert!(
        exit.contains("exit status: 1")
            && exit.contains("camera frontend has timed out")
            && exit.contains("restarting in"),
        "{exit}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn stalled_program_is_killed_and_restarted() {
    if !have_ffmpeg() {
        return;
    }
    let argv = rpicam_args("yuv420", 64, 48, &["--fake-stall-after", "2"]);
    let mut cfg = config(argv, PixelFormat::I420, Some((64, 48)));
    cfg.stall_timeout_ms = 1_500;
    let mut src = CommandSource::open(&cfg).unwrap();
    let mut errors = Vec::new();
    for _ in 0..5 {
        frame_within(&mut src, FIRST_FRAME, &mut errors);
    }
    let stats = src.stats();
    assert!(stats.stalls >= 1 && stats.starts >= 2, "{stats:?}");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("wrote no frame for 1.5 s")),
        "{errors:?}"
    );
}

#[test]
fn garbage_instead_of_frames_is_a_clear_error() {
    let argv = rpicam_args("mjpeg", 64, 48, &["--fake-garbage"]);
    let mut src = CommandSource::open(&config(argv, PixelFormat::Mjpeg, None)).unwrap();
    let err = match src.next_frame() {
        Err(SourceError::Failed(m)) => m,
        other => panic!("expected a failure, got {other:?}"),
    };
    assert!(
        err.contains("held no JPEG frame")
            && err.contains("this is not a video stream")
            && err.contains("no cameras available"),
        "{err}"
    );
    assert_eq!(src.stats().frames, 0);
}

#[test]
fn missing_program_is_a_clear_error_at_open() {
    let cfg = config(
        vec![
            "rpicam-vid-edgepose-missing".into(),
            "-o".into(),
            "-".into(),
        ],
        PixelFormat::Mjpeg,
        None,
    );
    let err = CommandSource::open(&cfg).err().unwrap().to_string();
    assert!(
        err.contains("rpicam-vid-edgepose-missing") && err.contains("not found"),
        "{err}"
    );
    let mut cfg = cfg;
    cfg.command = vec!["/nonexistent/gst-launch-1.0".into()];
    let err = CommandSource::open(&cfg).err().unwrap().to_string();
    assert!(err.contains("apt install gstreamer1.0-tools"), "{err}");
}

#[test]
fn drop_kills_and_reaps_the_program_quickly() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let argv = rpicam_args(
        "yuv420",
        64,
        48,
        &["--fake-pidfile", &pidfile.to_string_lossy()],
    );
    let mut src = CommandSource::open(&config(argv, PixelFormat::I420, Some((64, 48)))).unwrap();
    frame_within(&mut src, FIRST_FRAME, &mut Vec::new());
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    assert!(proc_dir.exists(), "the program runs");
    let t = Instant::now();
    drop(src);
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "drop took {:?}",
        t.elapsed()
    );
    // Reaped: not even a zombie entry is left.
    assert!(!proc_dir.exists(), "pid {pid} still present after drop");
}

/// Runs the daemon on the stand-in and returns the JSON lines it wrote.
fn daemon_on_stand_in(
    dir: &Path,
    codec: &str,
    format: &str,
    frames: u32,
) -> Vec<serde_json::Value> {
    let (png, _) = scene(dir, 640, 480);
    let out = dir.join(format!("poses-{codec}.jsonl"));
    let cfg = dir.join(format!("{codec}.toml"));
    let argv = rpicam_args(codec, 640, 480, &["--fake-image", &png.to_string_lossy()]);
    let argv = argv
        .iter()
        .map(|a| format!("{a:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    std::fs::write(
        &cfg,
        format!(
            "[source]\nkind = \"command\"\ncommand = [{argv}]\nformat = \"{format}\"\n\
             width = 640\nheight = 480\n\n[sinks.jsonl]\npath = {:?}\n",
            out.to_string_lossy()
        ),
    )
    .unwrap();
    let status = Command::new(BIN)
        .args(["run", "--frames", &frames.to_string(), "--config"])
        .arg(&cfg)
        .status()
        .expect("runs");
    assert!(status.success(), "{codec}: daemon exit {status}");
    std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

#[test]
fn daemon_finds_people_in_the_stand_in_stream_mjpeg_and_i420() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (codec, format) in [("mjpeg", "mjpeg"), ("yuv420", "i420")] {
        let frames = daemon_on_stand_in(dir.path(), codec, format, 4);
        assert_eq!(frames.len(), 4, "{codec}");
        for f in &frames {
            assert_eq!(
                (f["width"].as_u64(), f["height"].as_u64()),
                (Some(640), Some(480))
            );
            let persons = f["persons"].as_array().expect("persons");
            assert!(
                persons.len() >= 2,
                "{codec}: {} persons in a scene of 3",
                persons.len()
            );
        }
    }
}

#[test]
fn daemon_with_a_missing_program_exits_with_the_install_hint() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        "[source]\nkind = \"command\"\ncommand = [\"/nonexistent/rpicam-vid\", \"-o\", \"-\"]\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["run", "--frames", "1", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/nonexistent/rpicam-vid") && stderr.contains("apt install rpicam-apps"),
        "{stderr}"
    );
}

#[test]
fn sigterm_stops_the_daemon_and_its_camera_program() {
    if !have_ffmpeg() {
        return;
    }
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let argv = rpicam_args(
        "yuv420",
        320,
        240,
        &["--fake-pidfile", &pidfile.to_string_lossy()],
    )
    .iter()
    .map(|a| format!("{a:?}"))
    .collect::<Vec<_>>()
    .join(", ");
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "[source]\nkind = \"command\"\ncommand = [{argv}]\nformat = \"i420\"\n\
             width = 320\nheight = 240\n"
        ),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&cfg)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("a first frame").expect("readable");
    assert!(first.starts_with('{'), "{first}");
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let signalled = Instant::now();
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    // Drain stdout on a thread so a full pipe never blocks the daemon.
    let drain = std::thread::spawn(move || lines.map_while(Result::ok).count());
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if signalled.elapsed() > Duration::from_secs(10) + crate::support::emulation_allowance() {
            let _ = child.kill();
            panic!("no exit within 10 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = signalled.elapsed();
    let _ = drain.join();
    assert!(status.success(), "{status:?}");
    // A frame in flight finishes first; the camera program never holds the exit up.
    assert!(
        took < Duration::from_secs(4) + crate::support::emulation_allowance(),
        "took {took:?}"
    );
    assert!(
        !PathBuf::from(format!("/proc/{pid}")).exists(),
        "camera program {pid} outlived the daemon"
    );
}
