//! The PAF (OpenPose / tf-pose) family: maps built in the test for known people, laid out
//! like tf-pose's output (57 channels, HWC, stride 8), must decode back to those people.

use edgepose_decoder::skeleton::{
    COCO17_FROM_18, OPENPOSE_LIMBS, OPENPOSE_NUM_CHANNELS, OPENPOSE_PAF_CHANNELS,
    OPENPOSE_PAF_OFFSET,
};
use edgepose_decoder::{
    decode_paf, DecoderConfig, Geometry, Layout, Letterbox, MapView, Workspace,
};

/// Keypoint Gaussian sigma in model-input pixels (CMU's training value).
const SIGMA: f32 = 7.0;
/// Half-width of a limb's vector field, model-input pixels (one stride, as CMU trains it).
const LIMB_HALF_WIDTH: f32 = 8.0;
const STRIDE: usize = 8;

/// Two people in source-image pixels, 18-keypoint order (nose, neck, Rsho, Relb, Rwri, Lsho,
/// Lelb, Lwri, Rhip, Rkne, Rank, Lhip, Lkne, Lank, Reye, Leye, Rear, Lear).
fn people() -> Vec<[(f32, f32); 18]> {
    let person = |dx: f32, dy: f32, s: f32| {
        let base: [(f32, f32); 18] = [
            (0.0, -150.0),
            (0.0, -100.0),
            (-45.0, -100.0),
            (-60.0, -30.0),
            (-70.0, 40.0),
            (45.0, -100.0),
            (65.0, -30.0),
            (75.0, 35.0),
            (-30.0, 40.0),
            (-35.0, 140.0),
            (-38.0, 240.0),
            (30.0, 40.0),
            (34.0, 140.0),
            (37.0, 240.0),
            (-15.0, -165.0),
            (15.0, -165.0),
            (-30.0, -160.0),
            (30.0, -160.0),
        ];
        base.map(|(x, y)| (dx + s * x, dy + s * y))
    };
    vec![person(230.0, 300.0, 1.0), person(520.0, 330.0, 0.9)]
}

/// Builds the HWC tensor for `people` (source pixels) seen through `lb`.
fn build_maps(people: &[[(f32, f32); 18]], lb: &Letterbox, h: usize, w: usize) -> Vec<f32> {
    let c = OPENPOSE_NUM_CHANNELS;
    let mut d = vec![0.0f32; h * w * c];
    let cell = |i: usize| (STRIDE * i) as f32 + STRIDE as f32 / 2.0 - 0.5;
    let mut count = vec![0u32; h * w * OPENPOSE_LIMBS.len()];
    for p in people {
        let inp: Vec<(f32, f32)> = p.iter().map(|&(x, y)| lb.to_input(x, y)).collect();
        for y in 0..h {
            for x in 0..w {
                let (px, py) = (cell(x), cell(y));
                for (k, &(kx, ky)) in inp.iter().enumerate() {
                    let g =
                        (-((px - kx).powi(2) + (py - ky).powi(2)) / (2.0 * SIGMA * SIGMA)).exp();
                    let v = &mut d[(y * w + x) * c + k];
                    *v = v.max(g);
                }
                for (l, &(a, b)) in OPENPOSE_LIMBS.iter().enumerate() {
                    let (ax, ay) = inp[a as usize];
                    let (bx, by) = inp[b as usize];
                    let len = (bx - ax).hypot(by - ay);
                    let (ux, uy) = ((bx - ax) / len, (by - ay) / len);
                    let along = (px - ax) * ux + (py - ay) * uy;
                    let across = ((px - ax) * uy - (py - ay) * ux).abs();
                    if along < 0.0 || along > len || across > LIMB_HALF_WIDTH {
                        continue;
                    }
                    let (cx, cy) = OPENPOSE_PAF_CHANNELS[l];
                    let base = (y * w + x) * c + OPENPOSE_PAF_OFFSET;
                    // Overlapping instances of a limb average (as in training).
                    let n = &mut count[(y * w + x) * OPENPOSE_LIMBS.len() + l];
                    let f = *n as f32;
                    d[base + cx as usize] = (d[base + cx as usize] * f + ux) / (f + 1.0);
                    d[base + cy as usize] = (d[base + cy as usize] * f + uy) / (f + 1.0);
                    *n += 1;
                }
            }
        }
    }
    d
}

#[test]
fn decodes_known_people_from_hwc_pafs() {
    // An 800x600 source letterboxed into a 400x304 input: scale 0.5, 2 px top padding.
    let lb = Letterbox {
        scale: 0.5,
        pad_x: 0.0,
        pad_y: 2.0,
    };
    let (h, w) = (304 / STRIDE, 400 / STRIDE);
    let truth = people();
    let data = build_maps(&truth, &lb, h, w);
    let map = MapView::new(&data, OPENPOSE_NUM_CHANNELS, h, w, Layout::Hwc).expect("view");
    let geom = Geometry::tfpose(lb, 800.0, 600.0);
    let mut ws = Box::new(Workspace::new());
    let (persons, stats) =
        decode_paf(&map, &geom, &DecoderConfig::openpose(), &mut ws).expect("decode");
    assert_eq!(stats, Default::default());
    assert_eq!(persons.len(), truth.len(), "{persons:#?}");
    for t in &truth {
        // The decoded person whose nose is nearest this one's.
        let p = persons
            .iter()
            .min_by(|a, b| {
                let d = |p: &edgepose_decoder::Person| {
                    (p.keypoints[0].x - t[0].0).hypot(p.keypoints[0].y - t[0].1)
                };
                d(a).total_cmp(&d(b))
            })
            .expect("a person");
        assert!(p.score > 0.9, "score {}", p.score);
        assert_eq!(p.num_parts, 18);
        for (k18, coco) in COCO17_FROM_18.iter().enumerate() {
            let Some(coco) = coco else { continue };
            let kp = p.keypoints[*coco as usize];
            assert!(kp.present, "keypoint {k18} missing");
            let err = (kp.x - t[k18].0).hypot(kp.y - t[k18].1);
            // One output cell is 16 source pixels here; sub-pixel refinement must do better.
            assert!(err < 3.0, "keypoint {k18}: error {err:.2} px");
        }
    }
}

#[test]
fn ear_shoulder_limbs_do_not_start_persons() {
    // Only a right shoulder and right ear with their (2,16) PAF: OpenPose grouping must
    // not create a person from that extra limb alone.
    let lb = Letterbox::IDENTITY;
    let (h, w) = (40, 40);
    let mut p = [(-1000.0f32, -1000.0f32); 18];
    p[2] = (120.0, 200.0);
    p[16] = (140.0, 130.0);
    let data = build_maps(&[p], &lb, h, w);
    let map = MapView::new(&data, OPENPOSE_NUM_CHANNELS, h, w, Layout::Hwc).expect("view");
    let geom = Geometry::tfpose(lb, 320.0, 320.0);
    let mut ws = Box::new(Workspace::new());
    let (persons, _) =
        decode_paf(&map, &geom, &DecoderConfig::openpose(), &mut ws).expect("decode");
    assert_eq!(ws.peaks(2).len(), 1);
    assert_eq!(ws.peaks(16).len(), 1);
    assert!(persons.is_empty(), "{persons:#?}");
}

#[test]
fn wrong_channel_count_is_an_error() {
    let data = vec![0.0f32; 10 * 10 * 50];
    let map = MapView::new(&data, 50, 10, 10, Layout::Hwc).expect("view");
    let geom = Geometry::tfpose(Letterbox::IDENTITY, 80.0, 80.0);
    let mut ws = Box::new(Workspace::new());
    assert!(decode_paf(&map, &geom, &DecoderConfig::openpose(), &mut ws).is_err());
}
