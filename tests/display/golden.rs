//! Golden-image tests: fixed persons rendered on each display kind, compared pixel-exactly
//! with the committed PNGs in tests/golden/.
//!
//! Regenerate after an intended rendering change (then LOOK at the images before committing):
//!     EDGEPOSE_BLESS=1 cargo test --test display golden

use std::path::{Path, PathBuf};

use edgepose::decoder::{Keypoint, Person, Persons};
use edgepose::display::{
    ColorMode, Display, Framebuffer, PngConfig, PngDisplay, RenderOptions, Renderer, Status,
};
use edgepose::pose::FramePoses;
use embedded_graphics::pixelcolor::{BinaryColor, Rgb565, Rgb888};
use embedded_graphics::prelude::*;

/// A person facing the camera (so their left is on the image's right), 360 px tall at scale 1,
/// keypoints relative to the neck.
const STANDING: [(f32, f32); 17] = [
    (0.0, -50.0),   // nose
    (10.0, -60.0),  // left eye
    (-10.0, -60.0), // right eye
    (22.0, -55.0),  // left ear
    (-22.0, -55.0), // right ear
    (40.0, 0.0),    // left shoulder
    (-40.0, 0.0),   // right shoulder
    (60.0, 70.0),   // left elbow
    (-60.0, 70.0),  // right elbow
    (70.0, 130.0),  // left wrist
    (-70.0, 120.0), // right wrist
    (28.0, 140.0),  // left hip
    (-28.0, 140.0), // right hip
    (35.0, 220.0),  // left knee
    (-35.0, 220.0), // right knee
    (40.0, 300.0),  // left ankle
    (-40.0, 300.0), // right ankle
];

fn person(neck: (f32, f32), scale: f32, track_id: u32, absent: &[usize]) -> Person {
    let mut p = Person {
        score: 0.9,
        track_id,
        ..Person::default()
    };
    for (k, (dx, dy)) in STANDING.iter().enumerate() {
        if !absent.contains(&k) {
            p.keypoints[k] = Keypoint::new(neck.0 + dx * scale, neck.1 + dy * scale, 0.8);
        }
    }
    p
}

/// Two persons in a 640x480 frame: a tracked one with all keypoints, and a smaller, tracked one
/// whose left wrist and right ear were not found.
pub fn scene() -> FramePoses {
    let mut persons = Persons::new();
    let mut second = person((470.0, 170.0), 0.8, 12, &[4, 9]);
    // Raise the second person's right arm to make the pose asymmetric.
    second.keypoints[8] = Keypoint::new(420.0, 120.0, 0.7);
    second.keypoints[10] = Keypoint::new(400.0, 70.0, 0.7);
    for p in [person((200.0, 140.0), 1.0, 7, &[]), second] {
        persons.push(p).expect("two persons fit");
    }
    FramePoses {
        seq: 42,
        timestamp_us: 1_700_000_000_000_000,
        width: 640,
        height: 480,
        model_id: 1,
        persons,
        stats: Default::default(),
        camera: None,
    }
}

pub fn status() -> Status {
    Status {
        fps: 14.6,
        model: "movenet-multipose".into(),
    }
}

/// A deterministic stand-in for a camera image: a colour gradient with a bright square.
fn preview() -> image::RgbImage {
    image::RgbImage::from_fn(640, 480, |x, y| {
        if (400..520).contains(&x) && (300..420).contains(&y) {
            image::Rgb([240, 240, 200])
        } else {
            image::Rgb([(x * 255 / 639) as u8, (y * 255 / 479) as u8, 96])
        }
    })
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn bless() -> bool {
    std::env::var("EDGEPOSE_BLESS").is_ok_and(|v| v == "1")
}

/// Compare (or, when blessing, write) `img` against tests/golden/`name`.
fn check(name: &str, img: &image::RgbImage) {
    let path = golden_dir().join(name);
    if bless() {
        std::fs::create_dir_all(golden_dir()).unwrap();
        img.save(&path).unwrap();
        eprintln!("blessed {}", path.display());
        return;
    }
    let golden = image::open(&path)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (regenerate with EDGEPOSE_BLESS=1 cargo test --test display golden)",
                path.display()
            )
        })
        .to_rgb8();
    assert_eq!(
        golden.dimensions(),
        img.dimensions(),
        "{name}: size differs from the golden image"
    );
    let diff: Vec<(u32, u32)> = img
        .enumerate_pixels()
        .filter(|(x, y, p)| golden.get_pixel(*x, *y) != *p)
        .map(|(x, y, _)| (x, y))
        .take(10)
        .collect();
    if !diff.is_empty() {
        let out = std::env::temp_dir().join(format!("actual_{name}"));
        let _ = img.save(&out);
        panic!(
            "{name}: pixels differ from the golden image, first at {diff:?}; actual written to {} \
             (if the change is intended: EDGEPOSE_BLESS=1 cargo test --test display golden)",
            out.display()
        );
    }
}

fn render<C>(w: u32, h: u32, bg: C, preview: Option<&image::RgbImage>) -> Framebuffer<C>
where
    C: edgepose::display::SkeletonColor + Into<Rgb888>,
{
    let mut fb = Framebuffer::new(w, h, bg);
    let mut r = Renderer::new(RenderOptions::default());
    r.render(&mut fb, &scene(), preview, &status()).unwrap();
    fb
}

#[test]
fn mono_128x64() {
    let fb = render(128, 64, BinaryColor::Off, None);
    // Sanity independent of the golden: something is drawn, but the frame is mostly dark.
    let on = fb.count_on();
    assert!(on > 100 && on < 128 * 64 / 3, "{on} lit pixels");
    check("mono_128x64.png", &fb.to_rgb_image());
}

#[test]
fn rgb565_240x240() {
    let fb = render(240, 240, Rgb565::BLACK, None);
    let palette = <Rgb565 as edgepose::display::SkeletonColor>::PALETTE;
    // Both side colours and the label colour appear.
    for c in [palette.left, palette.right, palette.centre, palette.label] {
        assert!(fb.pixels().contains(&c), "colour {c:?} missing");
    }
    check("rgb565_240x240.png", &fb.to_rgb_image());
}

#[test]
fn rgb565_320x240() {
    let fb = render(320, 240, Rgb565::BLACK, None);
    check("rgb565_320x240.png", &fb.to_rgb_image());
}

#[test]
fn rgb565_320x240_preview() {
    let img = preview();
    let fb = render(320, 240, Rgb565::BLACK, Some(&img));
    check("rgb565_320x240_preview.png", &fb.to_rgb_image());
}

#[test]
fn mono_ignores_preview() {
    let img = preview();
    let with = render(128, 64, BinaryColor::Off, Some(&img));
    let without = render(128, 64, BinaryColor::Off, None);
    assert_eq!(with, without);
}

/// The PNG display writes exactly the frame the renderer produces for a real display.
#[test]
fn png_display_matches_golden() {
    let dir = tempfile::tempdir().unwrap();
    for (color, size, golden) in [
        (ColorMode::Rgb565, (240, 240), "rgb565_240x240.png"),
        (ColorMode::Mono, (128, 64), "mono_128x64.png"),
    ] {
        let sub = dir.path().join(golden);
        let mut cfg = PngConfig::new(&sub);
        cfg.color = color;
        cfg.size = size;
        let mut d = PngDisplay::new(&cfg).unwrap();
        d.show(&scene(), None, &status()).unwrap();
        let written = sub.join("frame_0000000042.png");
        let img = image::open(&written).unwrap().to_rgb8();
        if !bless() {
            check(golden, &img);
        }
    }
}

#[test]
fn empty_and_degenerate_frames_do_not_panic() {
    let mut fb = Framebuffer::new(240, 240, Rgb565::BLACK);
    let mut r = Renderer::new(RenderOptions::default());
    // Zero-sized source, no persons.
    r.render(&mut fb, &FramePoses::default(), None, &status())
        .unwrap();
    // Non-finite and far-away keypoints, NaN fps, a very long model name.
    let mut f = scene();
    f.persons[0].keypoints[0] = Keypoint::new(f32::NAN, 3.0, 1.0);
    f.persons[0].keypoints[5] = Keypoint::new(1e30, -1e30, 1.0);
    f.persons[1].track_id = u32::MAX;
    let st = Status {
        fps: f32::NAN,
        model: "ü".repeat(500),
    };
    r.render(&mut fb, &f, Some(&image::RgbImage::new(1, 1)), &st)
        .unwrap();
    // Tiny displays.
    for (w, h) in [(1, 1), (8, 8), (64, 48)] {
        let mut fb = Framebuffer::new(w, h, BinaryColor::Off);
        r.render(&mut fb, &scene(), None, &status()).unwrap();
    }
    assert!(fb.pixels().iter().any(|p| *p != Rgb565::BLACK));
}
