//! The `png:DIR` host display: every Nth frame, bounded number of files, real PNG files.

use edgepose::display::demo::{demo_frame, demo_preview};
use edgepose::display::{DisplayConfig, Status};

fn status() -> Status {
    Status {
        fps: 30.0,
        model: "demo".into(),
    }
}

#[test]
fn writes_every_nth_frame_and_keeps_a_bounded_number() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("out");
    let spec = format!("png:{},every=3,keep=4,size=320x240", dir.display());
    let mut d = edgepose::display::open(&spec.parse::<DisplayConfig>().unwrap())
        .unwrap()
        .expect("png display");
    let preview = demo_preview();
    for seq in 100..130 {
        d.show(&demo_frame(seq), Some(&preview), &status()).unwrap();
    }
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    // Frames 100, 103, ..., 127 were written (10); only the newest 4 are kept.
    assert_eq!(
        names,
        [
            "frame_0000000118.png",
            "frame_0000000121.png",
            "frame_0000000124.png",
            "frame_0000000127.png"
        ]
    );
    let img = image::open(dir.join(&names[3])).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (320, 240));
    // The preview is behind the skeletons: the image area is not flat.
    let distinct: std::collections::HashSet<_> = img.pixels().map(|p| p.0).collect();
    assert!(distinct.len() > 100, "{} colours", distinct.len());
    let s = d.stats().unwrap();
    // Every show is accepted (30); only every third one is written.
    assert_eq!((s.frames_shown, s.errors), (30, 0));
}

#[test]
fn mono_png_is_black_and_white() {
    let root = tempfile::tempdir().unwrap();
    let spec = format!("png:{},size=128x64,color=mono", root.path().display());
    let mut d = edgepose::display::open(&spec.parse().unwrap())
        .unwrap()
        .unwrap();
    d.show(&demo_frame(5), Some(&demo_preview()), &status())
        .unwrap();
    let img = image::open(root.path().join("frame_0000000005.png"))
        .unwrap()
        .to_rgb8();
    assert_eq!(img.dimensions(), (128, 64));
    assert!(img
        .pixels()
        .all(|p| p.0 == [0, 0, 0] || p.0 == [255, 255, 255]));
}

#[test]
fn uncreatable_directory_is_a_clear_error() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let spec = format!("png:{}", file.join("sub").display());
    let e = edgepose::display::open(&spec.parse().unwrap())
        .err()
        .expect("cannot create a directory under a file");
    assert!(e.to_string().contains("sub"), "{e}");
}
