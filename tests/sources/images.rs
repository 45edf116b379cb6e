//! The image-file source on real files: a directory with good, truncated, zero-length and
//! corrupt JPEGs; globs; looping at a rate; and the shared COCO sample images.

use std::path::Path;

use edgepose::source::images::{ImageSource, ImagesConfig};
use edgepose::source::{open, Source, SourceConfig, SourceError};
use image::{Rgb, RgbImage};

fn test_image(w: u32, h: u32, seed: u8) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([(x * 4) as u8 ^ seed, (y * 4) as u8, seed.wrapping_mul(3)])
    })
}

fn write_jpeg(path: &Path, img: &RgbImage) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    img.write_to(&mut buf, image::ImageFormat::Jpeg).unwrap();
    let bytes = buf.into_inner();
    std::fs::write(path, &bytes).unwrap();
    bytes
}

fn cfg(path: &Path) -> ImagesConfig {
    ImagesConfig {
        path: path.to_string_lossy().into_owned(),
        looping: false,
        rate_hz: None,
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

/// a.jpg good, b.jpg truncated, c.jpg empty, d.jpg corrupt, e.png good, notes.txt ignored.
fn mixed_dir() -> (tempfile::TempDir, RgbImage, RgbImage) {
    let dir = tempfile::tempdir().unwrap();
    let a = test_image(40, 30, 1);
    write_jpeg(&dir.path().join("a.jpg"), &a);
    let b = write_jpeg(&dir.path().join("b.jpg"), &test_image(40, 30, 2));
    std::fs::write(dir.path().join("b.jpg"), &b[..b.len() * 2 / 3]).unwrap();
    std::fs::write(dir.path().join("c.jpg"), b"").unwrap();
    let mut d = b.clone();
    let n = d.len();
    for byte in &mut d[4..n - 2] {
        *byte = byte.wrapping_mul(31).wrapping_add(7);
    }
    std::fs::write(dir.path().join("d.jpg"), &d).unwrap();
    let e = test_image(20, 10, 5);
    e.save(dir.path().join("e.png")).unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"not an image").unwrap();
    (dir, a, e)
}

#[test]
fn directory_with_bad_files_reports_each_and_continues() {
    let (dir, a, e) = mixed_dir();
    let mut src = open(&SourceConfig::Images(cfg(dir.path()))).unwrap();
    assert!(src.describe().contains("5 files"), "{}", src.describe());

    let f = src.next_frame().unwrap().expect("a.jpg");
    assert_eq!(f.seq, 0);
    assert!(mean_abs_diff(&f.image, &a) < 6.0);
    let t0 = f.timestamp_us;
    assert!(t0 > 1_600_000_000_000_000, "epoch microseconds, got {t0}");

    for name in ["b.jpg", "c.jpg", "d.jpg"] {
        match src.next_frame() {
            Err(SourceError::BadFrame(msg)) => assert!(msg.contains(name), "{name}: {msg}"),
            other => panic!("{name}: expected BadFrame, got {other:?}"),
        }
    }
    let f = src.next_frame().unwrap().expect("e.png");
    assert_eq!(f.seq, 1, "bad files do not consume sequence numbers");
    assert_eq!(f.image, e, "PNG is lossless");
    assert!(f.timestamp_us >= t0);
    assert!(src.next_frame().unwrap().is_none());
    assert!(src.next_frame().unwrap().is_none(), "stays finished");
}

#[test]
fn glob_is_sorted_and_single_file_works() {
    let (dir, _, e) = mixed_dir();
    let pattern = dir.path().join("*.jpg");
    let src = ImageSource::open(&cfg(&pattern)).unwrap();
    let names: Vec<_> = src
        .files()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]);

    let mut one = ImageSource::open(&cfg(&dir.path().join("e.png"))).unwrap();
    assert_eq!(one.next_frame().unwrap().unwrap().image, e);
    assert!(one.next_frame().unwrap().is_none());
}

#[test]
fn looping_at_a_rate() {
    let dir = tempfile::tempdir().unwrap();
    write_jpeg(&dir.path().join("1.jpg"), &test_image(16, 16, 1));
    write_jpeg(&dir.path().join("2.jpg"), &test_image(16, 16, 9));
    const RATE_HZ: f32 = 40.0;
    let mut src = ImageSource::open(&ImagesConfig {
        rate_hz: Some(RATE_HZ),
        looping: true,
        ..cfg(dir.path())
    })
    .unwrap();
    let frames: Vec<_> = (0..6).map(|_| src.next_frame().unwrap().unwrap()).collect();
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.seq, i as u64);
    }
    // Looping repeats the same images in the same order.
    assert_eq!(frames[0].image, frames[2].image);
    assert_eq!(frames[1].image, frames[5].image);
    assert_ne!(frames[0].image, frames[1].image);
    // Pacing follows a fixed-rate schedule: frame i is never delivered before i periods after
    // the first (a lower bound only: later is allowed on a busy machine, and a late frame may
    // be followed by a shorter gap that catches up with the schedule).
    let period_us = (1e6 / RATE_HZ) as u64;
    for (i, f) in frames.iter().enumerate() {
        let since_first = f.timestamp_us - frames[0].timestamp_us;
        assert!(
            since_first + 1_000 >= i as u64 * period_us,
            "frame {i} after {since_first} µs < {} µs",
            i as u64 * period_us
        );
    }
}

#[test]
fn open_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (cfg(&dir.path().join("missing")), "no such file"),
        (cfg(dir.path()), "no image files"),
        (cfg(&dir.path().join("*.jpg")), "no image files"),
        (
            ImagesConfig {
                path: format!("{}/[", dir.path().display()),
                looping: false,
                rate_hz: None,
            },
            "glob",
        ),
        (
            ImagesConfig {
                rate_hz: Some(0.0),
                ..cfg(dir.path())
            },
            "rate_hz",
        ),
    ];
    for (c, want) in cases {
        let err = ImageSource::open(&c).err().expect("must fail").to_string();
        assert!(err.contains(want), "{c:?}: {err}");
    }
}

#[test]
fn shared_coco_sample_images() {
    let Some(shared) = crate::support::shared("") else {
        return;
    };
    let dir = shared.join("data/coco-sample");
    let mut src = open(&SourceConfig::Images(cfg(&dir))).unwrap();
    let mut n = 0;
    while let Some(f) = src.next_frame().unwrap() {
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
            .collect();
        files.sort();
        let (w, h) = image::image_dimensions(&files[n]).unwrap();
        assert_eq!(f.image.dimensions(), (w, h), "{}", files[n].display());
        n += 1;
    }
    assert_eq!(n, 4);
}
