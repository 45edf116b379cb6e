//! SMPR decoding on constructed FPN outputs (no SMPR weights exist; the daemon ships no SMPR
//! model, so the decoder is tested here, as a library for users who bring such a network).

use edgepose_decoder::smpr::SMPR_OFFSET_CHANNELS;
use edgepose_decoder::{
    decode_smpr, Layout, Letterbox, MapError, MapView, SmprConfig, SmprLevel, SmprWorkspace,
};

/// The five FPN levels P3..P7 of the reference network.
const STRIDES: [u32; 5] = [8, 16, 32, 64, 128];

/// One level's maps (cls, offsets, rescore), CHW.
struct LevelMaps {
    cls: Vec<f32>,
    offsets: Vec<f32>,
    rescore: Vec<f32>,
    w: usize,
    h: usize,
    stride: u32,
}

/// All background except one confident location on level 0 whose offsets place keypoint k at
/// (anchor + 2k, anchor); returns the maps and the anchor in input pixels.
fn constructed_levels(w: u32, h: u32) -> (Vec<LevelMaps>, (f32, f32)) {
    let mut levels = Vec::new();
    let mut anchor = (0.0, 0.0);
    for (li, &s) in STRIDES.iter().enumerate() {
        let (lw, lh) = (w.div_ceil(s) as usize, h.div_ceil(s) as usize);
        let n = lw * lh;
        let mut cls = vec![-10.0f32; n];
        let mut offsets = vec![0.0f32; SMPR_OFFSET_CHANNELS * n];
        let rescore = vec![3.0f32; n];
        if li == 0 {
            let (x, y) = (20usize, 30usize);
            cls[y * lw + x] = 4.0;
            for k in 0..SMPR_OFFSET_CHANNELS / 2 {
                offsets[(2 * k) * n + y * lw + x] = 2.0 * k as f32;
                offsets[(2 * k + 1) * n + y * lw + x] = 0.0;
            }
            anchor = ((x as u32 * s + s / 2) as f32, (y as u32 * s + s / 2) as f32);
        }
        levels.push(LevelMaps {
            cls,
            offsets,
            rescore,
            w: lw,
            h: lh,
            stride: s,
        });
    }
    (levels, anchor)
}

fn views(levels: &[LevelMaps]) -> Result<Vec<SmprLevel<'_>>, MapError> {
    levels
        .iter()
        .map(|l| {
            Ok(SmprLevel {
                cls: MapView::new(&l.cls, 1, l.h, l.w, Layout::Chw)?,
                offsets: MapView::new(&l.offsets, SMPR_OFFSET_CHANNELS, l.h, l.w, Layout::Chw)?,
                rescore: MapView::new(&l.rescore, 1, l.h, l.w, Layout::Chw)?,
                stride: l.stride,
            })
        })
        .collect()
}

#[test]
fn one_confident_location_is_one_person_in_source_pixels() {
    let (w, h) = (512u32, 512u32);
    let (levels, (ax, ay)) = constructed_levels(w, h);
    let lb = Letterbox {
        scale: 0.5,
        pad_x: 0.0,
        pad_y: 64.0,
    };
    let mut ws = Box::new(SmprWorkspace::new());
    let views = views(&levels).expect("maps fit their dimensions");
    let (persons, _) = decode_smpr(
        &views,
        w as f32,
        h as f32,
        &lb,
        &SmprConfig::default(),
        &mut ws,
    )
    .expect("SMPR decodes");
    assert_eq!(persons.len(), 1, "one confident location, one person");
    let p = &persons[0];
    for (k, kp) in p.keypoints.iter().enumerate() {
        let (ex, ey) = lb.to_source(ax + 2.0 * k as f32, ay);
        assert!(
            (kp.x - ex).abs() < 1e-2 && (kp.y - ey).abs() < 1e-2,
            "keypoint {k}: ({}, {}) vs ({ex}, {ey})",
            kp.x,
            kp.y
        );
    }
}

#[test]
fn maps_that_do_not_fit_are_errors_naming_the_problem() {
    let (w, h) = (512u32, 512u32);
    let (mut levels, _) = constructed_levels(w, h);
    // A short buffer: the view cannot be made, and the error says what was expected.
    levels[0].cls.pop();
    let err = views(&levels).expect_err("short buffer").to_string();
    assert!(err.contains("expected"), "{err}");
    // Offsets given as the class map: wrong channel count, an error rather than a panic.
    let (levels, _) = constructed_levels(w, h);
    let mut v = views(&levels).expect("maps fit");
    v[1].cls = v[1].rescore;
    v[2].rescore = MapView::new(
        &levels[2].offsets,
        SMPR_OFFSET_CHANNELS,
        levels[2].h,
        levels[2].w,
        Layout::Chw,
    )
    .expect("offsets view");
    let lb = Letterbox {
        scale: 1.0,
        pad_x: 0.0,
        pad_y: 0.0,
    };
    let err = decode_smpr(
        &v,
        w as f32,
        h as f32,
        &lb,
        &SmprConfig::default(),
        &mut Box::new(SmprWorkspace::new()),
    )
    .expect_err("34-channel rescore map")
    .to_string();
    assert!(err.contains("channels, expected 1"), "{err}");
}
