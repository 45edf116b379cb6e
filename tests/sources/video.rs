//! The ffmpeg video source: the shared demo clip, a generated clip of known content,
//! looping, and clear errors. Needs `ffmpeg`/`ffprobe` (apt install ffmpeg): skipped with a
//! message when missing, a failure under CI=true.

use std::path::{Path, PathBuf};
use std::process::Command;

use edgepose::source::video::{VideoConfig, VideoSource};
use edgepose::source::{open, Source, SourceConfig};

/// Generates a lossless-ish clip: `frames` frames of solid `colour` at `fps`.
fn make_clip(dir: &Path, colour: &str, frames: u32, fps: u32) -> PathBuf {
    let path = dir.join("clip.mkv");
    let out = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
        ])
        .arg(format!("color=c={colour}:s=64x48:r={fps}"))
        .args(["-frames:v", &frames.to_string(), "-c:v", "ffv1"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

#[test]
fn shared_demo_clip_has_five_960x540_frames() {
    if !crate::support::require(
        ["ffmpeg", "ffprobe"]
            .iter()
            .all(|p| crate::support::have_program(p, "-version")),
        "ffmpeg/ffprobe (apt-get install ffmpeg)",
    ) {
        return;
    }
    let Some(shared) = crate::support::shared("") else {
        return;
    };
    let cfg = SourceConfig::Video(VideoConfig::new(shared.join("data/video/mmpose_demo.mp4")));
    let mut src = open(&cfg).unwrap();
    assert!(src.describe().contains("960x540"), "{}", src.describe());
    let mut frames = Vec::new();
    while let Some(f) = src.next_frame().unwrap() {
        frames.push(f);
    }
    assert_eq!(frames.len(), 5);
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.seq, i as u64);
        assert_eq!(f.image.dimensions(), (960, 540));
        let mean = f.image.as_raw().iter().map(|&v| u64::from(v)).sum::<u64>() as f64
            / f.image.as_raw().len() as f64;
        assert!(
            mean > 10.0 && mean < 245.0,
            "frame {i} looks blank: mean {mean}"
        );
    }
    for w in frames.windows(2) {
        assert!(w[1].timestamp_us > w[0].timestamp_us);
    }
    assert!(src.next_frame().unwrap().is_none());
}

#[test]
fn generated_clip_content_count_and_media_timestamps() {
    if !crate::support::require(
        ["ffmpeg", "ffprobe"]
            .iter()
            .all(|p| crate::support::have_program(p, "-version")),
        "ffmpeg/ffprobe (apt-get install ffmpeg)",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = make_clip(dir.path(), "0x20C040", 7, 10);
    let mut src = VideoSource::open(&VideoConfig::new(&clip)).unwrap();
    let info = src.info();
    assert_eq!((info.width, info.height), (64, 48));
    assert_eq!(info.fps, Some(10.0));
    let mut frames = Vec::new();
    while let Some(f) = src.next_frame().unwrap() {
        frames.push(f);
    }
    assert_eq!(frames.len(), 7);
    for f in &frames {
        for p in f.image.pixels() {
            for (got, want) in p.0.iter().zip([0x20u8, 0xC0, 0x40]) {
                assert!(got.abs_diff(want) <= 6, "{:?}", p.0);
            }
        }
    }
    // Media time: 100 ms apart at 10 fps regardless of how fast we read.
    for w in frames.windows(2) {
        assert_eq!(w[1].timestamp_us - w[0].timestamp_us, 100_000);
    }
}

#[test]
fn looping_restarts_and_keeps_counting() {
    if !crate::support::require(
        ["ffmpeg", "ffprobe"]
            .iter()
            .all(|p| crate::support::have_program(p, "-version")),
        "ffmpeg/ffprobe (apt-get install ffmpeg)",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = make_clip(dir.path(), "blue", 3, 25);
    let mut cfg = VideoConfig::new(&clip);
    cfg.looping = true;
    let mut src = VideoSource::open(&cfg).unwrap();
    let frames: Vec<_> = (0..10)
        .map(|_| src.next_frame().unwrap().expect("looping never ends"))
        .collect();
    for (i, w) in frames.windows(2).enumerate() {
        assert_eq!(w[1].seq, i as u64 + 1);
        assert_eq!(w[1].timestamp_us - w[0].timestamp_us, 40_000);
    }
}

#[test]
fn bad_file_and_missing_ffmpeg_are_clear_errors() {
    if !crate::support::require(
        ["ffmpeg", "ffprobe"]
            .iter()
            .all(|p| crate::support::have_program(p, "-version")),
        "ffmpeg/ffprobe (apt-get install ffmpeg)",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.mp4");
    std::fs::write(&junk, vec![0x5Au8; 4096]).unwrap();
    let err = VideoSource::open(&VideoConfig::new(&junk))
        .err()
        .expect("junk is not a video")
        .to_string();
    assert!(err.contains("junk.mp4"), "{err}");

    let clip = make_clip(dir.path(), "red", 2, 10);
    let mut cfg = VideoConfig::new(&clip);
    cfg.ffmpeg = "/nonexistent/ffmpeg".into();
    let err = VideoSource::open(&cfg)
        .err()
        .expect("no ffmpeg")
        .to_string();
    assert!(
        err.contains("not found") && err.contains("apt install ffmpeg"),
        "{err}"
    );

    // A file that ffprobe accepts but that is cut short mid-stream: ffmpeg fails or ends
    // early; either way no panic, and the source ends with an error or end-of-stream.
    let bytes = std::fs::read(&clip).unwrap();
    let cut = dir.path().join("cut.mkv");
    std::fs::write(&cut, &bytes[..bytes.len() * 3 / 4]).unwrap();
    if let Ok(mut src) = VideoSource::open(&VideoConfig::new(&cut)) {
        for _ in 0..10 {
            match src.next_frame() {
                Ok(Some(f)) => assert_eq!(f.image.dimensions(), (64, 48)),
                Ok(None) | Err(_) => break,
            }
        }
    }
}
