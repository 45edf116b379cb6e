//! MCAP recordings end to end: the `mcap` Python package (an independent reader) finds the
//! expected channels, schemas and message counts; files rotate by duration; a recording
//! replayed through the `mcap` source gives the live run's poses.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use edgepose::source::mcap_replay::{McapConfig, McapSource, IMAGE_TOPIC};
use edgepose::source::Source;

use crate::support::{
    coco_sample_dir, read_jsonl, require, skip_under_emulation, venv_python_with,
};

/// Why these tests skip under qemu-user: each runs several frames through the model.
const SLOW_EMULATED: &str = "needs several model inferences, tens of seconds each";

const BIN: &str = env!("CARGO_BIN_EXE_edgepose");

/// The project venv's Python with the `mcap` package, or `None` (skip; fails under CI=true).
fn python_with_mcap() -> Option<PathBuf> {
    let python = venv_python_with("mcap.reader");
    require(
        python.is_some(),
        "the `mcap` Python package in the project venv (pip install -r tests/python/requirements.txt)",
    )
    .then_some(python)
    .flatten()
}

fn summarize(python: &Path, files: &[PathBuf]) -> serde_json::Value {
    let out = Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/python/mcap_summary.py"
        ))
        .args(files)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "the mcap reader failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("summary JSON")
}

/// Two COCO sample photos (one and several persons), or `None` (skip).
fn images() -> Option<Vec<PathBuf>> {
    coco_sample_dir().map(|d| vec![d.join("000000000785.jpg"), d.join("000000196141.jpg")])
}

/// `edgepose run` with `args`; panics on failure.
/// What the recording tests need (the COCO images and the `mcap` reader), `None` to skip:
/// under qemu-user, or (outside CI) without them.
fn images_and_reader(test: &str) -> Option<(Vec<PathBuf>, PathBuf)> {
    if skip_under_emulation(test, SLOW_EMULATED) {
        return None;
    }
    Some((images()?, python_with_mcap()?))
}

fn run(args: &[String]) {
    let out = Command::new(BIN)
        .arg("run")
        .args(args)
        .output()
        .expect("daemon runs");
    assert!(
        out.status.success(),
        "daemon failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn set(kv: String) -> [String; 2] {
    ["--set".into(), kv]
}

/// Images source over a folder of copies of `images`, `frames` frames, recorder on.
fn live_args(dir: &Path, images: &[PathBuf], frames: u64, extra: &[[String; 2]]) -> Vec<String> {
    let src = dir.join("frames");
    std::fs::create_dir_all(&src).expect("frames dir");
    for (i, img) in images.iter().enumerate() {
        std::fs::copy(img, src.join(format!("{i:02}.jpg"))).expect("copy image");
    }
    let mut args: Vec<String> = vec!["--frames".into(), frames.to_string()];
    for kv in [
        "source.kind=\"images\"".to_string(),
        format!("source.path=\"{}\"", src.display()),
        "source.loop=true".into(),
        "recorder.enabled=true".into(),
        "daemon.stats_interval_s=0".into(),
    ] {
        args.extend(set(kv));
    }
    for e in extra {
        args.extend(e.iter().cloned());
    }
    args
}

#[test]
fn the_mcap_package_reads_the_expected_channels_schemas_and_counts() {
    let Some((images, python)) =
        images_and_reader("the_mcap_package_reads_the_expected_channels_schemas_and_counts")
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let rec = dir.path().join("rec.mcap");
    const FRAMES: u64 = 8;
    run(&live_args(
        dir.path(),
        &images,
        FRAMES,
        &[
            set(format!("recorder.path=\"{}\"", rec.display())),
            set("recorder.image_max_fps=0".into()),
        ],
    ));
    let s = summarize(&python, std::slice::from_ref(&rec));
    let f = &s[rec.display().to_string()];
    let expect = [
        ("/camera/image", "foxglove.CompressedImage"),
        ("/camera/annotations", "foxglove.ImageAnnotations"),
        ("/poses", "edgepose.PoseFrame"),
    ];
    for (topic, schema) in expect {
        let c = &f["channels"][topic];
        assert_eq!(c["schema"], schema, "{topic}: {f}");
        assert_eq!(c["schema_encoding"], "jsonschema", "{topic}");
        assert_eq!(c["message_encoding"], "json", "{topic}");
        assert_eq!(f["counts"][topic], FRAMES, "one {topic} message per frame");
        assert_eq!(
            f["summary_counts"][topic], FRAMES,
            "the summary's statistics agree"
        );
    }
    let seqs: Vec<u64> = f["pose_seqs"]
        .as_array()
        .expect("seqs")
        .iter()
        .filter_map(|v| v.as_u64())
        .collect();
    assert_eq!(
        seqs,
        (0..FRAMES).collect::<Vec<_>>(),
        "every frame, in order"
    );
    for (fmt, magic) in f["image_formats"]
        .as_array()
        .expect("formats")
        .iter()
        .zip(f["image_magic"].as_array().expect("magic"))
    {
        assert_eq!(fmt, "jpeg");
        assert!(
            magic.as_str().is_some_and(|m| m.starts_with("ffd8")),
            "JPEG data: {magic}"
        );
    }
    let types = f["annotation_types"].as_array().expect("types");
    assert!(
        types.contains(&4.into()) && types.contains(&1.into()),
        "limbs as LINE_LIST (4) and keypoints as POINTS (1): {types:?}"
    );
}

#[test]
fn recordings_rotate_by_duration_and_every_file_is_complete() {
    let Some((images, python)) =
        images_and_reader("recordings_rotate_by_duration_and_every_file_is_complete")
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let rec = dir.path().join("rot.mcap");
    const FRAMES: u64 = 14;
    run(&live_args(
        dir.path(),
        &images[..1],
        FRAMES,
        &[
            set(format!("recorder.path=\"{}\"", rec.display())),
            set("recorder.max_duration_s=1.0".into()),
            set("source.rate_hz=5".into()),
            set("recorder.images=false".into()),
        ],
    ));
    let files: Vec<PathBuf> = (0..10)
        .map(|n| dir.path().join(format!("rot-{n:03}.mcap")))
        .filter(|p| p.exists())
        .collect();
    assert!(files.len() >= 2, "about 3 s at 1 s per file: {files:?}");
    assert!(!rec.exists(), "rotating recordings use numbered names");
    let s = summarize(&python, &files);
    let mut seqs = Vec::new();
    for f in &files {
        let f = &s[f.display().to_string()];
        assert!(f["channels"]["/camera/image"].is_null(), "images off");
        assert!(
            f["channels"]["/stats"]["schema"] == "edgepose.Stats"
                || f["counts"]["/stats"].is_null()
        );
        seqs.extend(
            f["pose_seqs"]
                .as_array()
                .expect("seqs")
                .iter()
                .filter_map(|v| v.as_u64()),
        );
    }
    assert_eq!(
        seqs,
        (0..FRAMES).collect::<Vec<_>>(),
        "the files together hold every frame once"
    );
}

#[test]
fn a_replayed_recording_gives_the_live_poses() {
    if skip_under_emulation("a_replayed_recording_gives_the_live_poses", SLOW_EMULATED) {
        return;
    }
    let Some(images) = images() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let rec = dir.path().join("live.mcap");
    let live = dir.path().join("live.jsonl");
    const FRAMES: u64 = 6;
    run(&live_args(
        dir.path(),
        &images,
        FRAMES,
        &[
            set(format!("recorder.path=\"{}\"", rec.display())),
            set("recorder.image_max_fps=0".into()),
            set("recorder.image_format=\"png\"".into()),
            set(format!("sinks.jsonl.path=\"{}\"", live.display())),
            // Spread over 5 s, so that the recorded pace shows in the paced replay.
            set("source.rate_hz=1".into()),
        ],
    ));
    let replay = dir.path().join("replay.jsonl");
    let mut args = Vec::new();
    for kv in [
        "source.kind=\"mcap\"".to_string(),
        format!("source.path=\"{}\"", rec.display()),
        format!("sinks.jsonl.path=\"{}\"", replay.display()),
        "daemon.stats_interval_s=0".into(),
    ] {
        args.extend(set(kv));
    }
    run(&args);
    let (a, b) = (read_jsonl(&live), read_jsonl(&replay));
    assert_eq!(a.len(), FRAMES as usize);
    assert_eq!(a.len(), b.len(), "every recorded frame replays");
    for (l, r) in a.iter().zip(&b) {
        assert_eq!(l["seq"], r["seq"], "recorded sequence numbers");
        assert_eq!(
            l["timestamp_us"], r["timestamp_us"],
            "recorded capture times"
        );
        assert_eq!(l, r, "the same poses from the same (lossless) pixels");
    }
    assert!(
        a.iter()
            .any(|f| f["persons"].as_array().is_some_and(|p| !p.is_empty())),
        "the photos have people in them"
    );
    // The recorded pace, timed on the source itself: with the model out of the loop a busy
    // machine does not blur it. At the recorded pace the frames spread over the recording's
    // span; as fast as possible nothing waits.
    let span = Duration::from_micros(
        a[a.len() - 1]["timestamp_us"].as_u64().unwrap_or(0)
            - a[0]["timestamp_us"].as_u64().unwrap_or(0),
    );
    assert!(
        span >= Duration::from_secs(4),
        "live frames 1 s apart: {span:?}"
    );
    let replay_time = |realtime: bool| {
        let mut source = McapSource::open(&McapConfig {
            path: rec.clone(),
            realtime,
            looping: false,
            topic: IMAGE_TOPIC.into(),
        })
        .expect("the recording opens");
        let t = Instant::now();
        let mut frames = 0;
        while source.next_frame().expect("a frame").is_some() {
            frames += 1;
        }
        assert_eq!(frames, FRAMES, "realtime={realtime}: every frame");
        t.elapsed()
    };
    let (paced, fast) = (replay_time(true), replay_time(false));
    assert!(
        paced >= span.mul_f64(0.95) && paced >= fast + span / 2,
        "recorded pace: {paced:?}, as fast as possible: {fast:?}, recording spans {span:?}"
    );
}
