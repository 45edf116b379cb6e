//! A synthetic two-person scene for the display examples and the bench: lets a display be
//! tried (or timed) without a camera or a model.

use crate::decoder::{Keypoint, Person, Persons};
use crate::pose::FramePoses;

/// Source-image size of the demo scene.
pub const DEMO_WIDTH: u32 = 640;
pub const DEMO_HEIGHT: u32 = 480;

/// COCO-17 keypoints of a person facing the camera, relative to the neck, 360 px tall.
const STANDING: [(f32, f32); 17] = [
    (0.0, -50.0),
    (10.0, -60.0),
    (-10.0, -60.0),
    (22.0, -55.0),
    (-22.0, -55.0),
    (40.0, 0.0),
    (-40.0, 0.0),
    (60.0, 70.0),
    (-60.0, 70.0),
    (70.0, 130.0),
    (-70.0, 120.0),
    (28.0, 140.0),
    (-28.0, 140.0),
    (35.0, 220.0),
    (-35.0, 220.0),
    (40.0, 300.0),
    (-40.0, 300.0),
];

/// Frame `seq` of the demo: two tracked persons, one walking left to right and waving.
pub fn demo_frame(seq: u64) -> FramePoses {
    let t = seq as f32 * 0.15;
    let mut persons = Persons::new();
    let walker_x = 120.0 + (seq % 60) as f32 * 6.0;
    let mut walker = person((walker_x, 140.0), 1.0, 1);
    // Swing the legs and arms.
    let swing = t.sin() * 25.0;
    for (k, dx) in [(9, swing), (10, -swing), (15, -swing), (16, swing)] {
        walker.keypoints[k].x += dx;
    }
    let mut waver = person((500.0, 170.0), 0.8, 2);
    waver.keypoints[8] = Keypoint::new(450.0, 120.0, 0.7);
    waver.keypoints[10] = Keypoint::new(430.0 + t.cos() * 20.0, 70.0, 0.7);
    for p in [walker, waver] {
        // Capacity is MAX_PERSONS (32): two always fit.
        let _ = persons.push(p);
    }
    FramePoses {
        seq,
        timestamp_us: seq * 33_333,
        width: DEMO_WIDTH,
        height: DEMO_HEIGHT,
        model_id: 0,
        persons,
        stats: Default::default(),
        camera: None,
    }
}

/// A camera-like preview image for the demo (a gradient), DEMO_WIDTH × DEMO_HEIGHT.
pub fn demo_preview() -> image::RgbImage {
    image::RgbImage::from_fn(DEMO_WIDTH, DEMO_HEIGHT, |x, y| {
        image::Rgb([
            (x * 255 / (DEMO_WIDTH - 1)) as u8,
            (y * 255 / (DEMO_HEIGHT - 1)) as u8,
            96,
        ])
    })
}

fn person(neck: (f32, f32), scale: f32, track_id: u32) -> Person {
    let mut p = Person {
        score: 0.9,
        track_id,
        ..Person::default()
    };
    for (kp, (dx, dy)) in p.keypoints.iter_mut().zip(STANDING) {
        *kp = Keypoint::new(neck.0 + dx * scale, neck.1 + dy * scale, 0.8);
    }
    p
}
