//! Flip TTA on constructed maps: a horizontally symmetric tf-pose map set is unchanged by
//! flip-averaging, and decodes to the same persons.

use edgepose_decoder::skeleton::{OPENPOSE_LIMBS, OPENPOSE_NUM_CHANNELS, OPENPOSE_PAF_CHANNELS};
use edgepose_decoder::tta::{flip_source, Accumulator, AxisMap, FlipFamily};
use edgepose_decoder::{
    decode_paf, DecoderConfig, Geometry, Layout, Letterbox, MapView, Workspace,
};

const H: usize = 46;
const W: usize = 54;
const STRIDE: f32 = 8.0;
const OFFSET: f32 = 3.5;
const SIGMA: f32 = 1.0;
/// Half-width (cells) of a PAF band around its limb.
const PAF_WIDTH: f32 = 1.0;

/// A left/right symmetric person (in cells): x of each keypoint, y; the mirror axis is the
/// centre column (W - 1) / 2, right and left keypoints mirror each other.
fn person() -> [(f32, f32); 18] {
    let c = (W - 1) as f32 / 2.0;
    let pair = |dx: f32, y: f32| [(c - dx, y), (c + dx, y)];
    let [rs, ls] = pair(4.0, 14.0);
    let [re, le] = pair(6.0, 20.0);
    let [rw, lw] = pair(7.0, 26.0);
    let [rh, lh] = pair(3.0, 27.0);
    let [rk, lk] = pair(3.0, 34.0);
    let [ra, la] = pair(3.0, 41.0);
    let [rey, ley] = pair(1.0, 8.0);
    let [rea, lea] = pair(2.5, 9.0);
    [
        (c, 10.0),
        (c, 14.0),
        rs,
        re,
        rw,
        ls,
        le,
        lw,
        rh,
        rk,
        ra,
        lh,
        lk,
        la,
        rey,
        ley,
        rea,
        lea,
    ]
}

fn render() -> Vec<f32> {
    let kps = person();
    let mut m = vec![0.0f32; OPENPOSE_NUM_CHANNELS * H * W];
    let at = |c: usize, y: usize, x: usize| (c * H + y) * W + x;
    for (k, &(kx, ky)) in kps.iter().enumerate() {
        for y in 0..H {
            for x in 0..W {
                let d2 = (x as f32 - kx).powi(2) + (y as f32 - ky).powi(2);
                m[at(k, y, x)] = (-d2 / (2.0 * SIGMA * SIGMA)).exp();
            }
        }
    }
    for (l, &(a, b)) in OPENPOSE_LIMBS.iter().enumerate() {
        let (ax, ay) = kps[a as usize];
        let (bx, by) = kps[b as usize];
        let len = (bx - ax).hypot(by - ay);
        let (ux, uy) = ((bx - ax) / len, (by - ay) / len);
        let (cx, cy) = OPENPOSE_PAF_CHANNELS[l];
        for y in 0..H {
            for x in 0..W {
                let (px, py) = (x as f32 - ax, y as f32 - ay);
                let along = px * ux + py * uy;
                let across = (px * uy - py * ux).abs();
                if (0.0..=len).contains(&along) && across <= PAF_WIDTH {
                    m[at(19 + cx as usize, y, x)] = ux;
                    m[at(19 + cy as usize, y, x)] = uy;
                }
            }
        }
    }
    m
}

fn geometry() -> Geometry {
    Geometry {
        stride: STRIDE,
        offset: OFFSET,
        letterbox: Letterbox {
            scale: 1.0,
            pad_x: 0.0,
            pad_y: 0.0,
        },
        image_width: W as f32 * STRIDE,
        image_height: H as f32 * STRIDE,
    }
}

#[test]
fn constructed_person_is_flip_symmetric() {
    // The premise of the no-op test, checked independently of the accumulator: channel c at
    // column x equals (sign ·) its flip partner at the mirrored column.
    let m = render();
    let view = MapView::new(&m, OPENPOSE_NUM_CHANNELS, H, W, Layout::Chw).unwrap();
    for c in 0..OPENPOSE_NUM_CHANNELS {
        let (s, sign) = flip_source(FlipFamily::OpenPose, c);
        for y in 0..H {
            for x in 0..W {
                let d = view.get(c, y, x) - sign * view.get(s, y, W - 1 - x);
                assert!(d.abs() < 1e-4, "channel {c} ({y},{x}) not symmetric: {d}");
            }
        }
    }
}

#[test]
fn flip_tta_on_a_symmetric_map_set_is_a_no_op() {
    let m = render();
    let view = MapView::new(&m, OPENPOSE_NUM_CHANNELS, H, W, Layout::Chw).unwrap();
    let mut sum = vec![0.0f32; m.len()];
    let mut weight = vec![0.0f32; H * W];
    let mut acc = Accumulator {
        sum: &mut sum,
        weight: &mut weight,
        channels: OPENPOSE_NUM_CHANNELS,
        height: H,
        width: W,
        layout: Layout::Chw,
    };
    acc.add(&view, AxisMap::IDENTITY, AxisMap::IDENTITY, None)
        .unwrap();
    // The network "saw" the mirrored input: a symmetric scene produces the same maps.
    let mirror = AxisMap::IDENTITY.mirrored(W as f32 * STRIDE, STRIDE, OFFSET);
    acc.add(&view, mirror, AxisMap::IDENTITY, Some(FlipFamily::OpenPose))
        .unwrap();
    acc.finish().unwrap();
    let worst = sum
        .iter()
        .zip(&m)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-5, "flip-average changed the map by {worst}");

    let cfg = DecoderConfig::openpose();
    let mut ws = Box::new(Workspace::new());
    let (plain, _) = decode_paf(&view, &geometry(), &cfg, &mut ws).unwrap();
    let averaged = MapView::new(&sum, OPENPOSE_NUM_CHANNELS, H, W, Layout::Chw).unwrap();
    let (tta, _) = decode_paf(&averaged, &geometry(), &cfg, &mut ws).unwrap();
    assert_eq!(plain.len(), 1, "the constructed person decodes");
    assert_eq!(plain.len(), tta.len());
    for (p, q) in plain.iter().zip(tta.iter()) {
        for (a, b) in p.keypoints.iter().zip(q.keypoints.iter()) {
            assert!((a.x - b.x).abs() < 1e-3 && (a.y - b.y).abs() < 1e-3);
        }
    }
}

#[test]
fn flip_tta_of_an_asymmetric_map_swaps_sides() {
    // One right-shoulder blob left of centre: after flip-averaging, half of it stays and half
    // appears as the *left* shoulder at the mirrored column... of the mirrored network output.
    // Here the "mirrored output" is the true output of the mirrored scene: left shoulder blob
    // at the mirrored column. Averaging both must give back the right shoulder exactly.
    let mut plain = vec![0.0f32; OPENPOSE_NUM_CHANNELS * H * W];
    let mut mirrored = plain.clone();
    let (y, x) = (10usize, 5usize);
    plain[(2 * H + y) * W + x] = 1.0; // right shoulder at column 5
    mirrored[(5 * H + y) * W + (W - 1 - x)] = 1.0; // seen as left shoulder, mirrored column
    let pv = MapView::new(&plain, OPENPOSE_NUM_CHANNELS, H, W, Layout::Chw).unwrap();
    let mv = MapView::new(&mirrored, OPENPOSE_NUM_CHANNELS, H, W, Layout::Chw).unwrap();
    let mut sum = vec![0.0f32; plain.len()];
    let mut weight = vec![0.0f32; H * W];
    let mut acc = Accumulator {
        sum: &mut sum,
        weight: &mut weight,
        channels: OPENPOSE_NUM_CHANNELS,
        height: H,
        width: W,
        layout: Layout::Chw,
    };
    acc.add(&pv, AxisMap::IDENTITY, AxisMap::IDENTITY, None)
        .unwrap();
    let mirror = AxisMap::IDENTITY.mirrored(W as f32 * STRIDE, STRIDE, OFFSET);
    acc.add(&mv, mirror, AxisMap::IDENTITY, Some(FlipFamily::OpenPose))
        .unwrap();
    acc.finish().unwrap();
    assert_eq!(sum, plain);
}
